"""Golden SMTP dialogues replayed through `posthornd -c CONFIG --stdio smtp`.

Each tests/dialogues/NAME.in holds what the client sends, one line per
command or message line; the runner ends every line with CRLF and writes the
whole file at once, so every dialogue is also a PIPELINING test (replies must
come back complete and in order). NAME.out is the expected server output
with LF line ends.

Lines of NAME.in starting with "#!" are runner directives, not input:
    #! SECTION KEY = VALUE   sets KEY in the config before the run; SECTION
                             is "-" for the top level, "limits", or a
                             listener like "listener smtp"
Lines starting with "# " are comments. The stdio session's peer is
127.0.0.1 (loopback: AUTH without TLS is allowed by the config that
`posthornctl init` writes for 127.0.0.1), its listener is the first smtp
listener of the config (vrfy taken from it), its session id is D1, so queue
ids are D1.1, D1.2, ...

Normalised before comparing (NORMALISE below), so the .out files do not
depend on the build: nothing today except the queue id pattern, kept so a
change of id format is one regex here instead of every .out file.

Setup: a temp directory made by `posthornctl init --hostname mx.test
--domain example.org --domain example.net`, users alice (password "secret")
and bob ("hunter2") via `posthornctl user add NAME --password-stdin`,
aliases team -> alice, bob and ext -> friend@remote.test, bob.
"""
import os
import pathlib
import re
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIALOGUES = ROOT / "tests" / "dialogues"
BUILD = pathlib.Path(os.environ.get("POSTHORN_BUILD", str(ROOT / "build")))

NORMALISE = [
    (re.compile(r"queued as [A-Za-z0-9._-]+"), "queued as ID"),
]


def _tool(name):
    path = BUILD / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    return str(path)


def _ctl(conf, *args, stdin=None):
    subprocess.run([_tool("posthornctl"), "-c", str(conf), *args],
                   input=stdin, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    top = tmp_path_factory.mktemp("dialogues")
    # Run as root, posthornd drops to the config's user (nobody): it must
    # be able to reach the data directory through the temp directories.
    for d in (top, *top.parents):
        if d == pathlib.Path(tempfile.gettempdir()):
            break
        d.chmod(d.stat().st_mode | 0o111)
    srv = top / "srv"
    subprocess.run([_tool("posthornctl"), "init", str(srv), "--hostname", "mx.test",
                    "--domain", "example.org", "--domain", "example.net",
                    "--listen", "127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    conf = srv / "posthorn.conf"
    _ctl(conf, "user", "add", "alice", "--password-stdin", stdin=b"secret\n")
    _ctl(conf, "user", "add", "bob", "--password-stdin", stdin=b"hunter2\n")
    _ctl(conf, "alias", "add", "team", "alice", "bob")
    _ctl(conf, "alias", "add", "ext", "friend@remote.test", "bob")
    return srv


def set_config(text, section, key, value):
    """Returns config text with KEY = VALUE set in SECTION ("-" = top)."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    if section != "-":
        header = f"[{section}]"
        start = next(i for i, l in enumerate(lines) if l.strip() == header) + 1
    for i in range(start, len(lines)):
        if lines[i].startswith("["):
            end = i
            break
    for i in range(start, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines)
    lines.insert(end if section == "-" else start, f"{key} = {value}")
    return "\n".join(lines)


def parse_in(path):
    """(directives, bytes to send) of a .in file."""
    directives, data = [], b""
    for line in path.read_bytes().split(b"\n")[:-1]:
        if line.startswith(b"#!"):
            m = re.match(r"#!\s*(.+?)\s+(\S+)\s*=\s*(.*)$", line.decode())
            directives.append(m.groups())
        elif line.startswith(b"# "):
            continue
        else:
            data += line + b"\r\n"
    return directives, data


def normalise(text):
    for pattern, repl in NORMALISE:
        text = pattern.sub(repl, text)
    return text


def run_dialogue(srv, name):
    directives, data = parse_in(DIALOGUES / f"{name}.in")
    conf = srv / "posthorn.conf"
    if directives:
        text = conf.read_text()
        for section, key, value in directives:
            text = set_config(text, section, key, value)
        conf = srv / f"{name}.conf"
        conf.write_text(text)
    proc = subprocess.run(
        [_tool("posthornd"), "-c", str(conf), "--stdio", "smtp",
         "--session-id", "D1"],
        input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8", errors="replace")
    assert "\n" not in out.replace("\r\n", ""), "a reply line without CRLF"
    return normalise(out.replace("\r\n", "\n")), proc.stderr.decode(errors="replace")


NAMES = sorted(p.stem for p in DIALOGUES.glob("*.in"))


@pytest.mark.parametrize("name", NAMES)
def test_dialogue(server, name):
    got, log = run_dialogue(server, name)
    want = normalise((DIALOGUES / f"{name}.out").read_text())
    assert got == want, f"log:\n{log}"


def test_seed_dialogue_delivers(server):
    """The seed's session leaves one complete message in alice's Maildir."""
    new = server / "data" / "mail" / "alice" / "new"
    before = set(new.iterdir()) if new.exists() else set()
    out, log = run_dialogue(server, "seed")
    assert "250 2.0.0 Ok: queued as ID\n" in out, log
    files = set(new.iterdir()) - before
    assert len(files) == 1
    msg = files.pop().read_bytes()
    assert msg.startswith(b"Return-Path: <ye@remote.test>\r\nReceived: from YE")
    assert b"by mx.test with SMTP id D1.1" in msg.replace(b"\r\n\t", b" ")
    assert b"for <alice@example.org>;" in msg.replace(b"\r\n\t", b" ")
    assert msg.endswith(b"\r\n\r\nHello, this is YE.\r\n.dot line\r\n")
    assert not list((server / "data" / "spool").glob("*"))
