"""Fixtures and helpers for the outbound delivery tests (test_outbound.py):
two posthornd on their own loopback addresses, a real DNS server (dnsmasq)
serving their MX records, scripted fake SMTP receivers, and parsers for the
delivery status notifications the sender gets back.

API:

    dns_query(server, port, name, qtype) -> (rcode, [(name, type, value)])
        one raw UDP query (qtype "A", "AAAA", "MX", "PTR"); MX values are
        (preference, host), A values dotted quads; rcode 0 NOERROR, 3
        NXDOMAIN, 5 REFUSED.
    Dnsmasq(records, dir)   .start() .stop() .port .address ("IP:PORT",
        the value of posthorn.conf's resolver key) .log()
        records: ZONE below. Every name it was not told about is NXDOMAIN
        (--local=/#/), a known name without the asked type is NODATA, and
        queries for TIMEOUT_DOMAIN are never answered. .queried(name)
    Peer(base_dir, address, hostname, domains, port_base, ...)
        a MailServer listening on address (127.0.0.2...) with every
        listener at port_base + the standard offset, so two peers share
        their port numbers on different addresses: the smtp port of one is
        the remote_port of the other.
    FakeSmtp(address, port, rcpt=..., data=..., data_delay=0, ext=...)
        a threaded scripted SMTP receiver; .sessions ([Session]),
        .delivered ([(session no, sender, rcpts, data)], recorded once the
        final 250 was sent), .received ([data] at the end of the data,
        before the reply), .wait(pred, timeout), .stop()
    submit(srv, user, password, sender, rcpts, data) -> refused dict
        smtplib over srv's submission port with AUTH PLAIN.
    message(mark, sender, to, ...) -> bytes (CRLF)
    Dsn.parse(raw) -> Dsn (.fields per-message, .rcpts [dict], .human,
        .original, .subject); find_dsns(srv, user, mark)
    wait_for(pred, timeout, what) -> the first true value of pred()
    pick_port_base(addresses, extra) -> base free on every address

Fixtures: dnsmasq (module), peers (module: {"a": Peer, "b": Peer, "base":
port base, "dir": Path}), fake_smtp (factory: fake_smtp(domain, **kw)).
"""
import email
import email.policy
import os
import pathlib
import random
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from mailserver import (BUILD, HOST, PORT_OFFSETS, USERS, MailServer,
                        accept_loop, close_clients, crlf, greets,
                        port_free)

DNSMASQ = "/usr/sbin/dnsmasq"
SENDMAIL = BUILD / "posthorn-sendmail"

A_ADDR, B_ADDR = "127.0.0.2", "127.0.0.3"
A_HOST, B_HOST = "mx.example.org", "mx.example.net"
A_DOMAIN, B_DOMAIN = "example.org", "example.net"
DOWN_ADDR = "127.0.0.4"          # nothing ever listens there
# Fake receivers, one address (and domain) each, so a retry of one test's
# message can never land in another test's receiver.
FAKE = {
    "tempfail.test": "127.0.0.5",
    "partial.test": "127.0.0.6",
    "notls.test": "127.0.0.7",
    "notls-verify.test": "127.0.0.8",
    "slow.test": "127.0.0.9",
    "expire.test": "127.0.0.10",     # nothing listens: lifetime runs out
    "hold.test": "127.0.0.11",       # nothing listens: queue commands
    "seven.test": "127.0.0.12",      # a receiver without 8BITMIME/SMTPUTF8
}
# MX queries for this domain go to a nameserver that never answers.
TIMEOUT_DOMAIN = "timeout.test"
# Domains B takes besides its own: reached by A through an MX that is
# second in line, through the A record alone, and through a smarthost.
B_EXTRA_DOMAINS = ("backup.test", "aonly.test", "relayed.test")

ZONE = {
    "mx": [(A_DOMAIN, A_HOST, 10), (B_DOMAIN, B_HOST, 10),
           ("nullmx.test", ".", 0),
           ("backup.test", "mx1.backup.test", 10),
           ("backup.test", "mx2.backup.test", 20)]
    + [(d, "mx." + d, 10) for d in FAKE],
    "a": [(A_HOST, A_ADDR), (B_HOST, B_ADDR),
          ("mx1.backup.test", DOWN_ADDR), ("mx2.backup.test", B_ADDR),
          ("aonly.test", B_ADDR)]
    + [("mx." + d, ip) for d, ip in FAKE.items()],
}

# A short schedule so retries and expiry happen inside the test run.
RETRY = "1s, 2s"
LIFETIME = 5          # seconds; the expiry tests wait about this long
MAX_RECEIVED = 10
CONNECTIONS_PER_DOMAIN = 4
SMARTHOST_USER = "carol"
POSTMASTER = "carol"  # at A: where reports about mail from <> go


# ------------------------------------------------------------------ polling

def wait_for(pred, timeout, what):
    """Polls pred() until it returns something true; fails naming what."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------ DNS

QTYPES = {"A": 1, "NS": 2, "PTR": 12, "MX": 15, "AAAA": 28}


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _decode_name(msg, off):
    labels = []
    end = None
    for _ in range(128):                 # bounded: no pointer loops
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = struct.unpack("!H", msg[off:off + 2])[0] & 0x3FFF
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels), (end if end is not None else off)


def dns_query(server, port, name, qtype, timeout=2):
    """One query over UDP; returns (rcode, answers)."""
    qid = random.randrange(65536)
    pkt = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) \
        + struct.pack("!HH", QTYPES[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        while True:
            msg, _ = s.recvfrom(4096)
            if struct.unpack("!H", msg[:2])[0] == qid:
                break
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = _decode_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        rname, off = _decode_name(msg, off)
        rtype, _, _, rlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rlen]
        if rtype == 1:
            value = socket.inet_ntoa(rdata)
        elif rtype == 15:
            value = (struct.unpack("!H", rdata[:2])[0], _decode_name(msg, off + 2)[0])
        elif rtype == 12:
            value = _decode_name(msg, off)[0]
        else:
            value = rdata
        off += rlen
        answers.append((rname, rtype, value))
    return flags & 0xF, answers


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1 and a free UDP port, knowing
    only the records given: no /etc/hosts, no upstream, no system config."""

    def __init__(self, records, directory):
        self.records = records
        self.dir = pathlib.Path(directory)
        self.port = None
        self.proc = None
        self.log_path = self.dir / "dnsmasq.log"
        # takes the queries dnsmasq forwards for TIMEOUT_DOMAIN, answers none
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind((HOST, 0))

    @property
    def address(self):
        return f"{HOST}:{self.port}"

    def _args(self):
        args = [DNSMASQ, "--keep-in-foreground", f"--port={self.port}",
                f"--listen-address={HOST}", "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--log-facility=-",
                "--log-queries", f"--pid-file={self.dir / 'dnsmasq.pid'}",
                "--local=/#/", "--cache-size=0",
                f"--server=/{TIMEOUT_DOMAIN}/{HOST}#{self.silent.getsockname()[1]}"]
        if os.getuid() == 0:
            args.append("--user=root")
        for domain, host, pref in self.records["mx"]:
            args.append(f"--mx-host={domain},{host},{pref}")
        for name, ip in self.records["a"]:
            args.append(f"--host-record={name},{ip}")
        return args

    def start(self):
        if not os.access(DNSMASQ, os.X_OK):
            pytest.skip(f"{DNSMASQ} not installed (Debian package dnsmasq-base)")
        self.dir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
            s.close()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, start_new_session=True)
            if self._ready():
                return self
            self.stop()
        pytest.skip(f"dnsmasq did not start on {HOST}: {self.log()[-1500:]}")

    def _ready(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                rcode, ans = dns_query(HOST, self.port, A_DOMAIN, "MX", timeout=0.3)
                if rcode == 0 and ans:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def queried(self, name, qtype="MX"):
        """True once the log shows a query for name (--log-queries)."""
        return f"query[{qtype}] {name} " in self.log()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# ------------------------------------------------------------------ ports

def loopback_usable(addr):
    return port_free(0, addr)


def pick_port_base(addresses, smtp_only=()):
    """A port base with every standard port free on each of addresses and
    its SMTP port (base + 25) free on each of smtp_only."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(500):
        base = rng.randrange(11000, 31000, 10)
        if all(port_free(base + off, a) for a in addresses for off in PORT_OFFSETS.values()) \
                and all(port_free(base + PORT_OFFSETS["smtp"], a) for a in smtp_only):
            return base
    raise RuntimeError("no port base free on every test address")


# ------------------------------------------------------------------ daemons

class Peer(MailServer):
    """A MailServer on its own loopback address, hostname and domains,
    with a fixed port base (never moved on a conflict: its peer and the
    fake receivers depend on the smtp port)."""

    def __init__(self, base_dir, address, hostname, domains, port_base, **kw):
        super().__init__(base_dir, **kw)
        self.host = address
        self.hostname = hostname
        self.domains = list(domains)
        self.fixed_base = port_base
        self.sections = {}      # {section: {key: value}} set after init

    def _init_args(self):
        self.port_base = self.fixed_base
        args = ["--hostname", self.hostname, "--listen", self.host,
                "--port-base", str(self.port_base)]
        for d in self.domains:
            args += ["--domain", d]
        return args

    def setup(self):
        super().setup()
        for section, kv in self.sections.items():
            self.add_section(section, kv)
        return self

    def add_section(self, section, kv):
        """Sets kv's "key = value" lines in [section] (created at the end
        when missing). Keys may hold dots and "*", as [transport] domains
        do, which set_config cannot edit; an active line with the same key
        is replaced."""
        lines = self.conf.read_text().split("\n")
        start = next((i for i, l in enumerate(lines)
                      if re.match(rf"\s*\[\s*{re.escape(section)}\s*\]", l)), None)
        if start is None:
            while lines and lines[-1] == "":
                lines.pop()
            lines += ["", f"[{section}]", ""]
            start = len(lines) - 2
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"\s*\[", lines[i])), len(lines))
        keep = [l for l in lines[start + 1:end]
                if not any(re.match(rf"\s*{re.escape(k)}\s*=", l) for k in kv)]
        while keep and keep[-1].strip() == "":
            keep.pop()
        body = keep + [f"{k} = {v}" for k, v in kv.items()] + [""]
        lines[start + 1:end] = body
        self.conf.write_text("\n".join(lines))

    def start(self, timeout=30, rebase_on_conflict=False):
        return super().start(timeout=timeout, rebase_on_conflict=False)

    def _probe(self, port, tls, greeting):
        return greets(self.host, port, greeting, tls, self.hostname)

    def queue_list(self):
        r = self.ctl("queue", "list")
        assert r.returncode == 0, f"posthornctl queue list: {r.returncode} {r.stderr.decode(errors='replace')}"
        return r.stdout.decode("utf-8", "replace")

    def queue_flush(self):
        return self.ctl("queue", "flush")

    def stop_clean(self):
        """stop(), then the teardown checks (exit 0, no sanitizer report)."""
        close_clients(set(self._ports.values()))
        try:
            self.stop()
        except Exception:
            self.kill9()
            raise
        self.assert_clean()


def peer_config(dns, port_base, transports=None):
    """The [queue] and top-level settings both peers share."""
    top = {"resolver": dns.address}
    queue = {"retry": RETRY, "lifetime": f"{LIFETIME}s",
             "remote_port": port_base + PORT_OFFSETS["smtp"],
             "max_received": MAX_RECEIVED, "command_timeout": 10,
             "connections_per_domain": CONNECTIONS_PER_DOMAIN}
    sections = {"queue": queue}
    if transports:
        sections["transport"] = transports
    return top, sections


def make_tmp(prefix):
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, 0o755)
    return d


def write_secret(path, text, owner_of):
    """A 0600 file with text, owned like owner_of (the daemon's data dir)."""
    path.write_text(text + "\n")
    os.chmod(path, 0o600)
    st = owner_of.stat()
    os.chown(path, st.st_uid, st.st_gid)
    return path


@pytest.fixture(scope="module")
def dnsmasq():
    d = make_tmp("posthorn-dns-")
    dns = Dnsmasq(ZONE, d).start()
    yield dns
    print(f"--- dnsmasq log (tail) ---\n{dns.log()[-3000:]}")
    dns.stop()
    dns.silent.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def peers(dnsmasq):
    """A (example.org on 127.0.0.2, postmaster = carol) and B (example.net and B_EXTRA_DOMAINS
    on 127.0.0.3), both started, sharing port numbers; A has a [transport]
    table: relayed.test through B's submission port with STARTTLS and
    AUTH, notls*.test by DNS with TLS required."""
    for addr in (A_ADDR, B_ADDR, DOWN_ADDR, *FAKE.values()):
        if not loopback_usable(addr):
            pytest.skip(f"cannot bind {addr}: this machine does not route 127/8 to lo")
    base = pick_port_base([A_ADDR, B_ADDR], smtp_only=[DOWN_ADDR, *FAKE.values()])
    d = make_tmp("posthorn-out-")
    b = Peer(d / "b", B_ADDR, B_HOST, [B_DOMAIN, *B_EXTRA_DOMAINS], base, aliases={})
    a = Peer(d / "a", A_ADDR, A_HOST, [A_DOMAIN], base, aliases={"postmaster": [POSTMASTER]})
    secret = d / "smarthost.pw"
    transports = {
        "relayed.test": f"smtp:[{B_ADDR}]:{base + PORT_OFFSETS['submission']} "
                        f"tls=encrypt auth={SMARTHOST_USER} password_file={secret}",
        "notls.test": "dns tls=encrypt",
        "notls-verify.test": "dns tls=verify",
    }
    for peer, tr in ((b, None), (a, transports)):
        top, sections = peer_config(dnsmasq, base, tr)
        peer.config_edits.update(top)
        peer.sections.update(sections)
    servers = [b, a]
    try:
        b.setup()
        a.setup()
        write_secret(secret, USERS[SMARTHOST_USER], a.data_dir)
        b.start()
        a.start()
        yield {"a": a, "b": b, "base": base, "dir": d}
    finally:
        problems = []
        for srv in servers:
            print(f"--- {srv.log_path} (tail) ---\n{srv.log()[-4000:]}")
            try:
                srv.stop_clean()
            except Exception as e:
                problems.append(f"{srv.hostname}: {e}")
        if not problems:
            shutil.rmtree(d, ignore_errors=True)
        else:
            pytest.fail("peer teardown: " + "\n".join(problems))


# ------------------------------------------------------------------ sending

def message(mark, sender, to, subject=None, extra_headers=(), body=None):
    """A small RFC 5322 message (CRLF) whose Subject and body carry mark."""
    to = [to] if isinstance(to, str) else list(to)
    head = [f"From: <{sender}>", "To: " + ", ".join(f"<{t}>" for t in to),
            f"Subject: {subject or 'outbound ' + mark}",
            "Date: Sun, 23 Nov 2025 12:00:00 +0000",
            f"Message-ID: <{mark}@test.example>", *extra_headers]
    text = "\n".join(head) + "\n\n" + (body or f"body {mark}\n")
    return crlf(text)


def submit(srv, user, password, sender, rcpts, data, timeout=15):
    """Sends over srv's submission port with AUTH; returns smtplib's dict
    of refused recipients (raises when all are refused)."""
    with smtplib.SMTP(srv.host, srv.submission_port, local_hostname="client.example.org",
                      timeout=timeout) as s:
        s.ehlo()
        s.login(user, password)
        return s.sendmail(sender, list(rcpts), data)


def delivered(srv, user, mark):
    """Files in user's new/ at srv containing mark."""
    m = mark.encode()
    return [raw for raw in srv.read_messages(user) if m in raw]


# ------------------------------------------------------------------ DSN

class Dsn:
    """A parsed RFC 3464 report (multipart/report; report-type=
    delivery-status): fields (per-message, lowercased names), rcpts (one
    dict per recipient), human (text of part 1), original (part 3 text)."""

    def __init__(self, raw):
        self.raw = raw
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.msg = msg
        assert msg.get_content_type() == "multipart/report", \
            f"DSN is {msg.get_content_type()}:\n{raw[:1500]!r}"
        assert (msg.get_param("report-type") or "").lower() == "delivery-status", \
            f"report-type {msg.get_param('report-type')!r}"
        parts = msg.get_payload()
        assert len(parts) >= 2, f"report with {len(parts)} parts"
        self.human = parts[0].get_payload(decode=True).decode("utf-8", "replace")
        status = parts[1]
        assert status.get_content_type() == "message/delivery-status", status.get_content_type()
        blocks = status.get_payload()
        assert isinstance(blocks, list) and len(blocks) >= 2, \
            f"delivery-status without per-recipient blocks: {blocks!r}"
        self.fields = {k.lower(): v for k, v in blocks[0].items()}
        self.rcpts = [{k.lower(): re.sub(r"\s+", " ", v).strip() for k, v in b.items()}
                      for b in blocks[1:]]
        self.original = ""
        if len(parts) >= 3:
            p = parts[2]
            if p.get_content_type() == "message/rfc822":
                inner = p.get_payload()
                inner = inner[0] if isinstance(inner, list) else inner
                self.original = inner.as_string()
            else:
                self.original = (p.get_payload(decode=True) or b"").decode("utf-8", "replace")
        self.subject = msg.get("Subject", "")

    def rcpt(self, address):
        """The block whose Final-Recipient is address, else None."""
        for r in self.rcpts:
            fr = r.get("final-recipient", "")
            if fr.split(";", 1)[-1].strip().lower() == address.lower():
                return r
        return None

    def __repr__(self):
        return f"Dsn({self.raw[:3000]!r})"


def find_dsns(srv, user, mark):
    """The reports in user's new/ at srv about the message carrying mark."""
    out = []
    m = mark.encode()
    for raw in srv.read_messages(user):
        if m in raw and b"multipart/report" in raw.lower():
            out.append(Dsn(raw))
    return out


def wait_dsn(srv, user, mark, timeout):
    return wait_for(lambda: find_dsns(srv, user, mark), timeout,
                    f"a DSN about {mark} in {user}'s Maildir at {srv.hostname}")[0]


# ------------------------------------------------------------------ fake SMTP

class Session:
    def __init__(self, number):
        self.number = number
        self.commands = []      # every line the client sent outside DATA (str)
        self.started = time.monotonic()
        self.tls = False


def reply_ok(session, arg):
    return "250 2.1.5 Ok"


class FakeSmtp:
    """A scripted SMTP receiver. rcpt(session, address) and data(session,
    sender, rcpts, data) return the reply line for RCPT and for the end of
    the data ("250 ..." by default); mail(session, sender) for MAIL.
    ext lists the EHLO keywords advertised (no STARTTLS unless given, and
    STARTTLS is then refused: this server has no TLS). data_delay seconds
    pass before the final reply (a slow receiver). Every connection runs in
    its own thread."""

    def __init__(self, address, port, rcpt=None, data=None, mail=None, data_delay=0,
                 ext=("8BITMIME", "SIZE 52428800", "ENHANCEDSTATUSCODES"),
                 greeting="220 fake.test ESMTP ready"):
        self.address, self.port = address, port
        self.rcpt = rcpt or reply_ok
        self.data = data or (lambda s, f, r, d: "250 2.0.0 Ok: queued")
        self.mail = mail or (lambda s, f: "250 2.1.0 Ok")
        self.data_delay = data_delay
        self.ext = list(ext)
        self.greeting = greeting
        self.sessions = []
        self.delivered = []     # (session number, sender, [rcpts], data)
        self.received = []      # every data block, before the final reply
        self.lock = threading.Lock()
        self.conns = []
        self.stopping = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)    # so stop() needs no wake-up call
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        accept_loop(self.sock, lambda: self.stopping, self._start_session)

    def _start_session(self, c):
        c.settimeout(None)
        with self.lock:
            s = Session(len(self.sessions))
            self.sessions.append(s)
            self.conns.append(c)
        threading.Thread(target=self._serve, args=(c, s), daemon=True).start()

    def _serve(self, conn, s):
        conn.settimeout(30)
        f = conn.makefile("rb")
        try:
            self._dialogue(conn, f, s)
        except (OSError, ValueError):
            pass
        finally:
            try:
                f.close()
                conn.close()
            except OSError:
                pass

    def _dialogue(self, conn, f, s):
        def say(line):
            conn.sendall(line.encode() + b"\r\n")
        say(self.greeting)
        sender, rcpts = None, []
        while True:
            raw = f.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.lock:
                s.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb == "EHLO":
                lines = ["fake.test hello"] + self.ext
                for l in lines[:-1]:
                    conn.sendall(b"250-" + l.encode() + b"\r\n")
                say("250 " + lines[-1])
            elif verb == "HELO":
                say("250 fake.test")
            elif verb == "MAIL":
                m = re.match(r"FROM:\s*<([^>]*)>", arg, re.I)
                r = self.mail(s, m.group(1) if m else arg)
                if r.startswith("250"):
                    sender, rcpts = (m.group(1) if m else arg), []
                say(r)
            elif verb == "RCPT":
                m = re.match(r"TO:\s*<([^>]*)>", arg, re.I)
                addr = m.group(1) if m else arg
                r = self.rcpt(s, addr)
                if r.startswith("25"):
                    rcpts.append(addr)
                say(r)
            elif verb == "DATA":
                if sender is None or not rcpts:
                    say("503 5.5.1 no valid recipients")
                    continue
                say("354 go ahead")
                data = self._read_data(f)
                if data is None:
                    return
                with self.lock:
                    self.received.append(data)
                time.sleep(self.data_delay)
                r = self.data(s, sender, list(rcpts), data)
                say(r)
                if r.startswith("250"):
                    with self.lock:
                        self.delivered.append((s.number, sender, list(rcpts), data))
                sender, rcpts = None, []
            elif verb == "RSET":
                sender, rcpts = None, []
                say("250 2.0.0 Ok")
            elif verb == "NOOP":
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
                return
            elif verb == "STARTTLS":
                say("454 4.7.0 TLS not available")
            else:
                say("500 5.5.2 unknown command")

    @staticmethod
    def _read_data(f):
        lines = []
        while True:
            raw = f.readline(65536)
            if not raw:
                return None
            if raw == b".\r\n":
                return b"".join(lines)
            lines.append(raw[1:] if raw.startswith(b".") else raw)

    def wait(self, pred, timeout, what):
        return wait_for(lambda: pred(self), timeout, what)

    def marks_delivered(self, marks, received=False):
        """{mark: times} for each mark over every delivered message (with
        received: every message whose data ended, answered or not)."""
        with self.lock:
            datas = list(self.received) if received else [d for _, _, _, d in self.delivered]
        return {m: sum(m.encode() in d for d in datas) for m in marks}

    def all_commands(self):
        with self.lock:
            return [c for s in self.sessions for c in s.commands]

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(timeout=5)


@pytest.fixture
def fake_smtp(peers):
    """Factory: fake_smtp(domain, **FakeSmtp kwargs) listening on that
    test domain's MX address and the shared SMTP port; stopped after."""
    made = []

    def make(domain, **kw):
        srv = FakeSmtp(FAKE[domain], peers["base"] + PORT_OFFSETS["smtp"], **kw)
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.stop()
