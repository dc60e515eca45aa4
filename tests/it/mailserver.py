"""A real posthornd on loopback for integration tests, and a raw SMTP client.

API (kept small; test_smtp*.py and test_daemon.py use it):

    MailServer(base_dir, users=USERS, aliases=ALIASES, config=None,
               limits=None, listeners=None)
        base_dir   an empty directory (made world-traversable: the daemon
                   may drop root privileges to an unprivileged user)
        users      {name: password}; added with `posthornctl user add`
        aliases    {name: [target, ...]}; added with `posthornctl alias add`
        config     {key: value} top-level keys set in posthorn.conf
        limits     {key: value} keys set in [limits]
        listeners  {protocol: {key: value}} set in the [listener ...]
                   section whose "protocol" is that protocol (smtp, ...)
      .setup()            posthornctl init (port base probed free with bind),
                          users, aliases, config edits; no daemon yet
      .start()            posthornd -c CONF -f, stderr to .log_path; returns
                          once smtp, submission and smtps each answered a
                          probe session (220 ... QUIT, closed), and pop3 and
                          pop3s too (+OK ... QUIT, closed) when the config
                          has them and the daemon speaks POP3
      .stop(timeout=15)   SIGTERM, wait; returns the exit status
      .kill9()            SIGKILL, wait
      .restart()          stop() (if running) then start()
      .assert_clean()     exit status 0 and no sanitizer report in the log
      .log()              the daemon's stderr so far (str)
      .ctl(*args, input=b"")  runs posthornctl -c CONF args; CompletedProcess
      .set_config(key, value, section=None)   edits posthorn.conf; section
                          is None (top), "limits" or "listener:PROTO"
      .conf, .dir, .data_dir (Path), .host ("127.0.0.1"), .port_base,
      .port(proto)        port of the listener for "smtp", "submission", ...
      .smtp_port, .submission_port, .smtps_port, .pop3_port, .pop3s_port
      .tls_cert           Path of the server's (self-signed) certificate:
                          the CA file a client must trust
      .maildir(user)      Path of DATA_DIR/mail/USER
      .messages(user, sub="new")   sorted Paths of the files in that subdir
      .read_messages(user)         [bytes] of the files in new/
      .wait_messages(user, n, timeout=10)  polls until n files are in new/
      .queue_items()      {id: (msg bytes, env text)} from DATA_DIR/queue
      .put_message(user, data, sub="new", name=None, info="2,")  writes
                          data as is (no CRLF conversion) into the user's
                          Maildir (tmp/ then rename, owned like the Maildir);
                          names sort in call order; returns the Path
      .smtp_deliver(user, data, sender=...)  sends data (CRLF wire form)
                          over SMTP to user@DOMAIN; returns the stored bytes
      .set_apop(user, secret)  the user's APOP secret (posthornctl user apop)

    SmtpClient(host, port, timeout=10, implicit_tls=False)
      .greeting() -> Reply, .send(bytes|str), .cmd(line) -> Reply,
      .reply() -> Reply, .replies(n) -> [Reply], .starttls() (after a 220),
      .expect_closed(timeout), .expect_silence(seconds), .close()
    Reply: .code (int), .lines ([str], text after "NNN-"/"NNN "), .text
      (first line), .enhanced ("5.1.1" or None), .raw (bytes)

    Pop3Client(host, port, timeout=10, implicit_tls=False, cafile=None)
      like SmtpClient (send, expect_closed, expect_silence, close), but:
      .greeting() -> Pop3Reply (and sets .timestamp, the APOP "<...@...>"),
      .cmd(line) -> Pop3Reply (one status line), .multi(line) -> Pop3Reply
      with the multi-line body when +OK, .reply() / .multi_reply() read
      one without sending, .stls() (after the +OK: handshake; verifies the
      certificate when cafile is given), .login(user, password) (USER/PASS,
      asserts +OK), .apop(user, secret)
    Pop3Reply: .ok (True "+OK", False "-ERR", None "+ " continuation),
      .text (after the status), .code (resp-code in brackets, "AUTH",
      "IN-USE", "SYS/TEMP", or None), .lines ([bytes] of a multi-line body,
      dot-unstuffed, no CRLF), .body (bytes: each line + CRLF), .raw
    apop_digest(timestamp, secret), pop3_wire(data) (what RETR sends for
      Maildir bytes, without stuffing), dot_unstuff(lines)

    split_trace(raw) -> ([(name, unfolded value)], rest): the trace header
      fields a server put on top (Return-Path, Received) and everything after.
    check_delivery(raw, sent, return_path, helo, proto, for_rcpt=None,
      peer="127.0.0.1") asserts a Maildir/queue file is exactly `sent` under
      Return-Path + Received, and checks every Received clause; returns it.
    same_message(stored, sent), find_marker(srv, user, marker, sub="new"),
    crlf(text), dot_stuff(bytes), b64(s), auth_plain(user, password),
    close_clients(ports)  small helpers (see their docstrings).

Fixtures (no conftest needed: `from mailserver import make_mailserver,
mailserver` in the test module makes pytest find them):
    mailserver          function-scoped, default setup, started
    mailserver_module   module-scoped, started, relay_networks = 192.0.2.0/24
                        (loopback may relay only after AUTH), vrfy = no
    make_mailserver     factory: make_mailserver(start=True, **MailServer
                        kwargs) -> server, stopped and checked at teardown
Every server is stopped at teardown, even when the test failed; a teardown
that finds a non-zero exit status or a sanitizer report fails the test.
"""
import base64
import functools
import hashlib
import itertools
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import weakref

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("POSTHORN_BUILD", str(ROOT / "build")))
POSTHORND = BUILD / "posthornd"
POSTHORNCTL = BUILD / "posthornctl"

HOSTNAME = "mx.example.test"
DOMAIN = "example.test"
HOST = "127.0.0.1"

USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2", "carol": "carol-Secret-3"}
ALIASES = {
    "team": ["alice", "bob"],          # one copy each
    "info": ["alice"],                 # info + sales -> alice once
    "sales": ["alice"],
    "ext": ["friend@remote.test"],     # remote: queued
    "mixed": ["carol", "far@remote.test"],
    "nested": ["team", "carol"],
}

# Standard port offsets of DESIGN.md ("Ports and the demo setup").
PORT_OFFSETS = {"smtp": 25, "submission": 587, "smtps": 465, "pop3": 110,
                "pop3s": 995, "imap": 143, "imaps": 993}

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def tool(*names):
    """The path of the first installed tool of names, else skip the test."""
    for n in names:
        for d in ("/usr/bin", "/usr/local/bin", "/bin"):
            p = pathlib.Path(d) / n
            if os.access(p, os.X_OK):
                return str(p)
    pytest.skip(f"{' or '.join(names)} not installed")


def need_binaries():
    for b in (POSTHORND, POSTHORNCTL):
        if not os.access(b, os.X_OK):
            pytest.fail(f"{b} not built: run make, or set POSTHORN_BUILD")


@functools.lru_cache(maxsize=None)
def daemon_speaks_pop3():
    """True when posthornd's --help mentions pop3 (a build with the POP3
    server): only then does start() wait for the POP3 listeners."""
    try:
        r = subprocess.run([str(POSTHORND), "--help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"pop3" in r.stdout.lower()


def port_free(port, addr=HOST, kind=socket.SOCK_STREAM):
    """True when addr:port (TCP, or kind) can be bound now."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_base():
    """A base N (multiple of 10, below the ephemeral range) with every
    standard port N+offset free on 127.0.0.1."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(500):
        base = rng.randrange(11000, 31000, 10)
        if all(port_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    raise RuntimeError("no free port base found")


# ------------------------------------------------------------------ config

def _section_name(line):
    m = re.match(r"\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$", line)
    return m.group(1) if m else None


def _key_of(line):
    m = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
    return m.group(1) if m else None


def _value_of(line):
    v = line.split("=", 1)[1]
    v = re.split(r"\s+#", v, maxsplit=1)[0]
    return v.strip()


def parse_config(text):
    """{section: {key: value}} with section None for the top, "limits", and
    "listener NAME" as written."""
    out = {None: {}}
    cur = None
    for line in text.splitlines():
        if re.match(r"\s*(#|$)", line):
            continue
        sec = _section_name(line)
        if sec is not None:
            cur = re.sub(r"\s+", " ", sec)
            out.setdefault(cur, {})
            continue
        k = _key_of(line)
        if k:
            out.setdefault(cur, {})[k] = _value_of(line)
    return out


def edit_config(text, key, value, section=None):
    """Sets key = value in section (None: top level; "limits"; or "listener
    NAME") of the config text: replaces an existing line, else appends the
    key at the end of that section (creating the section when missing)."""
    lines = text.split("\n")
    cur = None
    start = end = None  # line range of the wanted section's body
    if section is None:
        start = 0
    for i, line in enumerate(lines):
        sec = _section_name(line)
        if sec is not None:
            if cur == section and end is None and start is not None:
                end = i
            cur = re.sub(r"\s+", " ", sec)
            if cur == section:
                start = i + 1
                end = None
            continue
        if cur == section and _key_of(line) == key:
            lines[i] = f"{key} = {value}"
            return "\n".join(lines)
    if start is None:
        if lines and lines[-1] == "":
            lines.pop()
        lines += ["", f"[{section}]", f"{key} = {value}", ""]
        return "\n".join(lines)
    if end is None:
        end = len(lines)
    # insert after the last non-blank line of the section
    j = end
    while j > start and lines[j - 1].strip() == "":
        j -= 1
    lines.insert(j, f"{key} = {value}")
    return "\n".join(lines)


# ------------------------------------------------------------------ server

def greets(host, port, greeting, tls=False, server_hostname=HOSTNAME):
    """A whole probe session to host:port (TLS from the start when tls, the
    certificate not checked): True when the first line starts with greeting;
    then QUIT and read until the server closes, so the probe no longer
    counts against any connection limit when this returns."""
    try:
        s = socket.create_connection((host, port), timeout=2)
    except OSError:
        return False
    try:
        s.settimeout(5)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=server_hostname)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return False
            data += chunk
        if not data.startswith(greeting):
            return False
        s.sendall(b"QUIT\r\n")
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        return True
    except OSError:
        return False
    finally:
        s.close()


def accept_loop(sock, stopped, handle):
    """Calls handle(conn) for each connection accepted on the listening
    sock until stopped() is true or the socket is closed; sock needs a
    timeout so that stopped() is looked at now and then."""
    while not stopped():
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        handle(conn)


class MailServer:
    def __init__(self, base_dir, users=None, aliases=None, config=None,
                 limits=None, listeners=None):
        self.dir = pathlib.Path(base_dir)
        self.users = dict(USERS if users is None else users)
        self.aliases = dict(ALIASES if aliases is None else aliases)
        self.config_edits = dict(config or {})
        self.limit_edits = dict(limits or {})
        self.listener_edits = {k: dict(v) for k, v in (listeners or {}).items()}
        self.conf = self.dir / "posthorn.conf"
        self.log_path = self.dir / "posthornd.stderr"
        self.host = HOST
        self.proc = None
        self.port_base = None
        self.data_dir = None
        self._ports = {}
        self._listener_sections = {}
        self.returncodes = []   # exit status of every stop()/kill9()

    # -- setup -------------------------------------------------------
    def _init_args(self):
        """posthornctl init's options; sets self.port_base (a subclass
        with another address, hostname or domains overrides this)."""
        self.port_base = free_port_base()
        return ["--hostname", HOSTNAME, "--domain", DOMAIN, "--listen", HOST,
                "--port-base", str(self.port_base)]

    def setup(self):
        need_binaries()
        self.dir.mkdir(parents=True, exist_ok=True)
        # The daemon drops root to an unprivileged user: the directories
        # above the data dir must be traversable by it.
        p = self.dir
        while p != p.parent and str(p) != "/tmp":
            try:
                if p.stat().st_uid == os.getuid():
                    p.chmod(p.stat().st_mode | 0o711)
            except OSError:
                pass
            p = p.parent
        r = subprocess.run(
            [str(POSTHORNCTL), "init", str(self.dir), *self._init_args()],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=60)
        assert r.returncode == 0, f"posthornctl init failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
        assert self.conf.is_file(), "posthornctl init wrote no posthorn.conf"
        for name, pw in self.users.items():
            r = self.ctl("user", "add", name, "--password-stdin", input=(pw + "\n").encode())
            assert r.returncode == 0, f"user add {name}: {r.stderr.decode(errors='replace')}"
        for name, targets in self.aliases.items():
            r = self.ctl("alias", "add", name, *targets)
            assert r.returncode == 0, f"alias add {name}: {r.stderr.decode(errors='replace')}"
        for k, v in self.config_edits.items():
            self.set_config(k, v)
        for k, v in self.limit_edits.items():
            self.set_config(k, v, "limits")
        for proto, kv in self.listener_edits.items():
            for k, v in kv.items():
                self.set_config(k, v, "listener:" + proto)
        self._read_config()
        return self

    def _read_config(self):
        cfg = parse_config(self.conf.read_text())
        data = cfg[None].get("data_dir", "data")
        self.data_dir = (self.dir / data).resolve()
        self._ports = {}
        self._listener_sections = {}
        for sec, kv in cfg.items():
            if sec and sec.startswith("listener") and "protocol" in kv:
                self._ports[kv["protocol"]] = int(kv["port"])
                self._listener_sections[kv["protocol"]] = sec
        for proto in ("smtp", "submission", "smtps"):
            assert proto in self._ports, f"no {proto} listener in {self.conf}"

    def set_config(self, key, value, section=None):
        """section: None (top), "limits", or "listener:PROTO"."""
        text = self.conf.read_text()
        if section and section.startswith("listener:"):
            proto = section.split(":", 1)[1]
            if not self._listener_sections:
                self._read_config()
            section = self._listener_sections[proto]
        self.conf.write_text(edit_config(text, key, str(value), section))
        self._read_config()

    def ctl(self, *args, input=b"", timeout=60):
        return subprocess.run([str(POSTHORNCTL), "-c", str(self.conf), *map(str, args)],
                              input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)

    def port(self, proto):
        return self._ports[proto]

    smtp_port = property(lambda self: self._ports["smtp"])
    submission_port = property(lambda self: self._ports["submission"])
    smtps_port = property(lambda self: self._ports["smtps"])
    pop3_port = property(lambda self: self._ports["pop3"])
    pop3s_port = property(lambda self: self._ports["pop3s"])

    @property
    def tls_cert(self):
        cfg = parse_config(self.conf.read_text())
        return (self.conf.parent / cfg[None].get("tls_cert", "tls/cert.pem")).resolve()

    # -- process -----------------------------------------------------
    def start(self, timeout=30, rebase_on_conflict=None):
        """Starts posthornd and waits until it greets. On the first start a
        port another process took since the probe (exit with "in use" in
        the log) moves the server to a new free port base and retries."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if rebase_on_conflict is None:
            rebase_on_conflict = not self.returncodes
        for attempt in range(3):
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            logf = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(
                    [str(POSTHORND), "-c", str(self.conf), "-f"],
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                    start_new_session=True)
            finally:
                logf.close()
            try:
                self._wait_ready(timeout)
                return self
            except BaseException:
                self.kill9()
                tail = self.log()[offset:]
                if rebase_on_conflict and attempt < 2 and "in use" in tail:
                    self.rebase(free_port_base())
                    continue
                raise

    def rebase(self, base):
        """Moves every listener to base + its standard offset."""
        for proto in list(self._listener_sections):
            if proto in PORT_OFFSETS:
                self.set_config("port", base + PORT_OFFSETS[proto], "listener:" + proto)
        self.port_base = base

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"posthornd exited with {rc} during start:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"posthornd did not greet on port {self.smtp_port} within "
                                     f"{timeout}s:\n{self.log()[-4000:]}")
            if self._greets(self.smtp_port):
                break
            time.sleep(0.05)
        # the other SMTP listeners must greet too. Each probe is a whole
        # session ended by QUIT and the server's close, so no probe still
        # counts against connections_per_ip when start() returns.
        for proto, tls in (("submission", False), ("smtps", True)):
            while not self._greets(self._ports[proto], tls):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{proto} port {self._ports[proto]} not greeting:\n{self.log()[-4000:]}")
                time.sleep(0.05)
        if not daemon_speaks_pop3():
            return
        for proto, tls in (("pop3", False), ("pop3s", True)):
            if proto not in self._ports:
                continue
            while not self._pop3_greets(self._ports[proto], tls):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{proto} port {self._ports[proto]} not greeting:\n{self.log()[-4000:]}")
                time.sleep(0.05)

    def _probe(self, port, tls, greeting):
        return greets(HOST, port, greeting, tls, HOSTNAME)

    def _pop3_greets(self, port, tls=False):
        return self._probe(port, tls, b"+OK")

    def _greets(self, port, tls=False):
        return self._probe(port, tls, b"220")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=15):
        """SIGTERM and wait; SIGKILL after timeout. Returns the exit status
        (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self.returncodes.append("timeout")
                return "timeout"
        self.returncodes.append(self.proc.returncode)
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.returncodes.append(self.proc.returncode)

    def restart(self):
        if self.running:
            self.stop()
        return self.start()

    def log(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def sanitizer_reports(self):
        text = self.log()
        return [m for m in SANITIZER_MARKS if m in text]

    def assert_clean(self):
        """Every stop() exited 0 (kill9 excepted) and the log has no
        sanitizer report."""
        bad = self.sanitizer_reports()
        assert not bad, f"sanitizer report in posthornd log {bad}:\n{self.log()[-6000:]}"
        if self.returncodes and self.returncodes[-1] != -signal.SIGKILL:
            rc = self.returncodes[-1]
            assert rc == 0, f"posthornd exit status {rc} after SIGTERM:\n{self.log()[-4000:]}"

    # -- store -------------------------------------------------------
    def maildir(self, user):
        return self.data_dir / "mail" / user

    def messages(self, user, sub="new"):
        d = self.maildir(user) / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_file())

    def read_messages(self, user, sub="new"):
        return [p.read_bytes() for p in self.messages(user, sub)]

    def wait_messages(self, user, n, timeout=10):
        """Polls until user's new/ holds at least n files; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(user)
            if len(msgs) >= n or time.monotonic() > deadline:
                return msgs
            time.sleep(0.02)

    _put_seq = itertools.count(1)

    def put_message(self, user, data, sub="new", name=None, info="2,"):
        """Writes data byte for byte as a message file into user's Maildir
        (tmp/, then rename into sub/, owned by the Maildir's owner, mode
        0600). The default name "SECONDS.MnnnnnnPpid.posthorn-test" sorts in
        call order; in cur/ ":"+info is appended. Returns the Path."""
        md = self.maildir(user)
        st = md.stat() if md.is_dir() else self.data_dir.stat()
        for d in (md, md / "tmp", md / "new", md / "cur"):
            if not d.is_dir():
                d.mkdir(mode=0o700)
                os.chown(d, st.st_uid, st.st_gid)
        if name is None:
            name = f"{int(time.time())}.M{next(MailServer._put_seq):06d}P{os.getpid()}.posthorn-test"
            if sub == "cur" and info is not None:
                name += ":" + info
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp = md / "tmp" / name.split(":")[0]
        with open(tmp, "wb") as f:      # no fsync: tests need no durability here
            f.write(data)
        os.chmod(tmp, 0o600)
        os.chown(tmp, st.st_uid, st.st_gid)
        dest = md / sub / name
        os.rename(tmp, dest)
        return dest

    def smtp_deliver(self, user, data, sender="sender@remote.test", timeout=10):
        """Sends data (bytes in CRLF wire form, unstuffed) over SMTP to
        user@DOMAIN and waits for it in new/. Returns the stored bytes
        (data under the server's Return-Path and Received)."""
        import smtplib
        if isinstance(data, str):
            data = crlf(data)
        before = {p.name for p in self.messages(user)}
        with smtplib.SMTP(HOST, self.smtp_port, local_hostname="pop3test.example",
                          timeout=timeout) as s:
            s.ehlo()
            opts = ["BODY=8BITMIME", "SMTPUTF8"] if any(b > 127 for b in data) else []
            refused = s.sendmail(sender, [f"{user}@{DOMAIN}"], data, mail_options=opts)
            assert refused == {}, refused
        deadline = time.monotonic() + timeout
        while True:
            for p in self.messages(user):
                if p.name in before:
                    continue
                raw = p.read_bytes()
                if same_message(split_trace(raw)[1], data if data.endswith(b"\r\n") else data + b"\r\n"):
                    return raw
            assert time.monotonic() < deadline, f"message for {user} not delivered within {timeout}s"
            time.sleep(0.02)

    def set_apop(self, user, secret):
        """Sets user's APOP secret with posthornctl user apop, or, without
        that command, writes DATA_DIR/apop ("name:secret" lines, 0600)."""
        r = self.ctl("user", "apop", user, "--secret-stdin", input=(secret + "\n").encode())
        if r.returncode == 0:
            return
        path = self.data_dir / "apop"
        lines = path.read_text().splitlines() if path.exists() else []
        lines = [l for l in lines if not l.startswith(user + ":")] + [f"{user}:{secret}"]
        st = self.data_dir.stat()
        path.write_text("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        os.chown(path, st.st_uid, st.st_gid)

    def all_counts(self):
        return {u: len(self.messages(u)) for u in self.users}

    def queue_items(self):
        q = self.data_dir / "queue"
        out = {}
        if not q.is_dir():
            return out
        for env in sorted(q.glob("*.env")):
            ident = env.name[:-4]
            msg = q / (ident + ".msg")
            out[ident] = (msg.read_bytes() if msg.exists() else None,
                          env.read_text(errors="replace"))
        return out


# ------------------------------------------------------------------ client

class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return self.lines[0] if self.lines else ""

    @property
    def enhanced(self):
        m = re.match(r"([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)", self.text)
        return m.group(0).strip() if m else None

    def __repr__(self):
        return f"Reply({self.raw!r})"


_open_clients = weakref.WeakSet()


def close_clients(ports):
    """Closes every SmtpClient still connected to one of ports (a failed
    test keeps its clients alive in the traceback; the server would wait
    for them on SIGTERM)."""
    for c in list(_open_clients):
        if c.port in ports:
            c.close()


class SmtpClient:
    """A deliberately dumb SMTP client: it sends exactly the bytes it is
    given and parses replies strictly (CRLF endings, one code per reply)."""

    def __init__(self, host, port, timeout=10, implicit_tls=False):
        self.timeout = timeout
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        _open_clients.add(self)
        if implicit_tls:
            self._wrap()

    def _wrap(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete reply line within {timeout}s; have {self.buf!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; partial {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line += b"\n"
        assert line.endswith(b"\r\n"), f"reply line not CRLF-terminated: {line!r}"
        return line

    def reply(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        raw = b""
        lines = []
        code = None
        while True:
            line = self._line(timeout)
            raw += line
            m = re.match(rb"([2-5][0-9][0-9])([ -])(.*)\r\n$", line, re.S)
            assert m, f"malformed reply line {line!r}"
            c = int(m.group(1))
            assert code is None or c == code, f"code changed inside a multi-line reply: {raw!r}"
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(code, lines, raw)

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def greeting(self):
        return self.reply()

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def starttls(self):
        """Call after the server's 220 to STARTTLS: handshake, nothing more."""
        assert self.buf == b"", f"bytes after the 220 to STARTTLS: {self.buf!r}"
        self._wrap()

    def expect_closed(self, timeout=5):
        """Asserts the server closes the connection within timeout without
        sending anything else."""
        deadline = time.monotonic() + timeout
        data = self.buf
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"connection still open after {timeout}s; got {data!r}"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            except socket.timeout:
                continue
            if not chunk:
                assert data == b"", f"unexpected bytes before close: {data!r}"
                return
            data += chunk

    def expect_silence(self, seconds=0.3):
        """Asserts nothing arrives for that long (and the socket stays open)."""
        assert self.buf == b"", f"unexpected buffered reply {self.buf!r}"
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        raise AssertionError(f"unexpected data {chunk!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Pop3Reply:
    """One POP3 reply: ok True (+OK), False (-ERR), None ("+ " SASL
    continuation); text after the status; code the RFC 2449 resp-code
    ("AUTH", "IN-USE", "SYS/TEMP"...) or None; lines the dot-unstuffed
    lines of a multi-line body (bytes, no CRLF); raw every byte read."""

    def __init__(self, ok, text, raw, lines=None):
        self.ok = ok
        self.text = text
        self.raw = raw
        self.lines = lines
        m = re.match(r"\[([^\]\s]+)\]", text)
        self.code = m.group(1).upper() if m else None

    @property
    def body(self):
        return b"".join(l + b"\r\n" for l in (self.lines or []))

    @property
    def status(self):
        return {True: "+OK", False: "-ERR", None: "+"}[self.ok]

    def __repr__(self):
        return f"Pop3Reply({self.raw[:300]!r}{'...' if len(self.raw) > 300 else ''})"


class Pop3Client(SmtpClient):
    """A deliberately dumb POP3 client: it sends exactly the bytes it is
    given and parses replies strictly (CRLF, "+OK"/"-ERR" followed by a
    space or the line end, multi-line bodies ended by ".\r\n")."""

    def __init__(self, host, port, timeout=10, implicit_tls=False, cafile=None):
        self.cafile = cafile
        self.timestamp = None
        super().__init__(host, port, timeout=timeout, implicit_tls=implicit_tls)

    def _wrap(self):
        ctx = ssl.create_default_context()
        if self.cafile:
            ctx.load_verify_locations(cafile=str(self.cafile))
            ctx.check_hostname = False  # verified against the CA; no name for 127.0.0.1
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)

    def reply(self, timeout=None):
        """One status line (or a "+ " continuation)."""
        timeout = self.timeout if timeout is None else timeout
        line = self._line(timeout)
        m = re.match(rb"(\+OK|-ERR)(?: (.*))?\r\n$", line, re.S)
        if m:
            return Pop3Reply(m.group(1) == b"+OK", (m.group(2) or b"").decode("utf-8", "replace"), line)
        m = re.match(rb"\+ (.*)\r\n$", line, re.S)
        assert m, f"malformed POP3 reply line {line!r}"
        return Pop3Reply(None, m.group(1).decode("utf-8", "replace"), line)

    def read_body(self, timeout=None):
        """The lines of a multi-line body up to ".\r\n": (lines, raw).
        Every line must end in CRLF."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                end = 0
                break
            end = self.buf.find(b"\r\n.\r\n", max(0, scanned - 4))
            if end >= 0:
                end += 2
                break
            scanned = len(self.buf)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no end of the multi-line reply within {timeout}s; "
                                   f"have {len(self.buf)} bytes ending {self.buf[-200:]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"connection closed in a multi-line reply; "
                                      f"{len(self.buf)} bytes ending {self.buf[-200:]!r}")
            self.buf += chunk
        raw, self.buf = self.buf[:end + 3], self.buf[end + 3:]
        body = raw[:end]
        assert body.count(b"\n") == body.count(b"\r\n"), \
            f"a line of the multi-line reply does not end in CRLF: {body[:300]!r}"
        lines = body.split(b"\r\n")[:-1] if body else []
        lines = [l[1:] if l.startswith(b".") else l for l in lines]
        return lines, raw

    def multi_reply(self, timeout=None):
        r = self.reply(timeout)
        if r.ok:
            r.lines, raw = self.read_body(timeout)
            r.raw += raw
        return r

    def greeting(self):
        r = self.reply()
        m = re.search(r"(<[^<>\s]*@[^<>\s]*>)\s*$", r.text)
        self.timestamp = m.group(1) if m else None
        return r

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def multi(self, line, timeout=None):
        """Sends a command with a multi-line answer; reads the body if +OK."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.multi_reply(timeout)

    def stls(self):
        """STLS, asserts +OK, then the TLS handshake."""
        r = self.cmd("STLS")
        assert r.ok, f"STLS refused: {r}"
        self.starttls()
        return r

    def login(self, user, password):
        r = self.cmd(f"USER {user}")
        assert r.ok, f"USER {user}: {r}"
        r = self.cmd(f"PASS {password}")
        assert r.ok, f"PASS for {user}: {r}"
        return r

    def apop(self, user, secret):
        assert self.timestamp, "no APOP timestamp in the greeting"
        return self.cmd(f"APOP {user} {apop_digest(self.timestamp, secret)}")


def apop_digest(timestamp, secret):
    """RFC 1939 7: lowercase hex MD5 of the timestamp and the secret."""
    return hashlib.md5((timestamp + secret).encode("utf-8")).hexdigest()


def pop3_wire(data):
    """What RETR sends for a message file's bytes, before dot-stuffing and
    without the final ".\r\n": every line end a CRLF (a bare LF too; a
    bare CR is not a line end), a CRLF after a last line without one."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def dot_unstuff(lines):
    """Lines of a multi-line body as sent (CRLF-less) back to the data."""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def auth_plain(user, password):
    return b64(b"\0" + user.encode() + b"\0" + password.encode())


# ------------------------------------------------------------------ messages

def split_trace(raw):
    """Splits the header fields named Return-Path or Received off the top of
    raw. Returns ([(name, unfolded value)], rest)."""
    trace = []
    pos = 0
    while True:
        m = re.match(rb"(Return-Path|Received):[^\n]*\n(?:[ \t][^\n]*\n)*", raw[pos:], re.I)
        if not m:
            break
        field = m.group(0)
        name = m.group(1).decode()
        value = field.split(b":", 1)[1]
        value = re.sub(rb"\r?\n[ \t]+", b" ", value).rstrip(b"\r\n").strip()
        trace.append((name, value.decode("utf-8", "replace")))
        pos += m.end()
    return trace, raw[pos:]


def crlf(text):
    """Text with every line ending turned into CRLF (the wire form)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return re.sub(rb"\r?\n", b"\r\n", text)


def dot_stuff(data):
    """The DATA wire form of message bytes (CRLF lines): dot-stuffed."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


# ------------------------------------------------------------------ fixtures

def _make_tmp(prefix="posthorn-it-"):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return pathlib.Path(d)


class _Servers:
    def __init__(self):
        self.servers = []
        self.dirs = []

    def make(self, start=True, **kw):
        d = _make_tmp()
        self.dirs.append(d)
        srv = MailServer(d / "srv", **kw)
        self.servers.append(srv)
        srv.setup()
        if start:
            srv.start()
        return srv

    def teardown(self):
        problems = []
        for srv in self.servers:
            # shown by pytest only when the test failed
            print(f"--- {srv.log_path} (tail) ---\n{srv.log()[-3000:]}")
            close_clients(set(srv._ports.values()))
            try:
                srv.stop()
            except Exception as e:  # keep stopping the others
                problems.append(f"stop: {e}")
                try:
                    srv.kill9()
                except Exception:
                    pass
            try:
                srv.assert_clean()
            except AssertionError as e:
                problems.append(str(e))
        if not problems:
            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)
        if problems:
            pytest.fail("server teardown: " + "\n".join(problems))


@pytest.fixture
def make_mailserver():
    servers = _Servers()
    yield servers.make
    servers.teardown()


@pytest.fixture
def mailserver(make_mailserver):
    return make_mailserver()


# Relaying from loopback is denied here unless the client authenticated, so
# the module server can test both; tests needing other settings make their own.
MODULE_CONFIG = {"relay_networks": "192.0.2.0/24"}


@pytest.fixture(scope="module")
def mailserver_module():
    servers = _Servers()
    srv = servers.make(config=MODULE_CONFIG, listeners={"smtp": {"vrfy": "no"}})
    yield srv
    servers.teardown()


def pop3_module_server(users, limits, apop):
    """The body of a module fixture (`yield from` it): a started server
    with just users (no aliases) and limits, and the APOP secret
    apop = (user, secret) set before the start; torn down after."""
    servers = _Servers()
    srv = servers.make(start=False, users=users, aliases={}, limits=limits)
    srv.set_apop(*apop)
    srv.start()
    yield srv
    servers.teardown()


class UserPool:
    """Users that each go to one test only, so no two tests (even run in
    threads) share a mailbox; reserved ones are never handed out."""

    def __init__(self, names, passwords, reserved=()):
        self._lock = threading.Lock()
        self._free = [n for n in names if n not in reserved]
        self._passwords = passwords

    def take(self):
        """(name, password) of a user no test had before."""
        with self._lock:
            name = self._free.pop(0)
        return name, self._passwords[name]


# ------------------------------------------------------------------ checks

def same_message(stored, sent):
    """True when stored is sent (CRLF wire form, unstuffed) kept byte for
    byte, or with every CRLF turned into LF (a Maildir may keep either; the
    choice must be the same for the whole file)."""
    return stored == sent or stored == sent.replace(b"\r\n", b"\n")


def check_delivery(raw, sent, return_path, helo, proto, for_rcpt=None,
                   peer=HOST, hostname=HOSTNAME):
    """Asserts raw (a Maildir file) is exactly sent with Return-Path and one
    Received on top, and checks the Received fields (RFC 5321 4.4):
    from HELO, [peer], by hostname, with proto, an id, "for <rcpt>" only when
    for_rcpt is given, and a date close to now. Returns the Received value."""
    import email.utils
    from datetime import datetime, timezone
    trace, rest = split_trace(raw)
    names = [n.lower() for n, _ in trace]
    assert names == ["return-path", "received"], f"trace fields on top: {trace!r}\n{raw[:600]!r}"
    assert same_message(rest, sent), \
        f"stored message differs from the sent one:\nsent   {sent[:800]!r}\nstored {rest[:800]!r}"
    head = raw[:len(raw) - len(rest)]
    if rest.find(b"\r\n") < 0 and b"\n" in rest:
        assert b"\r\n" not in head, f"trace headers use CRLF, message LF: {head!r}"
    elif b"\r\n" in rest:
        assert head.count(b"\n") == head.count(b"\r\n"), f"trace headers not CRLF like the message: {head!r}"
    rp = trace[0][1]
    assert rp == f"<{return_path}>", f"Return-Path {rp!r}, expected <{return_path}>"
    rcv = trace[1][1]
    assert re.search(r"(^|\s)from " + re.escape(helo) + r"[\s(]", rcv), f"no 'from {helo}' in Received: {rcv}"
    assert f"[{peer}]" in rcv, f"no [{peer}] in Received: {rcv}"
    assert re.search(r"\sby " + re.escape(hostname) + r"[\s(;]", rcv), f"no 'by {hostname}' in Received: {rcv}"
    assert re.search(r"\swith " + re.escape(proto) + r"[\s;]", rcv), f"no 'with {proto}' in Received: {rcv}"
    assert re.search(r"\sid [^\s;]+", rcv), f"no id in Received: {rcv}"
    if for_rcpt:
        assert re.search(r"\sfor <" + re.escape(for_rcpt) + r">", rcv, re.I), \
            f"no 'for <{for_rcpt}>' in Received: {rcv}"
    else:
        assert not re.search(r"\sfor <", rcv), f"'for' clause with several recipients: {rcv}"
    assert ";" in rcv, f"no date in Received: {rcv}"
    date = rcv.rsplit(";", 1)[1].strip()
    when = email.utils.parsedate_to_datetime(date)
    assert when is not None and when.tzinfo is not None, f"unparsable date {date!r}"
    skew = abs((datetime.now(timezone.utc) - when).total_seconds())
    assert skew < 300, f"Received date {date!r} is {skew:.0f}s off"
    return rcv


def find_marker(srv, user, marker, sub="new"):
    """The files in user's sub/ containing marker (bytes or str)."""
    if isinstance(marker, str):
        marker = marker.encode()
    return [raw for raw in srv.read_messages(user, sub) if marker in raw]
