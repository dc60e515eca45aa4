"""posthorn fetch against posthornd's POP3 server: keep mode (mail stays on
the server, moved to cur/ by the POP3 commit), delete mode (gone only once
stored), UIDL memory (a second fetch brings nothing new), STLS and POP3S,
byte-exact storage of awkward messages, and a fetch killed with SIGKILL in
the middle of a long download that, run again, leaves every message exactly
once, in both modes."""
import os
import poplib
import random
import signal
import time

import pytest

from mailserver import HOST, pop3_wire
from clientlib import (EXIT, ThrottleProxy, crlf, fetch_summary, message_ids,
                       module_server, parse, simple_message, wait_for)
from clientlib import client, make_client  # noqa: F401  (fixtures)

srv = module_server(pool=30)


def fill(srv, user, n, size=0, tag="m"):
    """Puts n messages into user's server Maildir; returns their
    Message-IDs in order."""
    ids = []
    filler = "x" * 70 + "\n"
    for i in range(n):
        mid = f"<{tag}{i}.{time.monotonic_ns()}@remote.test>"
        body = f"message {i}\n" + filler * (size // 71)
        srv.put_message(user, simple_message(f"{tag} {i}", msgid=mid, body=body))
        ids.append(mid)
    return ids


def server_files(srv, user):
    return srv.messages(user, "new") + srv.messages(user, "cur")


def local_ids(c):
    return message_ids(c.folder())


def wait_unlocked(srv, user, password, timeout=10):
    """Waits until a POP3 login of user succeeds (the lock of a killed
    session is gone), then QUITs without touching anything."""
    deadline = time.monotonic() + timeout
    while True:
        p = poplib.POP3(HOST, srv.port("pop3"), timeout=5)
        try:
            p.user(user)
            p.pass_(password)
            p.quit()
            return
        except poplib.error_proto:
            p.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ------------------------------------------------------------------ modes

def test_keep_mode_leaves_mail_and_second_fetch_brings_nothing(client):
    ids = fill(client.srv, client.user, 3)
    r = client.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[:2] == (3, 0), r
    assert "\r" not in r.err, "progress output while stderr is not a terminal"
    assert sorted(local_ids(client)) == sorted(ids)
    # keep: still on the server, moved to cur/ and seen by the POP3 commit
    s = client.srv
    assert s.messages(client.user, "new") == []
    cur = s.messages(client.user, "cur")
    assert len(cur) == 3 and all(p.name.endswith(":2,S") for p in cur), cur

    r = client.fetch()
    assert r.rc == 0, r
    new, already, deleted = fetch_summary(r)
    assert (new, already) == (0, 3), r
    assert not deleted
    assert len(client.folder()) == 3

    more = fill(s, client.user, 1, tag="late")
    r = client.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[:2] == (1, 3), r
    assert sorted(local_ids(client)) == sorted(ids + more)
    assert len(server_files(s, client.user)) == 4


def test_delete_mode_removes_after_storing(client):
    client.write(keep="no")
    ids = fill(client.srv, client.user, 4)
    r = client.fetch()
    assert r.rc == 0, r
    new, already, deleted = fetch_summary(r)
    assert (new, already, deleted) == (4, 0, 4), r
    assert sorted(local_ids(client)) == sorted(ids)
    assert server_files(client.srv, client.user) == []
    r = client.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[:2] == (0, 0), r
    assert len(client.folder()) == 4


def test_command_line_overrides_keep(client):
    ids = fill(client.srv, client.user, 2)
    r = client.fetch("--delete")        # config says keep = yes
    assert r.rc == 0, r
    assert fetch_summary(r)[2] == 2, r
    assert server_files(client.srv, client.user) == []
    client.write(keep="no")
    more = fill(client.srv, client.user, 1, tag="k")
    r = client.fetch("--keep")
    assert r.rc == 0, r
    assert len(server_files(client.srv, client.user)) == 1
    assert sorted(local_ids(client)) == sorted(ids + more)


def test_delete_mode_after_keep_fetch_deletes_already_stored(client):
    ids = fill(client.srv, client.user, 2)
    assert client.fetch().rc == 0
    r = client.fetch("--delete")
    assert r.rc == 0, r
    new, already, deleted = fetch_summary(r)
    assert new == 0 and already == 2 and deleted == 2, r
    assert server_files(client.srv, client.user) == []
    assert sorted(local_ids(client)) == sorted(ids)


# ------------------------------------------------------------------ TLS

def test_fetch_over_stls(client):
    ids = fill(client.srv, client.user, 1)
    r = client.fetch("--trace")
    assert r.rc == 0, r
    assert "C: STLS" in r.err, r.err
    assert local_ids(client) == ids


def test_fetch_over_pop3s(client):
    client.write(pop3_tls="tls", pop3_port=client.srv.port("pop3s"))
    ids = fill(client.srv, client.user, 2)
    r = client.fetch("--trace")
    assert r.rc == 0, r
    assert "C: STLS" not in r.err
    assert "S: +OK" in r.err
    assert sorted(local_ids(client)) == sorted(ids)


def test_fetch_account_argument(make_client):
    a, b = make_client(), make_client()
    a.extra_accounts["other"] = {k: v for k, v in b.settings.items()}
    a.extra_accounts["other"]["password_env"] = "PH_PW2"
    a.write()
    ids = fill(a.srv, b.user, 1)
    r = a.run("fetch", "other", env={"PH_PW2": b.password})
    assert r.rc == 0, r
    assert local_ids(b) == ids          # b's mail_dir, named in "other"
    assert a.folder() == []


# ------------------------------------------------------------------ content

def test_stored_bytes_are_what_retr_sends(client):
    s = client.srv
    rng = random.Random(3)
    datas = [
        crlf("From: a@remote.test\nSubject: dots\nMessage-ID: <d1@remote.test>\n\n"
             ".\n..\n.leading\nFrom the start\n>From quoted\nend\n"),
        b"From: a@remote.test\nSubject: bare LF\nMessage-ID: <d2@remote.test>\n\nline\n.dot\nlast\n",
        crlf("Subject: no final newline\nMessage-ID: <d3@remote.test>\n\n") + b"no newline",
        crlf("Subject: big\nMessage-ID: <d4@remote.test>\nContent-Type: text/plain; charset=gb2312\n"
             "Content-Transfer-Encoding: 8bit\n\n")
        + b"".join(b"%06d " % i + "中文内容".encode("gb2312") + bytes(rng.randrange(65, 90) for _ in range(60)) + b"\r\n"
                   for i in range(20000)),
    ]
    for d in datas:
        s.put_message(client.user, d)
    r = client.fetch()
    assert r.rc == 0, r
    got = {parse(p.read_bytes())["Message-ID"]: p.read_bytes() for p in client.folder()}
    assert len(got) == 4
    for d, mid in zip(datas, ["<d1@remote.test>", "<d2@remote.test>", "<d3@remote.test>", "<d4@remote.test>"]):
        wire = pop3_wire(d)
        stored = got[mid]
        assert stored in (wire, wire.replace(b"\r\n", b"\n")), \
            f"{mid}: stored {stored[:300]!r}... ({len(stored)} bytes), RETR sent {wire[:300]!r}... ({len(wire)})"


def test_fetch_into_missing_mail_dir_creates_it(client):
    client.write(mail_dir=str(client.base / "deep" / "new" / "Mail"))
    fill(client.srv, client.user, 1)
    r = client.fetch()
    assert r.rc == 0, r
    assert len(list((client.base / "deep" / "new" / "Mail" / "new").iterdir())) == 1


def test_fetch_empty_mailbox(client):
    r = client.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[:2] == (0, 0)
    assert client.folder() == []


# ------------------------------------------------------------------ interrupted

@pytest.mark.parametrize("keep", ["yes", "no"])
def test_killed_fetch_resumes_exactly_once(client, keep):
    s = client.srv
    total = 300
    ids = fill(s, client.user, total, size=2000, tag=f"kill{keep}")
    with ThrottleProxy(s.port("pop3"), chunk=4096, delay=0.01) as proxy:
        client.write(keep=keep, pop3_port=proxy.port)
        proc = client.popen("fetch")
        newdir = client.mail_dir / "new"
        try:
            wait_for(lambda: proc.poll() is not None
                     or (newdir.is_dir() and len(os.listdir(newdir)) >= 5), timeout=30, step=0.002)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL, \
            f"fetch ended by itself (exit {proc.returncode}) before it could be killed:\n" \
            f"{out.decode(errors='replace')}\n{err.decode(errors='replace')[:4000]}"
    stored_before = local_ids(client)
    assert 5 <= len(stored_before) < total, \
        f"{len(stored_before)} stored: the fetch was not interrupted in the middle"
    assert len(set(stored_before)) == len(stored_before), "duplicates before the rerun"
    assert set(stored_before) <= set(ids)
    # nothing was committed on the server by the killed session
    wait_unlocked(s, client.user, client.password)
    assert len(server_files(s, client.user)) == total

    client.write(pop3_port=s.port("pop3"))
    r = client.fetch()
    assert r.rc == 0, r
    new, already, deleted = fetch_summary(r)
    assert (new, already) == (total - len(stored_before), len(stored_before)), r
    got = local_ids(client)
    assert len(got) == total, f"{len(got)} messages locally, {len(set(got))} distinct"
    assert sorted(got) == sorted(ids), "missing or duplicated messages"
    if keep == "no":
        assert deleted == total, r
        assert server_files(s, client.user) == []
    else:
        assert len(server_files(s, client.user)) == total

    r = client.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[0] == 0, r
    assert len(client.folder()) == total


def test_fetch_locked_mailbox_changes_nothing(client):
    """The lock is also the check that fetch stores nothing when it cannot
    log in (the error test checks the exit status)."""
    fill(client.srv, client.user, 1)
    p = poplib.POP3(HOST, client.srv.port("pop3"), timeout=5)
    try:
        p.user(client.user)
        p.pass_(client.password)
        r = client.fetch()
    finally:
        p.quit()
    assert r.rc == EXIT["LOCKED"], r
    assert client.folder() == []
    r = client.fetch()
    assert r.rc == 0, r
    assert len(client.folder()) == 1
