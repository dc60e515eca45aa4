"""SMTP protocol tests over raw sockets against a real posthornd (issue 3):
the seed's dialogue, every reply code at the moment RFC 5321 and the issue
call for it (with the session still usable afterwards), pipelining, STARTTLS
command injection, dot-stuffing, DATA smuggling, bare LF, BDAT, limits,
relaying, aliases, VRFY/EXPN."""
import re
import time
import uuid

import pytest

from mailserver import (DOMAIN, HOST, HOSTNAME, SmtpClient, _Servers,
                        check_delivery, crlf, dot_stuff,
                        find_marker, make_mailserver, mailserver_module,
                        same_message, split_trace)

# make_mailserver and mailserver_module above are fixtures.

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN
CAROL = "carol@" + DOMAIN
SENDER = "sender@remote.test"


def marker():
    return uuid.uuid4().hex


def message(mark, to=ALICE, body=b"Hello from the test suite.\r\n", subject=None):
    head = crlf(f"From: Sender <{SENDER}>\nTo: <{to}>\n"
                f"Subject: {subject or 'test ' + mark}\n"
                f"Date: Sun, 23 Nov 2025 12:00:00 +0000\n"
                f"Message-ID: <{mark}@remote.test>\n\n")
    return head + body


def connect(srv, port=None, ehlo="client.example", tls=False):
    c = SmtpClient(HOST, port or srv.smtp_port, implicit_tls=tls)
    g = c.greeting()
    assert g.code == 220, g
    if ehlo:
        r = c.cmd(f"EHLO {ehlo}")
        assert r.code == 250, r
    return c


def send_ok(c, rcpts=(ALICE,), mark=None, sender=SENDER, msg=None):
    """A complete transaction that must succeed; returns (mark, sent bytes)."""
    mark = mark or marker()
    msg = msg if msg is not None else message(mark, to=rcpts[0])
    r = c.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 250, r
    for rc in rcpts:
        r = c.cmd(f"RCPT TO:<{rc}>")
        assert r.code == 250, (rc, r)
    r = c.cmd("DATA")
    assert r.code == 354, r
    r = end_data(c, dot_stuff(msg))
    assert r.enhanced == "2.0.0", f"no enhanced status code on the 250 to DATA: {r}"
    return mark, msg


def start_data(c, rcpt=ALICE, mail=f"MAIL FROM:<{SENDER}>"):
    """MAIL, one RCPT and DATA, each answered as it must be: ready for text."""
    expect(c, mail, 250)
    expect(c, f"RCPT TO:<{rcpt}>", 250)
    expect(c, "DATA", 354, False)  # 354 has no enhanced code requirement


def end_data(c, wire, code=250):
    """Sends wire (already in the form it takes on the wire) and the final
    dot; asserts the reply code and returns the reply."""
    c.send(wire + b".\r\n")
    r = c.reply()
    assert r.code == code, r
    return r


def delivered_once(srv, mark, sent, user="alice", for_rcpt=ALICE, helo="client.example",
                   proto="ESMTP", sender=SENDER):
    """The message marked mark is in user's Maildir exactly once, stored as
    sent with check_delivery's trace; returns its Received value."""
    got = find_marker(srv, user, mark)
    assert len(got) == 1, (user, len(got))
    return check_delivery(got[0], sent, sender, helo, proto, for_rcpt=for_rcpt)


def data_ok(srv, c, user="alice", rcpt=ALICE, proto="ESMTP"):
    """DATA and a fresh message in the open transaction (MAIL FROM SENDER,
    rcpt the one accepted RCPT): it is taken and delivered to user once.
    Returns (mark, sent bytes)."""
    expect(c, "DATA", 354, False)
    mark = marker()
    sent = message(mark, to=rcpt)
    end_data(c, sent)
    delivered_once(srv, mark, sent, user=user, for_rcpt=rcpt, proto=proto)
    return mark, sent


def assert_usable(srv, c, user="alice"):
    """The session still delivers a message after whatever went before."""
    mark, _ = send_ok(c, rcpts=(f"{user}@{DOMAIN}",))
    got = find_marker(srv, user, mark)
    assert len(got) == 1, f"message after the error delivered {len(got)} times"


def expect(c, line, code, enhanced=None):
    """Sends line, asserts the reply code and the enhanced status code:
    enhanced "5.1.1" exact, "5.5." a prefix, False unchecked (354, EHLO),
    None any whose class matches the code (RFC 2034)."""
    r = c.cmd(line)
    assert r.code == code, f"{line!r}: expected {code}, got {r}"
    if enhanced is False:
        pass
    elif enhanced is not None:
        if enhanced.endswith("."):
            assert r.enhanced and r.enhanced.startswith(enhanced), \
                f"{line!r}: expected enhanced code {enhanced}*, got {r}"
        else:
            assert r.enhanced == enhanced, f"{line!r}: expected enhanced code {enhanced}, got {r}"
    else:
        # ENHANCEDSTATUSCODES is advertised: every reply after EHLO but the
        # greeting carries one (RFC 2034), with a class equal to the code's.
        assert r.enhanced and r.enhanced[0] == str(code)[0], \
            f"{line!r}: reply without a matching enhanced status code: {r}"
    return r


# ---------------------------------------------------------------- seed dialogue

def test_seed_dialogue_helo_mail_rcpt_data_quit(mailserver_module):
    srv = mailserver_module
    c = SmtpClient(HOST, srv.smtp_port)
    g = c.greeting()
    assert g.code == 220
    assert re.match(rf"{re.escape(HOSTNAME)} .*ESMTP", g.text), g
    r = c.cmd("HELO YE")
    assert r.code == 250 and len(r.lines) == 1, r
    assert r.text.startswith(HOSTNAME), r
    assert c.cmd("MAIL FROM:<ye@remote.test>").code == 250
    assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
    assert c.cmd("DATA").code == 354
    mark = marker()
    sent = message(mark, body=b"nice to meet you\r\n")
    end_data(c, sent)
    r = c.cmd("QUIT")
    assert r.code == 221, r
    c.expect_closed()
    delivered_once(srv, mark, sent, helo="YE", proto="SMTP", sender="ye@remote.test")


def test_ehlo_advertises_extensions(mailserver_module):
    c = SmtpClient(HOST, mailserver_module.smtp_port)
    c.greeting()
    r = c.cmd("EHLO client.example")
    assert r.code == 250
    assert r.lines[0].startswith(HOSTNAME), r
    kw = {l.split()[0].upper(): l.split()[1:] for l in r.lines[1:]}
    for ext in ("8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                "CHUNKING", "STARTTLS", "SIZE"):
        assert ext in kw, f"{ext} not advertised: {r.lines}"
    assert kw["SIZE"] and int(kw["SIZE"][0]) == 26214400, r.lines
    # init sets plaintext_auth_loopback = yes for a loopback listener
    assert "AUTH" in kw and {"PLAIN", "LOGIN"} <= {m.upper() for m in kw["AUTH"]}, r.lines
    # a second EHLO is allowed and answers the same
    r2 = c.cmd("EHLO client.example")
    assert r2.code == 250 and r2.lines == r.lines
    assert c.cmd("QUIT").code == 221


def test_null_sender_and_case_insensitive_domain(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark)
    start_data(c, rcpt="alice@EXAMPLE.Test", mail="MAIL FROM:<>")
    end_data(c, sent)
    delivered_once(srv, mark, sent, for_rcpt="alice@EXAMPLE.Test", sender="")
    c.cmd("QUIT")


def test_postmaster_is_accepted_without_domain(mailserver_module):
    # RFC 5321 4.5.1: "Postmaster" without a domain MUST be supported.
    c = connect(mailserver_module)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, "RCPT TO:<Postmaster>", 250)
    expect(c, "RSET", 250)
    c.cmd("QUIT")


# ---------------------------------------------------------------- error paths

def test_unknown_command_500(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, "FROBNICATE now", 500, "5.5.")
    expect(c, "MAIL", 501, "5.5.")  # known verb, missing argument
    assert_usable(srv, c)


@pytest.mark.parametrize("verb", ["SEND FROM:<a@remote.test>", "SOML FROM:<a@remote.test>",
                                  "SAML FROM:<a@remote.test>", "TURN"])
def test_rfc821_commands_502(mailserver_module, verb):
    srv = mailserver_module
    c = connect(srv)
    r = expect(c, verb, 502, "5.5.")
    assert len(r.text) > len("5.5.1 "), f"502 without a reason: {r}"
    assert_usable(srv, c)


def test_line_too_long_500_and_nothing_else_runs(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    # 1000 bytes including CRLF is the RFC 5321 limit and must pass
    line = "NOOP " + "x" * (1000 - 2 - 5)
    assert len(line) + 2 == 1000
    expect(c, line, 250)
    # one byte more is too long
    expect(c, line + "y", 500, "5.")
    # a very long line whose tail looks like commands: only one 500, the
    # tail must not run as RSET/QUIT
    c.send(b"NOOP " + b"z" * 3000 + b"RSET\r\n")
    r = c.reply()
    assert r.code == 500, r
    # the next reply belongs to the next command
    expect(c, "NOOP", 250)
    assert_usable(srv, c)


def test_bad_arguments_501(mailserver_module):
    srv = mailserver_module
    c = connect(srv, ehlo=None)
    expect(c, "EHLO", 501, "5.5.")
    expect(c, "HELO", 501, "5.5.")
    expect(c, "EHLO client.example", 250, False)
    for bad in ["MAIL FROM:<broken@remote.test", "MAIL FROM:",
                "MAIL FROM:<a b@remote.test>"]:
        c2 = connect(srv)
        r = c2.cmd(bad)
        assert r.code == 501, f"{bad!r}: {r}"
        assert r.enhanced and r.enhanced.startswith("5."), r
        assert_usable(srv, c2)
        c2.close()
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=abc", 501, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}> BODY=9BIT", 501, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    for bad in ["RCPT TO:<alice@@example.test>", "RCPT TO:<>", "RCPT TO:alice"]:
        r = c.cmd(bad)
        assert r.code == 501, f"{bad!r}: {r}"
    # the transaction survived the bad RCPTs
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    data_ok(srv, c)


def test_unknown_mail_parameter_555(mailserver_module):
    # RFC 5321 4.1.1.11 / 3.3: unrecognised MAIL/RCPT parameters get 555.
    srv = mailserver_module
    c = connect(srv)
    expect(c, f"MAIL FROM:<{SENDER}> FOO=bar", 555, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}> FOO=bar", 555, "5.5.")
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, "RSET", 250)
    assert_usable(srv, c)


def test_bad_sequence_503(mailserver_module):
    srv = mailserver_module
    c = connect(srv, ehlo=None)
    expect(c, f"MAIL FROM:<{SENDER}>", 503, "5.5.")      # before HELO/EHLO
    expect(c, "EHLO client.example", 250, False)
    expect(c, f"RCPT TO:<{ALICE}>", 503, "5.5.")          # before MAIL
    expect(c, "DATA", 503, "5.5.")                        # before MAIL
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, "DATA", 503, "5.5.")                        # before RCPT
    expect(c, "MAIL FROM:<other@remote.test>", 503, "5.5.")  # nested MAIL
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    # checks the sender too: the failed second MAIL did not replace it
    data_ok(srv, c)


def test_unknown_auth_mechanism_504(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, "AUTH CRAM-FOO", 504, "5.5.4")
    expect(c, "AUTH", 501, "5.5.")
    assert_usable(srv, c)


def test_no_such_user_550_511(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, "RCPT TO:<nobody@example.test>", 550, "5.1.1")
    expect(c, "RCPT TO:<alice.nobody@example.test>", 550, "5.1.1")
    expect(c, f"RCPT TO:<{BOB}>", 250)
    data_ok(srv, c, user="bob", rcpt=BOB)
    assert not list((srv.data_dir / "mail").glob("nobody*"))


def test_relaying_denied_554_571(mailserver_module):
    # mailserver_module has relay_networks = 192.0.2.0/24: loopback may not relay
    srv = mailserver_module
    before = set(srv.queue_items())
    c = connect(srv)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, "RCPT TO:<someone@remote.test>", 554, "5.7.1")
    expect(c, "RCPT TO:<someone@example.test.evil.test>", 554, "5.7.1")
    # % hack and source routes must not open a relay either
    r = c.cmd("RCPT TO:<someone%remote.test@example.test>")
    assert r.code in (550, 554), r
    r = c.cmd("RCPT TO:<@example.test:someone@remote.test>")
    assert r.code in (501, 550, 553, 554), r
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    data_ok(srv, c)
    assert set(srv.queue_items()) == before, "relayed mail reached the queue"


def test_noop_help_rset_quit(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, "NOOP", 250)
    expect(c, "NOOP ignored argument", 250)
    r = c.cmd("HELP")
    assert r.code == 214 and len(r.lines) >= 2, f"HELP not multi-line 214: {r}"
    assert r.raw.startswith(b"214-"), r
    r = c.cmd("HELP MAIL")
    assert r.code == 214, r
    # RSET resets the transaction
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, "RSET", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 503, "5.5.")
    expect(c, "DATA", 503, "5.5.")
    # but not the EHLO: MAIL works right away
    assert_usable(srv, c)
    r = c.cmd("QUIT")
    assert r.code == 221 and r.enhanced == "2.0.0", r
    c.expect_closed()


def test_vrfy_expn_off_252(mailserver_module):
    c = connect(mailserver_module)
    texts = {}
    for arg in ["VRFY alice", "VRFY nobody", f"VRFY <{ALICE}>", "EXPN team", "EXPN nosuchlist"]:
        r = c.cmd(arg)
        assert r.code == 252, f"{arg}: {r}"
        texts[arg] = r.text.replace(arg.split()[1], "ARG")
    # no user enumeration: a user and a non-user get the same answer
    assert texts["VRFY alice"] == texts["VRFY nobody"], texts
    assert texts["EXPN team"] == texts["EXPN nosuchlist"], texts
    assert_usable(mailserver_module, c)


def test_wrong_command_does_not_change_state(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    c.cmd("RCPT TO:<broken")
    c.cmd("XYZZY")
    c.cmd("MAIL FROM:<x@remote.test>")
    c.cmd("AUTH NOPE")
    data_ok(srv, c)


# ---------------------------------------------------------------- pipelining

def test_pipelined_transaction_replies_in_order(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark, to="team@example.test")
    c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nRCPT TO:<nobody@example.test>\r\n"
           f"RCPT TO:<{CAROL}>\r\nDATA\r\n")
    codes = [r.code for r in c.replies(5)]
    assert codes == [250, 250, 550, 250, 354], codes
    c.send(dot_stuff(sent) + b".\r\nQUIT\r\n")
    codes = [r.code for r in c.replies(2)]
    assert codes == [250, 221], codes
    c.expect_closed()
    for user in ("alice", "carol"):
        delivered_once(srv, mark, sent, user=user, for_rcpt=None)  # 2 rcpts: no "for"
    assert find_marker(srv, "bob", mark) == []


def test_pipelined_hundreds_of_commands(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    targets = ["alice", "bob", "carol", "team", "info", "sales", "nested"]
    rcpts = [f"{targets[i % len(targets)]}@{DOMAIN}" for i in range(100)]
    batch = f"MAIL FROM:<{SENDER}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts) + "RSET\r\n"
    batch += f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nRSET\r\n" * 33 + "NOOP\r\n"
    c.send(batch)
    got = c.replies(1 + 100 + 1 + 99 + 1)
    assert [r.code for r in got] == [250] * len(got), [r.raw for r in got if r.code != 250][:3]
    # nothing left over, session fine
    c.expect_silence(0.2)
    assert_usable(srv, c)


def test_pipelined_with_bad_commands_in_between(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    c.send(f"NOOP\r\nBOGUS\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\n"
           "HELP\r\nRCPT TO:<@@>\r\nNOOP\r\nDATA\r\n")
    codes = [r.code for r in c.replies(8)]
    assert codes == [250, 500, 250, 250, 214, 501, 250, 354], codes
    mark = marker()
    end_data(c, message(mark))
    assert len(find_marker(srv, "alice", mark)) == 1


def test_pipelined_in_tiny_pieces(mailserver_module):
    # the same bytes split at every position must give the same replies
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark)
    data = (f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n").encode()
    for i in range(len(data)):
        c.send(data[i:i + 1])
    assert [r.code for r in c.replies(3)] == [250, 250, 354]
    tail = dot_stuff(sent) + b".\r\n"
    for i in range(0, len(tail), 3):
        c.send(tail[i:i + 3])
    assert c.reply().code == 250
    delivered_once(srv, mark, sent)


# ---------------------------------------------------------------- STARTTLS

def test_starttls_discards_pipelined_plaintext(mailserver_module):
    # RFC 3207 5 / CVE-2011-0411: commands sent with STARTTLS in one packet
    # must be discarded, not answered before or after the handshake.
    srv = mailserver_module
    c = connect(srv)
    c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@remote.test>\r\n")
    r = c.reply()
    assert r.code == 220, r
    assert r.enhanced == "2.0.0", r
    c.starttls()  # fails if a plaintext reply follows the 220
    r = c.cmd("EHLO client.example")
    assert r.code == 250 and len(r.lines) > 1 and r.lines[0].startswith(HOSTNAME), \
        f"first reply after the handshake is not the EHLO's: {r}"
    kw = [l.split()[0].upper() for l in r.lines[1:]]
    assert "STARTTLS" not in kw, r.lines
    assert "AUTH" in kw, r.lines
    # the injected MAIL did not run: this MAIL is accepted, not "nested"
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    data_ok(srv, c, proto="ESMTPS")
    r = c.cmd("STARTTLS")   # not twice
    assert r.code in (503, 554) and r.enhanced and r.enhanced.startswith("5."), r
    c.cmd("QUIT")


def test_starttls_resets_transaction_and_needs_ehlo(mailserver_module):
    c = connect(mailserver_module)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    # not inside a transaction (as Postfix): refused, state unchanged
    expect(c, "STARTTLS", 503, "5.5.")
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, "RSET", 250)
    assert c.cmd("STARTTLS").code == 220
    c.starttls()
    # state is as after the greeting: MAIL needs a new EHLO
    expect(c, f"MAIL FROM:<{SENDER}>", 503, "5.5.")
    expect(c, "EHLO again.example", 250, False)
    expect(c, f"RCPT TO:<{ALICE}>", 503, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    c.cmd("QUIT")


def test_starttls_with_argument_501(mailserver_module):
    c = connect(mailserver_module)
    expect(c, "STARTTLS now", 501, "5.5.")
    assert_usable(mailserver_module, c)


# ---------------------------------------------------------------- DATA content

def test_dot_stuffed_lines_survive(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    body = crlf(".\n..\n...\n.leading dot\n..two leading dots\n.\n"
                "middle . dot\n.\r\n \n. \n")
    sent = message(mark, body=body)
    wire = dot_stuff(sent)
    assert b"\r\n..\r\n" in wire and b"\r\n...\r\n" in wire
    start_data(c)
    end_data(c, wire)
    delivered_once(srv, mark, sent)


def test_message_starting_with_dot_and_empty_body(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = crlf(f".X-Odd: starts with a dot {mark}\nSubject: odd\n\n")
    start_data(c)
    end_data(c, dot_stuff(sent))
    delivered_once(srv, mark, sent)


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r",
                                      b"\r\n.\r\r\n", b"\n.\r\r\n"],
                         ids=["lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf", "cr-dot-crlf", "crlf-dot-cr",
                              "crlf-dot-cr-crlf", "lf-dot-cr-crlf"])
def test_smuggling_fake_end_of_data(mailserver_module, fake_end):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    smuggled_mark = marker()
    body = (b"Hello." + fake_end +
            b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: smuggled " + smuggled_mark.encode() + b"\r\n\r\nsmuggled\r\n")
    msg = message(mark, body=body)
    start_data(c)
    c.send(msg + b".\r\nQUIT\r\n")
    codes = [c.reply().code, c.reply().code]
    assert codes == [250, 221], f"the fake end {fake_end!r} split the message: {codes}"
    c.expect_closed()
    got = find_marker(srv, "alice", mark)
    assert len(got) == 1
    assert b"evil@remote.test" in got[0] and smuggled_mark.encode() in got[0], \
        "the smuggled text is not part of the one message"
    assert find_marker(srv, "bob", smuggled_mark) == [], "a smuggled message was delivered"


def test_bare_lf_is_normalised_by_default(mailserver_module):
    # posthorn.conf: bare_lf = normalise (default): a bare LF inside DATA
    # becomes a line end like CRLF; it never ends the message.
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    wire = (f"Subject: bare lf {mark}\nX-Next: header\r\n\r\nline one\nline two\r\n"
            "line three\n\nline five\r\n").encode()
    start_data(c)
    end_data(c, wire)
    delivered_once(srv, mark, crlf(wire))


def test_bare_lf_reject(make_mailserver):
    srv = make_mailserver(config={"bare_lf": "reject"})
    c = connect(srv)
    mark = marker()
    start_data(c)
    c.send(f"Subject: {mark}\r\n\r\nline one\nline two\n.\nMAIL FROM:<evil@remote.test>\r\n".encode()
           + b".\r\n")
    r = c.reply()
    assert r.code in (550, 554), f"bare LF accepted with bare_lf = reject: {r}"
    assert r.enhanced and r.enhanced.startswith("5."), r
    # no reply for the text after the fake end
    c.expect_silence(0.3)
    assert find_marker(srv, "alice", mark) == []
    # a clean message afterwards goes through
    assert_usable(srv, c)


def test_long_text_line_is_never_silently_mangled(mailserver_module):
    # RFC 5321 4.5.3.1.6: text lines are limited to 1000 bytes. The server
    # may refuse the message (5xx at the end of DATA) or keep it whole;
    # it must not split, cut or lose sync.
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark, body=b"short\r\n" + b"L" * 5000 + b"\r\nRSET\r\nend\r\n")
    start_data(c)
    c.send(sent + b".\r\n")
    r = c.reply()
    got = find_marker(srv, "alice", mark)
    if r.code == 250:
        assert len(got) == 1
        check_delivery(got[0], sent, SENDER, "client.example", "ESMTP", for_rcpt=ALICE)
    else:
        assert r.code in (500, 552, 554), r
        assert got == []
    c.expect_silence(0.2)
    assert_usable(srv, c)


# ---------------------------------------------------------------- BDAT

def test_bdat_chunks_deliver_exact_bytes(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    # BDAT has no dot-stuffing: "." lines and a CRLF.CRLF are plain data
    sent = message(mark, body=b"first\r\n.\r\n..\r\n.dot\r\nlast line\r\n")
    cuts = [0, 7, 8, 60, len(sent) - 1, len(sent)]
    expect(c, f"MAIL FROM:<{SENDER}> BODY=8BITMIME", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    for a, b in zip(cuts, cuts[1:-1]):
        c.send(f"BDAT {b - a}\r\n".encode() + sent[a:b])
        r = c.reply()
        assert r.code == 250, r
    a, b = cuts[-2], cuts[-1]
    c.send(f"BDAT {b - a} LAST\r\n".encode() + sent[a:b])
    r = c.reply()
    assert r.code == 250, r
    delivered_once(srv, mark, sent)
    assert_usable(srv, c)


def test_bdat_pipelined_and_zero_last(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark, body=b"pipelined chunks\r\n")
    half = len(sent) // 2
    c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\n".encode()
           + f"BDAT {half}\r\n".encode() + sent[:half]
           + f"BDAT {len(sent) - half}\r\n".encode() + sent[half:]
           + b"BDAT 0 LAST\r\nNOOP\r\n")
    codes = [r.code for r in c.replies(6)]
    assert codes == [250, 250, 250, 250, 250, 250], codes
    delivered_once(srv, mark, sent, user="bob", for_rcpt=BOB)


def test_bdat_errors(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    # no transaction: 503, and the chunk is consumed, not run as a command
    c.send(b"BDAT 6 LAST\r\nNOOP\r\n")
    r = c.reply()
    assert r.code == 503, r
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    c.send(b"BDAT 6 LAST\r\nRSET\r\n")  # MAIL but no RCPT
    r = c.reply()
    assert r.code == 503, r
    c.expect_silence(0.2)
    expect(c, "RSET", 250)
    # DATA after BDAT in one transaction is a sequence error
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, "BDAT abc", 501, "5.5.")
    # a chunk whose size parses is consumed even when BDAT is refused
    c.send(b"BDAT 10 FIRST\r\nNOOP\r\nQUIT")
    r = c.reply()
    assert r.code == 501 and r.enhanced.startswith("5.5."), r
    c.expect_silence(0.2)
    mark = marker()
    part = message(mark)
    c.send(f"BDAT {len(part)}\r\n".encode() + part)
    assert c.reply().code == 250
    expect(c, "DATA", 503, "5.5.")
    c.send(b"BDAT 0 LAST\r\n")
    assert c.reply().code == 250
    delivered_once(srv, mark, part)


# ---------------------------------------------------------------- limits server

LIMITS = {"message_size": 20000, "recipients": 3}


@pytest.fixture(scope="module")
def limits_server():
    servers = _Servers()
    srv = servers.make(limits=LIMITS, config={"relay_networks": "127.0.0.0/8"},
                       listeners={"smtp": {"vrfy": "yes"}})
    yield srv
    servers.teardown()


def test_size_advertised_and_checked_on_mail(limits_server):
    srv = limits_server
    c = SmtpClient(HOST, srv.smtp_port)
    c.greeting()
    r = c.cmd("EHLO client.example")
    assert "SIZE 20000" in r.lines, r.lines
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=20001", 552, "5.3.4")
    # 20 digits (RFC 1870's maximum) above 2^64: too big, not an overflow
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=99999999999999999999", 552, "5.3.4")
    # more than 20 digits is a syntax error
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=999999999999999999999", 501, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=15000", 250)
    expect(c, "RSET", 250)
    assert_usable(srv, c)


def test_message_too_big_552_data(limits_server):
    srv = limits_server
    c = connect(srv)
    mark = marker()
    big = message(mark, body=(b"x" * 78 + b"\r\n") * 300)  # ~24 KB
    start_data(c)
    r = end_data(c, big, 552)
    assert r.enhanced == "5.3.4", r
    c.expect_silence(0.2)
    assert find_marker(srv, "alice", mark) == []
    # a message just under the limit still passes
    mark2 = marker()
    ok = message(mark2, body=(b"y" * 78 + b"\r\n") * 200)  # ~16 KB
    send_ok(c, mark=mark2, msg=ok)
    delivered_once(srv, mark2, ok)
    # the refused message left nothing behind in the spool
    assert spool_files(srv) == [], "spool not empty between transactions"


def test_message_too_big_552_bdat(limits_server):
    srv = limits_server
    c = connect(srv)
    mark = marker()
    chunk = message(mark, body=(b"z" * 78 + b"\r\n") * 180)  # ~14.6 KB
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    c.send(f"BDAT {len(chunk)}\r\n".encode() + chunk)
    assert c.reply().code == 250
    c.send(f"BDAT {len(chunk)} LAST\r\n".encode() + chunk)
    r = c.reply()
    assert r.code == 552 and r.enhanced == "5.3.4", r
    c.expect_silence(0.2)
    assert find_marker(srv, "alice", mark) == []
    expect(c, "RSET", 250)
    assert_usable(srv, c)


def test_too_many_recipients_452(limits_server):
    srv = limits_server
    c = connect(srv)
    mark = marker()
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, f"RCPT TO:<{BOB}>", 250)
    expect(c, "RCPT TO:<nobody@example.test>", 550, "5.1.1")  # refused ones don't count
    expect(c, f"RCPT TO:<{CAROL}>", 250)
    expect(c, "RCPT TO:<team@example.test>", 452, "4.5.3")
    expect(c, "RCPT TO:<info@example.test>", 452, "4.5.3")
    expect(c, "DATA", 354, False)
    sent = message(mark)
    end_data(c, sent)
    for user in ("alice", "bob", "carol"):
        delivered_once(srv, mark, sent, user=user, for_rcpt=None)
    c.cmd("QUIT")


def addrs(reply):
    """The addresses of a VRFY/EXPN reply, one per line."""
    out = []
    for l in reply.lines:
        m = re.search(r"<?([^<>\s]+@[^<>\s]+?)>?(\s|$)", l)
        assert m, f"no address in {l!r}"
        out.append(m.group(1))
    return sorted(out)


def test_vrfy_expn_on(limits_server):
    c = connect(limits_server)
    r = expect(c, "VRFY alice", 250)
    assert ALICE in r.text, r
    r = expect(c, f"VRFY <{BOB}>", 250)
    assert BOB in r.text, r
    expect(c, "VRFY nobody", 550, "5.1.1")
    r = expect(c, "EXPN team", 250)
    assert addrs(r) == [ALICE, BOB], r.lines
    r = expect(c, "EXPN nested", 250)
    assert addrs(r) == [ALICE, BOB, CAROL], r.lines
    r = expect(c, "EXPN ext", 250)
    assert addrs(r) == ["friend@remote.test"], r.lines
    expect(c, "EXPN nosuchlist", 550, "5.1.")
    assert_usable(limits_server, c)


def test_relay_network_may_relay_and_is_queued(limits_server):
    srv = limits_server  # relay_networks = 127.0.0.0/8
    before = set(srv.queue_items())
    c = connect(srv)
    mark = marker()
    sent = message(mark, to="far@remote.test")
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, "RCPT TO:<Far@Remote.Test>", 250)
    expect(c, "DATA", 354, False)
    end_data(c, sent)
    new = {k: v for k, v in srv.queue_items().items() if k not in before}
    assert len(new) == 1, new
    (ident, (msg, env)), = new.items()
    check_delivery(msg, sent, SENDER, "client.example", "ESMTP", for_rcpt="Far@Remote.Test")
    assert re.search(r"^sender sender@remote\.test$", env, re.M), env
    assert re.search(r"^rcpt far@remote\.test pending\b", env, re.M | re.I), env
    assert re.search(rf"^id {re.escape(ident)}$", env, re.M), env
    assert re.search(r"^version 1$", env, re.M), env
    assert find_marker(srv, "alice", mark) == []


# ---------------------------------------------------------------- aliases

def test_alias_to_two_users_one_copy_each(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark, sent = send_ok(c, rcpts=("team@example.test",))
    for user in ("alice", "bob"):
        delivered_once(srv, mark, sent, user=user, for_rcpt="team@example.test")
    assert find_marker(srv, "carol", mark) == []


def test_aliases_leading_to_same_user_one_copy(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark, sent = send_ok(c, rcpts=("info@example.test", "sales@example.test", ALICE,
                                   "team@example.test", "nested@example.test"))
    counts = {u: len(find_marker(srv, u, mark)) for u in ("alice", "bob", "carol")}
    assert counts == {"alice": 1, "bob": 1, "carol": 1}, counts
    delivered_once(srv, mark, sent, for_rcpt=None)


def test_alias_to_remote_address_is_queued(mailserver_module):
    # aliases are local: anyone may send to them, even where relaying is denied
    srv = mailserver_module
    before = set(srv.queue_items())
    c = connect(srv)
    mark, sent = send_ok(c, rcpts=("mixed@example.test",))
    assert len(find_marker(srv, "carol", mark)) == 1
    new = {k: v for k, v in srv.queue_items().items() if k not in before}
    assert len(new) == 1, new
    (msg, env), = new.values()
    assert msg is not None and same_message(split_trace(msg)[1], sent)
    rcpts = re.findall(r"^rcpt (\S+) (\S+)", env, re.M)
    assert rcpts == [("far@remote.test", "pending")], env


# ---------------------------------------------------------------- strict limits

def test_too_many_errors_421_then_close(make_mailserver):
    srv = make_mailserver(limits={"errors": 3})
    c = connect(srv)
    codes = []
    for i in range(3):
        r = c.cmd(f"BOGUS{i}")
        codes.append(r.code)
    assert codes == [500, 500, 500], codes
    r = c.cmd("BOGUS3")
    if r.code != 421:
        assert r.code == 500, r
        r = c.reply()
    assert r.code == 421, f"no 421 after the error limit: {r}"
    assert r.enhanced and r.enhanced.startswith("4."), r
    c.expect_closed()
    # a fresh session has a fresh budget
    c = connect(srv)
    assert_usable(srv, c)


def test_idle_timeout_421(make_mailserver):
    srv = make_mailserver(limits={"command_timeout": 2})
    c = connect(srv)
    t0 = time.monotonic()
    r = c.reply(timeout=10)
    elapsed = time.monotonic() - t0
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert 1.5 <= elapsed <= 6, elapsed
    c.expect_closed()


def test_connections_per_ip_limit(make_mailserver):
    srv = make_mailserver(limits={"connections_per_ip": 3})
    held = [connect(srv, ehlo=None) for _ in range(3)]
    extra = SmtpClient(HOST, srv.smtp_port)
    r = extra.reply()
    assert r.code == 421, f"4th connection from one address got {r}"
    extra.expect_closed()
    for c in held:
        c.cmd("QUIT")
        c.close()
    # slots come back once sessions end
    deadline = time.monotonic() + 5
    while True:
        c = SmtpClient(HOST, srv.smtp_port)
        r = c.reply()
        if r.code == 220 or time.monotonic() > deadline:
            break
        c.close()
        time.sleep(0.05)
    assert r.code == 220, r
    c.cmd("EHLO client.example")
    assert_usable(srv, c)


# ---------------------------------------------------------------- more edges

def test_bare_cr_is_normalised_too(mailserver_module):
    # the issue: a bare CR inside DATA is treated like a bare LF
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    wire = f"Subject: bare cr {mark}\r\n\r\nline one\rline two\r\n".encode()
    start_data(c)
    end_data(c, wire)
    delivered_once(srv, mark, wire.replace(b"one\rline", b"one\r\nline"))


def test_ehlo_address_literals_and_reset(mailserver_module):
    srv = mailserver_module
    c = connect(srv, ehlo=None)
    # RFC 5321 4.1.1.1: an address literal is a valid EHLO argument
    expect(c, "EHLO [127.0.0.1]", 250, False)
    expect(c, "EHLO [IPv6:::1]", 250, False)
    # a new EHLO aborts the transaction (RFC 5321 4.1.4)
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    expect(c, "EHLO [127.0.0.1]", 250, False)
    expect(c, "DATA", 503, "5.5.")
    mark, sent = send_ok(c)
    delivered_once(srv, mark, sent, helo="[127.0.0.1]")


def test_mail_parameters_combined(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    expect(c, f"MAIL FROM:<{SENDER}> BODY=8BITMIME SMTPUTF8 SIZE=1000", 250)
    expect(c, "RSET", 250)
    expect(c, f"MAIL FROM:<{SENDER}> size=10 body=7bit", 250)  # keywords are case-insensitive
    expect(c, "RSET", 250)
    expect(c, f"MAIL FROM:<{SENDER}> SIZE=10 SIZE=20", 501, "5.5.")
    expect(c, f"MAIL FROM:<{SENDER}> BODY=", 501, "5.5.")
    assert_usable(srv, c)


def test_many_bdat_transactions_in_one_write(mailserver_module):
    # CHUNKING + PIPELINING: whole transactions back to back in one write;
    # each delivery runs off the event loop while the rest waits buffered
    srv = mailserver_module
    c = connect(srv)
    marks, batch = [], b""
    for i in range(20):
        mark = marker()
        msg = message(mark, to=BOB, body=f"transaction {i}\r\n".encode())
        marks.append((mark, msg))
        batch += (f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\n".encode()
                  + f"BDAT {len(msg)} LAST\r\n".encode() + msg)
    c.send(batch + b"QUIT\r\n")
    replies = c.replies(61)
    assert [r.code for r in replies] == [250] * 60 + [221], [r.raw for r in replies if r.code != 250]
    c.expect_closed()
    for mark, msg in marks:
        delivered_once(srv, mark, msg, user="bob", for_rcpt=BOB)


def spool_files(srv):
    spool = srv.data_dir / "spool"
    return sorted(spool.iterdir()) if spool.is_dir() else []


def test_client_vanishing_mid_data_keeps_nothing(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    expect(c, f"MAIL FROM:<{SENDER}>", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    before = set(spool_files(srv))
    expect(c, "DATA", 354, False)
    c.send(message(mark, body=b"half a message\r\n" * 100))
    c.expect_silence(0.2)
    ours = set(spool_files(srv)) - before
    assert ours, "DATA in progress but nothing in the spool"
    c.close()
    deadline = time.monotonic() + 5
    while any(p.exists() for p in ours) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(p.exists() for p in ours), "the abandoned message stayed in the spool"
    assert find_marker(srv, "alice", mark) == []
    assert find_marker(srv, "alice", mark, sub="tmp") == []


def test_size_exactly_at_the_limit(limits_server):
    # SIZE 20000 is advertised: a message of exactly 20000 bytes (as
    # RFC 1870 counts them: CRLF line ends, without dot-stuffing) is taken,
    # one byte more is refused.
    srv = limits_server
    c = connect(srv)
    for size, code in ((20000, 250), (20001, 552)):
        mark = marker()
        head = message(mark, body=b"")
        left = size - len(head)
        body = b""
        while left > 0:  # lines starting with a dot: stuffed on the wire
            n = min(80, left)
            if 0 < left - n < 3:
                n = left - 3
            body += b"." * (n - 2) + b"\r\n"
            left -= n
        msg = head + body
        assert len(msg) == size
        expect(c, f"MAIL FROM:<{SENDER}> SIZE={size}", 250 if code == 250 else 552)
        if code != 250:
            expect(c, f"MAIL FROM:<{SENDER}>", 250)
        expect(c, f"RCPT TO:<{ALICE}>", 250)
        expect(c, "DATA", 354, False)
        c.send(dot_stuff(msg) + b".\r\n")
        r = c.reply()
        assert r.code == code, (size, r)
        got = find_marker(srv, "alice", mark)
        assert len(got) == (1 if code == 250 else 0)
        if got:
            check_delivery(got[0], msg, SENDER, "client.example", "ESMTP", for_rcpt=ALICE)


def test_data_timeout_421_discards_message(make_mailserver):
    srv = make_mailserver(limits={"data_timeout": 2, "command_timeout": 60})
    c = connect(srv)
    mark = marker()
    start_data(c)
    c.send(message(mark))
    t0 = time.monotonic()
    r = c.reply(timeout=10)
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert 1.5 <= time.monotonic() - t0 <= 6
    c.expect_closed()
    assert find_marker(srv, "alice", mark) == []
    assert spool_files(srv) == []


def test_commands_pipelined_after_end_of_data(mailserver_module):
    # RFC 2920: the client may send the next transaction right behind the
    # final dot; those commands wait while the first message is delivered
    srv = mailserver_module
    c = connect(srv)
    m1, m2 = marker(), marker()
    s1, s2 = message(m1), message(m2, to=CAROL)
    c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
    assert [r.code for r in c.replies(3)] == [250, 250, 354]
    c.send(dot_stuff(s1) + f".\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{CAROL}>\r\nDATA\r\n".encode())
    assert [r.code for r in c.replies(4)] == [250, 250, 250, 354]
    c.send(dot_stuff(s2) + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
    assert [r.code for r in c.replies(4)] == [250, 250, 250, 221]
    c.expect_closed()
    delivered_once(srv, m1, s1)
    delivered_once(srv, m2, s2, user="carol", for_rcpt=CAROL)


MAILDIR_NAME = re.compile(r"^(\d+)\.R([0-9a-f]+)\.([^/,:]+),S=(\d+),W=(\d+)$")


def test_maildir_file_names(mailserver_module):
    # maildir.h: SECONDS.R<random hex>.HOST,S=SIZE,W=VSIZE; S= is what Dovecot and
    # others trust for the size without reading the file
    srv = mailserver_module
    c = connect(srv)
    send_ok(c)
    send_ok(c, rcpts=("team@example.test",))
    now = time.time()
    names = set()
    for user in ("alice", "bob"):
        for p in srv.messages(user):
            m = MAILDIR_NAME.match(p.name)
            assert m, f"bad Maildir name {p.name!r}"
            assert int(m.group(4)) == p.stat().st_size, f"S= of {p.name} is not the size {p.stat().st_size}"
            # W= is the RFC 1939 size (CRLF line ends), what POP3 LIST says.
            raw = p.read_bytes()
            crlf = len(raw) + raw.count(b"\n") - raw.count(b"\r\n") + (2 if raw and not raw.endswith(b"\n") else 0)
            assert int(m.group(5)) == crlf, f"W= of {p.name} is not {crlf}"
            assert abs(int(m.group(1)) - now) < 3600, p.name
            assert "/" not in m.group(3)
            names.add(p.name)
        assert srv.messages(user, "tmp") == [], "files left in tmp/"


def test_line_of_1000_bytes_starting_with_dot(mailserver_module):
    # 998 characters + CRLF is the longest legal text line; starting with a
    # dot it takes 1001 bytes on the wire (RFC 5321 4.5.2 transparency),
    # which must not count against the limit
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    sent = message(mark, body=b"." + b"d" * 997 + b"\r\n" + b"e" * 998 + b"\r\n")
    start_data(c)
    end_data(c, dot_stuff(sent))
    delivered_once(srv, mark, sent)


def test_client_text_is_sanitised_in_the_log(mailserver_module):
    srv = mailserver_module
    c = connect(srv)
    evil = b"XYZZY \x1b]0;owned\x07 \x1b[31mred \xff\xfe\x08\x08 end"
    c.send(evil + b"\r\n")
    assert c.reply().code == 500
    c.send(b"MAIL FROM:<\x1b[2J@remote.test>\r\n")
    assert c.reply().code == 501
    c.cmd("QUIT")
    log = srv.log_path.read_bytes()
    assert b"XYZZY" in log, "the rejected command is not logged"
    for bad in (b"\x1b", b"\x07", b"\x08", b"\xff\xfe"):
        assert bad not in log, f"raw {bad!r} from the client reached the log"
    log.decode("utf-8")  # valid UTF-8 throughout


def test_commands_before_mail_limit(make_mailserver):
    srv = make_mailserver(limits={"commands_before_mail": 5})
    c = connect(srv)
    for _ in range(4):
        expect(c, "NOOP", 250)
    # a MAIL starts the count again
    mark, _ = send_ok(c)
    for _ in range(5):
        expect(c, "NOOP", 250)
    r = c.cmd("NOOP")
    assert r.code == 421 and r.enhanced == "4.7.0", r
    c.expect_closed()
    assert len(find_marker(srv, "alice", mark)) == 1


@pytest.mark.parametrize("how", ["DATA", "BDAT"])
def test_five_megabyte_message_exact(mailserver_module, how):
    srv = mailserver_module
    c = connect(srv)
    mark = marker()
    rng = __import__("random").Random(5)
    lines = [bytes(rng.choice(b"abcdefghij. ") for _ in range(rng.randrange(0, 200))) + b"\r\n"
             for _ in range(60000)]
    sent = message(mark, body=b"".join(lines))
    assert len(sent) > 5_000_000
    expect(c, f"MAIL FROM:<{SENDER}> SIZE={len(sent)}", 250)
    expect(c, f"RCPT TO:<{ALICE}>", 250)
    if how == "DATA":
        expect(c, "DATA", 354, False)
        c.send(dot_stuff(sent) + b".\r\n")
    else:
        c.send(f"BDAT {len(sent)} LAST\r\n".encode() + sent)
    r = c.reply(timeout=60)
    assert r.code == 250, r
    delivered_once(srv, mark, sent)


def test_received_names_the_reverse_name(mailserver_module):
    # issue 3: Received: "from HELO name, reverse name and [IP]". The
    # expected reverse name is what this system resolves 127.0.0.1 to.
    import socket
    try:
        rname = socket.gethostbyaddr(HOST)[0]
    except OSError:
        rname = None
    srv = mailserver_module
    c = connect(srv, ehlo="helo-name.example")
    mark, sent = send_ok(c)
    rcv = delivered_once(srv, mark, sent, helo="helo-name.example")
    m = re.match(r"from helo-name\.example \(([^)]*)\)", rcv)
    assert m, rcv
    if rname:
        assert m.group(1) == f"{rname} [{HOST}]", f"reverse name {rname!r} missing: {rcv}"
