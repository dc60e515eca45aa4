"""POP3 under load: 20 concurrent retrieving sessions, one per mailbox, on
20 mailboxes while SMTP sessions deliver into them, and a 21st client
that keeps grabbing random mailboxes (so the owners meet [IN-USE]). Every
retrieving session takes its snapshot, RETRs everything in it, DELEs it
and QUITs; then the next session. In the end every message that was put
into a mailbox or got its 250 over SMTP was retrieved exactly once over
all sessions (nothing lost, nothing retrieved twice, in particular not
within a session), complete and with the size LIST gave, and the
Maildirs are empty. Clients: poplib (plain and POP3S) and Pop3Client
pipelining a whole session's RETR/DELE in one write."""
import poplib
import random
import re
import smtplib
import ssl
import threading
import time

from mailserver import DOMAIN, HOST, Pop3Client, crlf, make_mailserver  # noqa: F401

MAILBOXES = [f"l{n:02d}" for n in range(20)]
USERS = {u: f"pw-{u}-Load" for u in MAILBOXES}
PREFILLED = 5                # per mailbox, written into the Maildir
SMTP_SESSIONS = 4
PER_SMTP_SESSION = 50        # 200 messages over SMTP, 10 per mailbox
LIMIT_SECONDS = 20


def load_message(seq, user):
    head = crlf(f"From: <load@remote.test>\nTo: <{user}@{DOMAIN}>\nSubject: pop3 load {seq}\n"
                f"Message-ID: <pop3load-{seq}@remote.test>\nX-Seq: {seq}\n\n")
    body = b"".join(f"line {k:03d} of {seq}\r\n".encode() for k in range((len(seq) * 7) % 40 + 3))
    return head + body + b".\r\n" + f"END {seq}\r\n".encode()


SEQ_RE = re.compile(rb"\r\nX-Seq: ([^\r\n]+)\r\n")


def parse(data):
    """(seq, complete) of a retrieved message (CRLF form)."""
    m = SEQ_RE.search(data)
    assert m, f"retrieved a message without X-Seq: {data[:300]!r}"
    seq = m.group(1).decode()
    return seq, data.endswith(f"\r\nEND {seq}\r\n".encode())


class Run:
    def __init__(self, srv):
        self.srv = srv
        self.lock = threading.Lock()
        self.expected = {u: set() for u in MAILBOXES}    # put or acked
        self.got = {u: [] for u in MAILBOXES}            # retrieved and QUIT ok
        self.sessions = {u: 0 for u in MAILBOXES}
        self.in_use = 0
        self.errors = []
        self.smtp_done = threading.Event()
        self.deadline = time.monotonic() + LIMIT_SECONDS

    def fail(self, what):
        with self.lock:
            self.errors.append(what)

    # -- SMTP ----------------------------------------------------------
    def smtp(self, t):
        try:
            with smtplib.SMTP(HOST, self.srv.smtp_port, local_hostname=f"load{t}.example",
                              timeout=30) as s:
                for i in range(PER_SMTP_SESSION):
                    user = MAILBOXES[(t * PER_SMTP_SESSION + i) % len(MAILBOXES)]
                    seq = f"smtp-{t}-{i:03d}"
                    refused = s.sendmail("load@remote.test", [f"{user}@{DOMAIN}"],
                                         load_message(seq, user))
                    assert refused == {}, refused
                    with self.lock:
                        self.expected[user].add(seq)
                s.quit()
        except Exception as e:
            self.fail(f"smtp {t}: {e!r}")

    # -- POP3 sessions ---------------------------------------------------
    def session_poplib(self, user, tls):
        """One session; returns the number of messages it had, or None when
        the mailbox was [IN-USE]."""
        if tls:
            ctx = ssl.create_default_context(cafile=str(self.srv.tls_cert))
            ctx.check_hostname = False
            p = poplib.POP3_SSL(HOST, self.srv.pop3s_port, timeout=30, context=ctx)
        else:
            p = poplib.POP3(HOST, self.srv.pop3_port, timeout=30)
        try:
            p.user(user)
            try:
                p.pass_(USERS[user])
            except poplib.error_proto as e:
                if b"[IN-USE]" in e.args[0]:
                    return None
                raise
            _, listing, _ = p.list()
            sizes = dict(tuple(map(int, l.split()[:2])) for l in listing)
            _, uidl, _ = p.uidl()
            uids = [l.split()[1] for l in uidl]
            assert len(set(uids)) == len(uids) == len(sizes), f"{user}: UIDL {uidl} vs LIST {listing}"
            seqs = []
            for n in sorted(sizes):
                _, lines, octets = p.retr(n)
                data = b"".join(l + b"\r\n" for l in lines)
                assert octets == len(data) == sizes[n], \
                    f"{user}: message {n}: LIST {sizes[n]}, RETR {len(data)}"
                seq, complete = parse(data)
                assert complete, f"{user}: message {seq} truncated"
                seqs.append(seq)
                p.dele(n)
            assert len(set(seqs)) == len(seqs), f"{user}: retrieved twice in one session: {seqs}"
            assert p.quit().startswith(b"+OK")
            with self.lock:
                self.got[user] += seqs
                self.sessions[user] += 1
            return len(seqs)
        finally:
            p.close()

    def session_pipelined(self, user):
        c = Pop3Client(HOST, self.srv.pop3_port, timeout=30)
        try:
            assert c.greeting().ok
            c.send(f"USER {user}\r\nPASS {USERS[user]}\r\nLIST\r\n".encode())
            assert c.reply().ok
            r = c.reply()
            if not r.ok:
                if r.code == "IN-USE":
                    c.reply()        # the -ERR to LIST
                    return None
                raise AssertionError(f"{user}: login {r}")
            r = c.multi_reply()
            assert r.ok, r
            sizes = dict(tuple(map(int, l.split()[:2])) for l in r.lines)
            # the whole rest of the session in one write
            c.send(b"".join(b"RETR %d\r\nDELE %d\r\n" % (n, n) for n in sorted(sizes)) + b"QUIT\r\n")
            seqs = []
            for n in sorted(sizes):
                r = c.multi_reply()
                assert r.ok, f"{user}: RETR {n}: {r}"
                assert len(r.body) == sizes[n], f"{user}: message {n}: LIST {sizes[n]}, RETR {len(r.body)}"
                seq, complete = parse(r.body)
                assert complete, f"{user}: message {seq} truncated"
                seqs.append(seq)
                assert c.reply().ok, f"{user}: DELE {n}"
            assert len(set(seqs)) == len(seqs), f"{user}: retrieved twice in one session: {seqs}"
            assert c.reply().ok, f"{user}: QUIT"
            c.expect_closed()
            with self.lock:
                self.got[user] += seqs
                self.sessions[user] += 1
            return len(seqs)
        finally:
            c.close()

    def retriever(self, k):
        user = MAILBOXES[k]
        rng = random.Random(k)
        try:
            while time.monotonic() < self.deadline:
                done = self.smtp_done.is_set()
                if k % 2:
                    n = self.session_pipelined(user)
                else:
                    n = self.session_poplib(user, tls=(k % 4 == 0))
                if n is None:
                    with self.lock:
                        self.in_use += 1
                elif done and n == 0:
                    return           # drained after the last delivery
                time.sleep(rng.uniform(0, 0.05))
            self.fail(f"{user}: still retrieving at the deadline")
        except Exception as e:
            self.fail(f"retriever {user}: {e!r}")

    def intruder(self):
        """Logs in to random mailboxes and leaves without deleting."""
        rng = random.Random(99)
        try:
            while not self.smtp_done.is_set() and time.monotonic() < self.deadline:
                user = rng.choice(MAILBOXES)
                c = Pop3Client(HOST, self.srv.pop3_port, timeout=30)
                try:
                    assert c.greeting().ok
                    assert c.cmd(f"USER {user}").ok
                    r = c.cmd(f"PASS {USERS[user]}")
                    assert r.ok or r.code == "IN-USE", f"intruder {user}: {r}"
                    if r.ok:
                        assert c.cmd("STAT").ok
                        time.sleep(0.01)
                    if rng.random() < 0.5:
                        assert c.cmd("QUIT").ok
                finally:
                    c.close()
        except Exception as e:
            self.fail(f"intruder: {e!r}")


def test_20_sessions_on_20_mailboxes_while_smtp_delivers(make_mailserver):
    srv = make_mailserver(users=USERS, aliases={},
                          limits={"connections_per_ip": 500, "auth_delay_ms": 0})
    run = Run(srv)
    for u in MAILBOXES:
        for i in range(PREFILLED):
            seq = f"put-{u}-{i}"
            srv.put_message(u, load_message(seq, u))
            run.expected[u].add(seq)
    t0 = time.monotonic()
    smtp = [threading.Thread(target=run.smtp, args=(t,), daemon=True) for t in range(SMTP_SESSIONS)]
    pop = [threading.Thread(target=run.retriever, args=(k,), daemon=True) for k in range(len(MAILBOXES))]
    intruder = threading.Thread(target=run.intruder, daemon=True)
    for th in pop + smtp + [intruder]:
        th.start()
    for th in smtp:
        th.join(LIMIT_SECONDS)
    run.smtp_done.set()
    for th in pop + [intruder]:
        th.join(max(0.1, run.deadline + 5 - time.monotonic()))
    elapsed = time.monotonic() - t0
    assert not [th for th in smtp + pop + [intruder] if th.is_alive()], "threads still running"
    assert not run.errors, "\n".join(run.errors[:20])
    total = sum(len(v) for v in run.expected.values())
    assert total == len(MAILBOXES) * PREFILLED + SMTP_SESSIONS * PER_SMTP_SESSION
    for u in MAILBOXES:
        got = run.got[u]
        assert len(got) == len(set(got)), f"{u}: retrieved more than once over sessions: " \
            f"{sorted(s for s in set(got) if got.count(s) > 1)}"
        lost = run.expected[u] - set(got)
        assert not lost, f"{u}: never retrieved: {sorted(lost)}"
        extra = set(got) - run.expected[u]
        assert not extra, f"{u}: retrieved messages it was never sent: {sorted(extra)}"
        assert srv.messages(u) == [] and srv.messages(u, "cur") == [], f"{u}: Maildir not empty"
    print(f"{total} messages, {sum(run.sessions.values())} sessions, "
          f"{run.in_use} [IN-USE], {elapsed:.1f}s")
    assert elapsed < LIMIT_SECONDS, f"took {elapsed:.1f}s"
