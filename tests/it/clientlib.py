"""Shared helpers for the mail client's integration tests
(tests/it/test_client_*.py): a posthornd per test module with a pool of
users, a client account per test (config file, Maildir, HOME and XDG
directories all in tmp_path), a runner returning decoded output, and small
message and Maildir helpers.

    srv = module_server(limits=..., config=...)   # in a test module: the
                                  # module-scoped fixture "srv"
    def test_x(client):           # Client for a fresh pool user of srv
    def test_y(make_client):      # make_client(user=None, **settings)

    Client(tmp_path, srv, user, **settings)
      .run(*args, input=b"", env={}, timeout=30) -> Result
      .write(**settings)  rewrites the config (None drops a key)
      .config, .mail_dir, .address, .password, .user, .home, .env()
      .folder(name="INBOX") -> [Path] of new/ and cur/ files (sorted)
      .put(data, folder="INBOX", ts=None, flags=None) -> Path  writes a
            message straight into the local Maildir (names sort by ts)
    Result: .rc, .out, .err (str), .stdout/.stderr (bytes)

The client is the binary of POSTHORN_BIN (else build/posthorn). Every run
gets its own session (no controlling terminal, so a password prompt cannot
block), EDITOR=false unless a test sets one, and no POSTHORN_* variables
from the caller's environment.
"""
import base64
import email
import email.policy
import itertools
import os
import pathlib
import re
import socket
import subprocess
import threading
import time

import pytest

from mailserver import DOMAIN, HOST, SANITIZER_MARKS, _Servers, accept_loop, tool  # noqa: F401 (tool is re-exported)

ROOT = pathlib.Path(__file__).resolve().parents[2]
POSTHORN = os.environ.get("POSTHORN_BIN", str(ROOT / "build" / "posthorn"))

# Users of every test server: alice, bob, carol for readable tests, and a
# pool handed out one per test so tests sharing a module server never see
# each other's mail.
NAMED = ["alice", "bob", "carol"]
POOL = [f"u{n:02d}" for n in range(1, 81)]
PASSWORDS = {u: f"{u}-Pass-{i:03d}" for i, u in enumerate(NAMED + POOL)}

# Exit statuses of doc/client.md.
EXIT = dict(OK=0, PARTIAL=1, USAGE=2, INPUT=3, CONFIG=4, LOCAL=5, DNS=6,
            REFUSED=7, TIMEOUT=8, TLS_VERIFY=9, TLS=10, LOGIN=11, RELAY=12,
            RECIPIENT=13, FULL=14, TOO_BIG=15, LOCKED=16, SERVER=17,
            TEMP=18, NETWORK=19)

SUBCOMMANDS = ["account", "send", "compose", "fetch", "list", "read",
               "attachments", "reply", "forward", "search", "folders",
               "folder", "move", "delete", "contacts"]


def need_client():
    if not os.access(POSTHORN, os.X_OK):
        pytest.fail(f"posthorn binary not found at {POSTHORN}: run make, or set POSTHORN_BIN")



# ------------------------------------------------------------------ server

def module_server(config=None, limits=None, listeners=None, pool=40):
    """A module-scoped fixture: posthornd with alice, bob, carol and pool
    users u01..., no AUTH failure delay. Assign it to "srv" in the module."""
    @pytest.fixture(scope="module")
    def srv():
        need_client()
        servers = _Servers()
        lim = {"auth_delay_ms": 0}
        lim.update(limits or {})
        users = {u: PASSWORDS[u] for u in NAMED + POOL[:pool]}
        s = servers.make(users=users, aliases={}, config=config,
                         limits=lim, listeners=listeners)
        s.client_pool = list(POOL[:pool])
        yield s
        servers.teardown()
    return srv


def pool_user(srv):
    """A user of srv no other test of the module has had."""
    assert srv.client_pool, "client test pool exhausted: add users to clientlib.POOL"
    return srv.client_pool.pop(0)


@pytest.fixture
def make_client(srv, tmp_path):
    seq = itertools.count(1)

    def make(user=None, **settings):
        user = user or pool_user(srv)
        return Client(tmp_path / f"c{next(seq)}-{user}", srv, user, **settings)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


# ------------------------------------------------------------------ client

class Result:
    def __init__(self, cp, args):
        self.args = args
        self.rc = cp.returncode
        self.stdout = cp.stdout
        self.stderr = cp.stderr
        self.out = cp.stdout.decode("utf-8", "replace")
        self.err = cp.stderr.decode("utf-8", "replace")

    @property
    def returncode(self):
        return self.rc

    def __str__(self):
        err = self.err if len(self.err) < 6000 else self.err[:4000] + "\n[...]\n" + self.err[-1500:]
        return (f"posthorn {' '.join(map(str, self.args))}\n exit {self.rc}\n"
                f"--- stdout ---\n{self.out[-3000:]}\n--- stderr ---\n{err}")

    __repr__ = __str__


class Client:
    """One account of the client against srv, with a private HOME."""

    def __init__(self, base, srv, user, **settings):
        self.base = pathlib.Path(base)
        self.srv = srv
        self.user = user
        self.address = f"{user}@{DOMAIN}"
        self.password = PASSWORDS.get(user, "")
        self.home = self.base / "home"
        for d in ("home", "home/.config", "home/.local/share", "home/.cache",
                  "home/.local/state", "tmp"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        self.config = self.base / "config"
        self.mail_dir = self.base / "Mail"
        self.account = "test"
        self.settings = {
            "address": self.address,
            "name": user.capitalize() + " Tester",
            "smtp_host": HOST,
            "smtp_port": srv.port("submission"),
            "smtp_tls": "starttls",
            "smtp_user": user,
            "pop3_host": HOST,
            "pop3_port": srv.port("pop3"),
            "pop3_tls": "starttls",
            "pop3_user": user,
            "mail_dir": str(self.mail_dir),
            "keep": "yes",
            "password_env": "PH_PW",
            "ca_file": str(srv.tls_cert),
            "timeout": 5,
        }
        self.extra_accounts = {}
        self.write(**settings)

    def write(self, **settings):
        """Updates the settings (a None value drops the key) and rewrites
        the config file."""
        self.settings.update(settings)
        lines = [f"default = {self.account}", "", f"[account {self.account}]"]
        for k, v in self.settings.items():
            if v is not None:
                lines.append(f"{k} = {v}")
        for name, kv in self.extra_accounts.items():
            lines += ["", f"[account {name}]"]
            lines += [f"{k} = {v}" for k, v in kv.items() if v is not None]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("POSTHORN_", "XDG_", "PH_")) and k not in ("VISUAL", "EDITOR", "PAGER")}
        env.update({
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "TMPDIR": str(self.base / "tmp"),
            "TZ": "UTC",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "EDITOR": "false",
            "PAGER": "cat",
            "PH_PW": self.password,
        })
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def run(self, *args, input=b"", env=None, timeout=30, config=True):
        """posthorn [--config FILE] args...; input bytes (or str) on stdin."""
        argv = [POSTHORN]
        if config:
            argv += ["--config", str(self.config)]
        argv += [str(a) for a in args]
        if isinstance(input, str):
            input = input.encode("utf-8")
        cp = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=self.env(**(env or {})),
                            timeout=timeout, start_new_session=True,
                            cwd=str(self.base))
        res = Result(cp, args)
        bad = [m for m in SANITIZER_MARKS if m in res.err]
        if bad:
            pytest.fail(f"sanitizer report {bad} from the client:\n{res}", pytrace=False)
        return res

    def popen(self, *args, env=None):
        argv = [POSTHORN, "--config", str(self.config), *map(str, args)]
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(**(env or {})),
                                start_new_session=True, cwd=str(self.base))

    # -- local store --------------------------------------------------
    def folder_dir(self, name="INBOX"):
        if name.upper() == "INBOX":
            return self.mail_dir
        return self.mail_dir / ("." + name.replace("/", "."))

    def folder(self, name="INBOX", subs=("new", "cur")):
        """The message files of a local folder, sorted by name."""
        d = self.folder_dir(name)
        out = []
        for sub in subs:
            if (d / sub).is_dir():
                out += [p for p in (d / sub).iterdir() if p.is_file()]
        return sorted(out, key=lambda p: p.name)

    def tmp_files(self, name="INBOX"):
        d = self.folder_dir(name) / "tmp"
        return sorted(d.iterdir()) if d.is_dir() else []

    _put_seq = itertools.count(1)

    def put(self, data, folder="INBOX", ts=None, flags=None):
        """Writes a message into a local folder the way a Maildir delivery
        would: new/ without flags, cur/NAME:2,FLAGS with. ts is the time
        that starts the name (the client orders by it)."""
        d = self.folder_dir(folder)
        for sub in ("tmp", "new", "cur"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if d != self.mail_dir:
            (d / "maildirfolder").touch()
        ts = int(time.time()) if ts is None else int(ts)
        name = f"{ts}.M{next(Client._put_seq):06d}P{os.getpid()}.clienttest"
        if isinstance(data, str):
            data = data.encode("utf-8")
        if flags is None:
            path = d / "new" / name
        else:
            path = d / "cur" / f"{name}:2,{flags}"
        tmp = d / "tmp" / name
        tmp.write_bytes(data)
        os.utime(tmp, (ts, ts))
        os.rename(tmp, path)
        return path

    # -- conveniences ------------------------------------------------
    def send(self, *args, body="hello\n", **kw):
        return self.run("send", *args, input=body, **kw)

    def fetch(self, *args, **kw):
        return self.run("fetch", *args, **kw)


# ------------------------------------------------------------------ output

SENT_RE = re.compile(r"^sent: Message-ID <([^<>\s]+)>\s*$", re.M)


def sent_id(res):
    """The Message-ID of send's "sent: Message-ID <...>" line."""
    m = SENT_RE.search(res.out)
    assert m, f"no 'sent: Message-ID <...>' line:\n{res}"
    return m.group(1)


FETCH_RE = re.compile(r"fetched (\d+) new messages?\b.*?(\d+) already here(?:.*?(\d+) deleted)?", re.S)


def fetch_summary(res):
    """(new, already, deleted or None) from fetch's summary line."""
    m = FETCH_RE.search(res.out + "\n" + res.err)
    assert m, f"no fetch summary 'fetched N new messages (SIZE), M already here':\n{res}"
    return int(m.group(1)), int(m.group(2)), (int(m.group(3)) if m.group(3) else None)


_NUM_TOKEN = re.compile(r"^[*@]*(\d+)[*@]*$")


def list_rows(out):
    """The rows of a `list`/`search` table: [(number, marks, line)], in
    output order. A row is a line whose first token is the number
    (possibly with * and @ attached); marks are the * and @ characters of
    tokens made only of digits and marks."""
    rows = []
    for line in out.splitlines():
        toks = line.split()
        if not toks:
            continue
        first = None
        marks = ""
        for i, t in enumerate(toks[:3]):
            m = _NUM_TOKEN.match(t)
            if m and first is None:
                first = int(m.group(1))
        if first is None:
            continue
        for t in toks:
            if re.fullmatch(r"[*@]*\d*[*@]*", t):
                marks += "".join(c for c in t if c in "*@")
        rows.append((first, marks, line))
    return rows


def row_for(out, text):
    """The list row containing text; fails when none or several."""
    hits = [r for r in list_rows(out) if text in r[2]]
    assert len(hits) == 1, f"expected one row with {text!r}, got {hits!r} in:\n{out}"
    return hits[0]


# ------------------------------------------------------------------ messages

def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def crlf(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return re.sub(rb"\r?\n", b"\r\n", text)


_mid = itertools.count(1)


def simple_message(subject, frm="Sender <sender@remote.test>", to=None,
                   body="hello\n", msgid=None, date="Sun, 23 Nov 2025 12:00:00 +0000",
                   extra=""):
    """A plain UTF-8 message in CRLF form; extra is more header lines."""
    msgid = msgid or f"<t{next(_mid)}.{time.monotonic_ns()}@remote.test>"
    to = to or f"<someone@{DOMAIN}>"
    head = (f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {date}\n"
            f"Message-ID: {msgid}\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n{extra}")
    if not head.endswith("\n"):
        head += "\n"
    return crlf(head + "\n" + body)


def header_block(raw):
    i = raw.find(b"\r\n\r\n")
    j = raw.find(b"\n\n")
    if i < 0 or (0 <= j < i):
        return raw[:j] if j >= 0 else raw
    return raw[:i]


def has_header(raw, name):
    """True when the top-level header block has field name."""
    return re.search(rb"(?im)^" + re.escape(name.encode()) + rb"\s*:", header_block(raw)) is not None


def message_ids(paths):
    out = []
    for p in paths:
        m = re.search(rb"(?im)^Message-ID:\s*(<[^>]*>)", header_block(p.read_bytes()))
        out.append(m.group(1).decode() if m else None)
    return out


def attachments_of(msg):
    """{filename: bytes} of a parsed message's attachments."""
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}


def text_of(msg, subtype="plain"):
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} body"
    return part.get_content().replace("\r\n", "\n")


def b64_forms(secret):
    """Base64 forms a password could leak in: alone, in AUTH PLAIN with
    each user form, in AUTH LOGIN."""
    forms = {base64.b64encode(secret.encode()).decode()}
    return forms


def auth_plain_forms(user, address, password):
    forms = set()
    for authz in ("", user, address):
        for authc in (user, address):
            forms.add(base64.b64encode(f"{authz}\0{authc}\0{password}".encode()).decode())
    forms.add(base64.b64encode(password.encode()).decode())
    return forms


# ------------------------------------------------------------------ network

def free_port():
    """A loopback port nothing listens on (bound then released)."""
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10, step=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


class SilentServer:
    """Listens on loopback, accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ThrottleProxy:
    """A TCP proxy on loopback to target_port that passes the server's bytes
    on slowly (chunk bytes every delay seconds), so a long download can be
    interrupted at a chosen point. Transparent to TLS."""

    def __init__(self, target_port, chunk=4096, delay=0.01):
        self.target = target_port
        self.chunk = chunk
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        accept_loop(self.sock, lambda: self.stop, self._connect)

    def _connect(self, c):
        try:
            s = socket.create_connection((HOST, self.target), timeout=5)
        except OSError:
            c.close()
            return
        self.socks += [c, s]
        threading.Thread(target=self._pump, args=(c, s, 0), daemon=True).start()
        threading.Thread(target=self._pump, args=(s, c, self.delay), daemon=True).start()

    def _pump(self, src, dst, delay):
        src.settimeout(None)
        try:
            while not self.stop:
                data = src.recv(self.chunk)
                if not data:
                    break
                dst.sendall(data)
                if delay:
                    time.sleep(delay)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        for s in self.socks + [self.sock]:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeServer:
    """A one-connection-at-a-time line server on loopback: sends greeting,
    then answers each line with answer(line) (bytes, or None to close).
    .lines keeps every line received, so a test can check what a client
    did not send (AUTH, PASS...)."""

    def __init__(self, greeting, answer):
        self.greeting = greeting
        self.answer = answer
        self.lines = []
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._session(c)
            except OSError:
                pass
            finally:
                c.close()

    def _session(self, c):
        c.settimeout(10)
        c.sendall(self.greeting)
        buf = b""
        while True:
            while b"\n" not in buf:
                chunk = c.recv(4096)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            self.lines.append(line)
            reply = self.answer(line)
            if reply is None:
                return
            c.sendall(reply)

    def close(self):
        self.stop = True
        self.sock.close()
        self.thread.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def smtp_without_starttls(line):
    """FakeServer answers of an ESMTP server that offers AUTH but no
    STARTTLS."""
    verb = line.split(b" ", 1)[0].upper()
    if verb in (b"EHLO", b"HELO"):
        return b"250-fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000000\r\n"
    if verb == b"QUIT":
        return None
    return b"502 5.5.1 not here\r\n"


def pop3_without_stls(line):
    verb = line.split(b" ", 1)[0].upper()
    if verb == b"CAPA":
        return b"+OK\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n.\r\n"
    if verb == b"QUIT":
        return None
    return b"-ERR not here\r\n"
