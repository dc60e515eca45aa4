"""Integration tests for posthornctl: init, user, alias and check, run as a
real program against temporary directories, with every error path and its
exit status (0 ok, 1 failure, 2 usage)."""
import os
import pathlib
import re
import stat
import subprocess
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt  # deprecated, still in 3.11: an independent yescrypt check
    except ImportError:  # pragma: no cover
        crypt = None


@pytest.fixture(scope="session")
def ctl():
    build = os.environ.get("POSTHORN_BUILD", str(ROOT / "build"))
    path = os.path.abspath(os.path.join(build, "posthornctl"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"posthornctl not found at {path}: run make, or set POSTHORN_BUILD")
    return path


def run(ctl, *args, input=b"", env=None):
    full_env = {k: v for k, v in os.environ.items() if k != "POSTHORN_CONFIG"}
    full_env.update(env or {})
    # start_new_session: no controlling terminal, so prompts cannot block.
    p = subprocess.run([ctl, *map(str, args)], input=input, capture_output=True,
                       env=full_env, timeout=60, start_new_session=True)
    p.out = p.stdout.decode()
    p.err = p.stderr.decode()
    return p


@pytest.fixture
def setup(ctl, tmp_path):
    """A fresh server directory; returns a runner bound to its config."""
    d = tmp_path / "srv"
    p = run(ctl, "init", d, "--hostname", "mail.example.org", "--domain",
            "example.org", "--port-base", "10000")
    assert p.returncode == 0, p.err

    def c(*args, input=b""):
        return run(ctl, "-c", d / "posthorn.conf", *args, input=input)
    c.dir = d
    return c


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def users_file(setup):
    return dict(line.split(":", 1) for line in
                (setup.dir / "data" / "users").read_text().splitlines()
                if line and not line.startswith("#"))


def verify(hash_, password):
    if crypt is None:
        pytest.skip("Python has no crypt module")
    return crypt.crypt(password, hash_) == hash_


# ---- init ----

def test_init_creates_everything(ctl, tmp_path):
    d = tmp_path / "new" / "srv"
    p = run(ctl, "init", d, "--hostname", "mail.example.org", "--domain",
            "example.org", "--domain", "example.net", "--port-base", "10000")
    assert p.returncode == 0, p.err
    for name in ["posthorn.conf", "tls/cert.pem", "tls/key.pem", "data/users",
                 "data/aliases"]:
        assert (d / name).is_file(), name
        assert name in p.out or str(d / name) in p.out
    for name in ["data/mail", "data/queue", "data/spool"]:
        assert (d / name).is_dir()
    assert mode(d / "tls/key.pem") == 0o600
    assert mode(d / "data/users") == 0o600
    assert "next steps" in p.out and "alias add postmaster" in p.out
    conf = (d / "posthorn.conf").read_text()
    assert "hostname = mail.example.org" in conf
    assert re.search(r"domains = example.org, example.net", conf)
    assert "10025" in conf and "10587" in conf and "10993" in conf
    text = subprocess.run(["openssl", "x509", "-in", d / "tls/cert.pem", "-noout",
                           "-text"], capture_output=True, check=True).stdout.decode()
    assert "DNS:mail.example.org" in text and "DNS:example.org" in text
    assert "CN = mail.example.org" in text
    # The key belongs to the certificate.
    pub_cert = subprocess.run(["openssl", "x509", "-in", d / "tls/cert.pem", "-noout",
                               "-pubkey"], capture_output=True, check=True).stdout
    pub_key = subprocess.run(["openssl", "pkey", "-in", d / "tls/key.pem", "-pubout"],
                             capture_output=True, check=True).stdout
    assert pub_cert == pub_key
    # Valid now and for at least 300 days.
    assert subprocess.run(["openssl", "x509", "-in", d / "tls/cert.pem", "-noout",
                           "-checkend", str(300 * 86400)]).returncode == 0
    # The aliases template loads; only postmaster is missing.
    c = run(ctl, "-c", d / "posthorn.conf", "check")
    assert c.returncode == 1
    assert "FAIL postmaster" in c.out
    assert len(re.findall(r"^FAIL", c.out, re.M)) == 1, c.out
    assert "ok   key: matches the certificate" in c.out


def test_init_defaults_and_env_config(ctl, tmp_path):
    d = tmp_path / "srv"
    p = run(ctl, "init", d)
    assert p.returncode == 0, p.err
    conf = (d / "posthorn.conf").read_text()
    host = re.search(r"^hostname = (\S+)", conf, re.M).group(1)
    assert re.search(r"^domains = " + re.escape(host), conf, re.M)
    assert "address = 127.0.0.1" in conf and "port = 25\n" in conf
    # $POSTHORN_CONFIG names the config when -c is absent; ./posthorn.conf else.
    p = run(ctl, "user", "list", env={"POSTHORN_CONFIG": str(d / "posthorn.conf")})
    assert p.returncode == 0, p.err
    p = subprocess.run([ctl, "user", "list"], cwd=d, capture_output=True)
    assert p.returncode == 0, p.stderr


def test_init_refuses_existing_unless_force(ctl, setup):
    d = setup.dir
    assert setup("user", "add", "alice", "--password-stdin", input=b"pw\n").returncode == 0
    before = (d / "data/users").read_text()
    old_cert = (d / "tls/cert.pem").read_bytes()
    p = run(ctl, "init", d)
    assert p.returncode == 1
    assert "already exists" in p.err and "--force" in p.err
    assert (d / "tls/cert.pem").read_bytes() == old_cert
    p = run(ctl, "init", d, "--force", "--hostname", "other.example.org")
    assert p.returncode == 0, p.err
    assert (d / "tls/cert.pem").read_bytes() != old_cert
    assert (d / "data/users").read_text() == before  # users are never touched
    assert "kept" in p.out


@pytest.mark.parametrize("args, status, message", [
    ([], 2, "exactly one DIR"),
    (["a", "b"], 2, "exactly one DIR"),
    (["{d}", "--port-base", "abc"], 2, "--port-base"),
    (["{d}", "--port-base", "65000"], 2, "--port-base"),
    (["{d}", "--port-base", "-1"], 2, "--port-base"),
    (["{d}", "--bogus"], 2, "--bogus"),
    (["{d}", "--hostname"], 2, "option"),
    (["{d}", "--hostname", "bad host"], 1, "invalid --hostname"),
    (["{d}", "--domain", "under_score!"], 1, "invalid --hostname"),
    (["{d}", "--listen", "localhost"], 1, "invalid --hostname"),
])
def test_init_errors(ctl, tmp_path, args, status, message):
    args = [a.replace("{d}", str(tmp_path / "x")) for a in args]
    p = run(ctl, "init", *args)
    assert p.returncode == status, (p.out, p.err)
    assert message in p.err
    assert not (tmp_path / "x" / "posthorn.conf").exists() or status == 0


def test_help_everywhere(ctl):
    for args in [["--help"], ["-h"], ["init", "--help"], ["user", "--help"],
                 ["user", "add", "--help"], ["user", "list", "--help"],
                 ["alias", "--help"], ["alias", "add", "--help"],
                 ["check", "--help"]]:
        p = run(ctl, *args)
        assert p.returncode == 0, args
        assert p.out.startswith("usage: posthornctl"), args


def test_usage_errors(ctl, setup):
    for args in [[], ["frob"], ["user"], ["user", "frob"], ["user", "add"],
                 ["user", "add", "a", "b"], ["user", "list", "x"],
                 ["user", "add", "x", "--clear"], ["user", "del", "x", "--password-stdin"],
                 ["user", "apop", "x", "--clear", "--secret-stdin"],
                 ["alias"], ["alias", "add", "x"], ["alias", "del"],
                 ["alias", "list", "x"], ["check", "x"], ["--bogus"]]:
        p = setup(*args)
        assert p.returncode == 2, (args, p.out, p.err)
        assert p.err, args


# ---- config errors ----

def test_missing_config(ctl, tmp_path):
    for args in [["check"], ["user", "list"], ["alias", "list"],
                 ["user", "add", "x", "--password-stdin"]]:
        p = run(ctl, "-c", tmp_path / "nope.conf", *args, input=b"pw\n")
        assert p.returncode == 1, args
        assert "nope.conf" in p.err + p.out
    p = run(ctl, "user", "list", env={"POSTHORN_CONFIG": str(tmp_path / "env.conf")})
    assert p.returncode == 1 and "env.conf" in p.err


def test_bad_config_line(setup):
    conf = setup.dir / "posthorn.conf"
    lines = conf.read_text().splitlines()
    lines.insert(4, "no_such_key = 1")
    conf.write_text("\n".join(lines) + "\n")
    p = setup("check")
    assert p.returncode == 1
    assert re.search(r"posthorn\.conf:5: ", p.out), p.out
    p = setup("user", "list")
    assert p.returncode == 1
    assert re.search(r"posthorn\.conf:5: ", p.err), p.err


def test_bad_users_and_aliases_lines(setup):
    users = setup.dir / "data/users"
    users.write_text("# x\nalice:$y$j9T$a$b\nbroken line\n")
    p = setup("check")
    assert p.returncode == 1
    assert re.search(r"data/users:3: expected name:hash", p.out), p.out
    p = setup("user", "add", "bob", "--password-stdin", input=b"pw\n")
    assert p.returncode == 1 and "users:3:" in p.err
    users.write_text("")
    (setup.dir / "data/aliases").write_text("postmaster: alice\nbad line\n")
    p = setup("alias", "list")
    assert p.returncode == 1 and re.search(r"aliases:2: expected", p.err)


# ---- users ----

def test_user_add_hash_and_postmaster(setup):
    p = setup("user", "add", "Alice", "--password-stdin", input=b"correct horse\n")
    assert p.returncode == 0, p.err
    assert "added user alice" in p.out
    assert 'created the alias "postmaster: alice"' in p.out
    h = users_file(setup)["alice"]
    assert h.startswith("$y$")
    assert verify(h, "correct horse")
    assert not verify(h, "correct horse ")
    assert not verify(h, "wrong")
    assert mode(setup.dir / "data/users") == 0o600
    for sub in ["cur", "new", "tmp"]:
        assert (setup.dir / "data/mail/alice" / sub).is_dir()
    # The second user does not touch postmaster; check now passes.
    p = setup("user", "add", "bob", "--password-stdin", input=b"pw\r\n")
    assert p.returncode == 0 and "postmaster" not in p.out
    assert verify(users_file(setup)["bob"], "pw")  # CRLF input: CR dropped
    p = setup("check")
    assert p.returncode == 0, p.out
    assert "all checks passed" in p.out


@pytest.mark.parametrize("name", ["../x", "A B", "", "-x", ".x", "a/b", "a:b",
                                  "x" * 65, "caf\u00e9"])
def test_user_add_invalid_names(setup, name):
    # "--" so that "-x" is a name, not an option.
    p = setup("user", "add", "--password-stdin", "--", name, input=b"pw\n")
    assert p.returncode == 1
    assert "invalid user name" in p.err
    assert users_file(setup) == {}


def test_user_add_errors(setup):
    assert setup("user", "add", "bob", "--password-stdin", input=b"pw\n").returncode == 0
    p = setup("user", "add", "BOB", "--password-stdin", input=b"other\n")
    assert p.returncode == 1 and 'user "bob" already exists' in p.err
    p = setup("user", "add", "carol", "--password-stdin", input=b"\n")
    assert p.returncode == 1 and "empty" in p.err
    p = setup("user", "add", "carol", "--password-stdin", input=b"")
    assert p.returncode == 1 and "missing" in p.err
    p = setup("user", "add", "carol", "--password-stdin", input=b"a\0b\n")
    assert p.returncode == 1 and "NUL" in p.err
    p = setup("user", "add", "carol", "--password-stdin", input=b"x" * 2000 + b"\n")
    assert p.returncode == 1
    # No terminal and no --password-stdin: a clear refusal, not a hang.
    p = setup("user", "add", "carol")
    assert p.returncode == 1 and "--password-stdin" in p.err
    assert set(users_file(setup)) == {"bob"}


def test_user_passwd(setup):
    setup("user", "add", "bob", "--password-stdin", input=b"old\n")
    p = setup("user", "passwd", "Bob", "--password-stdin", input=b"new pass\n")
    assert p.returncode == 0, p.err
    h = users_file(setup)["bob"]
    assert verify(h, "new pass") and not verify(h, "old")
    p = setup("user", "passwd", "ghost", "--password-stdin", input=b"x\n")
    assert p.returncode == 1 and 'no such user "ghost"' in p.err
    p = setup("user", "passwd", "bob", "--password-stdin", input=b"\n")
    assert p.returncode == 1
    assert users_file(setup)["bob"] == h


def test_user_del(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    setup("user", "add", "bob", "--password-stdin", input=b"b\n")
    # alice is postmaster: refused, and the aliases are named.
    p = setup("user", "del", "alice")
    assert p.returncode == 1 and "postmaster" in p.err
    p = setup("user", "del", "bob")
    assert p.returncode == 0, p.err
    assert "kept" in p.out and "data/mail/bob" in p.out
    assert (setup.dir / "data/mail/bob/new").is_dir()
    assert set(users_file(setup)) == {"alice"}
    p = setup("user", "del", "bob")
    assert p.returncode == 1 and 'no such user "bob"' in p.err
    p = setup("user", "del", "../etc")
    assert p.returncode == 1 and "invalid user name" in p.err


def test_user_list_and_apop(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    setup("user", "add", "bob", "--password-stdin", input=b"b\n")
    (setup.dir / "data/mail/bob/new/1.x.host").write_bytes(b"x" * 1234)
    p = setup("user", "apop", "bob", "--secret-stdin", input=b"tanstaaf\n")
    assert p.returncode == 0, p.err
    apop = setup.dir / "data/apop"
    assert "bob:tanstaaf" in apop.read_text()
    assert mode(apop) == 0o600
    p = setup("user", "list")
    assert p.returncode == 0
    rows = {line.split()[0]: line.split() for line in p.out.splitlines()[1:]}
    assert rows["alice"] == ["alice", "-", "no", "0"]
    assert rows["bob"] == ["bob", "-", "yes", "1234"]
    p = setup("user", "apop", "bob", "--clear")
    assert p.returncode == 0 and "bob" not in apop.read_text()
    p = setup("user", "apop", "bob", "--secret-stdin", input=b"has space\n")
    assert p.returncode == 1 and "invalid APOP secret" in p.err
    p = setup("user", "apop", "ghost", "--secret-stdin", input=b"x\n")
    assert p.returncode == 1 and "no such user" in p.err
    # Deleting a user takes its secret along.
    setup("user", "apop", "bob", "--secret-stdin", input=b"s\n")
    assert setup("user", "del", "bob").returncode == 0
    assert "bob" not in apop.read_text()


# ---- aliases ----

def test_alias_add_list_del(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    setup("user", "add", "bob", "--password-stdin", input=b"b\n")
    p = setup("alias", "add", "Team", "alice", "bob@Example.org,x@remote.example")
    assert p.returncode == 0, p.err
    p = setup("alias", "add", "all", "team", "alice")
    assert p.returncode == 0, p.err
    p = setup("alias", "list")
    assert p.returncode == 0
    assert "team: alice, bob@Example.org, x@remote.example" in p.out
    assert "delivers to: alice, bob, x@remote.example" in p.out
    text = (setup.dir / "data/aliases").read_text()
    assert text.startswith("# posthorn aliases")  # comments survive edits
    # Replacing keeps one entry.
    assert setup("alias", "add", "team", "bob").returncode == 0
    assert len(re.findall(r"^team:", (setup.dir / "data/aliases").read_text(),
                          re.M)) == 1
    # Deleting an alias others use is refused; a free one goes.
    p = setup("alias", "del", "team")
    assert p.returncode == 1 and 'unknown target "team"' in p.err
    assert setup("alias", "del", "all").returncode == 0
    assert setup("alias", "del", "team").returncode == 0
    p = setup("alias", "del", "team")
    assert p.returncode == 1 and 'no alias "team"' in p.err
    assert setup("check").returncode == 0


def test_alias_refusals(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    before = (setup.dir / "data/aliases").read_text()
    assert setup("alias", "add", "a", "alice").returncode == 0
    assert setup("alias", "add", "b", "a").returncode == 0
    p = setup("alias", "add", "a", "b")
    assert p.returncode == 1 and "alias loop: a -> b -> a" in p.err
    p = setup("alias", "add", "self", "self")
    assert p.returncode == 1 and "alias loop: self -> self" in p.err
    p = setup("alias", "add", "x", "ghost")
    assert p.returncode == 1 and 'unknown target "ghost"' in p.err
    for bad in ["a b", "|/bin/sh", "/etc/passwd", "x@", "@y.org"]:
        p = setup("alias", "add", "x", bad)
        assert p.returncode == 1, bad
    p = setup("alias", "add", "../x", "alice")
    assert p.returncode == 1 and "invalid alias name" in p.err
    after = (setup.dir / "data/aliases").read_text()
    assert after == before + "a: alice\nb: a\n"


def test_check_reports_loops_and_unknowns(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    with open(setup.dir / "data/aliases", "a") as f:
        f.write("a: b\nb: a\nz: ghost\n")
    p = setup("check")
    assert p.returncode == 1
    assert "FAIL aliases" in p.out
    assert "alias loop: a -> b -> a" in p.out
    assert 'alias "z": unknown target "ghost"' in p.out
    assert "ok   postmaster" in p.out
    p = setup("alias", "list")
    assert p.returncode == 0 and "error: alias loop" in p.out


def test_check_certificate_problems(setup, tmp_path):
    d = setup.dir
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    # A key that belongs to another certificate.
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
                    "-noout", "-out", d / "tls/key.pem"], check=True,
                   capture_output=True)
    p = setup("check")
    assert p.returncode == 1 and "does not match the certificate" in p.out
    # An expired certificate.
    subprocess.run(["openssl", "req", "-x509", "-key", d / "tls/key.pem", "-out",
                    d / "tls/cert.pem", "-subj", "/CN=x", "-days", "1",
                    "-not_after", "20200101000000Z"], capture_output=True)
    if "2020" in subprocess.run(["openssl", "x509", "-in", d / "tls/cert.pem",
                                 "-noout", "-enddate"], capture_output=True).stdout.decode():
        p = setup("check")
        assert p.returncode == 1 and "expired" in p.out
    # Soon to expire: a warning only.
    subprocess.run(["openssl", "req", "-x509", "-key", d / "tls/key.pem", "-out",
                    d / "tls/cert.pem", "-subj", "/CN=x", "-days", "10"],
                   check=True, capture_output=True)
    p = setup("check")
    assert p.returncode == 0, p.out
    assert re.search(r"warn certificate: expires in (9|10) days", p.out)
    # Missing files.
    os.unlink(d / "tls/cert.pem")
    p = setup("check")
    assert p.returncode == 1 and "FAIL certificate" in p.out


def test_check_data_dirs(setup):
    setup("user", "add", "alice", "--password-stdin", input=b"a\n")
    os.rmdir(setup.dir / "data/queue")
    p = setup("check")
    assert p.returncode == 1
    assert re.search(r"FAIL directory: .*data/queue: No such file", p.out)
