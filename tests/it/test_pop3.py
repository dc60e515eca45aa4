"""POP3 protocol tests against a real posthornd (RFC 1939, RFC 2449 CAPA and
resp-codes, RFC 2595 STLS, RFC 5034 SASL, RFC 3206 AUTH/SYS codes): the
seeds' example sessions step by step; every command in each state, with the
wrong-state and bad-argument cases; mail sent in over SMTP comes out of RETR
byte-identical to the stored file (the sent message under the trace
headers); TOP; LIST sizes equal the bytes RETR sends; dot-stuffing, 8-bit,
UTF-8 and GB2312 bodies, a file without a final newline and one with bare
LF line ends written straight into the Maildir; an empty mailbox; deletion
only in UPDATE; the mailbox lock; UIDL stable across sessions and
restarts; STLS and POP3S; APOP; AUTH PLAIN/LOGIN; pipelining; limits.

Python's poplib is the independent client where it can say what we test;
Pop3Client (mailserver.py) where the exact bytes matter."""
import os
import poplib
import random
import re
import statistics
import shutil
import socket
import ssl
import struct
import threading
import time
import uuid

import pytest

from mailserver import (DOMAIN, HOST, Pop3Client, UserPool, apop_digest,
                        auth_plain, b64, crlf, dot_stuff, pop3_module_server, pop3_wire,
                        split_trace)
from mailserver import make_mailserver  # noqa: F401 (fixture)

SENDER = "sender@remote.test"
AUTH_DELAY_MS = 5       # small: failed logins from one address double it (auth/throttle.h)
POOL = [f"p{n:02d}" for n in range(1, 51)]
LONG_PW = "L" + "0123456789abcdef" * 15      # 241 octets: "PASS " + it + CRLF = 248
USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2", "carol": "carol-Secret-3",
         "longpw": LONG_PW, "apopper": "apopper-Secret-4", "noapop": "noapop-Secret-5",
         "spacey": " correct horse  battery staple "}
USERS.update({u: f"pw-{u}-Secret" for u in POOL})
APOP_SECRET = "tanstaaf"
TIMEOUT = 10


def marker():
    return uuid.uuid4().hex


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def srv():
    yield from pop3_module_server(USERS, {"auth_delay_ms": AUTH_DELAY_MS, "errors": 1000,
                                          "auth_failures": 100, "connections_per_ip": 200},
                                  ("apopper", APOP_SECRET))


_pool = UserPool(POOL, USERS)


@pytest.fixture
def user(srv):
    """A pool user nobody else touches: (name, password), empty mailbox."""
    name, pw = _pool.take()
    assert srv.messages(name) == [] and srv.messages(name, "cur") == []
    return name, pw


def pop(srv, port=None, tls=False, cafile=None):
    """A connected Pop3Client that got its +OK greeting."""
    c = Pop3Client(HOST, port or (srv.pop3s_port if tls else srv.pop3_port),
                   timeout=TIMEOUT, implicit_tls=tls, cafile=cafile)
    g = c.greeting()
    assert g.ok, f"greeting not +OK: {g}"
    return c


def login(srv, u, **kw):
    name, pw = u
    c = pop(srv, **kw)
    c.login(name, pw)
    return c


def poplib_login(srv, u):
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    p.user(u[0])
    p.pass_(u[1])
    return p


def ok(r, what=""):
    assert r.ok is True, f"{what}: expected +OK, got {r}"
    return r


def err(r, what="", code=None):
    assert r.ok is False, f"{what}: expected -ERR, got {r}"
    if code:
        assert r.code == code, f"{what}: expected -ERR [{code}], got {r}"
    return r


def quit_ok(c):
    ok(c.cmd("QUIT"), "QUIT")
    c.expect_closed()


def numbers(text):
    """The two numbers at the start of a STAT/LIST/scan line."""
    m = re.match(r"(\d+) (\d+)(?: |$)", text)
    assert m, f"not 'N SIZE': {text!r}"
    return int(m.group(1)), int(m.group(2))


def uid_line(text):
    m = re.match(r"(\d+) ([\x21-\x7e]{1,70})$", text)
    assert m, f"not 'N UID' with a valid unique-id (RFC 1939 7): {text!r}"
    return int(m.group(1)), m.group(2)


def stat(c):
    return numbers(ok(c.cmd("STAT"), "STAT").text)


def scan_list(c):
    r = ok(c.multi("LIST"), "LIST")
    return dict(numbers(l.decode()) for l in r.lines)


def uidl_list(c):
    r = ok(c.multi("UIDL"), "UIDL")
    return dict(uid_line(l.decode()) for l in r.lines)


def retr(c, n, expect_wire=None):
    """RETR n; checks the raw bytes are the dot-stuffed form of
    expect_wire when given. Returns the unstuffed message."""
    r = ok(c.multi(f"RETR {n}"), f"RETR {n}")
    if expect_wire is not None:
        status = r.raw.split(b"\r\n", 1)[0] + b"\r\n"
        got_wire = r.raw[len(status):]
        want = dot_stuff(expect_wire) + b".\r\n"
        assert got_wire == want, f"RETR {n} sent\n{got_wire[:1500]!r}\nexpected\n{want[:1500]!r}"
    return r.body


def message(mark, body=b"Hello from the POP3 tests.\r\n", subject=None, extra=b""):
    head = crlf(f"From: Sender <{SENDER}>\nTo: <someone@{DOMAIN}>\n"
                f"Subject: {subject or 'pop3 ' + mark}\n"
                f"Date: Sun, 23 Nov 2025 12:00:00 +0000\n"
                f"Message-ID: <{mark}@remote.test>\n") + extra + b"\r\n"
    return head + body


def arrange(c, msgs):
    """msgs (wire forms of different lengths) in the order the session
    numbers them, told apart by their LIST sizes: messages delivered within
    the same second have no order the tests may rely on."""
    sizes = scan_list(c)
    assert len({len(m) for m in msgs}) == len(msgs), "arrange() needs distinct sizes"
    assert sorted(sizes.values()) == sorted(len(m) for m in msgs), \
        f"LIST sizes {sizes} are not the messages' sizes {[len(m) for m in msgs]}"
    by_size = {len(m): m for m in msgs}
    return [by_size[sizes[n]] for n in sorted(sizes)]


def top_of(wire, n):
    """What TOP sends for a message (wire form, unstuffed): the header, the
    blank line, then n lines of the body."""
    i = wire.find(b"\r\n\r\n")
    if wire.startswith(b"\r\n"):
        head, body = b"\r\n", wire[2:]
    elif i < 0:
        return wire
    else:
        head, body = wire[:i + 4], wire[i + 4:]
    lines = body.split(b"\r\n")[:-1]
    return head + b"".join(l + b"\r\n" for l in lines[:n])


def wait_login(srv, u, seconds=2.0, **kw):
    """Logs in, retrying while the mailbox is [IN-USE] (a dropped session's
    lock going away); asserts it succeeds within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        c = pop(srv, **kw)
        ok(c.cmd(f"USER {u[0]}"))
        r = c.cmd(f"PASS {u[1]}")
        if r.ok:
            return c
        c.close()
        assert r.code == "IN-USE", f"login failed otherwise than [IN-USE]: {r}"
        assert time.monotonic() < deadline, f"mailbox still locked {seconds}s after the session went away: {r}"
        time.sleep(0.05)


def drop(c):
    """Closes the connection abruptly (RST), no QUIT."""
    try:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    c.close()


# ---------------------------------------------------------------- greeting

def test_greeting_apop_timestamp_unique(srv):
    stamps = []
    for port, tls in ((srv.pop3_port, False), (srv.pop3_port, False), (srv.pop3s_port, True)):
        c = Pop3Client(HOST, port, implicit_tls=tls)
        g = c.greeting()
        assert g.ok and g.raw.startswith(b"+OK "), g
        # RFC 1939 7: msg-id syntax ("<process-ID.clock@hostname>" in its
        # example), and the last word of the greeting here
        assert re.search(r" <[0-9]+\.[^<>\s@]+@[^<>\s]+>$", g.text), f"no <pid.clock@host> timestamp last: {g}"
        stamps.append(c.timestamp)
        quit_ok(c)
    assert len(set(stamps)) == len(stamps), f"APOP timestamps repeat: {stamps}"


# ---------------------------------------------------------------- seeds

def test_seed_session_list_uidl_retr_dele_quit(srv, user):
    """The seeds' example (003 2.2.3 and chapter 9.5.2): USER, PASS, LIST,
    UIDL 1, RETR 1, DELE 1, QUIT, step by step on a raw socket."""
    name, pw = user
    stored = [srv.smtp_deliver(name, message(marker(), body=crlf(f"message {i * 'x'}\n")))
              for i in (1, 2)]
    c = pop(srv)
    r = ok(c.cmd(f"USER {name}"), "USER")
    r = ok(c.cmd(f"PASS {pw}"), "PASS")
    r = ok(c.multi("LIST"), "LIST")
    listing = [numbers(l.decode()) for l in r.lines]
    assert [n for n, _ in listing] == [1, 2], r
    assert sorted(size for _, size in listing) == sorted(map(len, stored)), (listing, [len(s) for s in stored])
    if listing[0][1] != len(stored[0]):     # delivered in the same second
        stored.reverse()
    n, size = numbers(ok(c.cmd("LIST 1"), "LIST 1").text)
    assert (n, size) == (1, len(stored[0]))
    n, uid1 = uid_line(ok(c.cmd("UIDL 1"), "UIDL 1").text)
    assert n == 1
    assert retr(c, 1, stored[0]) == stored[0]
    ok(c.cmd("DELE 1"), "DELE 1")
    quit_ok(c)
    left = srv.read_messages(name) + srv.read_messages(name, "cur")
    assert left == [stored[1]], "after DELE 1 and QUIT only message 2 is left"
    c = login(srv, user)
    assert stat(c) == (1, len(stored[1]))
    assert list(uidl_list(c).values()) != [uid1], "the deleted message's UIDL is back"
    quit_ok(c)


def test_seed_session_chapter9(srv, user):
    """Chapter 9.5.2's session with poplib: USER, PASS, LIST (three
    letters), RETR 1, DELE 1, RETR 2, DELE 2, QUIT."""
    name, _ = user
    stored = [srv.smtp_deliver(name, message(marker(), body=crlf(f"letter {x}\n")))
              for x in ("A", "BB", "CCC")]
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    assert p.getwelcome().startswith(b"+OK")
    assert p.user(name).startswith(b"+OK")
    assert p.pass_(user[1]).startswith(b"+OK")
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK")
    listing = [numbers(l.decode()) for l in lines]
    assert [n for n, _ in listing] == [1, 2, 3]
    by_size = {len(s): s for s in stored}
    stored = [by_size[size] for _, size in listing]
    for i in (1, 2):
        resp, lines, octets = p.retr(i)
        assert resp.startswith(b"+OK")
        assert b"".join(l + b"\r\n" for l in lines) == stored[i - 1]
        assert octets == len(stored[i - 1])
        assert p.dele(i).startswith(b"+OK")
    assert p.quit().startswith(b"+OK")
    assert srv.read_messages(name) + srv.read_messages(name, "cur") == [stored[2]]


# ---------------------------------------------------------------- CAPA

def capa(c):
    r = ok(c.multi("CAPA"), "CAPA")
    caps = {}
    for l in r.lines:
        words = l.decode().split()
        assert words, f"empty CAPA line: {r}"
        assert words[0].upper() not in caps, f"capability listed twice: {r}"
        caps[words[0].upper()] = words[1:]
    return caps


def test_capa_authorization_pop3(srv):
    c = pop(srv)
    caps = capa(c)
    for k in ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
              "SASL", "STLS", "IMPLEMENTATION"):
        assert k in caps, f"{k} not in CAPA: {caps}"
    assert {"PLAIN", "LOGIN"} <= {m.upper() for m in caps["SASL"]}, caps
    assert caps["IMPLEMENTATION"], "IMPLEMENTATION without a name"
    quit_ok(c)


def test_capa_pop3s_and_transaction(srv, user):
    c = pop(srv, tls=True)
    caps = capa(c)
    assert "STLS" not in caps, f"STLS offered on implicit TLS: {caps}"
    for k in ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "SASL"):
        assert k in caps, f"{k} not in CAPA on pop3s: {caps}"
    c.login(*user)
    caps = capa(c)
    for k in ("TOP", "UIDL", "RESP-CODES", "PIPELINING"):
        assert k in caps, f"{k} not in CAPA in TRANSACTION: {caps}"
    assert "STLS" not in caps
    quit_ok(c)
    # in TRANSACTION on the STLS port: STLS is an AUTHORIZATION command
    c = login(srv, user)
    assert "STLS" not in capa(c), "STLS listed in TRANSACTION (RFC 2595 4)"
    err(c.cmd("STLS"), "STLS in TRANSACTION")
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_poplib_capa(srv):
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    caps = p.capa()
    assert "STLS" in caps and "UIDL" in caps and "TOP" in caps and "SASL" in caps, caps
    p.quit()


# ---------------------------------------------------------------- STLS

def test_stls_then_login_retr(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    c = pop(srv, cafile=srv.tls_cert)
    c.stls()   # verifies the server certificate against the CA file
    assert isinstance(c.sock, ssl.SSLSocket)
    caps = capa(c)
    assert "STLS" not in caps, f"STLS still offered after TLS: {caps}"
    assert "USER" in caps and "SASL" in caps, caps
    err(c.cmd("STLS"), "STLS twice")
    c.login(*user)
    assert stat(c) == (1, len(stored))
    assert retr(c, 1, stored) == stored
    quit_ok(c)


def test_poplib_stls(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    ctx = ssl.create_default_context(cafile=str(srv.tls_cert))
    ctx.check_hostname = False
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    assert p.stls(ctx).startswith(b"+OK")
    p.user(user[0])
    p.pass_(user[1])
    resp, lines, octets = p.retr(1)
    assert b"".join(l + b"\r\n" for l in lines) == stored and octets == len(stored)
    p.quit()


def test_stls_discards_pipelined_plaintext(srv):
    """RFC 2595 4 / the STARTTLS injection: a command sent in the same
    write as STLS must not be answered, neither before nor after TLS."""
    c = pop(srv)
    c.send(b"STLS\r\nCAPA\r\n")
    r = c.reply()
    ok(r, "STLS")
    time.sleep(0.2)
    c.starttls()        # asserts nothing was sent after the +OK in plaintext
    caps = capa(c)
    assert "STLS" not in caps
    c.expect_silence(0.5)   # no second CAPA reply (the injected one)
    quit_ok(c)


def test_stls_on_pop3s_refused(srv):
    c = pop(srv, tls=True)
    err(c.cmd("STLS"), "STLS on pop3s")
    ok(c.multi("CAPA"))
    quit_ok(c)


def test_pop3s_login_verified_certificate(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    ctx = ssl.create_default_context(cafile=str(srv.tls_cert))
    ctx.check_hostname = False
    p = poplib.POP3_SSL(HOST, srv.pop3s_port, timeout=TIMEOUT, context=ctx)
    assert p.getwelcome().startswith(b"+OK")
    p.user(user[0])
    p.pass_(user[1])
    assert p.stat() == (1, len(stored))
    assert [l for l in p.uidl()[1]]
    p.quit()


def test_plaintext_auth_refused_before_tls(make_mailserver):
    srv = make_mailserver(config={"plaintext_auth_loopback": "no"},
                          limits={"auth_delay_ms": 0})
    c = pop(srv)
    caps = capa(c)
    assert "STLS" in caps, caps
    assert "USER" not in caps, f"USER offered without TLS: {caps}"
    assert "SASL" not in caps or not caps["SASL"], f"SASL offered without TLS: {caps}"
    err(c.cmd("USER alice"), "USER before STLS")
    err(c.cmd("PASS alice-Secret-1"), "PASS before STLS")
    err(c.cmd("AUTH PLAIN " + auth_plain("alice", "alice-Secret-1")), "AUTH PLAIN before STLS")
    err(c.cmd("AUTH LOGIN"), "AUTH LOGIN before STLS")
    # still in AUTHORIZATION and able to secure the session
    c.stls()
    caps = capa(c)
    assert "USER" in caps and {"PLAIN", "LOGIN"} <= {m.upper() for m in caps.get("SASL", [])}, caps
    c.login("alice", "alice-Secret-1")
    assert stat(c) == (0, 0)
    quit_ok(c)
    c = pop(srv, tls=True)
    caps = capa(c)
    assert "USER" in caps and "SASL" in caps, caps
    ok(c.cmd("AUTH PLAIN " + auth_plain("bob", "bob-Secret-2")), "AUTH PLAIN on pop3s")
    quit_ok(c)


# ---------------------------------------------------------------- USER/PASS

def test_user_pass_wrong_password_and_unknown_user_look_the_same(srv, user):
    name, pw = user
    c = pop(srv)
    r_known = ok(c.cmd(f"USER {name}"))
    t0 = time.monotonic()
    bad = err(c.cmd("PASS wrong-password"), "wrong password", code="AUTH")
    took = time.monotonic() - t0
    assert took >= AUTH_DELAY_MS / 1000 * 0.9, f"wrong password answered after {took:.3f}s (auth_delay_ms {AUTH_DELAY_MS})"
    r_unknown = c.cmd("USER nosuchuser")
    assert r_unknown.ok == r_known.ok, f"USER tells known {r_known} from unknown {r_unknown}"
    bad2 = err(c.cmd("PASS wrong-password"), "unknown user", code="AUTH")
    assert bad2.text == bad.text, f"unknown user {bad2} and wrong password {bad} differ"
    # RFC 1939: after a failed PASS the session is back in AUTHORIZATION
    c.login(name, pw)
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_user_pass_argument_errors(srv, user):
    c = pop(srv)
    err(c.cmd("PASS " + user[1]), "PASS without USER")
    err(c.cmd("USER"), "USER without a name")
    ok(c.cmd(f"USER {user[0]}"))
    err(c.cmd("PASS"), "PASS without a password")
    # the session goes on: a complete USER/PASS still works
    c.login(*user)
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_long_command_line_accepted(srv):
    """RFC 2449 4: command lines up to 255 octets (here PASS, 248)."""
    c = pop(srv)
    line = f"PASS {LONG_PW}"
    assert len(line) + 2 <= 255
    ok(c.cmd("USER longpw"))
    ok(c.cmd(line), "PASS with a 241-octet password")
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_commands_case_insensitive(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    c = pop(srv)
    ok(c.cmd(f"user {user[0]}"))
    ok(c.cmd(f"pAsS {user[1]}"))
    assert numbers(ok(c.cmd("stat")).text) == (1, len(stored))
    assert numbers(ok(c.cmd("List 1")).text) == (1, len(stored))
    ok(c.multi("uidl"))
    assert ok(c.multi("retr 1")).body == stored
    assert ok(c.multi("tOp 1 0")).body == top_of(stored, 0)
    ok(c.cmd("noop"))
    ok(c.cmd("dele 1"))
    ok(c.cmd("rset"))
    ok(c.multi("capa"))
    ok(c.cmd("quit"))
    c.expect_closed()
    assert srv.read_messages(user[0], "cur") + srv.read_messages(user[0]) == [stored]


# ---------------------------------------------------------------- APOP

def test_apop_digest_of_rfc1939_example():
    # the test's own digest is RFC 1939's (section 7)
    assert apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") == \
        "c4c9334bac560ecc979e58001b3e22fb"


def test_apop(srv):
    c = pop(srv)
    ok(c.apop("apopper", APOP_SECRET), "APOP with the right digest")
    assert stat(c)[0] >= 0
    quit_ok(c)
    # poplib computes the digest from the greeting itself
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    assert p.apop("apopper", APOP_SECRET).startswith(b"+OK")
    p.quit()


def test_apop_failures(srv):
    c = pop(srv)
    err(c.apop("apopper", "not-the-secret"), "APOP wrong digest", code="AUTH")
    err(c.apop("noapop", "noapop-Secret-5"), "APOP for a user without a secret", code="AUTH")
    err(c.apop("nosuchuser", APOP_SECRET), "APOP for an unknown user", code="AUTH")
    err(c.cmd("APOP apopper"), "APOP without a digest")
    err(c.cmd("APOP"), "APOP without arguments")
    # a digest for another greeting's timestamp is no good (replay)
    other = pop(srv)
    digest = apop_digest(other.timestamp, APOP_SECRET)
    quit_ok(other)
    err(c.cmd(f"APOP apopper {digest}"), "APOP replayed from another session", code="AUTH")
    ok(c.apop("apopper", APOP_SECRET), "APOP after failures")
    quit_ok(c)


# ---------------------------------------------------------------- AUTH

def test_auth_lists_mechanisms(srv):
    c = pop(srv)
    r = ok(c.multi("AUTH"), "AUTH without a mechanism")
    mechs = {l.decode().split()[0].upper() for l in r.lines if l.strip()}
    assert {"PLAIN", "LOGIN"} <= mechs, r
    quit_ok(c)


def test_auth_plain_initial_response(srv, user):
    c = pop(srv)
    ok(c.cmd("AUTH PLAIN " + auth_plain(*user)), "AUTH PLAIN with initial response")
    assert stat(c) == (0, 0)
    quit_ok(c)
    # authzid equal to the authcid is the same identity
    c = pop(srv)
    ok(c.cmd("AUTH PLAIN " + b64(f"{user[0]}\0{user[0]}\0{user[1]}")), "AUTH PLAIN authzid=authcid")
    quit_ok(c)


def test_auth_plain_continuation(srv, user):
    c = pop(srv)
    r = c.cmd("AUTH PLAIN")
    assert r.ok is None and r.raw == b"+ \r\n", f"expected an empty '+ ' challenge (RFC 5034 4): {r}"
    ok(c.cmd(auth_plain(*user)), "AUTH PLAIN response")
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_auth_cancel_and_bad_responses(srv, user):
    c = pop(srv)
    r = c.cmd("AUTH PLAIN")
    assert r.ok is None, r
    err(c.cmd("*"), "AUTH cancelled with *")
    r = c.cmd("AUTH LOGIN")
    assert r.ok is None, r
    err(c.cmd("*"), "AUTH LOGIN cancelled with *")
    err(c.cmd("AUTH PLAIN ***not-base64***"), "AUTH PLAIN with bad base64")
    err(c.cmd("AUTH PLAIN ="), "AUTH PLAIN with an empty initial response")
    err(c.cmd("AUTH CRAM-MD5"), "AUTH with an unsupported mechanism")
    err(c.cmd("AUTH PLAIN " + auth_plain(user[0], "wrong")), "AUTH PLAIN wrong password", code="AUTH")
    err(c.cmd("AUTH PLAIN " + b64(f"alice\0{user[0]}\0{user[1]}")), "AUTH PLAIN as someone else")
    # after all that the session still authenticates
    ok(c.cmd("AUTH PLAIN " + auth_plain(*user)))
    quit_ok(c)


def test_auth_login(srv, user):
    c = pop(srv)
    r = c.cmd("AUTH LOGIN")
    assert r.ok is None, r
    r = c.cmd(b64(user[0]))
    assert r.ok is None, r
    ok(c.cmd(b64(user[1])), "AUTH LOGIN")
    assert stat(c) == (0, 0)
    quit_ok(c)
    c = pop(srv)
    assert c.cmd("auth login").ok is None
    assert c.cmd(b64(user[0])).ok is None
    err(c.cmd(b64("wrong")), "AUTH LOGIN wrong password", code="AUTH")
    quit_ok(c)


def test_auth_failures_close_the_session(make_mailserver):
    delay = 100
    srv = make_mailserver(limits={"auth_failures": 3, "auth_delay_ms": delay})
    c = pop(srv)
    for i in range(2):
        ok(c.cmd("USER alice"))
        t0 = time.monotonic()
        err(c.cmd("PASS wrong"), f"failure {i + 1}", code="AUTH")
        assert time.monotonic() - t0 >= delay / 1000 * 0.9, "failed PASS answered before auth_delay_ms"
    c.login("alice", "alice-Secret-1")    # two failures: still allowed
    quit_ok(c)
    c = pop(srv)
    ok(c.cmd("USER alice"))
    err(c.cmd("PASS wrong"), code="AUTH")
    err(c.cmd("AUTH PLAIN " + auth_plain("alice", "wrong")), code="AUTH")
    r = c.cmd("AUTH PLAIN " + auth_plain("bob", "wrong"))
    err(r, "third failure")
    # the third failure ends the session (perhaps with one more -ERR line)
    try:
        extra = c.reply(timeout=3)
        err(extra, "after the last failure")
    except ConnectionError:
        return
    c.expect_closed()


# ---------------------------------------------------------------- states

def test_transaction_commands_refused_in_authorization(srv, user):
    c = pop(srv)
    for line in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "RSET", "TOP 1 0",
                 "UIDL", "UIDL 1", "NOOP"):
        r = c.cmd(line)   # a multi-line +OK here would be the bug
        err(r, f"{line} in AUTHORIZATION")
    c.login(*user)
    assert stat(c) == (0, 0)
    quit_ok(c)


def test_authorization_commands_refused_in_transaction(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    c = login(srv, user)
    for line in (f"USER {user[0]}", f"PASS {user[1]}", f"APOP {user[0]} {'0' * 32}",
                 "AUTH PLAIN " + auth_plain(*user), "STLS"):
        err(c.cmd(line), f"{line.split()[0]} in TRANSACTION")
    assert stat(c) == (1, len(stored))
    quit_ok(c)


def test_unknown_and_empty_commands(srv, user):
    c = pop(srv)
    err(c.cmd("FROB"), "unknown command in AUTHORIZATION")
    err(c.cmd(""), "empty line")
    err(c.cmd("XTND XMIT"), "XTND")
    c.login(*user)
    err(c.cmd("FROB 1"), "unknown command in TRANSACTION")
    err(c.cmd("LAST"), "LAST (RFC 1460, removed)")
    ok(c.cmd("NOOP"))
    quit_ok(c)


def test_quit_in_authorization(srv):
    c = pop(srv)
    quit_ok(c)
    c = pop(srv)
    ok(c.cmd("USER alice"))
    quit_ok(c)


def test_poplib_every_transaction_command(srv, user):
    name = user[0]
    sent = [message(marker(), body=crlf(f"one{i * '!'}\ntwo\nthree\n")) for i in range(3)]
    stored = [srv.smtp_deliver(name, m) for m in sent]
    c = login(srv, user)
    stored = arrange(c, stored)
    quit_ok(c)
    p = poplib_login(srv, user)
    assert p.stat() == (3, sum(map(len, stored)))
    resp, lines, _ = p.list()
    assert [numbers(l.decode()) for l in lines] == [(i + 1, len(s)) for i, s in enumerate(stored)]
    assert numbers(p.list(2)[4:].decode()) == (2, len(stored[1]))
    resp, uids, _ = p.uidl()
    uids = dict(uid_line(l.decode()) for l in uids)
    assert sorted(uids) == [1, 2, 3] and len(set(uids.values())) == 3
    assert uid_line(p.uidl(3)[4:].decode()) == (3, uids[3])
    for i, s in enumerate(stored, 1):
        resp, lines, octets = p.retr(i)
        assert b"".join(l + b"\r\n" for l in lines) == s
        assert octets == len(s)
        resp, lines, _ = p.top(i, 2)
        assert b"".join(l + b"\r\n" for l in lines) == top_of(s, 2)
    assert p.noop().startswith(b"+OK")
    assert p.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    with pytest.raises(poplib.error_proto):
        p.dele(1)
    assert p.stat() == (2, len(stored[1]) + len(stored[2]))
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, sum(map(len, stored)))
    assert p.dele(3).startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        p.retr(4)
    with pytest.raises(poplib.error_proto):
        p.user(name)
    assert p.quit().startswith(b"+OK")
    left = [raw for raw in srv.read_messages(name) + srv.read_messages(name, "cur")]
    assert sorted(left) == sorted(stored[:2])


# ---------------------------------------------------------------- arguments

def test_bad_message_numbers(srv, user):
    stored = [srv.smtp_deliver(user[0], message(marker())) for _ in range(2)]
    c = login(srv, user)
    for arg in ("0", "-1", "abc", "1x", "3", "4294967297", "99999999999999999999999999"):
        for cmd in ("LIST", "RETR", "DELE", "UIDL"):
            err(c.cmd(f"{cmd} {arg}"), f"{cmd} {arg}")
        err(c.cmd(f"TOP {arg} 0"), f"TOP {arg} 0")
    for line in ("RETR", "DELE", "TOP", "TOP 1", "TOP 1 -1", "TOP 1 x", "TOP x 1"):
        err(c.cmd(line), line)
    # none of that changed anything
    assert stat(c) == (2, sum(map(len, stored)))
    assert sorted(scan_list(c).values()) == sorted(map(len, stored))
    quit_ok(c)
    assert sorted(srv.read_messages(user[0])) == sorted(stored)


def test_overlong_command_line(srv, user):
    """An overlong line gets one -ERR; the rest of it is not a command."""
    c = pop(srv)
    c.send(b"NOOP " + b"x" * 3000 + b"STAT\r\n")
    err(c.reply(), "overlong line")
    c.login(*user)
    c.send(b"LIST " + b"1" * 5000 + b"\r\nNOOP\r\n")
    err(c.reply(), "overlong LIST")
    ok(c.reply(), "NOOP after the overlong line")
    c.expect_silence(0.3)
    quit_ok(c)


def test_too_many_errors_close(make_mailserver):
    srv = make_mailserver(limits={"errors": 3})
    c = pop(srv)
    seen = 0
    closed = False
    for _ in range(6):
        try:
            c.send(b"FROB\r\n")
            r = c.reply(timeout=5)
        except (ConnectionError, BrokenPipeError, ConnectionResetError):
            closed = True
            break
        err(r, "FROB")
        seen += 1
    if not closed:
        c.expect_closed(3)
    # like SMTP's 421 (test_smtp.py): `errors` error replies, perhaps one
    # more, then a closing -ERR
    assert 4 <= seen <= 5, f"closed after {seen} -ERR lines with errors = 3"
    c = pop(srv)    # a fresh session has a fresh budget
    c.login("alice", "alice-Secret-1")
    quit_ok(c)


# ---------------------------------------------------------------- TRANSACTION

def test_stat_list_retr_sizes_equal(srv, user):
    name = user[0]
    sent = [message(marker(), body=crlf("x" * (i * 37) + "\n" + "line\n" * i)) for i in range(1, 6)]
    stored = [srv.smtp_deliver(name, m) for m in sent]
    for s, m in zip(stored, sent):
        trace, rest = split_trace(s)
        assert [n.lower() for n, _ in trace] == ["return-path", "received"] and rest == m, \
            "stored file is not the sent message under Return-Path and Received"
    c = login(srv, user)
    assert stat(c) == (5, sum(map(len, stored)))
    stored = arrange(c, stored)
    sizes = scan_list(c)
    assert sizes == {i + 1: len(s) for i, s in enumerate(stored)}
    for i in sizes:
        got = retr(c, i, stored[i - 1])
        assert len(got) == sizes[i], f"LIST says {sizes[i]}, RETR sent {len(got)}"
    quit_ok(c)


def test_snapshot_at_login(srv, user):
    name = user[0]
    first = srv.smtp_deliver(name, message(marker()))
    c = login(srv, user)
    assert stat(c) == (1, len(first))
    uids = uidl_list(c)
    # SMTP delivers into the locked mailbox; the session does not see it
    later = srv.smtp_deliver(name, message(marker()))
    assert stat(c) == (1, len(first))
    assert scan_list(c) == {1: len(first)}
    assert uidl_list(c) == uids
    err(c.cmd("LIST 2"), "LIST 2 of a one-message snapshot")
    err(c.cmd("RETR 2"))
    quit_ok(c)
    c = login(srv, user)
    assert stat(c) == (2, len(first) + len(later))
    assert uids[1] in uidl_list(c).values()
    assert {retr(c, 1), retr(c, 2)} == {first, later}
    quit_ok(c)


def test_empty_mailbox(srv, user):
    c = login(srv, user)
    assert stat(c) == (0, 0)
    assert ok(c.multi("LIST")).lines == []
    assert ok(c.multi("UIDL")).lines == []
    for line in ("LIST 1", "RETR 1", "TOP 1 0", "DELE 1", "UIDL 1"):
        err(c.cmd(line), line + " in an empty mailbox")
    ok(c.cmd("RSET"))
    ok(c.cmd("NOOP"))
    quit_ok(c)


def test_mailbox_directory_missing(srv, user):
    """A user whose Maildir does not exist yet has an empty mailbox."""
    shutil.rmtree(srv.maildir(user[0]))
    c = login(srv, user)
    assert stat(c) == (0, 0)
    quit_ok(c)
    srv.smtp_deliver(user[0], message(marker()))
    c = login(srv, user)
    assert stat(c)[0] == 1
    quit_ok(c)


def test_top(srv, user):
    body = crlf("".join(f"body line {i}\n" for i in range(1, 8)) + ".dot first\n..two dots\n.\nlast\n")
    stored = srv.smtp_deliver(user[0], message(marker(), body=body))
    c = login(srv, user)
    for n in (0, 1, 2, 7, 8, 10, 11, 1000):
        r = ok(c.multi(f"TOP 1 {n}"), f"TOP 1 {n}")
        assert r.body == top_of(stored, n), f"TOP 1 {n}: {r.body!r}"
        status = r.raw.split(b"\r\n", 1)[0] + b"\r\n"
        assert r.raw[len(status):] == dot_stuff(top_of(stored, n)) + b".\r\n", "TOP not dot-stuffed"
    assert ok(c.multi("TOP 1 0")).body.endswith(b"\r\n\r\n"), "TOP n 0: header and the blank line"
    quit_ok(c)
    # TOP marks nothing seen: the file stays in new/
    assert srv.read_messages(user[0]) == [stored]


def test_dot_stuffing(srv, user):
    body = crlf(".\n..\n...\n.leading dot\n. space\nmiddle\n.\n")
    sent = message(marker(), body=body)
    stored = srv.smtp_deliver(user[0], sent)
    assert stored.endswith(b"\r\n.\r\n")
    direct = srv.put_message(user[0], b".first line is a dot\r\n\r\n.\r\n..\r\nend.\r\n.").read_bytes()
    wire = pop3_wire(direct)
    c = login(srv, user)
    order = arrange(c, [stored, wire])
    for i, m in enumerate(order, 1):
        assert retr(c, i, m) == m
    quit_ok(c)
    # poplib undoes the stuffing the same way
    p = poplib_login(srv, user)
    for i, m in enumerate(order, 1):
        resp, lines, octets = p.retr(i)
        assert b"".join(l + b"\r\n" for l in lines) == m and octets == len(m)
    p.quit()


def test_8bit_utf8_gb2312(srv, user):
    name = user[0]
    utf8 = message(marker(), subject="Grüße — 你好", extra=b"MIME-Version: 1.0\r\n"
                   b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
                   body=crlf("Grüße aus Köln, 你好, мир, ΚΑΛΗΜΕΡΑ\n"))
    gb = message(marker(), extra=b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb2312\r\n"
                 b"Content-Transfer-Encoding: 8bit\r\n",
                 body=crlf("中文邮件测试：你好，世界。\n第二行。\n".encode("gb2312")))
    latin = message(marker(), body=bytes(range(0x80, 0x100)) + b"\r\n" + bytes(range(1, 9)) + b"\r\n")
    stored = [srv.smtp_deliver(name, m) for m in (utf8, gb, latin)]
    for s, m in zip(stored, (utf8, gb, latin)):
        assert split_trace(s)[1] == m
    c = login(srv, user)
    gb_stored = stored[1]
    stored = arrange(c, stored)
    for i, s in enumerate(stored, 1):
        assert retr(c, i, s) == s, f"8-bit message {i} changed on the way out"
    n = stored.index(gb_stored) + 1
    assert ok(c.multi(f"TOP {n} 1")).body == top_of(gb_stored, 1)
    quit_ok(c)


def test_file_without_final_newline(srv, user):
    data = b"Subject: no newline\r\nFrom: <x@remote.test>\r\n\r\nfirst\r\nlast line without newline"
    srv.put_message(user[0], data)
    wire = data + b"\r\n"
    c = login(srv, user)
    assert stat(c) == (1, len(wire)), "LIST/STAT size must count the CRLF RETR adds"
    assert scan_list(c) == {1: len(wire)}
    assert retr(c, 1, wire) == wire
    assert ok(c.multi("TOP 1 5")).body == wire
    assert ok(c.multi("TOP 1 1")).body == b"Subject: no newline\r\nFrom: <x@remote.test>\r\n\r\nfirst\r\n"
    quit_ok(c)


def test_file_with_bare_lf(srv, user):
    data = b"Subject: bare LF\nFrom: <x@remote.test>\n\nline one\n.dot line\n\nline four\n"
    srv.put_message(user[0], data)
    data2 = b"Subject: mixed\r\n\nbare\ncrlf\r\n"
    srv.put_message(user[0], data2)
    wires = [pop3_wire(data), pop3_wire(data2)]
    assert len(wires[0]) == len(data) + data.count(b"\n")
    c = login(srv, user)
    assert scan_list(c) == {1: len(wires[0]), 2: len(wires[1])}, "LIST must count CRLF line ends"
    assert stat(c) == (2, len(wires[0]) + len(wires[1]))
    for i, w in enumerate(wires, 1):
        assert retr(c, i, w) == w
    assert ok(c.multi("TOP 1 2")).body == top_of(wires[0], 2)
    quit_ok(c)


def test_long_lines_and_large_message(srv, user):
    long_line = b"L" * 20000 + b"\r\n"
    big = b"".join(b"%06d " % i + b"y" * 70 + b"\r\n" for i in range(20000))   # ~1.5 MB
    srv.put_message(user[0], b"Subject: long line\r\n\r\n" + long_line + b".\r\n")
    srv.put_message(user[0], b"Subject: big\r\n\r\n" + big)
    files = srv.read_messages(user[0])
    c = login(srv, user)
    for i, f in enumerate(files, 1):
        assert retr(c, i, f) == f
    assert scan_list(c) == {1: len(files[0]), 2: len(files[1])}
    quit_ok(c)


# ---------------------------------------------------------------- DELE / UPDATE

def test_dele_then_drop_keeps_message(srv, user):
    stored = [srv.smtp_deliver(user[0], message(marker())) for _ in range(2)]
    c = login(srv, user)
    ok(c.cmd("DELE 1"))
    ok(c.cmd("DELE 2"))
    drop(c)
    c = wait_login(srv, user)
    assert stat(c) == (2, sum(map(len, stored))), "DELE without QUIT removed messages"
    quit_ok(c)
    assert sorted(srv.read_messages(user[0])) == sorted(stored)


def test_dele_then_rset_keeps_message(srv, user):
    stored = [srv.smtp_deliver(user[0], message(marker(), body=b"x" * i + b"\r\n")) for i in range(3)]
    c = login(srv, user)
    stored = arrange(c, stored)
    ok(c.cmd("DELE 2"))
    assert stat(c) == (2, len(stored[0]) + len(stored[2])), "STAT counts a deleted message"
    assert scan_list(c) == {1: len(stored[0]), 3: len(stored[2])}, "LIST shows a deleted message"
    assert sorted(uidl_list(c)) == [1, 3], "UIDL shows a deleted message"
    for line in ("RETR 2", "TOP 2 0", "LIST 2", "UIDL 2", "DELE 2"):
        err(c.cmd(line), line + " of a deleted message")
    ok(c.cmd("RSET"))
    assert stat(c) == (3, sum(map(len, stored)))
    assert scan_list(c) == {i + 1: len(s) for i, s in enumerate(stored)}
    quit_ok(c)
    assert sorted(srv.read_messages(user[0])) == sorted(stored)


def test_dele_then_quit_removes(srv, user):
    stored = [srv.smtp_deliver(user[0], message(marker(), body=b"x" * i + b"\r\n")) for i in range(3)]
    c = login(srv, user)
    stored = arrange(c, stored)
    uids = uidl_list(c)
    ok(c.cmd("DELE 1"))
    ok(c.cmd("DELE 3"))
    quit_ok(c)
    assert srv.read_messages(user[0]) + srv.read_messages(user[0], "cur") == [stored[1]]
    c = login(srv, user)
    assert stat(c) == (1, len(stored[1]))
    assert uidl_list(c) == {1: uids[2]}, "the remaining message's UIDL changed"
    assert retr(c, 1) == stored[1]
    ok(c.cmd("DELE 1"))
    quit_ok(c)
    assert srv.messages(user[0]) == [] and srv.messages(user[0], "cur") == []


def test_retr_marks_seen_at_quit_only(srv, user):
    name = user[0]
    a = srv.put_message(name, message(marker()))
    b = srv.put_message(name, message(marker()))
    flagged = srv.put_message(name, message(marker()), sub="cur", info="2,F")
    seen = srv.put_message(name, message(marker()), sub="cur", info="2,S")
    c = login(srv, user)
    assert stat(c)[0] == 4
    for i in (1, 3, 4):
        retr(c, i)
    drop(c)
    # a dropped session changes nothing
    c = wait_login(srv, user)
    assert sorted(p.name for p in srv.messages(name)) == sorted([a.name, b.name])
    assert sorted(p.name for p in srv.messages(name, "cur")) == sorted([flagged.name, seen.name])
    for i in (1, 3, 4):
        retr(c, i)
    quit_ok(c)
    assert [p.name for p in srv.messages(name)] == [b.name], "unretrieved message left new/"
    cur = sorted(p.name for p in srv.messages(name, "cur"))
    want = sorted([a.name + ":2,S", flagged.name.split(":")[0] + ":2,FS", seen.name])
    assert cur == want, f"cur/ after RETR and QUIT: {cur}, expected {want}"
    # flags stay in ASCII order; a cur/ file without info gets ":2,S"
    bare = srv.put_message(name, message(marker()), sub="cur", info=None)
    rt = srv.put_message(name, message(marker()), sub="cur", info="2,RT")
    c = login(srv, user)
    for n in range(1, stat(c)[0] + 1):
        retr(c, n)
    quit_ok(c)
    cur = sorted(p.name for p in srv.messages(name, "cur"))
    want = sorted(want + [a.name + ":2,S" for a in (b, bare)] + [rt.name.split(":")[0] + ":2,RST"])
    assert cur == want, f"cur/ after RETR and QUIT: {cur}, expected {want}"


def test_uidl_stable_across_sessions_and_restart(make_mailserver):
    srv = make_mailserver(users={"alice": "alice-Secret-1"}, aliases={})
    u = ("alice", "alice-Secret-1")
    for i in range(3):
        srv.smtp_deliver("alice", message(marker()))
    srv.put_message("alice", b"Subject: direct\n\nbody\n")
    srv.put_message("alice", b"Subject: in cur\r\n\r\nbody\r\n", sub="cur", info="2,S")
    c = login(srv, u)
    uids = uidl_list(c)
    assert len(uids) == 5 and len(set(uids.values())) == 5, f"UIDLs not unique: {uids}"
    for n, uid in uids.items():
        assert uid_line(ok(c.cmd(f"UIDL {n}")).text) == (n, uid)
    for n in uids:
        retr(c, n)
    quit_ok(c)     # moves the new/ files to cur/ with S
    c = login(srv, u)
    assert uidl_list(c) == uids, "UIDLs changed when messages moved to cur/"
    quit_ok(c)
    srv.restart()
    c = login(srv, u)
    assert uidl_list(c) == uids, "UIDLs changed across a daemon restart"
    ok(c.cmd("DELE 2"))
    quit_ok(c)
    srv.smtp_deliver("alice", message(marker()))
    c = login(srv, u)
    after = list(uidl_list(c).values())
    assert [u for u in after if u in uids.values()] == [uids[1], uids[3], uids[4], uids[5]], \
        "the old messages' UIDLs or order changed"
    new = [u for u in after if u not in uids.values()]
    assert len(new) == 1, f"the new message's UIDL is an old one: {after} vs {uids}"
    quit_ok(c)


# ---------------------------------------------------------------- lock

def test_lock_second_session_in_use(srv, user):
    stored = srv.smtp_deliver(user[0], message(marker()))
    first = login(srv, user)
    second = pop(srv)
    ok(second.cmd(f"USER {user[0]}"))
    err(second.cmd(f"PASS {user[1]}"), "second login", code="IN-USE")
    # the same over POP3S, and with AUTH PLAIN
    third = pop(srv, tls=True)
    err(third.cmd("AUTH PLAIN " + auth_plain(*user)), "second login via AUTH", code="IN-USE")
    third.close()
    # the first session is undisturbed
    assert stat(first) == (1, len(stored))
    assert retr(first, 1) == stored
    second.close()
    quit_ok(first)
    c = login(srv, user)     # released by QUIT at once
    assert stat(c) == (1, len(stored))
    quit_ok(c)


def test_lock_released_after_drop(srv, user):
    first = login(srv, user)
    ok(first.cmd("NOOP"))
    drop(first)
    c = wait_login(srv, user, seconds=2.0)
    quit_ok(c)
    # a plain close (FIN) without QUIT, over TLS
    first = login(srv, user, tls=True)
    first.sock.close()
    c = wait_login(srv, user, seconds=2.0)
    quit_ok(c)


def test_lock_not_taken_in_authorization(srv, user):
    waiting = pop(srv)
    ok(waiting.cmd(f"USER {user[0]}"))
    failed = pop(srv)
    ok(failed.cmd(f"USER {user[0]}"))
    err(failed.cmd("PASS wrong"), code="AUTH")
    c = login(srv, user)
    quit_ok(c)
    quit_ok(waiting)
    quit_ok(failed)


# ---------------------------------------------------------------- pipelining

def test_pipelining_whole_session_in_one_write(srv, user):
    stored = [srv.smtp_deliver(user[0], message(marker(), body=crlf(".dot\nx\n"))) for _ in range(2)]
    got = {}
    c = pop(srv)
    c.send(f"CAPA\r\nUSER {user[0]}\r\nPASS {user[1]}\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\n"
           f"TOP 2 1\r\nRETR 2\r\nNOOP\r\nDELE 1\r\nLIST 1\r\nRSET\r\nFROB\r\nQUIT\r\n".encode())
    assert "PIPELINING" in {l.decode().split()[0] for l in ok(c.multi_reply()).lines}
    ok(c.reply(), "USER")
    ok(c.reply(), "PASS")
    assert numbers(ok(c.reply(), "STAT").text) == (2, sum(map(len, stored)))
    assert len(ok(c.multi_reply(), "LIST").lines) == 2
    assert len(ok(c.multi_reply(), "UIDL").lines) == 2
    got[1] = ok(c.multi_reply(), "RETR 1").body
    top2 = ok(c.multi_reply(), "TOP 2 1").body
    got[2] = ok(c.multi_reply(), "RETR 2").body
    assert sorted(got.values()) == sorted(stored)
    assert top2 == top_of(got[2], 1)
    ok(c.reply(), "NOOP")
    ok(c.reply(), "DELE 1")
    err(c.reply(), "LIST 1 of a deleted message")
    ok(c.reply(), "RSET")
    err(c.reply(), "FROB")
    ok(c.reply(), "QUIT")
    c.expect_closed()
    assert sorted(srv.read_messages(user[0], "cur")) == sorted(stored)


def test_pipelining_many_commands(srv, user):
    body = b"".join(b"line %05d\r\n" % i for i in range(30000))      # ~330 KB
    big = srv.put_message(user[0], b"Subject: big\r\n\r\n" + body).read_bytes()
    c = login(srv, user)
    n = 300
    c.send(b"".join(b"NOOP\r\nRETR 1\r\n" if i % 100 == 0 else b"NOOP\r\n" for i in range(n)))
    for i in range(n):
        ok(c.reply(), f"NOOP {i}")
        if i % 100 == 0:
            assert ok(c.multi_reply(), "RETR 1").body == big
    c.expect_silence(0.3)
    quit_ok(c)


# ---------------------------------------------------------------- more AUTHORIZATION

def test_password_with_spaces(srv):
    """RFC 1939 7: PASS has one argument, spaces are part of it."""
    c = pop(srv)
    ok(c.cmd("USER spacey"))
    ok(c.cmd("PASS " + USERS["spacey"]), "PASS with spaces in the password")
    quit_ok(c)
    p = poplib.POP3(HOST, srv.pop3_port, timeout=TIMEOUT)
    p.user("spacey")
    assert p.pass_(USERS["spacey"]).startswith(b"+OK")
    p.quit()


def test_user_name_case_insensitive(srv, user):
    srv.smtp_deliver(user[0], message(marker()))
    c = pop(srv)
    c.login(user[0].upper(), user[1])
    assert stat(c)[0] == 1, "USER in upper case opened another mailbox"
    quit_ok(c)


def test_unknown_user_fails_as_slowly_as_wrong_password(make_mailserver):
    """'Unknown user and wrong password look the same' includes the time
    they take: with auth_delay_ms = 0 what is left is the password check
    itself (yescrypt), which must run for an unknown user too (a dummy
    hash, auth/users.h) or the reply time tells which users exist."""
    srv = make_mailserver(limits={"auth_delay_ms": 0, "auth_failures": 1000, "errors": 1000})
    c = pop(srv)

    def fail_time(name):
        ok(c.cmd(f"USER {name}"))
        t0 = time.monotonic()
        err(c.cmd("PASS wrong-password"), code="AUTH")
        return time.monotonic() - t0

    known, unknown = [], []
    for _ in range(9):
        known.append(fail_time("alice"))
        unknown.append(fail_time("nosuchuser"))
    quit_ok(c)
    k, u = statistics.median(known), statistics.median(unknown)
    assert u >= 0.5 * k, \
        f"a wrong password for a real user takes {k * 1000:.1f} ms, for an unknown user " \
        f"{u * 1000:.1f} ms: the reply time tells which users exist"


def test_drop_during_login_releases_lock(srv, user):
    c = pop(srv)
    c.send(f"USER {user[0]}\r\nPASS {user[1]}\r\n".encode())
    drop(c)      # gone while the login job runs
    c = wait_login(srv, user)
    quit_ok(c)


# ---------------------------------------------------------------- message bytes

def check_sizes_and_bytes(srv, u, files, tops=(0, 1, 3)):
    """Logs in and checks every message: LIST size == bytes RETR sends ==
    len(pop3_wire(file)), the wire dot-stuffed, TOP with a huge count the
    same as RETR and TOP k (k in tops) a prefix of it."""
    c = login(srv, u)
    sizes = scan_list(c)
    assert len(sizes) == len(files), f"{len(sizes)} messages listed, {len(files)} written"
    for n, f in enumerate(files, 1):
        wire = pop3_wire(f)
        body = retr(c, n, wire)
        assert body == wire, f"message {n} ({f[:60]!r}...): RETR differs"
        assert sizes[n] == len(body), f"message {n} ({f[:60]!r}): LIST {sizes[n]}, RETR {len(body)}"
        if tops:
            assert ok(c.multi(f"TOP {n} 999999")).body == body, f"TOP {n} 999999 is not RETR"
        for k in tops:
            top = ok(c.multi(f"TOP {n} {k}")).body
            assert body.startswith(top), f"TOP {n} {k} is not a prefix of RETR {n}"
    quit_ok(c)


def test_odd_bytes_sizes_match(srv, user):
    """Files with every odd line end (bare CR, CR at the end, LF CR, NUL,
    empty, only dots), and random ones: LIST == RETR == the CRLF form."""
    rng = random.Random(1939)
    files = [b"", b"\r", b"\n", b".", b"..", b"\r\r\n", b"a\r", b"a\rb\r\n", b".\r\n",
             b"..\n", b"\n.\n", b"\r\n.\r\n.", b"x\n\r", b"\n\n\n", b"\x00\r\n\x00",
             b"Subject: s\r\n\r\n\r", b"Subject: s\n\n.\n..\n...\n", b"Subject: only header"]
    alphabet = [b"\r", b"\n", b"\r\n", b".", b"a", b"b", b" ", b"\x00", b"\xff", b"\xe4\xb8\xad"]
    for _ in range(30):
        files.append(b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400))))
    for f in files:
        srv.put_message(user[0], f)
    check_sizes_and_bytes(srv, user, files)


def test_chunk_boundaries(srv, user):
    """Line ends, dots and bare CRs across the 64 KiB pieces a server
    reads a file in."""
    files = []
    for base in (65536, 131072):
        for delta in range(-2, 2):
            for seq in (b"\r\n.dot\r\n", b"\n.dot\n", b"\r\n\r\n", b"\rx\n"):
                head = b"Subject: boundary\r\n\r\n"
                fill = b"q" * (base + delta - len(head))
                files.append(head + fill + seq + b"end\r\n")
    for f in files:
        srv.put_message(user[0], f)
    check_sizes_and_bytes(srv, user, files, tops=())


def test_many_messages(srv, user):
    n = 2000
    for i in range(n):
        srv.put_message(user[0], b"Subject: m%d\r\n\r\n%s\r\n" % (i, b"x" * (i % 50)))
    c = login(srv, user)
    count, total = stat(c)
    assert count == n
    sizes = scan_list(c)
    assert len(sizes) == n and sum(sizes.values()) == total
    uids = uidl_list(c)
    assert len(set(uids.values())) == n
    c.send(b"".join(b"DELE %d\r\n" % i for i in range(1, n + 1)))
    for i in range(n):
        ok(c.reply(), f"DELE {i + 1}")
    assert stat(c) == (0, 0)
    quit_ok(c)
    assert srv.messages(user[0]) == [] and srv.messages(user[0], "cur") == []


# ---------------------------------------------------------------- the Maildir around

def test_only_regular_files_of_new_and_cur_count(srv, user):
    """Dot files, tmp/, subfolders (.Sent), directories, FIFOs and
    symlinks (to a file outside the Maildir) are no messages."""
    name = user[0]
    real = srv.put_message(name, b"Subject: real\r\n\r\nbody\r\n").read_bytes()
    md = srv.maildir(name)
    st = md.stat()
    (md / "new" / ".hidden").write_bytes(b"Subject: hidden\r\n\r\n")
    (md / "tmp" / "1700000000.Mtmp.host").write_bytes(b"Subject: in tmp\r\n\r\n")
    os.mkdir(md / "new" / "1700000000.Mdir.host")
    os.mkfifo(md / "new" / "1700000000.Mfifo.host")
    os.symlink("/etc/passwd", md / "new" / "1700000000.Mlink.host")
    os.symlink("/etc/passwd", md / "cur" / "1700000000.Mlink2.host:2,S")
    sent = md / ".Sent"
    for d in (sent, sent / "new", sent / "cur", sent / "tmp"):
        os.mkdir(d)
    (sent / "new" / "1700000000.Msent.host").write_bytes(b"Subject: sent\r\n\r\n")
    for p in md.rglob("*"):
        os.lchown(p, st.st_uid, st.st_gid)
    c = login(srv, user)
    assert stat(c) == (1, len(real)), "something but the one message file was counted"
    assert retr(c, 1) == real
    quit_ok(c)


def test_invalid_base_names_get_valid_uids(srv, user):
    names = ["1700000001.M1 space.host", "1700000002.M2ü.host",
             "1700000003." + "L" * 100 + ".host", "1700000004.M4\x7f.host",
             "1700000005.M5.host"]
    for n in names:
        srv.put_message(user[0], f"Subject: {n!r}\r\n\r\nbody\r\n".encode(), name=n)
    c = login(srv, user)
    uids = uidl_list(c)      # uid_line checks 1..70 chars of 0x21..0x7E
    assert len(uids) == len(names) and len(set(uids.values())) == len(names), uids
    assert uids[5] == "1700000005.M5.host"
    for n in uids:
        retr(c, n)
    quit_ok(c)     # renamed to cur/ with :2,S: the uids must not change
    c = login(srv, user)
    assert uidl_list(c) == uids, "UIDLs of odd names changed when the files were renamed"
    quit_ok(c)


def test_message_renamed_by_another_reader(srv, user):
    """Another Maildir reader (IMAP, mutt) moves a message to cur/ or
    changes its flags during the session: RETR finds it by its base name,
    UIDL stays, DELE and QUIT remove it."""
    name = user[0]
    a = srv.put_message(name, message(marker()))
    b = srv.put_message(name, message(marker(), body=b"second\r\n"))
    data_a, data_b = a.read_bytes(), b.read_bytes()
    c = login(srv, user)
    uids = uidl_list(c)
    os.rename(a, srv.maildir(name) / "cur" / (a.name + ":2,S"))
    os.rename(b, srv.maildir(name) / "cur" / (b.name + ":2,F"))
    assert retr(c, 1) == data_a
    assert ok(c.multi("TOP 2 0")).body == top_of(data_b, 0)
    assert uidl_list(c) == uids
    ok(c.cmd("DELE 1"))
    quit_ok(c)
    assert srv.messages(name) == []
    assert [p.name for p in srv.messages(name, "cur")] == [b.name + ":2,F"]


def test_message_removed_by_another_program(srv, user):
    name = user[0]
    a = srv.put_message(name, message(marker()))
    b = srv.put_message(name, message(marker(), body=b"second\r\n"))
    c = login(srv, user)
    os.unlink(a)
    err(c.cmd("RETR 1"), "RETR of a file removed meanwhile")
    err(c.cmd("TOP 1 0"), "TOP of a file removed meanwhile")
    assert retr(c, 2) == b.read_bytes()
    ok(c.cmd("DELE 1"))
    quit_ok(c)        # a message already gone counts as deleted
    assert [p.name for p in srv.messages(name, "cur")] == [b.name + ":2,S"]


# ---------------------------------------------------------------- ends of sessions

def test_quit_ends_the_pipeline(srv, user):
    srv.smtp_deliver(user[0], message(marker()))
    c = login(srv, user)
    c.send(b"DELE 1\r\nQUIT\r\nRSET\r\nNOOP\r\n")
    ok(c.reply(), "DELE")
    ok(c.reply(), "QUIT")
    c.expect_closed()       # nothing after QUIT is answered
    assert srv.messages(user[0]) == []


def test_idle_timeout_deletes_nothing(make_mailserver):
    srv = make_mailserver(limits={"pop3_timeout": 1})
    stored = srv.smtp_deliver("alice", message(marker()))
    c = login(srv, ("alice", "alice-Secret-1"))
    retr(c, 1)
    ok(c.cmd("DELE 1"))
    t0 = time.monotonic()
    r = c.reply(timeout=10)
    waited = time.monotonic() - t0
    err(r, "the idle timeout")
    assert 0.8 <= waited <= 5, f"timed out after {waited:.1f}s with pop3_timeout = 1"
    c.expect_closed()
    c = login(srv, ("alice", "alice-Secret-1"))
    assert stat(c) == (1, len(stored)), "a timeout after DELE deleted the message"
    quit_ok(c)
    assert srv.read_messages("alice") == [stored], "a timeout after RETR marked the message seen"


def test_sigterm_ends_sessions_without_deleting(make_mailserver):
    srv = make_mailserver()
    stored = srv.smtp_deliver("alice", message(marker()))
    c = login(srv, ("alice", "alice-Secret-1"))
    ok(c.cmd("DELE 1"))
    idle = pop(srv)
    t0 = time.monotonic()
    rc = srv.stop()
    assert rc == 0, f"posthornd exit status {rc}"
    assert time.monotonic() - t0 < 10, "SIGTERM waited for idle POP3 sessions"
    for cl in (c, idle):
        try:
            r = cl.reply(timeout=5)
            err(r, "session at shutdown")
            assert r.code in (None, "SYS/TEMP"), r
        except ConnectionError:
            pass       # closed without a word is fine too
        cl.expect_closed()
    srv.start()
    c = login(srv, ("alice", "alice-Secret-1"))
    assert stat(c) == (1, len(stored)), "SIGTERM during a session deleted a DELEd message"
    quit_ok(c)


def test_sigterm_lets_a_running_retr_finish(make_mailserver):
    srv = make_mailserver()
    big = b"Subject: big\r\n\r\n" + b"".join(b"%07d %s\r\n" % (i, b"w" * 70) for i in range(60000))
    srv.put_message("alice", big)
    c = login(srv, ("alice", "alice-Secret-1"))
    c.send(b"RETR 1\r\n")
    first = c.sock.recv(65536)
    assert first.startswith(b"+OK"), first[:100]
    c.buf = first
    result = {}
    stopper = threading.Thread(target=lambda: result.setdefault("rc", srv.stop()))
    stopper.start()
    time.sleep(0.3)
    r = c.multi_reply(timeout=20)
    assert r.ok and r.body == big, "the RETR running at SIGTERM was cut short"
    try:
        r = c.reply(timeout=10)
        err(r, "after the RETR at shutdown")
    except ConnectionError:
        pass
    c.expect_closed(10)
    stopper.join(30)
    assert result.get("rc") == 0, f"posthornd exit status {result.get('rc')}"


def test_kill9_releases_lock_and_deletes_nothing(make_mailserver):
    srv = make_mailserver()
    stored = srv.smtp_deliver("alice", message(marker()))
    u = ("alice", "alice-Secret-1")
    c = login(srv, u)
    retr(c, 1)
    ok(c.cmd("DELE 1"))
    srv.kill9()
    c.close()
    srv.start()
    c = wait_login(srv, u, seconds=2.0)
    assert stat(c) == (1, len(stored))
    quit_ok(c)


# ---------------------------------------------------------------- connections

def test_stls_then_plaintext_is_not_a_command(srv):
    """After "+OK" to STLS only a TLS handshake may follow: plaintext
    commands sent instead are never answered as commands."""
    c = pop(srv)
    ok(c.cmd("STLS"))
    c.send(b"USER alice\r\nPASS alice-Secret-1\r\nSTAT\r\n")
    data = b""
    deadline = time.monotonic() + 5
    c.sock.settimeout(1)
    while time.monotonic() < deadline:
        try:
            chunk = c.sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionError:
            break
        if not chunk:
            break
        data += chunk
    else:
        raise AssertionError("connection still open 5s after plaintext in place of a TLS handshake")
    assert not data.startswith((b"+", b"-")), f"plaintext answered after STLS: {data[:200]!r}"


def test_output_backpressure(srv, user):
    """Several big RETRs pipelined while the client does not read: all
    arrive complete, in order, once it does."""
    big = srv.put_message(user[0], b"Subject: big\r\n\r\n" +
                          b"".join(b"%06d %s\r\n" % (i, b"b" * 90) for i in range(10000))).read_bytes()
    c = login(srv, user)
    c.send(b"RETR 1\r\n" * 6 + b"NOOP\r\nQUIT\r\n")
    time.sleep(0.5)
    for i in range(6):
        assert ok(c.multi_reply(timeout=20), f"RETR {i}").body == big
    ok(c.reply(), "NOOP")
    ok(c.reply(), "QUIT")
    c.expect_closed()


def test_slow_reader_does_not_stall_others(srv, user):
    name = user[0]
    srv.put_message(name, b"Subject: huge\r\n\r\n" +
                    b"".join(b"%07d %s\r\n" % (i, b"h" * 90) for i in range(80000)))   # ~8 MB
    stuck = login(srv, user)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.send(b"RETR 1\r\n")        # and never read
    time.sleep(0.3)
    t0 = time.monotonic()
    other = login(srv, ("bob", USERS["bob"]))
    stat(other)
    ok(other.multi("CAPA"))
    quit_ok(other)
    took = time.monotonic() - t0
    assert took < 3, f"another session took {took:.1f}s while one client did not read its RETR"
    drop(stuck)
    c = wait_login(srv, user)
    assert stat(c)[0] == 1
    quit_ok(c)


def test_connections_per_ip_limit(make_mailserver):
    srv = make_mailserver(limits={"connections_per_ip": 2})
    a, b = pop(srv), pop(srv)
    c = Pop3Client(HOST, srv.pop3_port, timeout=TIMEOUT)
    r = c.reply()
    err(r, "a connection over connections_per_ip")
    assert r.code in (None, "SYS/TEMP"), r
    c.expect_closed()
    ok(a.multi("CAPA"))     # the others go on
    quit_ok(a)
    c = pop(srv)        # room again
    quit_ok(c)
    quit_ok(b)
