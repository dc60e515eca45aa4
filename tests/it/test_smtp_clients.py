"""posthornd with clients we did not write (issue 3): Python's smtplib and
email package (plain, 8-bit, SMTPUTF8, multipart with attachments; STARTTLS,
SMTPS, AUTH) and swaks (STARTTLS + AUTH PLAIN/LOGIN on submission, implicit
TLS on SMTPS); AUTH policy: refused before TLS, 530 without AUTH on
submission, 535 and then 421 on wrong passwords; relaying for authenticated
users; Date/Message-ID added on submission only."""
import email
import email.policy
import email.utils
import random
import re
import smtplib
import ssl
import subprocess
import time
import uuid
from email.message import EmailMessage

import pytest

from mailserver import (DOMAIN, HOST, HOSTNAME, USERS, SmtpClient, _Servers,
                        auth_plain, b64, check_delivery, crlf, find_marker,
                        make_mailserver, mailserver_module, same_message,
                        split_trace)

# make_mailserver and mailserver_module above are fixtures.

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
SENDER = "sender@remote.test"
TIMEOUT = 15


def marker():
    return uuid.uuid4().hex


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Recording:
    """Mixed into smtplib.SMTP(_SSL): remembers the message bytes it
    handed to DATA in self.sent."""
    def __init__(self, *a, **kw):
        self.sent = []
        super().__init__(*a, **kw)

    def data(self, msg):
        self.sent.append(msg)
        return super().data(msg)


class RecordingSMTP(_Recording, smtplib.SMTP):
    pass


class RecordingSMTP_SSL(_Recording, smtplib.SMTP_SSL):
    pass


def wire(sent):
    """What smtplib put on the wire for msg bytes (before dot-stuffing)."""
    return sent if sent.endswith(b"\r\n") else sent + b"\r\n"


def smtp(srv, port=None, helo="smtplib.example"):
    s = RecordingSMTP(HOST, port or srv.smtp_port, local_hostname=helo, timeout=TIMEOUT)
    return s


def new_message(mark, to=ALICE, frm=f"Sender <{SENDER}>", policy=email.policy.SMTP):
    m = EmailMessage(policy=policy)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = f"test {mark}"
    m["Date"] = email.utils.formatdate(localtime=False)
    m["Message-ID"] = f"<{mark}@remote.test>"
    return m


def delivered_one(srv, user, mark):
    got = find_marker(srv, user, mark)
    assert len(got) == 1, f"{user}: {len(got)} copies of {mark}"
    return got[0]


def delivered_as(srv, user, mark, sent, sender, proto, for_rcpt=None, helo="smtplib.example"):
    """delivered_one, and that one copy is sent with check_delivery's trace
    (no "for" clause when for_rcpt is None). Returns the stored bytes."""
    raw = delivered_one(srv, user, mark)
    check_delivery(raw, sent, sender, helo, proto, for_rcpt=for_rcpt)
    return raw


def session(srv, port=None, tls=False):
    """A raw SMTP session after the greeting and EHLO client.example; with
    tls also STARTTLS and the EHLO again."""
    c = SmtpClient(HOST, port or srv.smtp_port)
    c.greeting()
    c.cmd("EHLO client.example")
    if tls:
        assert c.cmd("STARTTLS").code == 220
        c.starttls()
        c.cmd("EHLO client.example")
    return c


def submission(srv, user="alice"):
    """smtplib on the submission port, after STARTTLS and LOGIN as user."""
    s = smtp(srv, port=srv.submission_port)
    s.starttls(context=tls_context())
    s.login(user, USERS[user])
    return s


# ---------------------------------------------------------------- smtplib

def test_smtplib_plain(mailserver_module):
    srv = mailserver_module
    mark = marker()
    m = new_message(mark)
    m.set_content("Hello Alice,\n\nplain ASCII text.\n.\n..leading dots\n-- \nSender\n")
    with smtp(srv) as s:
        s.ehlo()
        assert s.has_extn("pipelining") and s.has_extn("8bitmime")
        refused = s.send_message(m)
        assert refused == {}
        sent = wire(s.sent[0])
    delivered_as(srv, "alice", mark, sent, SENDER, "ESMTP", for_rcpt=ALICE)


def test_smtplib_8bitmime(mailserver_module):
    srv = mailserver_module
    mark = marker()
    # raw Latin-1 bytes (not UTF-8) and UTF-8 in one body: stored as is
    head = crlf(f"From: <{SENDER}>\nTo: <{ALICE}>\nSubject: 8bit {mark}\n"
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
                "Content-Transfer-Encoding: 8bit\n\n")
    body = "Grüße aus Köln, déjà vu, ½ € ÿ\r\n".encode("latin-1", "replace") + \
        bytes(range(0x80, 0x100)) + b"\r\n" + "UTF-8 too: 你好\r\n".encode()
    sent = head + body
    with smtp(srv) as s:
        s.ehlo()
        refused = s.sendmail(SENDER, [ALICE], sent, mail_options=["BODY=8BITMIME"])
        assert refused == {}
    delivered_as(srv, "alice", mark, sent, SENDER, "ESMTP", for_rcpt=ALICE)


def test_smtplib_smtputf8_headers(mailserver_module):
    srv = mailserver_module
    mark = marker()
    m = new_message(mark, frm="Jörg Müller <sender@remote.test>",
                    to="Алиса <alice@example.test>", policy=email.policy.SMTPUTF8)
    del m["Subject"]
    m["Subject"] = f"Grüße — 你好 — {mark}"
    m.set_content("Unicode body: 你好, мир, ΚΑΛΗΜΕΡΑ.\n", cte="8bit")
    with smtp(srv) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        refused = s.send_message(m, mail_options=["SMTPUTF8"])
        assert refused == {}
        sent = wire(s.sent[0])
    assert "Grüße".encode() in sent  # raw UTF-8 header, not an encoded-word
    raw = delivered_as(srv, "alice", mark, sent, SENDER, "ESMTP", for_rcpt=ALICE)
    parsed = email.message_from_bytes(split_trace(raw)[1], policy=email.policy.default)
    assert parsed["Subject"] == f"Grüße — 你好 — {mark}"


def test_smtplib_utf8_envelope_sender(mailserver_module):
    srv = mailserver_module
    mark = marker()
    sender = "jörg@bücher.example"
    m = new_message(mark, frm=f"Jörg <{sender}>", policy=email.policy.SMTPUTF8)
    m.set_content("Envelope sender in UTF-8.\n")
    with smtp(srv) as s:
        s.ehlo()
        # smtplib adds SMTPUTF8 and BODY=8BITMIME itself for a UTF-8 envelope
        refused = s.send_message(m, from_addr=sender, to_addrs=[ALICE])
        assert refused == {}
        sent = wire(s.sent[0])
    delivered_as(srv, "alice", mark, sent, sender, "ESMTP", for_rcpt=ALICE)


def test_utf8_address_without_smtputf8_refused(mailserver_module):
    srv = mailserver_module
    c = session(srv)
    r = c.cmd("MAIL FROM:<jörg@bücher.example>")
    assert r.code in (501, 553), f"UTF-8 address accepted without SMTPUTF8: {r}"
    assert r.enhanced and r.enhanced.startswith("5."), r
    r = c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8")
    assert r.code == 250, r
    assert c.cmd("QUIT").code == 221


def test_smtplib_multipart_attachments(mailserver_module):
    srv = mailserver_module
    mark = marker()
    rng = random.Random(3)
    blob = bytes(rng.randrange(256) for _ in range(120_000))
    csv = "name;city\nJörg;Köln\n王小明;北京\n".encode("utf-8")
    m = new_message(mark, to=f"Alice <{ALICE}>, Bob <{BOB}>")
    m.set_content("Plain text part.\n")
    m.add_alternative("<html><body><p>HTML part</p></body></html>\n", subtype="html")
    m.add_attachment(blob, maintype="application", subtype="octet-stream", filename="blob.bin")
    m.add_attachment(csv, maintype="text", subtype="csv", filename="Bericht-Ü.csv")
    inner = new_message(marker())
    inner.set_content("a forwarded message\n")
    m.add_attachment(inner)
    with smtp(srv) as s:
        refused = s.send_message(m)
        assert refused == {}
        sent = wire(s.sent[0])
    for user, rcpt in (("alice", ALICE), ("bob", BOB)):
        raw = delivered_as(srv, user, mark, sent, SENDER, "ESMTP")  # 2 rcpts: no "for"
        parsed = email.message_from_bytes(split_trace(raw)[1], policy=email.policy.default)
        atts = {p.get_filename(): p.get_payload(decode=True) for p in parsed.iter_attachments()
                if p.get_filename()}
        assert atts["blob.bin"] == blob
        assert atts["Bericht-Ü.csv"] == csv


def test_smtplib_starttls_is_esmtps(mailserver_module):
    srv = mailserver_module
    mark = marker()
    m = new_message(mark)
    m.set_content("over STARTTLS\n")
    with smtp(srv) as s:
        s.starttls(context=tls_context())
        s.ehlo()
        assert not s.has_extn("starttls")
        s.send_message(m)
        sent = wire(s.sent[0])
    delivered_as(srv, "alice", mark, sent, SENDER, "ESMTPS", for_rcpt=ALICE)


def test_smtplib_plaintext_auth_on_loopback_is_esmtpa_and_may_relay(mailserver_module):
    # init sets plaintext_auth_loopback = yes: AUTH works on 127.0.0.1
    # without TLS, and an authenticated user may relay (queued).
    srv = mailserver_module
    before = set(srv.queue_items())
    mark = marker()
    m = new_message(mark, to="friend@elsewhere.test", frm=f"Alice <{ALICE}>")
    m.set_content("relay me\n")
    with smtp(srv) as s:
        s.login("alice", USERS["alice"])
        s.send_message(m)
        sent = wire(s.sent[0])
    new = {k: v for k, v in srv.queue_items().items() if k not in before}
    assert len(new) == 1, new
    msg, env = next(iter(new.values()))
    check_delivery(msg, sent, ALICE, "smtplib.example", "ESMTPA", for_rcpt="friend@elsewhere.test")
    assert re.findall(r"^rcpt (\S+) (\S+)", env, re.M) == [("friend@elsewhere.test", "pending")], env
    assert re.search(rf"^sender {re.escape(ALICE)}$", env, re.M), env


def test_smtplib_submission_starttls_login(mailserver_module):
    srv = mailserver_module
    mark = marker()
    m = new_message(mark, to=BOB, frm=f"Alice <{ALICE}>")
    m.set_content("submitted\n")
    with submission(srv) as s:
        s.send_message(m)
        sent = wire(s.sent[0])
    delivered_as(srv, "bob", mark, sent, ALICE, "ESMTPSA", for_rcpt=BOB)


def test_smtplib_smtps_login(mailserver_module):
    srv = mailserver_module
    mark = marker()
    m = new_message(mark, to=BOB, frm=f"Alice <{ALICE}>")
    m.set_content("implicit TLS\n")
    with RecordingSMTP_SSL(HOST, srv.smtps_port, local_hostname="smtplib.example",
                           timeout=TIMEOUT, context=tls_context()) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert "PLAIN" in s.esmtp_features.get("auth", "").upper().split()
        s.login("alice", USERS["alice"])
        s.send_message(m)
        sent = wire(s.sent[0])
    delivered_as(srv, "bob", mark, sent, ALICE, "ESMTPSA", for_rcpt=BOB)


def test_submission_requires_auth_530(mailserver_module):
    srv = mailserver_module
    c = session(srv, srv.submission_port)
    r = c.cmd(f"MAIL FROM:<{ALICE}>")
    assert r.code == 530 and r.enhanced == "5.7.0", r
    assert c.cmd("STARTTLS").code == 220
    c.starttls()
    c.cmd("EHLO client.example")
    r = c.cmd(f"MAIL FROM:<{ALICE}>")
    assert r.code == 530 and r.enhanced == "5.7.0", r
    # the session is still usable: authenticate and send
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"]))
    assert r.code == 235 and r.enhanced == "2.7.0", r
    assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
    assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
    assert c.cmd("DATA").code == 354
    mark = marker()
    sent = crlf(f"From: <{ALICE}>\nTo: <{BOB}>\nSubject: {mark}\n"
                f"Date: Sun, 23 Nov 2025 12:00:00 +0000\nMessage-ID: <{mark}@example.test>\n\nbody\n")
    c.send(sent + b".\r\n")
    assert c.reply().code == 250
    delivered_as(srv, "bob", mark, sent, ALICE, "ESMTPSA", for_rcpt=BOB, helo="client.example")


def test_auth_login_and_plain_dialogues(mailserver_module):
    srv = mailserver_module
    c = session(srv, srv.submission_port, tls=True)
    # LOGIN, cancelled with "*"
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334 and b64("Username:") == r.text, r
    r = c.cmd("*")
    assert r.code == 501, r
    # PLAIN with an empty initial response then the response
    r = c.cmd("AUTH PLAIN")
    assert r.code == 334, r
    r = c.cmd("not base64!!")
    assert r.code == 501 and r.enhanced and r.enhanced.startswith("5.5."), r
    # LOGIN done right
    r = c.cmd("AUTH LOGIN " + b64("bob"))
    assert r.code == 334 and r.text == b64("Password:"), r
    r = c.cmd(b64(USERS["bob"]))
    assert r.code == 235 and r.enhanced == "2.7.0", r
    # once is enough
    r = c.cmd("AUTH PLAIN " + auth_plain("bob", USERS["bob"]))
    assert r.code == 503, r
    assert c.cmd(f"MAIL FROM:<{BOB}>").code == 250
    r = c.cmd("AUTH PLAIN " + auth_plain("bob", USERS["bob"]))
    assert r.code == 503, r
    c.cmd("QUIT")


def test_submission_adds_date_and_message_id(mailserver_module):
    srv = mailserver_module
    mark = marker()
    sent = crlf(f"From: Alice <{ALICE}>\nTo: <{BOB}>\nSubject: no date {mark}\n\nbody line\n")
    with submission(srv) as s:
        s.sendmail(ALICE, [BOB], sent)
    raw = delivered_one(srv, "bob", mark)
    trace, rest = split_trace(raw)
    parsed = email.message_from_bytes(rest, policy=email.policy.compat32)
    assert len(parsed.get_all("Date", [])) == 1, rest[:500]
    assert len(parsed.get_all("Message-ID", [])) == 1, rest[:500]
    assert email.utils.parsedate_to_datetime(parsed["Date"]) is not None
    assert re.fullmatch(r"\s*<[^<>@\s]+@[^<>@\s]+>\s*", parsed["Message-ID"]), parsed["Message-ID"]
    # removing the two added fields gives back exactly what was sent
    stripped = re.sub(rb"(?im)^(Date|Message-ID):[^\n]*\n([ \t][^\n]*\n)*", b"", rest)
    assert same_message(stripped, sent), (stripped, sent)


def test_submission_keeps_existing_date_and_message_id(mailserver_module):
    srv = mailserver_module
    mark = marker()
    sent = crlf(f"From: Alice <{ALICE}>\nTo: <{BOB}>\nSubject: has date {mark}\n"
                f"Date: Mon, 1 Jan 2024 00:00:00 +0100\nMessage-ID: <{mark}@x.test>\n\nbody\n")
    with submission(srv) as s:
        s.sendmail(ALICE, [BOB], sent)
        wire_sent = wire(s.sent[0])
    delivered_as(srv, "bob", mark, wire_sent, ALICE, "ESMTPSA", for_rcpt=BOB)


def test_port25_adds_nothing(mailserver_module):
    # RFC 5321 6.4: only trace fields are added in transit.
    srv = mailserver_module
    mark = marker()
    sent = crlf(f"From: <{SENDER}>\nTo: <{ALICE}>\nSubject: bare {mark}\n\nno date, no id\n")
    with smtp(srv) as s:
        s.sendmail(SENDER, [ALICE], sent)
    delivered_as(srv, "alice", mark, sent, SENDER, "ESMTP", for_rcpt=ALICE)


# ---------------------------------------------------------------- swaks

def swaks(*args, timeout=60):
    return subprocess.run(["swaks", "--server", HOST, "--timeout", "15",
                           "--helo", "swaks.example", *map(str, args)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def swaks_send(srv, port, *extra, to=BOB, frm=ALICE, ok=True):
    """One message by swaks; asserts swaks succeeded (ok) or failed and
    nothing reached the recipient (not ok). Returns (mark, swaks output)."""
    mark = marker()
    p = swaks("--port", port, "--from", frm, "--to", to,
              "--header", f"Subject: swaks {mark}", "--body", f"swaks body {mark}\n",
              *extra)
    out = p.stdout.decode(errors="replace")
    if ok:
        assert p.returncode == 0, out
    else:
        assert p.returncode != 0, out
        assert find_marker(srv, to.split("@")[0], mark) == [], out
    return mark, out


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_submission_starttls_auth(mailserver_module, mech):
    srv = mailserver_module
    mark, out = swaks_send(srv, srv.submission_port, "--tls", "--auth", mech,
                           "--auth-user", "alice", "--auth-password", USERS["alice"])
    assert re.search(r"^<~\s+235 2\.7\.0", out, re.M), out  # AUTH answered inside TLS
    raw = delivered_one(srv, "bob", mark)
    trace, rest = split_trace(raw)
    assert re.search(r"\swith ESMTPSA[\s;]", trace[1][1]), trace
    assert f"swaks body {mark}".encode() in rest


def test_swaks_smtps_implicit_tls(mailserver_module):
    srv = mailserver_module
    mark, _ = swaks_send(srv, srv.smtps_port, "--tlsc", "--auth", "PLAIN",
                         "--auth-user", "alice", "--auth-password", USERS["alice"])
    raw = delivered_one(srv, "bob", mark)
    trace, _ = split_trace(raw)
    assert re.search(r"\swith ESMTPSA[\s;]", trace[1][1]), trace


def test_swaks_submission_without_auth_530(mailserver_module):
    srv = mailserver_module
    _, out = swaks_send(srv, srv.submission_port, "--tls", ok=False)
    assert re.search(r"^<[~*]\*\s+530 5\.7\.0", out, re.M), out


def test_swaks_wrong_password_535(mailserver_module):
    srv = mailserver_module
    _, out = swaks_send(srv, srv.submission_port, "--tls", "--auth", "PLAIN",
                        "--auth-user", "alice", "--auth-password", "wrong", ok=False)
    assert re.search(r"^<[~*]\*\s+535 5\.7\.8", out, re.M), out


def test_smtps_plain_client_gets_no_smtp(mailserver_module):
    # a plaintext client on the implicit TLS port sees no SMTP greeting
    srv = mailserver_module
    s = SmtpClient(HOST, srv.smtps_port, timeout=3)
    s.send(b"EHLO client.example\r\n")
    try:
        data = s.sock.recv(4096)
    except (TimeoutError, OSError):
        data = b""
    assert not data.startswith(b"220") and not data.startswith(b"250"), data
    s.close()


# ---------------------------------------------------------------- AUTH policy

@pytest.fixture(scope="module")
def strict_auth_server():
    servers = _Servers()
    srv = servers.make(config={"plaintext_auth_loopback": "no"},
                       limits={"auth_failures": 2, "auth_delay_ms": 300})
    yield srv
    servers.teardown()


@pytest.mark.parametrize("proto", ["smtp", "submission"])
def test_auth_refused_before_tls_538(strict_auth_server, proto):
    srv = strict_auth_server
    c = SmtpClient(HOST, srv.port(proto))
    c.greeting()
    r = c.cmd("EHLO client.example")
    kw = [l.split()[0].upper() for l in r.lines[1:]]
    assert "AUTH" not in kw, f"AUTH advertised before TLS: {r.lines}"
    assert "STARTTLS" in kw, r.lines
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"]))
    assert r.code == 538 and r.enhanced == "5.7.11", r
    r = c.cmd("AUTH LOGIN")
    assert r.code == 538 and r.enhanced == "5.7.11", r
    # after STARTTLS the same credentials work
    assert c.cmd("STARTTLS").code == 220
    c.starttls()
    r = c.cmd("EHLO client.example")
    assert "AUTH" in [l.split()[0].upper() for l in r.lines[1:]], r.lines
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"]))
    assert r.code == 235, r
    c.cmd("QUIT")


def test_swaks_auth_without_tls_fails(strict_auth_server):
    srv = strict_auth_server
    swaks_send(srv, srv.submission_port, "--auth", "PLAIN",
               "--auth-user", "alice", "--auth-password", USERS["alice"], ok=False)


def test_auth_failures_delay_then_421(strict_auth_server):
    srv = strict_auth_server  # auth_failures = 2, auth_delay_ms = 300
    c = session(srv, srv.submission_port, tls=True)
    t0 = time.monotonic()
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", "wrong-password"))
    assert r.code == 535 and r.enhanced == "5.7.8", r
    assert time.monotonic() - t0 >= 0.25, "failed AUTH answered without the configured delay"
    # an unknown user gets the very same answer; this second failure is
    # the last one allowed (auth_failures = 2): 421 follows and the
    # connection closes
    r2 = c.cmd("AUTH PLAIN " + auth_plain("nosuchuser", "whatever"))
    if r2.code == 535:
        assert r2.text == r.text, (r, r2)
        r2 = c.reply()
    assert r2.code == 421 and r2.enhanced and r2.enhanced.startswith("4."), \
        f"no 421 after 2 failed AUTH attempts: {r2}"
    c.expect_closed()
    # others are not locked out: a fresh connection authenticates
    c = session(srv, srv.submission_port, tls=True)
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"]))
    assert r.code == 235, r
    c.cmd("QUIT")


def _failed_auth_seconds(srv):
    """One connection, one wrong AUTH PLAIN: how long the 535 took."""
    c = session(srv, srv.port("smtp"))
    t0 = time.monotonic()
    r = c.cmd("AUTH PLAIN " + auth_plain("alice", "wrong-password"))
    took = time.monotonic() - t0
    assert r.code == 535, r
    c.cmd("QUIT")
    c.close()
    return took


def test_auth_failures_counted_per_address_across_sessions(make_mailserver):
    """A guesser that reconnects for every try is slowed down as much as
    one that stays: failed AUTHs from one address double the delay across
    sessions, and POP3 logins count in the same tally (auth/throttle)."""
    import poplib
    srv = make_mailserver(limits={"auth_delay_ms": 100, "auth_failures": 1000})
    times = [_failed_auth_seconds(srv) for _ in range(3)]
    assert times[0] >= 0.09, times
    assert times[1] >= 0.19 and times[2] >= 0.39, \
        f"delay did not grow across new connections: {times}"
    p = poplib.POP3(HOST, srv.port("pop3"), timeout=10)
    p.user("alice")
    t0 = time.monotonic()
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong-password")
    assert time.monotonic() - t0 >= 0.79, "POP3 did not share the SMTP tally"
    p.quit()
    # a good login clears the address's count
    c = session(srv, srv.port("smtp"))
    assert c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"])).code == 235
    c.cmd("QUIT")
    c.close()
    assert _failed_auth_seconds(srv) < 0.3


# ---------------------------------------------------------------- config errors

def test_config_error_names_file_and_line(make_mailserver):
    import subprocess as sp
    from mailserver import POSTHORND
    srv = make_mailserver(start=False)
    text = srv.conf.read_text()
    lines = text.split("\n")
    lines.insert(3, "no_such_key = 1")
    srv.conf.write_text("\n".join(lines))
    p = sp.run([str(POSTHORND), "-c", str(srv.conf), "-f"], stdin=sp.DEVNULL,
               stdout=sp.PIPE, stderr=sp.PIPE, timeout=30)
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, err
    assert f"{srv.conf}:4:" in err or "posthorn.conf:4:" in err, err
    assert "no_such_key" in err, err


def test_missing_certificate_is_refused(make_mailserver):
    import subprocess as sp
    from mailserver import POSTHORND
    srv = make_mailserver(start=False)
    cert = srv.dir / "tls" / "cert.pem"
    assert cert.exists()
    cert.unlink()
    p = sp.run([str(POSTHORND), "-c", str(srv.conf), "-f"], stdin=sp.DEVNULL,
               stdout=sp.PIPE, stderr=sp.PIPE, timeout=30)
    err = p.stderr.decode(errors="replace")
    assert p.returncode != 0, err
    assert "cert.pem" in err, err
    c = srv.ctl("check")
    assert c.returncode != 0
    assert b"cert.pem" in c.stdout + c.stderr


def test_queue_envelope_records_body_and_smtputf8(mailserver_module):
    srv = mailserver_module
    before = set(srv.queue_items())
    mark = marker()
    sender = "jörg@bücher.example"
    sent = crlf(f"From: <{sender}>\nTo: <ünï@remote.test>\nSubject: {mark}\n\nGrüße\n")
    c = session(srv)
    assert c.cmd("AUTH PLAIN " + auth_plain("alice", USERS["alice"])).code == 235
    assert c.cmd(f"MAIL FROM:<{sender}> BODY=8BITMIME SMTPUTF8").code == 250
    assert c.cmd("RCPT TO:<ünï@remote.test>").code == 250
    assert c.cmd("RCPT TO:<plain@remote.test>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(sent + b".\r\n")
    assert c.reply().code == 250
    c.cmd("QUIT")
    new = {k: v for k, v in srv.queue_items().items() if k not in before}
    assert len(new) == 1, new
    msg, env = next(iter(new.values()))
    check_delivery(msg, sent, sender, "client.example", "ESMTPA")
    assert re.search(r"^body 8bitmime$", env, re.M), env
    assert re.search(r"^smtputf8 1$", env, re.M), env
    assert re.search(rf"^sender {re.escape(sender)}$", env, re.M), env
    assert sorted(re.findall(r"^rcpt (\S+) pending", env, re.M)) == \
        sorted(["ünï@remote.test", "plain@remote.test"]), env


def test_auth_plain_proxy_login_refused(mailserver_module):
    # an authzid that differs from the user is refused (no proxy login)
    srv = mailserver_module
    c = session(srv)
    r = c.cmd("AUTH PLAIN " + b64(b"bob\0alice\0" + USERS["alice"].encode()))
    assert r.code in (535, 501), r
    # the same user as authzid is fine
    r = c.cmd("AUTH PLAIN " + b64(b"alice\0alice\0" + USERS["alice"].encode()))
    assert r.code == 235, r
    c.cmd("QUIT")


def test_smtps_offers_no_starttls(mailserver_module):
    srv = mailserver_module
    c = SmtpClient(HOST, srv.smtps_port, implicit_tls=True)
    assert c.greeting().code == 220
    r = c.cmd("EHLO client.example")
    kw = [l.split()[0].upper() for l in r.lines[1:]]
    assert "STARTTLS" not in kw and "AUTH" in kw, r.lines
    r = c.cmd("STARTTLS")
    assert r.code in (502, 503, 554), r
    # smtps is submission: AUTH first
    r = c.cmd(f"MAIL FROM:<{ALICE}>")
    assert r.code == 530, r
    c.cmd("QUIT")
