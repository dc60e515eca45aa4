"""posthornd's reverse DNS lookup at connect: the greeting waits for the
forward-confirmed name at most a few seconds, /etc/hosts answers without a
nameserver, a dead nameserver leaves the client "unknown", and a client
that leaves during the lookup is cleaned up.

A client from 127.0.0.2 (loopback, but in no /etc/hosts) forces a real
DNS query; `resolver` points at a UDP socket we hold and never answer.
"""
import socket
import time
import uuid

import pytest

from mailserver import HOST, SmtpClient, check_delivery, crlf, dot_stuff, find_marker
from mailserver import make_mailserver  # noqa: F401 (fixture)

STRANGER = "127.0.0.2"
DNS_WAIT = 3            # CONN_RESOLVE_WAIT in src/daemon/conn.c
ALICE = "alice@example.test"
SENDER = "sender@remote.test"


@pytest.fixture
def silent_nameserver():
    """A UDP port that takes queries and never answers (no ICMP either)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    yield f"{HOST}:{s.getsockname()[1]}"
    s.close()


def client_from(source, port, timeout=10):
    """An SmtpClient whose socket comes from source (an address of ours)."""
    c = SmtpClient.__new__(SmtpClient)
    c.timeout, c.port, c.buf = timeout, port, b""
    c.sock = socket.create_connection((HOST, port), timeout=timeout,
                                      source_address=(source, 0))
    return c


def can_use_stranger():
    try:
        s = socket.socket()
        s.bind((STRANGER, 0))
        s.close()
        return True
    except OSError:
        return False


def greeting_delay(c):
    start = time.monotonic()
    g = c.greeting()
    assert g.code == 220, g
    return time.monotonic() - start


def deliver(srv, c, helo, peer):
    """One message through c; returns its Received field."""
    mark = uuid.uuid4().hex
    sent = crlf(f"From: <{SENDER}>\nTo: <{ALICE}>\nSubject: {mark}\n\nhi\n")
    for line, code in ((f"EHLO {helo}", 250), (f"MAIL FROM:<{SENDER}>", 250),
                       (f"RCPT TO:<{ALICE}>", 250), ("DATA", 354)):
        r = c.cmd(line)
        assert r.code == code, (line, r)
    c.send(dot_stuff(sent) + b".\r\n")
    assert c.reply().code == 250
    c.cmd("QUIT")
    c.close()
    srv.wait_messages("alice", 1)
    return check_delivery(find_marker(srv, "alice", mark)[0], sent, SENDER,
                          helo, "ESMTP", for_rcpt=ALICE, peer=peer)


def test_dead_resolver_greets_in_time_and_says_unknown(make_mailserver,
                                                       silent_nameserver):
    if not can_use_stranger():
        pytest.skip(f"cannot bind {STRANGER}")
    srv = make_mailserver(config={"resolver": silent_nameserver})
    c = client_from(STRANGER, srv.smtp_port)
    delay = greeting_delay(c)
    assert delay <= DNS_WAIT + 1, f"greeting after {delay:.1f}s"
    rcv = deliver(srv, c, "stranger.example", STRANGER)
    assert f"(unknown [{STRANGER}])" in rcv, rcv
    assert "reverse name" not in srv.log() or "timed out" in srv.log()


def test_hosts_names_loopback_without_a_nameserver(make_mailserver,
                                                   silent_nameserver):
    srv = make_mailserver(config={"resolver": silent_nameserver})
    c = SmtpClient(HOST, srv.smtp_port)
    delay = greeting_delay(c)
    assert delay < 1, f"/etc/hosts answer took {delay:.1f}s"
    rcv = deliver(srv, c, "local.example", HOST)
    name = socket.gethostbyaddr(HOST)[0]
    assert f"({name} [{HOST}])" in rcv, rcv


def test_client_leaving_during_the_lookup_is_cleaned_up(make_mailserver,
                                                        silent_nameserver):
    if not can_use_stranger():
        pytest.skip(f"cannot bind {STRANGER}")
    srv = make_mailserver(config={"resolver": silent_nameserver},
                          limits={"connections_per_ip": 1})
    c = client_from(STRANGER, srv.smtp_port)
    time.sleep(0.3)
    c.sock.close()
    deadline = time.monotonic() + 5
    while "client left during the reverse lookup" not in srv.log():
        assert time.monotonic() < deadline, srv.log()[-2000:]
        time.sleep(0.05)
    # Its slot comes back once the outstanding lookup ended.
    time.sleep(DNS_WAIT + 0.5)
    c = client_from(STRANGER, srv.smtp_port)
    assert c.greeting().code == 220
    c.cmd("QUIT")
    c.close()


def test_stop_during_a_lookup_is_clean(make_mailserver, silent_nameserver):
    if not can_use_stranger():
        pytest.skip(f"cannot bind {STRANGER}")
    srv = make_mailserver(config={"resolver": silent_nameserver})
    c = client_from(STRANGER, srv.smtp_port)
    time.sleep(0.3)
    start = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - start < 2 * DNS_WAIT + 2
    srv.assert_clean()
    c.sock.close()


def test_early_talker_bytes_reach_the_session(make_mailserver,
                                              silent_nameserver):
    if not can_use_stranger():
        pytest.skip(f"cannot bind {STRANGER}")
    srv = make_mailserver(config={"resolver": silent_nameserver})
    c = client_from(STRANGER, srv.smtp_port)
    c.send("NOOP\r\n")   # before the greeting, while the lookup runs
    assert c.greeting().code == 220
    assert c.reply().code == 250
    c.close()
