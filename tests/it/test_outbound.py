"""Outbound delivery end to end: two posthornd on 127.0.0.2 (A, example.org)
and 127.0.0.3 (B, example.net) find each other through a real DNS server
(dnsmasq) on a loopback port; scripted fake receivers stand in for remote
servers that defer, refuse, lack STARTTLS or are slow. Covers the queue
(retries with a short backoff, lifetime, restart after kill -9), routing
(MX order, implicit MX, null MX, NXDOMAIN, smarthost), the SMTP client's
TLS policy, delivery status notifications and the sendmail injector.

Both daemons and dnsmasq live for the whole module (outboundlib fixtures);
each test uses its own marker, and each fake receiver its own domain and
address, so retries of one test never reach another test's receiver."""
import os
import re
import smtplib
import subprocess
import time
import uuid

import pytest

from mailserver import USERS, SmtpClient, dot_stuff, same_message, split_trace
from outboundlib import (A_DOMAIN, A_HOST, B_DOMAIN, B_HOST, CONNECTIONS_PER_DOMAIN,
                         LIFETIME, MAX_RECEIVED, POSTMASTER, SENDMAIL, TIMEOUT_DOMAIN,
                         delivered, dns_query, find_dsns, message, submit,
                         wait_dsn, wait_for)
from outboundlib import dnsmasq, fake_smtp, peers  # noqa: F401 (fixtures)

ALICE = "alice@" + A_DOMAIN          # the sender, a user of A
BOB_B = "bob@" + B_DOMAIN            # a user of B
ALICE_PW = USERS["alice"]


def marker():
    return uuid.uuid4().hex


def send_from_alice(a, rcpts, mark, **kw):
    data = message(mark, ALICE, rcpts, **kw)
    refused = submit(a, "alice", ALICE_PW, ALICE, rcpts, data)
    assert refused == {}, refused
    return data


def queue_empty(srv):
    return not srv.queue_items()


def wait_queue_empty(srv, timeout=8):
    wait_for(lambda: queue_empty(srv), timeout,
             f"{srv.hostname}'s queue to empty; left: {list(srv.queue_items())}")


def queued_ids(srv, mark):
    m = mark.encode()
    return [i for i, (msg, _) in srv.queue_items().items() if msg and m in msg]


def env_attempts(env):
    m = re.search(r"^attempts (\d+)$", env, re.M)
    return int(m.group(1)) if m else 0


def check_relayed(raw, sent, sender=ALICE):
    """raw, as B stored it, is sent under exactly one Return-Path (B's),
    B's Received naming A and A's own Received from the submission."""
    trace, rest = split_trace(raw)
    names = [n.lower() for n, _ in trace]
    assert names[:1] == ["return-path"] and names.count("return-path") == 1, \
        f"trace fields on top: {trace}"
    assert trace[0][1] == f"<{sender}>", trace[0]
    received = [v for n, v in trace if n.lower() == "received"]
    assert len(received) >= 2, f"expected B's and A's Received: {trace}"
    b_rcv, a_rcv = received[0], received[1]
    assert re.search(rf"\bfrom {re.escape(A_HOST)}[\s(]", b_rcv), f"B's Received: {b_rcv}"
    assert re.search(rf"\sby {re.escape(B_HOST)}[\s(;]", b_rcv), f"B's Received: {b_rcv}"
    assert re.search(r"\swith E?SMTPS?A?[\s;]", b_rcv), f"B's Received: {b_rcv}"
    assert re.search(rf"\sby {re.escape(A_HOST)}[\s(;]", a_rcv), f"A's Received: {a_rcv}"
    assert re.search(r"\swith ESMTPS?A[\s;]", a_rcv), f"A's Received (submission, AUTH): {a_rcv}"
    assert same_message(rest, sent), \
        f"B's copy differs from what alice sent:\nsent   {sent[:600]!r}\nstored {rest[:600]!r}"
    return b_rcv


# ---------------------------------------------------------------- DNS itself

def test_dns_server_serves_the_test_zone(dnsmasq):
    """The records every other test relies on, straight from dnsmasq."""
    q = lambda name, t: dns_query("127.0.0.1", dnsmasq.port, name, t)
    assert q(A_DOMAIN, "MX") == (0, [(A_DOMAIN, 15, (10, A_HOST))])
    assert q(B_HOST, "A") == (0, [(B_HOST, 1, "127.0.0.3")])
    assert q("nullmx.test", "MX") == (0, [("nullmx.test", 15, (0, ""))])
    assert q("nx.test", "MX")[0] == 3, "unknown names must be NXDOMAIN"
    assert q("aonly.test", "MX") == (0, []), "aonly.test must have no MX (NODATA)"
    assert q("aonly.test", "A") == (0, [("aonly.test", 1, "127.0.0.3")])
    rcode, mx = q("backup.test", "MX")
    assert rcode == 0 and sorted(v for _, _, v in mx) == \
        [(10, "mx1.backup.test"), (20, "mx2.backup.test")], mx
    # the peers' reverse names confirm forward (posthornd looks them up)
    assert q("2.0.0.127.in-addr.arpa", "PTR") == (0, [("2.0.0.127.in-addr.arpa", 12, A_HOST)])


# ---------------------------------------------------------------- A to B

def test_user_of_a_reaches_user_of_b_with_trace_headers(peers):
    a, b = peers["a"], peers["b"]
    mark = marker()
    sent = send_from_alice(a, [BOB_B], mark)
    got = wait_for(lambda: delivered(b, "bob", mark), 10, "the message in bob's Maildir at B")
    assert len(got) == 1
    check_relayed(got[0], sent)
    wait_queue_empty(a)
    assert not find_dsns(a, "alice", mark), "a DSN for a delivered message"


def test_receiver_down_then_up_is_retried_and_delivered_once(peers):
    a, b = peers["a"], peers["b"]
    b.stop_clean()
    try:
        mark = marker()
        sent = send_from_alice(a, [BOB_B], mark)
        ids = wait_for(lambda: queued_ids(a, mark), 3, "the message in A's queue")
        assert len(ids) == 1, ids
        qid = ids[0]
        # failed once, then retried after the short backoff (retry = 1s, 2s)
        wait_for(lambda: env_attempts(a.queue_items().get(qid, (None, ""))[1]) >= 2, 4,
                 f"a second attempt of {qid} (envelope: {a.queue_items().get(qid)})")
        listing = a.queue_list()
        assert qid in listing and BOB_B in listing, f"queue list lacks {qid}:\n{listing}"
        assert delivered(b, "bob", mark) == []
    finally:
        b.start()
    got = wait_for(lambda: delivered(b, "bob", mark), 8, "delivery once B is back")
    wait_queue_empty(a)
    time.sleep(0.5)   # a second copy would show now
    got = delivered(b, "bob", mark)
    assert len(got) == 1, f"delivered {len(got)} times"
    check_relayed(got[0], sent)
    assert qid not in a.queue_list()
    assert not find_dsns(a, "alice", mark), "a DSN although the message was delivered"


def test_450_then_250_is_delivered_on_the_retry(peers, fake_smtp):
    a = peers["a"]

    def rcpt(session, addr):
        return "450 4.2.0 Mailbox busy, try later" if session.number == 0 else "250 2.1.5 Ok"
    fake = fake_smtp("tempfail.test", rcpt=rcpt)
    mark = marker()
    send_from_alice(a, ["user@tempfail.test"], mark)
    fake.wait(lambda f: f.marks_delivered([mark])[mark], 8, "delivery after the 450")
    wait_queue_empty(a)
    assert fake.marks_delivered([mark])[mark] == 1
    assert len(fake.sessions) >= 2
    gap = fake.sessions[1].started - fake.sessions[0].started
    assert gap >= 0.5, f"retried after {gap:.2f}s: no backoff"
    first = fake.sessions[0].commands
    assert not any(c.upper().startswith("DATA") for c in first), \
        f"DATA sent although the only recipient got 450: {first}"
    assert not find_dsns(a, "alice", mark)


def test_550_for_one_of_two_recipients_bounces_only_that_one(peers, fake_smtp):
    a = peers["a"]

    def rcpt(session, addr):
        if addr.lower().startswith("nobody@"):
            return f"550 5.1.1 <{addr}>: no such user here"
        return "250 2.1.5 Ok"
    fake = fake_smtp("partial.test", rcpt=rcpt)
    mark = marker()
    good, bad = "good@partial.test", "nobody@partial.test"
    send_from_alice(a, [good, bad], mark)
    fake.wait(lambda f: f.marks_delivered([mark])[mark], 6, "the accepted recipient's copy")
    dsn = wait_dsn(a, "alice", mark, 6)
    with fake.lock:
        rcpts = [r for _, _, r, d in fake.delivered if mark.encode() in d]
    assert rcpts == [[good]], rcpts

    assert dsn.msg["To"] and ALICE in dsn.msg["To"], dsn.msg["To"]
    assert "mailer-daemon" in (dsn.msg["From"] or "").lower(), dsn.msg["From"]
    assert dsn.msg["Auto-Submitted"] == "auto-replied", dsn.msg["Auto-Submitted"]
    assert dsn.fields.get("reporting-mta", "").lower().startswith("dns;"), dsn.fields
    assert A_HOST in dsn.fields["reporting-mta"], dsn.fields
    r = dsn.rcpt(bad)
    assert r is not None, f"no block for {bad}: {dsn.rcpts}"
    assert r["action"].lower() == "failed", r
    assert r["status"] == "5.1.1", r
    diag = r.get("diagnostic-code", "")
    assert diag.lower().startswith("smtp;") and "550" in diag and "no such user" in diag, r
    assert "mx.partial.test" in r.get("remote-mta", "").lower(), r
    assert dsn.rcpt(good) is None, f"the delivered recipient is in the DSN: {dsn.rcpts}"
    assert bad in dsn.human, f"the explanation does not name {bad}:\n{dsn.human}"
    assert f"outbound {mark}" in dsn.original, f"no original header in the DSN:\n{dsn.original}"
    wait_queue_empty(a)
    time.sleep(0.3)
    assert fake.marks_delivered([mark])[mark] == 1, "the accepted recipient got it twice"
    assert len(find_dsns(a, "alice", mark)) == 1, "more than one DSN"


def test_lifetime_exceeded_bounces_with_4_4_7(peers):
    a = peers["a"]
    mark = marker()
    start = time.monotonic()
    send_from_alice(a, ["someone@expire.test"], mark)
    dsn = wait_dsn(a, "alice", mark, LIFETIME + 8)
    elapsed = time.monotonic() - start
    assert elapsed >= LIFETIME - 1, f"bounced after {elapsed:.1f}s, before the lifetime ({LIFETIME}s)"
    r = dsn.rcpt("someone@expire.test")
    assert r is not None, dsn.rcpts
    assert r["action"].lower() == "failed" and r["status"] == "4.4.7", r
    wait_queue_empty(a)


def _bounces_at_once(a, rcpt, status):
    mark = marker()
    try:
        send_from_alice(a, [rcpt], mark)
    except smtplib.SMTPRecipientsRefused as e:
        # refusing at RCPT is as good as bouncing (RFC 7505 4.1)
        code, text = e.recipients[rcpt]
        assert code // 100 == 5 and status.encode() in text, e.recipients
        return
    start = time.monotonic()
    dsn = wait_dsn(a, "alice", mark, LIFETIME - 1)
    r = dsn.rcpt(rcpt)
    assert r is not None, dsn.rcpts
    assert r["action"].lower() == "failed" and r["status"] == status, r
    assert time.monotonic() - start < LIFETIME - 1
    wait_for(lambda: not queued_ids(a, mark), 3, "the bounced message to leave the queue")


def test_null_mx_bounces_at_once_with_5_1_10(peers):
    _bounces_at_once(peers["a"], "someone@nullmx.test", "5.1.10")


def test_nxdomain_bounces_at_once_with_5_1_2(peers):
    _bounces_at_once(peers["a"], "someone@nx.test", "5.1.2")


def test_null_sender_is_never_bounced_the_postmaster_hears_of_it(peers):
    """A failed message from <> is reported to the postmaster, not to <>;
    a bounce that itself cannot be delivered (its sender's domain does not
    exist) ends with the postmaster too, and nothing loops."""
    a = peers["a"]
    m_null, m_ghost = marker(), marker()
    ghost = f"ghost-{m_ghost}@nx.test"       # the bounce to it fails too
    c = SmtpClient(a.host, a.smtp_port)    # from 127.0.0.1: may relay
    try:
        assert c.greeting().code == 220
        assert c.cmd("EHLO client.example.org").code == 250
        for sender, rcpt, mark in (("", "someone@nx.test", m_null),
                                   (ghost, "someone@nullmx.test", m_ghost)):
            assert c.cmd(f"MAIL FROM:<{sender}>").code == 250
            assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
            assert c.cmd("DATA").code == 354
            c.send(dot_stuff(message(mark, sender or "daemon@example.org", rcpt)) + b".\r\n")
            r = c.reply()
            assert r.code == 250, r
        c.cmd("QUIT")
    finally:
        c.close()
    # the report about the failed mail from <>, and the report about the
    # bounce to ghost (its Final-Recipient carries the marker)
    for mark, rcpt in ((m_null, "someone@nx.test"), (m_ghost, ghost)):
        dsn = wait_dsn(a, POSTMASTER, mark, 4)
        assert dsn.rcpt(rcpt) is not None, dsn.rcpts
        # RFC 5321 4.4: final delivery adds Return-Path; a report's is <>
        trace, _ = split_trace(dsn.raw)
        assert trace and trace[0] == ("Return-Path", "<>"), \
            f"the report in the postmaster's Maildir has no Return-Path <> on top: {trace}"
    wait_for(lambda: not queued_ids(a, m_null) and not queued_ids(a, m_ghost), 4,
             "the failed messages and their reports to leave the queue")
    time.sleep(0.5)
    assert len(find_dsns(a, POSTMASTER, m_null)) == 1
    assert len(find_dsns(a, POSTMASTER, m_ghost)) == 1, "a bounce loop at the postmaster"
    assert not find_dsns(a, "alice", m_null) and not find_dsns(a, "alice", m_ghost)


def test_dns_timeout_defers_instead_of_bouncing(peers, dnsmasq):
    """The MX query is never answered. The resolver gives up after 2 tries
    of 5 s (mx.c), longer than LIFETIME: the failure must count as
    temporary, so the message expires (4.x.x) rather than bouncing as an
    unknown domain (5.1.2)."""
    a = peers["a"]
    mark = marker()
    send_from_alice(a, [f"someone@{TIMEOUT_DOMAIN}"], mark)
    wait_for(lambda: dnsmasq.queried(TIMEOUT_DOMAIN), 4, f"A's MX query for {TIMEOUT_DOMAIN}")
    dsn = wait_dsn(a, "alice", mark, 20)
    r = dsn.rcpt(f"someone@{TIMEOUT_DOMAIN}")
    assert r is not None and r["action"].lower() == "failed", dsn.rcpts
    assert r["status"].startswith("4."), f"a DNS timeout treated as permanent: {r}"
    wait_for(lambda: not queued_ids(a, mark), 3, "the expired message to leave the queue")


def test_8bit_message_to_a_7bit_server_bounces_with_5_6_3(peers, fake_smtp):
    a = peers["a"]
    fake = fake_smtp("seven.test", ext=("SIZE 52428800", "ENHANCEDSTATUSCODES"))
    mark = marker()
    rcpt = "user@seven.test"
    data = message(mark, ALICE, rcpt, body=f"Grüße aus Köln {mark}\n",
                   extra_headers=("MIME-Version: 1.0",
                                  "Content-Type: text/plain; charset=utf-8",
                                  "Content-Transfer-Encoding: 8bit"))
    with smtplib.SMTP(a.host, a.submission_port, local_hostname="client.example.org",
                      timeout=15) as s:
        s.ehlo()
        s.login("alice", ALICE_PW)
        assert s.sendmail(ALICE, [rcpt], data, mail_options=["BODY=8BITMIME"]) == {}
    dsn = wait_dsn(a, "alice", mark, LIFETIME - 1)
    r = dsn.rcpt(rcpt)
    assert r is not None and r["action"].lower() == "failed" and r["status"] == "5.6.3", dsn.rcpts
    assert "8BITMIME" in dsn.human.upper() or "8BITMIME" in r.get("diagnostic-code", "").upper(), \
        f"the reason does not name 8BITMIME:\n{dsn.human}\n{r}"
    assert not fake.received, "8-bit data sent to a server without 8BITMIME"
    wait_for(lambda: not queued_ids(a, mark), 3, "the bounced message to leave the queue")


def test_first_mx_down_second_one_gets_it(peers):
    a, b = peers["a"], peers["b"]
    mark = marker()
    sent = send_from_alice(a, ["bob@backup.test"], mark)
    # within one attempt: no retry is needed when the next MX answers
    got = wait_for(lambda: delivered(b, "bob", mark), 4, "delivery through the second MX")
    assert len(got) == 1
    check_relayed(got[0], sent)
    wait_queue_empty(a)


def test_no_mx_uses_the_a_record(peers):
    a, b = peers["a"], peers["b"]
    mark = marker()
    sent = send_from_alice(a, ["bob@aonly.test"], mark)
    got = wait_for(lambda: delivered(b, "bob", mark), 4, "delivery to the A record")
    check_relayed(got[0], sent)
    wait_queue_empty(a)


def test_smarthost_with_starttls_and_auth(peers):
    """relayed.test has no DNS at all: only A's [transport] route (B's
    submission port, tls=encrypt, auth=carol) can deliver it."""
    a, b = peers["a"], peers["b"]
    mark = marker()
    sent = send_from_alice(a, ["bob@relayed.test"], mark)
    got = wait_for(lambda: delivered(b, "bob", mark), 6, "delivery through the smarthost")
    b_rcv = check_relayed(got[0], sent)
    assert re.search(r"\swith ESMTPSA[\s;]", b_rcv), \
        f"B did not see STARTTLS and AUTH from A: {b_rcv}"
    wait_queue_empty(a)


def test_required_tls_without_starttls_defers_then_bounces(peers, fake_smtp):
    """notls.test (tls=encrypt) and notls-verify.test (tls=verify) point at
    receivers that offer no STARTTLS: the message waits in the queue, is
    retried, and bounces when its lifetime is over; the envelope never
    travels in the clear."""
    a = peers["a"]
    fakes = {d: fake_smtp(d) for d in ("notls.test", "notls-verify.test")}
    marks = {d: marker() for d in fakes}
    for d, mark in marks.items():
        send_from_alice(a, [f"user@{d}"], mark)
    for d, fake in fakes.items():
        fake.wait(lambda f: any(c.upper().startswith(("EHLO", "HELO")) for c in f.all_commands()),
                  4, f"A to greet the receiver of {d}")
        assert queued_ids(a, marks[d]), f"the message to {d} left the queue at once"
    for d, mark in marks.items():
        dsn = wait_dsn(a, "alice", mark, LIFETIME + 8)
        r = dsn.rcpt(f"user@{d}")
        assert r is not None and r["action"].lower() == "failed", dsn.rcpts
        assert r["status"][0] in "45", r
    for d, fake in fakes.items():
        cmds = fake.all_commands()
        assert not any(c.upper().startswith(("MAIL", "RCPT", "DATA")) for c in cmds), \
            f"envelope sent without TLS to {d}: {cmds}"
        assert len(fake.sessions) >= 2, f"{d}: not retried ({len(fake.sessions)} session)"
        assert not fake.delivered
    for mark in marks.values():
        wait_for(lambda: not queued_ids(a, mark), 3, "the bounced message to leave the queue")


def test_kill9_during_a_delivery_run_loses_nothing(peers, fake_smtp):
    """20 messages to a slow receiver; A is killed with SIGKILL while it
    delivers them and started again. Every message arrives at least once
    (a copy the receiver took while A died before hearing the 250 may
    arrive twice: allowed, RFC 5321 6.1)."""
    a = peers["a"]
    fake = fake_smtp("slow.test", data_delay=0.4)
    marks = [marker() for _ in range(20)]
    with smtplib.SMTP(a.host, a.submission_port, local_hostname="client.example.org",
                      timeout=15) as s:
        s.ehlo()
        s.login("alice", ALICE_PW)
        for m in marks:
            assert s.sendmail(ALICE, ["user@slow.test"], message(m, ALICE, "user@slow.test")) == {}
    fake.wait(lambda f: len(f.delivered) >= 2, 10, "the delivery run to start")
    a.kill9()
    try:
        got = fake.marks_delivered(marks, received=True)
        missing = [m for m in marks if not got[m]]
        assert missing, "everything was delivered before the kill; the test proves nothing"
        lost = [m for m in missing if not queued_ids(a, m)]
        assert not lost, f"messages neither delivered nor queued after kill -9: {lost}"
    finally:
        a.start()
    fake.wait(lambda f: all(f.marks_delivered(marks).values()), 20,
              "every message after the restart")
    wait_queue_empty(a, 10)
    got = fake.marks_delivered(marks)
    dups = {m: n for m, n in got.items() if n > 1}
    print(f"kill -9: {len(dups)} duplicate(s) {dups}")
    assert len(dups) <= CONNECTIONS_PER_DOMAIN, f"more duplicates than deliveries in flight: {dups}"
    assert not any(find_dsns(a, "alice", m) for m in marks)


def test_too_many_received_fields_is_a_loop_5_4_6(peers):
    a, b = peers["a"], peers["b"]
    mark = marker()
    hops = [f"Received: from hop{i}.example by hop{i + 1}.example with ESMTP id h{i};"
            f" Sun, 23 Nov 2025 12:00:{i:02d} +0000" for i in range(MAX_RECEIVED + 1)]
    data = message(mark, ALICE, BOB_B, extra_headers=())
    data = "\r\n".join(hops).encode() + b"\r\n" + data
    try:
        refused = submit(a, "alice", ALICE_PW, ALICE, [BOB_B], data)
        assert refused == {}
    except smtplib.SMTPDataError as e:
        # refusing the looping message at DATA is as good as a bounce
        assert e.smtp_code // 100 == 5 and b"5.4.6" in e.smtp_error, e
        return
    dsn = wait_dsn(a, "alice", mark, 5)
    r = dsn.rcpt(BOB_B)
    assert r is not None and r["action"].lower() == "failed" and r["status"] == "5.4.6", dsn.rcpts
    wait_queue_empty(a)
    assert not delivered(b, "bob", mark), "the looping message was delivered"


def test_queue_commands_show_delete_bounce(peers):
    a = peers["a"]
    m1, m2 = marker(), marker()
    send_from_alice(a, ["x@hold.test"], m1)
    send_from_alice(a, ["y@hold.test"], m2)
    id1 = wait_for(lambda: queued_ids(a, m1), 3, "the first message queued")[0]
    id2 = wait_for(lambda: queued_ids(a, m2), 3, "the second message queued")[0]
    listing = a.queue_list()
    assert id1 in listing and id2 in listing, listing
    r = a.ctl("queue", "show", id1)
    assert r.returncode == 0 and b"x@hold.test" in r.stdout and ALICE.encode() in r.stdout, r
    r = a.ctl("queue", "delete", id1)
    assert r.returncode == 0, r
    wait_for(lambda: id1 not in a.queue_items(), 3, f"{id1} to leave the queue")
    assert id1 not in a.queue_list()
    r = a.ctl("queue", "bounce", id2)
    assert r.returncode == 0, r
    dsn = wait_dsn(a, "alice", m2, 4)
    assert dsn.rcpt("y@hold.test")["action"].lower() == "failed", dsn.rcpts
    wait_for(lambda: id2 not in a.queue_items(), 3, f"{id2} to leave the queue")
    time.sleep(0.3)
    assert not find_dsns(a, "alice", m1), "a deleted message was bounced"
    r = a.ctl("queue", "show", "NO-SUCH-ID")
    assert r.returncode != 0


# ---------------------------------------------------------------- injectors

def _need_sendmail():
    if not os.access(SENDMAIL, os.X_OK):
        pytest.fail(f"{SENDMAIL} not built")


def test_sendmail_t_from_a_script(peers, tmp_path):
    a, b = peers["a"], peers["b"]
    _need_sendmail()
    mark = marker()
    script = tmp_path / "nightly.sh"
    script.write_text(
        "#!/bin/sh\n"
        "# what a cron job does: no From, Date or Message-ID of its own\n"
        f"\"{SENDMAIL}\" -C \"{a.conf}\" -t <<EOF\n"
        f"To: Bob <{BOB_B}>\n"
        f"Subject: nightly {mark}\n"
        "\n"
        f"backup done {mark}\n"
        "EOF\n")
    script.chmod(0o755)
    r = subprocess.run([str(script)], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    got = wait_for(lambda: delivered(b, "bob", mark), 8, "the script's mail at B")
    assert len(got) == 1
    trace, rest = split_trace(got[0])
    assert trace[0][0].lower() == "return-path" and "@" in trace[0][1], trace
    head = rest.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].decode()
    for field in ("From", "Date", "Message-ID", "To", "Subject"):
        assert re.search(rf"^{field}:", head, re.M | re.I), f"no {field} in:\n{head}"
    wait_queue_empty(a)


def test_sendmail_recipients_and_sender_on_the_command_line(peers):
    a, b = peers["a"], peers["b"]
    _need_sendmail()
    mark = marker()
    data = f"Subject: args {mark}\n\n.leading dot kept with -i {mark}\n.\nafter\n".encode()
    r = subprocess.run([str(SENDMAIL), "-C", str(a.conf), "-i", "-f", ALICE, "-F", "Alice A",
                        BOB_B], input=data, capture_output=True, timeout=30)
    assert r.returncode == 0, r
    got = wait_for(lambda: delivered(b, "bob", mark), 8, "the injected mail at B")
    trace, rest = split_trace(got[0])
    assert trace[0] == ("Return-Path", f"<{ALICE}>"), trace
    assert b".leading dot kept" in rest and b"\nafter" in rest, rest
    assert re.search(rb"^From:.*Alice A", rest, re.M), rest[:400]
    wait_queue_empty(a)


def test_sendmail_without_recipients_fails_with_ex_usage(peers):
    _need_sendmail()
    r = subprocess.run([str(SENDMAIL), "-C", str(peers["a"].conf)], input=b"Subject: x\n\nx\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 64, r      # EX_USAGE


def test_neomutt_batch_mode_sends_through_sendmail(peers, tmp_path):
    a, b = peers["a"], peers["b"]
    _need_sendmail()
    neomutt = "/usr/bin/neomutt"
    if not os.access(neomutt, os.X_OK):
        pytest.skip("neomutt not installed")
    mark = marker()
    rc = tmp_path / "muttrc"
    rc.write_text(
        f"set sendmail=\"{SENDMAIL} -C {a.conf}\"\n"
        f"set from=\"Alice <{ALICE}>\"\n"
        "set use_from=yes\nset use_envelope_from=yes\n"
        "set hostname=example.org\nset record=\"\"\nset copy=no\n"
        f"set folder=\"{tmp_path}\"\nset spoolfile=\"{tmp_path}\"\n"
        "set charset=utf-8\nset send_charset=utf-8\n")
    env = dict(os.environ, HOME=str(tmp_path), TERM="dumb", LC_ALL="C.UTF-8")
    r = subprocess.run([neomutt, "-n", "-F", str(rc), "-s", f"mutt {mark}", BOB_B],
                       input=f"from neomutt {mark}\n".encode(), capture_output=True,
                       env=env, timeout=30)
    assert r.returncode == 0, r
    got = wait_for(lambda: delivered(b, "bob", mark), 8, "neomutt's mail at B")
    trace, rest = split_trace(got[0])
    assert trace[0] == ("Return-Path", f"<{ALICE}>"), trace
    wait_queue_empty(a)
