"""Integration tests for `posthornctl queue list|show|flush|delete|bounce`.

Queue items come from a real posthornd (mail to a remote address through
submission with AUTH) whose [transport] sends every remote domain to a
port where nothing listens, so they stay queued; items in states SMTP
cannot produce (delivered or failed recipients, a broken envelope) are
written directly in the queue format of src/store/queue.h, into a server
that is not running. Exit statuses: 0 ok, 1 failure, 2 usage."""
import os
import re
import smtplib
import subprocess
import time
import uuid

import pytest

from mailserver import (DOMAIN, POSTHORNCTL, USERS, make_mailserver,  # noqa: F401
                        mailserver)

ALICE = f"alice@{DOMAIN}"
HOLD = {"transport": {"*": "smtp:[127.0.0.1]:1 tls=none"},
        # one failed attempt, then an hour: items stay put during a test
        "queue": {"retry": "1h", "lifetime": "5d"}}


def configure_hold(srv):
    for section, kv in HOLD.items():
        for k, v in kv.items():
            srv.set_config(k, v, section)


@pytest.fixture
def hold_server(make_mailserver):  # noqa: F811
    srv = make_mailserver(start=False)
    configure_hold(srv)
    srv.start()
    return srv


@pytest.fixture
def idle_server(make_mailserver):  # noqa: F811
    """Set up, never started: items are written by the test."""
    srv = make_mailserver(start=False)
    configure_hold(srv)
    return srv


def marker():
    return "mark-" + uuid.uuid4().hex[:12]


def submit(srv, rcpts, mark, sender=ALICE):
    msg = (f"From: Alice <{sender}>\r\nTo: {', '.join(rcpts)}\r\nSubject: {mark}\r\n"
           f"Message-ID: <{mark}@example.test>\r\n\r\nbody {mark}\r\n")
    with smtplib.SMTP(srv.host, srv.submission_port, timeout=20) as s:
        s.login("alice", USERS["alice"])
        assert s.sendmail(sender, rcpts, msg.encode()) == {}


def queued(srv, mark):
    """Ids of the queue items whose message contains mark."""
    return [i for i, (msg, _env) in srv.queue_items().items()
            if msg and mark.encode() in msg]


def submit_queued(srv, rcpts):
    mark = marker()
    submit(srv, rcpts, mark)
    ids = queued(srv, mark)
    assert len(ids) == 1, (ids, srv.queue_items())
    return ids[0], mark


def ctl(srv, *args, env=None):
    full = {k: v for k, v in os.environ.items() if k not in ("POSTHORN_CONFIG", "COLUMNS")}
    full.update(env or {})
    r = subprocess.run([str(POSTHORNCTL), "-c", str(srv.conf), *map(str, args)],
                       stdin=subprocess.DEVNULL, capture_output=True, env=full,
                       timeout=60, start_new_session=True)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def write_item(srv, ident, sender, rcpts, mark, created=None, nxt=0, attempts=0):
    """An item in the queue format: rcpts are (address, state, last reply
    or None)."""
    q = srv.data_dir / "queue"
    q.mkdir(exist_ok=True)
    now = int(time.time())
    (q / f"{ident}.msg").write_bytes(
        f"Return-Path: <{sender}>\r\nFrom: {sender or 'MAILER-DAEMON@x.test'}\r\n"
        f"Subject: {mark}\r\n\r\nbody {mark}\r\n".encode())
    lines = ["version 1", f"id {ident}", f"created {created or now - 7200}",
             "sender" + (f" {sender}" if sender else ""), "body 7bit", "smtputf8 0",
             f"attempts {attempts}", f"next {nxt}"]
    for addr, state, reply in rcpts:
        lines.append(f"rcpt {addr} {state}" + (f" | {reply}" if reply else ""))
    (q / f"{ident}.env").write_text("\n".join(lines) + "\n")


def env_field(env, key):
    m = re.search(rf"^{key}(?: (.*))?$", env, re.M)
    return None if m is None else (m.group(1) or "")


def rcpt_states(env):
    return dict(re.findall(r"^rcpt (\S+) (\S+)", env, re.M))


def daemon_alive(srv):
    return srv.proc is not None and srv.proc.poll() is None


# ---------------------------------------------------------------- list

def test_list_empty_queue(idle_server):
    r = ctl(idle_server, "queue", "list")
    assert r.returncode == 0, r.err
    assert r.out == "the queue is empty\n"


def test_list_and_show_a_relayed_message(hold_server):
    srv = hold_server
    ident, mark = submit_queued(srv, ["far@remote.test", "near@remote.test"])
    other, _ = submit_queued(srv, ["third@remote.test"])
    r = ctl(srv, "queue", "list")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert lines[-1] == "2 messages in the queue", r.out
    row = [l for l in lines if l.startswith(ident + " ")]
    assert len(row) == 1, r.out
    assert ALICE in row[0], row
    assert re.search(r"\s[0-2]/2\s", row[0]), row        # pending / total
    assert re.search(r"\s(\d+s|\d+m)\s", row[0]), row     # age
    assert re.search(r"\s(now|in \d+[smh])\s", row[0]), row
    assert "far@remote.test +1" in row[0] or "near@remote.test" in row[0], row
    assert any(l.startswith(other + " ") and "third@remote.test" in l for l in lines), r.out

    r = ctl(srv, "queue", "show", ident)
    assert r.returncode == 0, r.err
    assert re.search(rf"^id:\s+{re.escape(ident)}$", r.out, re.M), r.out
    assert re.search(rf"^sender:\s+<{re.escape(ALICE)}>$", r.out, re.M), r.out
    assert re.search(r"^\s+<far@remote\.test> (pending|failed|delivered)", r.out, re.M), r.out
    assert re.search(r"^\s+<near@remote\.test> ", r.out, re.M), r.out
    assert re.search(r"^recipients:\s+2 ", r.out, re.M), r.out
    head = r.out.split("\nheader:\n", 1)
    assert len(head) == 2, r.out
    assert f"Subject: {mark}" in head[1] and "Received: " in head[1], head[1]
    assert f"body {mark}" not in r.out, "show printed the body"
    assert "\r" not in r.out


def test_list_cuts_lines_to_the_width_and_shows_the_last_error(idle_server):
    srv = idle_server
    reply = "host mx.remote.test said: 451 4.3.0 " + "try again later " * 20
    write_item(srv, "A1", ALICE, [("x@remote.test", "pending", reply),
                                  ("y@remote.test", "delivered", "250 2.0.0 ok")],
               "m1", nxt=int(time.time()) + 300, attempts=3)
    write_item(srv, "B2", "", [("bounced@remote.test", "pending", None)], "m2")
    r = ctl(srv, "queue", "list")
    assert r.returncode == 0, r.err
    a1 = next(l for l in r.out.splitlines() if l.startswith("A1 "))
    assert "1/2" in a1 and "2h" in a1 and re.search(r"in [45]m", a1), a1
    assert a1.endswith(reply.strip()) or a1.endswith(reply), a1   # not cut in a pipe
    assert "x@remote.test +1" in a1, a1
    b2 = next(l for l in r.out.splitlines() if l.startswith("B2 "))
    assert "<>" in b2 and "now" in b2 and "1/1" in b2, b2
    r = ctl(srv, "queue", "list", env={"COLUMNS": "70"})
    assert r.returncode == 0
    assert all(len(l) <= 70 for l in r.out.splitlines()[1:-1]), r.out
    assert "2 messages in the queue" in r.out


def test_list_and_show_a_broken_envelope(idle_server):
    srv = idle_server
    write_item(srv, "GOOD", ALICE, [("x@remote.test", "pending", None)], "m")
    q = srv.data_dir / "queue"
    (q / "BAD.msg").write_bytes(b"Subject: x\r\n\r\nx\r\n")
    (q / "BAD.env").write_text("version 1\nid BAD\nnonsense here\n")
    r = ctl(srv, "queue", "list")
    assert r.returncode == 0, r.err
    assert re.search(r"^BAD\s+\(unreadable: ", r.out, re.M), r.out
    assert "2 messages in the queue" in r.out
    r = ctl(srv, "queue", "show", "BAD")
    assert r.returncode == 1 and "BAD" in r.err, (r.out, r.err)
    r = ctl(srv, "queue", "delete", "BAD")
    assert r.returncode == 0, r.err
    assert "unreadable" in r.out
    assert not (q / "BAD.env").exists() and not (q / "BAD.msg").exists()


def test_show_without_the_message_file(idle_server):
    srv = idle_server
    write_item(srv, "NOMSG", ALICE, [("x@remote.test", "pending", "451 4.4.1 busy")], "m")
    (srv.data_dir / "queue" / "NOMSG.msg").unlink()
    r = ctl(srv, "queue", "show", "NOMSG")
    assert r.returncode == 1, (r.out, r.err)
    assert "<x@remote.test> pending" in r.out and "last reply: 451 4.4.1 busy" in r.out
    assert "cannot read the message" in r.err


def test_show_keeps_control_characters_from_the_terminal(idle_server):
    srv = idle_server
    write_item(srv, "ESC", ALICE, [("x@remote.test", "pending", None)], "m")
    (srv.data_dir / "queue" / "ESC.msg").write_bytes(
        b"Subject: \x1b]0;owned\x07 red\r\nX-Bell: \x07\r\n\r\nbody\r\n")
    r = ctl(srv, "queue", "show", "ESC")
    assert r.returncode == 0, r.err
    assert "\x1b" not in r.out and "\x07" not in r.out, r.out
    assert "Subject: ?]0;owned? red" in r.out, r.out


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("args,status,text", [
    (["queue"], 2, "which command"),
    (["queue", "frob"], 2, 'unknown command "frob"'),
    (["queue", "list", "x"], 2, "takes no arguments"),
    (["queue", "show"], 2, "needs one ID"),
    (["queue", "delete"], 2, "needs one ID"),
    (["queue", "bounce", "a", "b"], 2, "needs one ID"),
    (["queue", "flush", "a", "b"], 2, "at most one ID"),
    (["queue", "show", "--frob", "x"], 2, "unexpected option"),
    (["queue", "show", "../../etc/passwd"], 1, "invalid queue id"),
    (["queue", "delete", ".hidden"], 1, "invalid queue id"),
    (["queue", "show", "NO-SUCH-ID"], 1, "no message NO-SUCH-ID in the queue"),
    (["queue", "delete", "NO-SUCH-ID"], 1, "no message NO-SUCH-ID in the queue"),
    (["queue", "bounce", "NO-SUCH-ID"], 1, "no message NO-SUCH-ID in the queue"),
    (["queue", "flush", "NO-SUCH-ID"], 1, "no message NO-SUCH-ID in the queue"),
])
def test_bad_arguments_and_unknown_ids(idle_server, args, status, text):
    r = ctl(idle_server, *args)
    assert r.returncode == status, (r.out, r.err)
    assert text in r.err, r.err
    assert r.err.startswith("posthornctl: "), r.err


@pytest.mark.parametrize("sub", [[], ["list"], ["show"], ["flush"], ["delete"], ["bounce"]])
def test_help(idle_server, sub):
    r = ctl(idle_server, "queue", *sub, "--help")
    assert r.returncode == 0 and r.err == ""
    assert "posthornctl [-c CONFIG] queue show ID" in r.out


def test_top_level_help_names_queue(idle_server):
    r = ctl(idle_server, "--help")
    assert r.returncode == 0 and "queue flush [ID]" in r.out


# ---------------------------------------------------------------- delete

def test_delete_removes_both_files(hold_server):
    srv = hold_server
    ident, mark = submit_queued(srv, ["gone@remote.test"])
    r = ctl(srv, "queue", "delete", ident)
    assert r.returncode == 0, r.err
    assert r.out.startswith(f"deleted {ident}: ") and f"<{ALICE}>" in r.out, r.out
    q = srv.data_dir / "queue"
    assert not (q / f"{ident}.env").exists() and not (q / f"{ident}.msg").exists()
    assert ident not in ctl(srv, "queue", "list").out
    r = ctl(srv, "queue", "delete", ident)
    assert r.returncode == 1 and "no message" in r.err
    time.sleep(0.3)
    assert not any(b"delivery-status" in m for m in srv.read_messages("alice")), \
        "delete sent a report"
    assert daemon_alive(srv)


# ---------------------------------------------------------------- flush

def test_flush_with_the_daemon_stopped_and_running(hold_server):
    srv = hold_server
    ident, _ = submit_queued(srv, ["later@remote.test"])
    other, _ = submit_queued(srv, ["later2@remote.test"])
    assert srv.stop() == 0
    q = srv.data_dir / "queue"
    future = int(time.time()) + 3600
    for i in (ident, other):
        p = q / f"{i}.env"
        p.write_text(re.sub(r"^next \d+$", f"next {future}", p.read_text(), flags=re.M))
    r = ctl(srv, "queue", "flush", ident)
    assert r.returncode == 0, r.err
    assert f"{ident} is due now" in r.out
    assert "posthornd is not running: the queue will be tried when it starts" in r.out
    assert env_field((q / f"{ident}.env").read_text(), "next") == "0"
    assert env_field((q / f"{other}.env").read_text(), "next") == str(future)
    r = ctl(srv, "queue", "flush")
    assert r.returncode == 0, r.err
    assert "2 messages due now" in r.out, r.out
    assert env_field((q / f"{other}.env").read_text(), "next") == "0"

    srv.start()
    r = ctl(srv, "queue", "flush")
    assert r.returncode == 0, r.err
    assert re.search(rf"posthornd \(pid {srv.proc.pid}\) was told to try the queue now",
                     r.out), r.out
    time.sleep(0.5)
    assert daemon_alive(srv), "posthornd died of SIGUSR1"
    # the envelopes stay readable for the daemon, which runs unprivileged
    for i in (ident, other):
        assert i in srv.queue_items()
        r = ctl(srv, "queue", "show", i)
        assert r.returncode == 0, r.err


def test_flush_ignores_a_stale_pid_file(idle_server):
    srv = idle_server
    write_item(srv, "S1", ALICE, [("x@remote.test", "pending", None)], "m",
               nxt=int(time.time()) + 600)
    # a pid that is alive but not posthornd: must not get SIGUSR1
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (srv.dir / "posthornd.pid").write_text(f"{sleeper.pid}\n")
        r = ctl(srv, "queue", "flush")
        assert r.returncode == 0, r.err
        assert "posthornd is not running" in r.out, r.out
        assert sleeper.poll() is None, "SIGUSR1 went to another program"
    finally:
        sleeper.kill()
        sleeper.wait()


# ---------------------------------------------------------------- bounce

def dsn_for(srv, mark):
    """The DSN about mark: in alice's Maildir (delivered by the queue
    manager) or still queued from <>; None while neither."""
    for m in srv.read_messages("alice"):
        if b"delivery-status" in m and mark.encode() in m:
            return m
    for msg, env in srv.queue_items().values():
        if msg and env_field(env, "sender") == "" and mark.encode() in msg:
            assert rcpt_states(env) == {ALICE: "pending"}, env
            return msg
    return None


def wait_dsn(srv, mark, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = dsn_for(srv, mark)
        if d is not None:
            return d
        time.sleep(0.1)
    raise AssertionError(f"no DSN about {mark}: queue {srv.queue_items()}")


def test_bounce_returns_the_message_to_the_sender(hold_server):
    srv = hold_server
    ident, mark = submit_queued(srv, ["nobody@remote.test"])
    r = ctl(srv, "queue", "bounce", ident)
    assert r.returncode == 0, r.err
    assert f"returned 1 recipient of {ident} to <{ALICE}>" in r.out, r.out
    assert f"removed {ident} from the queue" in r.out, r.out
    assert "was told to send the report" in r.out, r.out
    assert ident not in srv.queue_items()
    dsn = wait_dsn(srv, mark)
    assert b"multipart/report" in dsn and b"report-type=delivery-status" in dsn
    assert re.search(rb"Final-Recipient: rfc822; ?nobody@remote\.test", dsn), dsn
    assert re.search(rb"Action: failed", dsn), dsn
    assert b"returned to the sender by the administrator" in dsn
    time.sleep(0.3)
    assert daemon_alive(srv), "posthornd died of SIGUSR1"
    assert ctl(srv, "queue", "bounce", ident).returncode == 1


def test_bounce_only_the_pending_recipients(idle_server):
    srv = idle_server
    write_item(srv, "P1", ALICE, [("done@remote.test", "delivered", "250 ok"),
                                  ("wait@remote.test", "pending", "451 4.2.0 busy"),
                                  ("bad@remote.test", "failed", "550 5.1.1 no")], "mk-p1")
    r = ctl(srv, "queue", "bounce", "P1")
    assert r.returncode == 0, r.err
    assert "returned 1 recipient of P1" in r.out
    assert "posthornd is not running" in r.out
    items = srv.queue_items()
    assert "P1" not in items, "an item with nothing pending stayed"
    dsns = [(m, e) for i, (m, e) in items.items() if env_field(e, "sender") == ""]
    assert len(dsns) == 1, items
    msg, env = dsns[0]
    assert rcpt_states(env) == {ALICE: "pending"}, env
    assert b"wait@remote.test" in msg and b"done@remote.test" not in msg
    assert b"451 4.2.0 busy" in msg, "the last attempt's reply is kept in the report"


def test_bounce_with_nothing_pending_fails(idle_server):
    srv = idle_server
    write_item(srv, "N1", ALICE, [("done@remote.test", "delivered", "250 ok")], "m")
    r = ctl(srv, "queue", "bounce", "N1")
    assert r.returncode == 1 and "nothing to bounce" in r.err, (r.out, r.err)
    assert "N1" in srv.queue_items()


def test_bounce_of_a_bounce_goes_to_the_postmaster(idle_server):
    srv = idle_server
    write_item(srv, "Z1", "", [("lost@remote.test", "pending", None)], "mk-z1")
    r = ctl(srv, "queue", "bounce", "Z1")
    assert r.returncode == 0, r.err
    assert "goes to the postmaster" in r.out, r.out
    items = srv.queue_items()
    assert "Z1" not in items
    reports = [e for m, e in items.values() if m and b"lost@remote.test" in m]
    assert len(reports) == 1, items
    assert list(rcpt_states(reports[0])) == [f"postmaster@{DOMAIN}"], reports
