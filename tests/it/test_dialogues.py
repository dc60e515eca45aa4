"""Golden SMTP and POP3 dialogues replayed through `posthornd -c CONFIG
--stdio smtp` (NAME.in) and `posthornd -c CONFIG --stdio pop3` (pop3-NAME.in).

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
depend on the build: the queue id pattern (one regex here instead of every
.out file when the id format changes) and the APOP timestamp at the end of
the POP3 greeting, "<pid.clock...@host>", which differs every run: it
becomes <TIMESTAMP>.

Setup: a temp directory made by `posthornctl init --hostname mx.test
--domain example.org --domain example.net`, users alice (password "secret")
and bob ("hunter2") via `posthornctl user add NAME --password-stdin`,
aliases team -> alice, bob and ext -> friend@remote.test, bob.
For the POP3 dialogues also the seeds' users wang ("vegetables", chapter
9.5.2) and bripengandre ("Pop3world", 003 2.2.3), and nomail ("nothing"),
whose mailbox stays empty. Before every pop3-*.in the Maildirs of wang and
bripengandre are made afresh with POP3_MAILBOX below (fixed file names, so
fixed UIDLs, and fixed mtimes) and nomail's is emptied; the .out files
depend on these bytes.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIALOGUES = ROOT / "tests" / "dialogues"
BUILD = pathlib.Path(os.environ.get("POSTHORN_BUILD", str(ROOT / "build")))

NORMALISE = [
    (re.compile(r"queued as [A-Za-z0-9._-]+"), "queued as ID"),
    (re.compile(r"\A(\+OK [^\n]*)<[^<>\s]+@[^<>\s]+>$", re.M), r"\1<TIMESTAMP>"),
]

POP3_USERS = {"wang": "vegetables", "bripengandre": "Pop3world", "nomail": "nothing"}

# The mailbox every POP3 dialogue starts from: (Maildir file name, bytes),
# oldest first. 1: the seeds' first letter; 2: dot lines and UTF-8; 3: bare
# LF line ends and no newline at the end (RETR sends CRLF and adds one; its
# LIST size counts both).
POP3_MAILBOX = [
    ("1700000001.M1P100.mx.test", (
        b"Return-Path: <ye@remote.test>\r\n"
        b"From: YE <ye@remote.test>\r\n"
        b"To: Wang <wang@example.org>\r\n"
        b"Subject: letter 1\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:21 +0000\r\n"
        b"Message-ID: <letter-1@remote.test>\r\n"
        b"\r\n"
        b"Hello Wang,\r\n"
        b"this is the first letter.\r\n")),
    ("1700000002.M2P100.mx.test", (
        b"From: YE <ye@remote.test>\r\n"
        b"To: Wang <wang@example.org>\r\n"
        b"Subject: =?UTF-8?B?56ys5LqM5bCB5L+h?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b".\r\n"
        b"..two dots\r\n"
        + "第二封信：你好！\r\n".encode("utf-8") +
        b".leading dot\r\n"
        b"last line\r\n")),
    ("1700000003.M3P100.mx.test", (
        b"From: YE <ye@remote.test>\n"
        b"Subject: letter 3\n"
        b"\n"
        b"bare LF line ends\n"
        b".dot\n"
        b"no newline at the end")),
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
    for name, pw in POP3_USERS.items():
        _ctl(conf, "user", "add", name, "--password-stdin", stdin=pw.encode() + b"\n")
    return srv


def reset_pop3_mailboxes(srv):
    """wang's and bripengandre's Maildirs hold exactly POP3_MAILBOX (in
    new/), nomail's is empty; all owned like the data directory."""
    data = srv / "data"
    st = data.stat()
    for user in POP3_USERS:
        md = data / "mail" / user
        shutil.rmtree(md, ignore_errors=True)
        for d in (md, md / "tmp", md / "new", md / "cur"):
            d.mkdir(mode=0o700)
            os.chown(d, st.st_uid, st.st_gid)
        if user == "nomail":
            continue
        for name, body in POP3_MAILBOX:
            path = md / "new" / name
            path.write_bytes(body)
            os.chmod(path, 0o600)
            os.chown(path, st.st_uid, st.st_gid)
            t = int(name.split(".")[0])
            os.utime(path, (t, t))


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
    proto = "pop3" if name.startswith("pop3-") else "smtp"
    if proto == "pop3":
        reset_pop3_mailboxes(srv)
    conf = srv / "posthorn.conf"
    if directives:
        text = conf.read_text()
        for section, key, value in directives:
            text = set_config(text, section, key, value)
        conf = srv / f"{name}.conf"
        conf.write_text(text)
    proc = subprocess.run(
        [_tool("posthornd"), "-c", str(conf), "--stdio", proto,
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


def _pop3_files(srv, user):
    md = srv / "data" / "mail" / user
    return {sub: sorted(p.name for p in (md / sub).iterdir()) for sub in ("new", "cur")}


def test_pop3_seed_dialogue_deletes_on_quit(server):
    """The seeds' POP3 session (USER, PASS, LIST, UIDL 1, RETR 1, DELE 1,
    QUIT): message 1 is gone from the Maildir, 2 and 3 are untouched."""
    out, log = run_dialogue(server, "pop3-seed")
    assert out.splitlines()[-1].startswith("+OK"), f"QUIT not +OK:\n{out}\n{log}"
    names = [n for n, _ in POP3_MAILBOX]
    assert _pop3_files(server, "bripengandre") == {"new": names[1:], "cur": []}


def test_pop3_seed_chapter9_dialogue(server):
    """Chapter 9.5.2's session (RETR 1, DELE 1, RETR 2, DELE 2, QUIT) leaves
    only letter 3."""
    out, log = run_dialogue(server, "pop3-seed-ch9")
    names = [n for n, _ in POP3_MAILBOX]
    assert _pop3_files(server, "wang") == {"new": names[2:], "cur": []}, log


def test_pop3_dialogue_without_quit_changes_nothing(server):
    """pop3-dele ends without QUIT after DELE and RETR: nothing is deleted
    or moved to cur/ (RFC 1939 6: only QUIT enters UPDATE)."""
    out, log = run_dialogue(server, "pop3-dele")
    names = [n for n, _ in POP3_MAILBOX]
    assert _pop3_files(server, "wang") == {"new": names, "cur": []}, log


def test_pop3_dialogue_retr_marks_seen(server):
    """pop3-top retrieves messages 3 and 2 (message 1 only with TOP) and
    QUITs: their files move to cur/ with the S flag, message 1 stays in
    new/."""
    out, log = run_dialogue(server, "pop3-top")
    names = [n for n, _ in POP3_MAILBOX]
    assert _pop3_files(server, "wang") == {"new": [names[0]],
                                           "cur": [names[1] + ":2,S", names[2] + ":2,S"]}, log
