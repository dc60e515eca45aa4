"""posthornd as a daemon: start-up checks and exit codes, the pid file,
signals (SIGTERM stops, SIGHUP reloads without dropping sessions), the
connection limits, implicit TLS and STARTTLS glue, and --stdio smtp.

The SMTP protocol itself is tested in test_smtp*.py; these tests only need
enough of it to see that the daemon around the session does its job.
"""
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from mailserver import HOST, POSTHORND, SmtpClient
from mailserver import make_mailserver, mailserver  # noqa: F401 (fixtures)

EX_USAGE, EX_NOUSER, EX_OSERR, EX_CONFIG = 64, 67, 71, 78


def run_daemon(srv, *args, input=b"", timeout=30):
    return subprocess.run([str(POSTHORND), "-c", str(srv.conf), *map(str, args)],
                          input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_log(srv, text, timeout=10):
    wait_for(lambda: text in srv.log(), timeout, f"{text!r} in the log:\n{srv.log()[-3000:]}")


def refused(port):
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def unverified_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def run_dir(srv):
    """A directory the daemon can still remove its pid file from after it
    dropped root privileges."""
    d = srv.dir / "run"
    d.mkdir(exist_ok=True)
    d.chmod(0o777)
    return d


def session_to_rcpt(srv, port=None):
    c = SmtpClient(HOST, port or srv.smtp_port)
    assert c.greeting().code == 220
    assert c.cmd("EHLO client.test").code == 250
    assert c.cmd("MAIL FROM:<sender@remote.test>").code == 250
    return c


# ------------------------------------------------------------ start and stop

def test_ready_pid_file_and_sigterm(make_mailserver):
    srv = make_mailserver(start=False)
    pid_file = run_dir(srv) / "posthornd.pid"
    srv.set_config("pid_file", pid_file)
    srv.start()
    wait_log(srv, "ready")
    log = srv.log()
    for proto in ("smtp", "submission", "smtps"):
        assert f"listening on {HOST}:{srv.port(proto)} ({proto}," in log
    assert pid_file.read_text().strip() == str(srv.pid)
    assert srv.stop() == 0
    assert not pid_file.exists(), "pid file left behind after SIGTERM"
    for proto in ("smtp", "submission", "smtps"):
        assert refused(srv.port(proto)), f"{proto} still accepting after exit"


def test_sigterm_says_421_to_idle_sessions(mailserver):
    c = SmtpClient(HOST, mailserver.smtp_port)
    assert c.greeting().code == 220
    assert c.cmd("EHLO client.test").code == 250
    mailserver.proc.send_signal(signal.SIGTERM)
    r = c.reply()
    assert r.code == 421, r
    c.expect_closed()
    mailserver.proc.wait(timeout=15)
    assert mailserver.proc.returncode == 0
    mailserver.returncodes.append(0)


def test_sigterm_waits_for_a_message_then_times_out(make_mailserver):
    srv = make_mailserver(limits={"shutdown_timeout": 2})
    c = session_to_rcpt(srv)
    assert c.cmd("RCPT TO:<alice@example.test>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: half\r\n\r\nstill typing\r\n")
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert srv.running, "exited while a message was being received"
    assert refused(srv.smtp_port), "still accepting after SIGTERM"
    srv.proc.wait(timeout=15)
    assert srv.proc.returncode == 0
    assert time.monotonic() - t0 < 10
    srv.returncodes.append(0)
    assert srv.messages("alice") == [], "a message that got no 250 was delivered"


def test_daemonises_without_f(make_mailserver):
    srv = make_mailserver(start=False)
    pid_file = run_dir(srv) / "posthornd.pid"
    srv.set_config("pid_file", pid_file)
    r = run_daemon(srv)
    assert r.returncode == 0, r.stderr
    pid = int(pid_file.read_text())
    try:
        c = SmtpClient(HOST, srv.smtp_port)
        assert c.greeting().code == 220
        c.close()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 15, "the daemon to exit")
    assert not pid_file.exists()


# ------------------------------------------------------------ refusals at start

def test_bad_config_exit_78_with_file_and_line(make_mailserver):
    srv = make_mailserver(start=False)
    lines = srv.conf.read_text().split("\n")
    lines.insert(2, "no_such_key = 1")
    srv.conf.write_text("\n".join(lines))
    r = run_daemon(srv, "-f")
    assert r.returncode == EX_CONFIG, r
    assert f"{srv.conf}:3:".encode() in r.stderr, r.stderr
    assert r.stderr.startswith(b"posthornd: ")


def test_missing_certificate_exit_78_naming_it(make_mailserver):
    srv = make_mailserver(start=False)
    srv.set_config("tls_cert", srv.dir / "tls" / "nowhere.pem")
    r = run_daemon(srv, "-f")
    assert r.returncode == EX_CONFIG, r
    assert b"nowhere.pem" in r.stderr, r.stderr
    r = run_daemon(srv, "--check")
    assert r.returncode == EX_CONFIG and b"nowhere.pem" in r.stderr


def test_mismatched_key_exit_78(make_mailserver, tmp_path):
    srv = make_mailserver(start=False)
    other = tmp_path / "other-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(other)],
                   check=True, capture_output=True)
    srv.set_config("tls_key", other)
    r = run_daemon(srv, "-f")
    assert r.returncode == EX_CONFIG, r
    assert b"other-key.pem" in r.stderr, r.stderr


def test_port_in_use_exit_71_naming_the_address(make_mailserver):
    srv = make_mailserver(start=False)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind((HOST, srv.submission_port))
    blocker.listen()
    try:
        r = run_daemon(srv, "-f")
    finally:
        blocker.close()
    assert r.returncode == EX_OSERR, r
    assert f"{HOST}:{srv.submission_port}".encode() in r.stderr, r.stderr
    assert b"in use" in r.stderr


def test_missing_run_user_exit_67(make_mailserver):
    if os.geteuid() != 0:
        pytest.skip("privileges are dropped only when started as root")
    srv = make_mailserver(start=False)
    srv.set_config("user", "no-such-user-here")
    r = run_daemon(srv, "-f")
    assert r.returncode in (EX_NOUSER, EX_CONFIG), r
    assert b"no-such-user-here" in r.stderr


def test_check_version_help_and_usage(make_mailserver):
    srv = make_mailserver(start=False)
    r = run_daemon(srv, "--check")
    assert r.returncode == 0 and b"ok" in r.stdout, r
    v = subprocess.run([str(POSTHORND), "--version"], capture_output=True)
    assert v.returncode == 0 and v.stdout.startswith(b"posthornd ")
    h = subprocess.run([str(POSTHORND), "--help"], capture_output=True)
    assert h.returncode == 0 and b"--stdio" in h.stdout
    u = subprocess.run([str(POSTHORND), "--bogus"], capture_output=True)
    assert u.returncode == EX_USAGE
    n = subprocess.run([str(POSTHORND), "-f"], capture_output=True)
    assert n.returncode == EX_USAGE and b"-c" in n.stderr


# ------------------------------------------------------------ SIGHUP

def test_sighup_adds_a_user_without_dropping_sessions(mailserver):
    old = session_to_rcpt(mailserver)
    r = old.cmd("RCPT TO:<dora@example.test>")
    assert r.code == 550, r
    add = mailserver.ctl("user", "add", "dora", "--password-stdin", input=b"dora-Secret-4\n")
    assert add.returncode == 0, add.stderr
    mailserver.proc.send_signal(signal.SIGHUP)
    wait_log(mailserver, "reloaded")
    new = session_to_rcpt(mailserver)
    assert new.cmd("RCPT TO:<dora@example.test>").code == 250
    # the old session lives on and can still deliver
    assert old.cmd("RCPT TO:<alice@example.test>").code == 250
    assert old.cmd("DATA").code == 354
    old.send(b"Subject: across a reload\r\n\r\nhello\r\n.\r\n")
    assert old.reply().code == 250
    assert old.cmd("QUIT").code == 221
    assert new.cmd("DATA").code == 354
    new.send(b"Subject: to dora\r\n\r\nhi\r\n.\r\n")
    assert new.reply().code == 250
    assert len(mailserver.wait_messages("dora", 1)) == 1
    assert len(mailserver.wait_messages("alice", 1)) == 1
    new.close()


def test_sighup_with_a_broken_config_keeps_running(mailserver):
    good = mailserver.conf.read_text()
    mailserver.conf.write_text(good + "\nbroken line without equals\n")
    mailserver.proc.send_signal(signal.SIGHUP)
    wait_log(mailserver, "reload failed")
    mailserver.conf.write_text(good)
    c = session_to_rcpt(mailserver)
    assert c.cmd("RCPT TO:<alice@example.test>").code == 250
    c.close()


# ------------------------------------------------------------ limits

def test_per_address_connection_limit(make_mailserver):
    srv = make_mailserver(limits={"connections_per_ip": 2})
    held = []
    for _ in range(2):
        c = SmtpClient(HOST, srv.smtp_port)
        assert c.greeting().code == 220
        held.append(c)
    extra = SmtpClient(HOST, srv.smtp_port)
    r = extra.reply()
    assert r.code == 421 and r.enhanced == "4.7.0", r
    assert "Too many connections" in r.text
    extra.expect_closed()
    held.pop().cmd("QUIT")
    # the slot is given back once the session ended
    def greets():
        c = SmtpClient(HOST, srv.smtp_port)
        try:
            return c.greeting().code == 220
        finally:
            c.close()
    wait_for(greets, 5, "a free slot")
    for c in held:
        c.close()


def test_global_connection_limit(make_mailserver):
    srv = make_mailserver(limits={"connections": 2})
    held = []
    for port in (srv.smtp_port, srv.submission_port):
        c = SmtpClient(HOST, port)
        assert c.greeting().code == 220
        held.append(c)
    extra = SmtpClient(HOST, srv.smtp_port)
    r = extra.reply()
    assert r.code == 421 and r.enhanced == "4.3.2", r
    extra.expect_closed()
    for c in held:
        c.cmd("QUIT")
        c.close()


# ------------------------------------------------------------ TLS glue

def test_implicit_tls_on_smtps(mailserver):
    c = SmtpClient(HOST, mailserver.smtps_port, implicit_tls=True)
    g = c.greeting()
    assert g.code == 220, g
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert c.cmd("EHLO client.test").code == 250
    assert c.cmd("QUIT").code == 221
    c.close()


def test_plaintext_to_smtps_is_dropped(mailserver):
    s = socket.create_connection((HOST, mailserver.smtps_port), timeout=10)
    s.sendall(b"EHLO client.test\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    assert not data.startswith(b"220"), data
    s.close()


def test_starttls_on_submission_with_smtplib(mailserver):
    with smtplib.SMTP(HOST, mailserver.submission_port, timeout=10) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=unverified_context())
        assert code == 220
        s.ehlo("client.test")
        assert not s.has_extn("starttls")
        assert s.has_extn("auth")
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.login("alice", "alice-Secret-1")
        s.sendmail("alice@example.test", ["bob@example.test"],
                   b"Subject: over STARTTLS\r\n\r\nhello\r\n")
    assert len(mailserver.wait_messages("bob", 1)) == 1


def test_starttls_discards_input_sent_before_the_handshake(mailserver):
    c = SmtpClient(HOST, mailserver.submission_port)
    assert c.greeting().code == 220
    assert c.cmd("EHLO client.test").code == 250
    c.send(b"STARTTLS\r\nRSET\r\n")
    assert c.reply().code == 220
    c.starttls()
    c.expect_silence(0.5)   # the injected RSET got no reply
    assert c.cmd("EHLO client.test").code == 250
    assert c.cmd("QUIT").code == 221
    c.close()


def test_failed_handshake_closes_quietly(mailserver):
    c = SmtpClient(HOST, mailserver.submission_port)
    assert c.greeting().code == 220
    assert c.cmd("EHLO client.test").code == 250
    assert c.cmd("STARTTLS").code == 220
    c.send(b"this is no TLS client hello\r\n" * 4)
    c.expect_closed(10)
    # the daemon is fine
    c2 = SmtpClient(HOST, mailserver.submission_port)
    assert c2.greeting().code == 220
    c2.close()


# ------------------------------------------------------------ --stdio

def test_stdio_round_trip(make_mailserver):
    srv = make_mailserver(start=False)
    r = run_daemon(srv, "--stdio", "smtp", input=b"HELO client.test\r\nQUIT\r\n")
    assert r.returncode == 0, r
    lines = r.stdout.split(b"\r\n")
    assert lines[-1] == b"", r.stdout
    codes = [l[:4] for l in lines[:-1]]
    assert codes == [b"220 ", b"250 ", b"221 "], r.stdout
    assert r.stderr == b"", r.stderr


def test_stdio_delivers_and_ends_at_eof(make_mailserver):
    srv = make_mailserver(start=False)
    dialogue = (b"EHLO client.test\r\nMAIL FROM:<x@remote.test>\r\n"
                b"RCPT TO:<carol@example.test>\r\nDATA\r\n"
                b"Subject: stdio\r\n\r\n..dot line\r\n.\r\n")
    r = run_daemon(srv, "--stdio", "smtp", input=dialogue)
    assert r.returncode == 0, r
    assert b"\r\n354 " in r.stdout
    assert r.stdout.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1].startswith(b"250 "), r.stdout
    msgs = srv.read_messages("carol")
    assert len(msgs) == 1 and b"\n.dot line" in msgs[0]
