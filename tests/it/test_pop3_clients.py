"""posthornd's POP3 server with clients we did not write: fetchmail (keep
and no-keep, UIDL tracking between runs), mpop (Maildir and mbox, USER and
AUTH PLAIN, pipelining) and getmail6 (Maildir, old-mail tracking, APOP),
each with a private HOME and config in a temp dir, retrieving over STLS
(the pop3 port) and over POP3S (the pop3s port) with the server's
self-signed certificate trusted through a CA file or its fingerprint.
getmail6 (6.18) has no STLS for POP3: it retrieves in plain POP3 on the
pop3 port instead (loopback, plaintext_auth_loopback = yes) and over POP3S.

Every client gets a mailbox mixing mail sent over SMTP (dot lines, a "From "
line, UTF-8 and GB2312 8-bit bodies, a multipart with a binary attachment)
and files written straight into the Maildir (bare LF line ends, no final
newline, a large message). What the client stored must be, message for
message, what RETR sends (CRLF turned into LF the way these clients store
mail), with at most some header fields the client put on top."""
import email
import email.policy
import hashlib
import os
import pathlib
import random
import re
import ssl
import stat
import subprocess
import uuid
from email.message import EmailMessage

import pytest

from mailserver import HOSTNAME, UserPool, crlf, pop3_module_server, pop3_wire, tool

CLIENT_TIMEOUT = 60
POOL = [f"c{n:02d}" for n in range(1, 21)]
USERS = {u: f"pw-{u}-Secret" for u in POOL}
APOP_USER = "c20"
APOP_SECRET = "tanstaaf-c20"



# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def srv():
    yield from pop3_module_server(USERS, {"auth_delay_ms": 0}, (APOP_USER, APOP_SECRET))


_pool = UserPool(POOL, USERS, reserved=(APOP_USER,))


@pytest.fixture
def user(srv):
    return _pool.take()


@pytest.fixture
def home(tmp_path):
    """A private HOME for one client (mode 0700: the clients insist)."""
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


def fill_mailbox(srv, name):
    """Puts the test messages into name's mailbox; returns what RETR sends
    for each (wire form, unstuffed)."""
    mark = uuid.uuid4().hex
    stored = []

    def head(i, extra=""):
        return (f"From: Sender <sender@remote.test>\nTo: <{name}@example.test>\n"
                f"Subject: client test {i} {mark}\nDate: Sun, 23 Nov 2025 12:00:00 +0000\n"
                f"Message-ID: <{i}.{mark}@remote.test>\n{extra}\n")

    stored.append(srv.smtp_deliver(name, crlf(
        head(1) + "Dots:\n.\n..\n.leading dot\nFrom the start of a line\n>From quoted\nend\n")))
    stored.append(srv.smtp_deliver(name, crlf(
        head(2, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n")
        + "Grüße aus Köln, 你好, мир, ΚΑΛΗΜΕΡΑ\n")))
    stored.append(srv.smtp_deliver(name, crlf(
        head(3, "MIME-Version: 1.0\nContent-Type: text/plain; charset=gb2312\n"
                "Content-Transfer-Encoding: 8bit\n").encode()
        + "中文邮件：你好，世界。\n第二行。\n".encode("gb2312"))))
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Sender <sender@remote.test>"
    m["To"] = f"<{name}@example.test>"
    m["Subject"] = f"client test 4 {mark}"
    m["Message-ID"] = f"<4.{mark}@remote.test>"
    m.set_content("With an attachment.\n")
    rng = random.Random(4)
    m.add_attachment(bytes(rng.randrange(256) for _ in range(30000)),
                     maintype="application", subtype="octet-stream", filename="blob.bin")
    stored.append(srv.smtp_deliver(name, m.as_bytes()))
    files = [
        head(5).encode() + b"bare LF line ends\n.dot\nlast\n",
        crlf(head(6)) + b"no newline at the end",
        crlf(head(7)) + b"".join(b"%05d %s\r\n" % (i, b"z" * 60) for i in range(4000)),
    ]
    for data in files:
        srv.put_message(name, data)
    return [pop3_wire(s) for s in stored] + [pop3_wire(f) for f in files]


def lf(data):
    return data.replace(b"\r\n", b"\n")


HEADER_LINE = re.compile(rb"[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*")


def match_retrieved(got, expected, client):
    """Each retrieved message is one expected message in LF form, at most
    with header fields the client prepended; every expected one is there
    exactly once."""
    want = {lf(e): i for i, e in enumerate(expected)}
    assert len(want) == len(expected)
    seen = []
    for g in got:
        g = lf(g)
        hit = [w for w in want if g.endswith(w)]
        assert len(hit) == 1, f"{client}: a retrieved message is none of the sent ones:\n{g[:1500]!r}"
        prefix = g[:len(g) - len(hit[0])]
        while prefix:
            m = HEADER_LINE.match(prefix)
            assert m, f"{client} changed the message (not just header fields on top): {prefix[:500]!r}"
            prefix = prefix[m.end():]
        seen.append(want[hit[0]])
    assert sorted(seen) == list(range(len(expected))), \
        f"{client}: retrieved {sorted(seen)}, expected each of {len(expected)} messages once"


def maildir_messages(d):
    d = pathlib.Path(d)
    return [p.read_bytes() for sub in ("new", "cur") if (d / sub).is_dir()
            for p in sorted((d / sub).iterdir())]


def make_maildir(d):
    for sub in ("", "new", "cur", "tmp"):
        (d / sub).mkdir(mode=0o700, exist_ok=True)
    return d


def mbox_messages(path):
    """Messages of an mboxrd file: split at "From " lines, one '>' taken
    off ">From " / ">>From "..., the blank line before each separator
    dropped."""
    data = pathlib.Path(path).read_bytes()
    assert data.startswith(b"From "), f"not an mbox: {data[:200]!r}"
    parts = re.split(rb"(?:^|\n)From [^\n]*\n", data)[1:]
    out = []
    for p in parts:
        if p.endswith(b"\n\n"):
            p = p[:-1]
        out.append(re.sub(rb"(?m)^>(>*From )", rb"\1", p))
    return out


def server_count(srv, name):
    return len(srv.messages(name)) + len(srv.messages(name, "cur"))


def run(cmd, home, env=None, ok=(0,)):
    e = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TZ": "UTC"}
    e.update(env or {})
    r = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=e, timeout=CLIENT_TIMEOUT, cwd=str(home))
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode in ok, f"{cmd[0]} exited {r.returncode}:\n{out[-4000:]}"
    return out


def cert_sha256(srv):
    pem = pathlib.Path(srv.tls_cert).read_text()
    der = ssl.PEM_cert_to_DER_cert(pem)
    return hashlib.sha256(der).hexdigest()


def write_private(path, text):
    path.write_text(text)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


# ---------------------------------------------------------------- fetchmail

def fetchmail_rc(home, srv, user, tls, keep, out_dir):
    name, pw = user
    if tls == "stls":
        port, tls_opts = srv.pop3_port, "sslproto 'TLS1.2+'"
    else:
        port, tls_opts = srv.pop3s_port, "ssl"
    mda = home / "store.sh"      # each message into its own file
    mda.write_text(f'#!/bin/sh\nexec cat > "$(mktemp {out_dir}/msg.XXXXXXXX)"\n')
    mda.chmod(0o700)
    return write_private(home / "fetchmailrc", f"""\
set no syslog
set no bouncemail
set invisible
poll 127.0.0.1 service {port} proto pop3 auth password uidl
    user "{name}" there with password "{pw}" is "{name}" here
    {tls_opts} sslcertck sslcertfile "{srv.tls_cert}" sslcommonname "{HOSTNAME}"
    {"keep" if keep else "no keep"}
    no rewrite
    mda "{mda}"
""")


def fetchmail(home, rc, ok=(0,)):
    return run([tool("fetchmail"), "-f", rc, "--idfile", home / "fetchids",
                "--pidfile", home / "fetchmail.pid", "-N", "-v"],
               home, env={"FETCHMAILHOME": str(home)}, ok=ok)


def test_fetchmail_stls_keep_uidl(srv, user, home):
    name = user[0]
    expected = fill_mailbox(srv, name)
    out_dir = home / "got"
    out_dir.mkdir()
    rc = fetchmail_rc(home, srv, user, "stls", True, out_dir)
    log = fetchmail(home, rc)
    assert re.search(r"STLS|TLS connection|SSL/TLS", log, re.I), f"no sign of STLS in the log:\n{log[-3000:]}"
    match_retrieved(maildir_messages_flat(out_dir), expected, "fetchmail")
    assert server_count(srv, name) == len(expected), "keep: messages were deleted"
    # UIDL tracking: a second run fetches only the one new message
    new = srv.smtp_deliver(name, crlf(f"Subject: later {uuid.uuid4().hex}\n\nthe new one\n"))
    for f in out_dir.iterdir():
        f.unlink()
    fetchmail(home, rc)
    match_retrieved(maildir_messages_flat(out_dir), [new], "fetchmail, second run")
    assert server_count(srv, name) == len(expected) + 1
    # and a third run finds nothing (exit status 1: no mail)
    for f in out_dir.iterdir():
        f.unlink()
    fetchmail(home, rc, ok=(1,))
    assert list(out_dir.iterdir()) == []


def test_fetchmail_pop3s_no_keep(srv, user, home):
    name = user[0]
    expected = fill_mailbox(srv, name)
    out_dir = home / "got"
    out_dir.mkdir()
    rc = fetchmail_rc(home, srv, user, "pop3s", False, out_dir)
    fetchmail(home, rc)
    match_retrieved(maildir_messages_flat(out_dir), expected, "fetchmail")
    assert server_count(srv, name) == 0, "no keep: messages are still on the server"


def maildir_messages_flat(d):
    return [p.read_bytes() for p in sorted(pathlib.Path(d).iterdir())]


# ---------------------------------------------------------------- mpop

def mpop_rc(home, srv, user, tls, delivery, keep, auth):
    name, pw = user
    if tls == "stls":
        port, trust = srv.pop3_port, f"tls_starttls on\ntls_trust_file {srv.tls_cert}"
    else:
        fp = cert_sha256(srv).upper()
        fp = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))
        port, trust = srv.pop3s_port, f"tls_starttls off\ntls_fingerprint {fp}"
    return write_private(home / "mpoprc", f"""\
defaults
tls on
{trust}
received_header off
uidls_file {home}/uidls

account default
host 127.0.0.1
port {port}
user {name}
password {pw}
auth {auth}
delivery {delivery}
keep {"on" if keep else "off"}
""")


def mpop(home, rc, ok=(0,)):
    return run([tool("mpop"), "-C", rc, "-q", "default"], home, ok=ok)


def test_mpop_stls_maildir_keep(srv, user, home):
    name = user[0]
    expected = fill_mailbox(srv, name)
    md = make_maildir(home / "Maildir")
    rc = mpop_rc(home, srv, user, "stls", f"maildir {md}", keep=True, auth="user")
    mpop(home, rc)
    match_retrieved(maildir_messages(md), expected, "mpop")
    assert server_count(srv, name) == len(expected)
    # only new messages the second time (UIDLs)
    new = srv.smtp_deliver(name, crlf(f"Subject: later {uuid.uuid4().hex}\n\nthe new one\n"))
    mpop(home, rc)
    match_retrieved(maildir_messages(md), expected + [pop3_wire(new)], "mpop, second run")


def test_mpop_pop3s_mbox_auth_plain(srv, user, home):
    name = user[0]
    expected = fill_mailbox(srv, name)
    mbox = home / "inbox.mbox"
    rc = mpop_rc(home, srv, user, "pop3s", f"mbox {mbox}", keep=False, auth="plain")
    mpop(home, rc)
    match_retrieved(mbox_messages(mbox), expected, "mpop (mbox)")
    assert server_count(srv, name) == 0


def test_mpop_serverinfo(srv, home):
    """mpop's view of the server: the capabilities it found."""
    rc = write_private(home / "mpoprc", f"""\
account default
host 127.0.0.1
port {srv.pop3_port}
tls on
tls_starttls on
tls_trust_file {srv.tls_cert}
""")
    out = run([tool("mpop"), "-C", rc, "--serverinfo", "default"], home)
    for cap in ("TOP", "UIDL", "PIPELINING", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PLAIN", "LOGIN"):
        assert cap in out, f"mpop --serverinfo does not show {cap}:\n{out}"


# ---------------------------------------------------------------- getmail6

def getmail_rc(home, srv, user, mode, delete, md, apop=False):
    name, pw = user
    if mode == "pop3":
        retr = f"type = SimplePOP3Retriever\nport = {srv.pop3_port}"
    elif mode == "pop3s-ca":
        retr = (f"type = SimplePOP3SSLRetriever\nport = {srv.pop3s_port}\n"
                f"ca_certs = {srv.tls_cert}\nssl_cert_hostname = 127.0.0.1")
    else:
        retr = (f"type = SimplePOP3SSLRetriever\nport = {srv.pop3s_port}\n"
                f"ssl_fingerprints = ('{cert_sha256(srv)}',)")
    return write_private(home / "getmailrc", f"""\
[retriever]
{retr}
server = 127.0.0.1
username = {name}
password = {pw}
use_apop = {"true" if apop else "false"}

[destination]
type = Maildir
path = {md}/
user = {MAILDIR_USER}

[options]
verbose = 1
read_all = false
delete = {"true" if delete else "false"}
delivered_to = false
received = false
""")


MAILDIR_USER = "nobody"    # getmail refuses to write a Maildir as root


@pytest.fixture
def getmail_maildir():
    """A Maildir the unprivileged MAILDIR_USER can write, in a directory
    it can reach."""
    import pwd
    import shutil
    import tempfile
    pw = pwd.getpwnam(MAILDIR_USER)
    top = pathlib.Path(tempfile.mkdtemp(prefix="posthorn-getmail-", dir="/tmp"))
    top.chmod(0o755)
    md = make_maildir(top / "Maildir")
    for d in (md, md / "new", md / "cur", md / "tmp"):
        os.chown(d, pw.pw_uid, pw.pw_gid)
    yield md
    shutil.rmtree(top, ignore_errors=True)


def getmail(home, rc, ok=(0,)):
    gdir = home / "getmail"
    gdir.mkdir(exist_ok=True)
    return run([tool("getmail6", "getmail"), "--rcfile", rc, "--getmaildir", gdir], home, ok=ok)


def test_getmail_pop3_keep_then_only_new(srv, user, home, getmail_maildir):
    name = user[0]
    expected = fill_mailbox(srv, name)
    md = getmail_maildir
    rc = getmail_rc(home, srv, user, "pop3", False, md)
    getmail(home, rc)
    match_retrieved(maildir_messages(md), expected, "getmail")
    assert server_count(srv, name) == len(expected)
    new = srv.smtp_deliver(name, crlf(f"Subject: later {uuid.uuid4().hex}\n\nthe new one\n"))
    getmail(home, rc)
    match_retrieved(maildir_messages(md), expected + [pop3_wire(new)], "getmail, second run")


def test_getmail_pop3s_ca_file_delete(srv, user, home, getmail_maildir):
    name = user[0]
    expected = fill_mailbox(srv, name)
    md = getmail_maildir
    rc = getmail_rc(home, srv, user, "pop3s-ca", True, md)
    getmail(home, rc)
    match_retrieved(maildir_messages(md), expected, "getmail (POP3S)")
    assert server_count(srv, name) == 0


def test_getmail_pop3s_fingerprint_apop(srv, home, getmail_maildir):
    user = (APOP_USER, APOP_SECRET)
    expected = fill_mailbox(srv, APOP_USER)
    md = getmail_maildir
    rc = getmail_rc(home, srv, user, "pop3s-fp", True, md, apop=True)
    getmail(home, rc)
    match_retrieved(maildir_messages(md), expected, "getmail (POP3S, APOP)")
    assert server_count(srv, APOP_USER) == 0
