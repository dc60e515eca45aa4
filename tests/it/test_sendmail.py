"""Integration tests for posthorn-sendmail, the sendmail(1) injector: a
message on standard input is completed (From, Date, Message-ID; Bcc
removed) and handed to a real posthornd over its smtp listener. Exit
statuses are sysexits(3): 64 usage, 65 data, 66 no input, 67 a recipient
refused, 69 unavailable, 75 temporary failure, 78 config."""
import email
import email.policy
import email.utils
import os
import pwd
import re
import subprocess
import uuid

import pytest

from mailserver import (BUILD, DOMAIN, make_mailserver,  # noqa: F401
                        mailserver, mailserver_module, split_trace)

SENDMAIL = BUILD / "posthorn-sendmail"
ALICE, BOB, CAROL = (f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol"))
LOGIN = pwd.getpwuid(os.getuid()).pw_name

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER = 64, 65, 66, 67
EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = 69, 75, 78


@pytest.fixture(scope="module", autouse=True)
def need_sendmail():
    if not os.access(SENDMAIL, os.X_OK):
        pytest.fail(f"{SENDMAIL} not built: run make, or set POSTHORN_BUILD")


@pytest.fixture(scope="module")
def srv():
    """A server that may relay from loopback (the default relay_networks)
    and holds remote mail in its queue."""
    from mailserver import _Servers
    servers = _Servers()
    s = servers.make(start=False)
    s.set_config("*", "smtp:[127.0.0.1]:1 tls=none", "transport")
    s.set_config("retry", "1h", "queue")
    s.start()
    yield s
    servers.teardown()


def sendmail(conf, *args, input=b"", env=None, timeout=60):
    full = {k: v for k, v in os.environ.items()
            if k not in ("POSTHORN_CONF", "POSTHORN_CONFIG")}
    full.update(env or {})
    cmd = [str(SENDMAIL)] + (["-C", str(conf)] if conf else []) + [str(a) for a in args]
    r = subprocess.run(cmd, input=input, capture_output=True, env=full, timeout=timeout)
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def marker():
    return "mark-" + uuid.uuid4().hex[:12]


def got(srv, user, mark):
    return [m for m in srv.read_messages(user) if mark.encode() in m]


def one(srv, user, mark):
    msgs = got(srv, user, mark)
    assert len(msgs) == 1, f"{user} has {len(msgs)} copies of {mark}"
    trace, rest = split_trace(msgs[0])
    return trace, rest, email.message_from_bytes(rest, policy=email.policy.default)


def test_local_recipient_gets_from_date_message_id(srv):
    mark = marker()
    r = sendmail(srv.conf, ALICE, input=f"Subject: {mark}\n\nhello {mark}\n".encode())
    assert r.returncode == 0, r.err
    assert r.err == ""
    trace, rest, msg = one(srv, "alice", mark)
    assert trace[0] == ("Return-Path", f"<{LOGIN}@{DOMAIN}>"), trace
    assert msg["Subject"] == mark
    assert email.utils.parseaddr(msg["From"])[1] == f"{LOGIN}@{DOMAIN}", msg["From"]
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert re.fullmatch(r"<[^<>@\s]+@mx\.example\.test>", msg["Message-ID"]), msg["Message-ID"]
    for name in ("From", "Date", "Message-ID"):
        assert len(msg.get_all(name)) == 1, name
    # the added fields go into the header, the body stays as it was
    assert rest.replace(b"\r\n", b"\n").endswith(f"\n\nhello {mark}\n".encode()), rest


def test_existing_fields_are_kept(srv):
    mark = marker()
    data = (f"From: Someone <someone@{DOMAIN}>\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n"
            f"Message-ID: <{mark}@here>\nSubject: {mark}\n\nx\n").encode()
    r = sendmail(srv.conf, ALICE, input=data)
    assert r.returncode == 0, r.err
    _, rest, msg = one(srv, "alice", mark)
    assert msg["From"] == f"Someone <someone@{DOMAIN}>"
    assert msg["Date"] == "Mon, 01 Jan 2024 10:00:00 +0000"
    assert msg["Message-ID"] == f"<{mark}@here>"
    assert rest.replace(b"\r\n", b"\n") == data


def test_t_takes_to_cc_bcc_and_removes_bcc(srv):
    mark = marker()
    data = (f"To: Alice <{ALICE}>\nCc: bob\nBcc: {CAROL}\nSubject: {mark}\n"
            f"\nfor three {mark}\n").encode()
    r = sendmail(srv.conf, "-t", "-oi", input=data)
    assert r.returncode == 0, r.err
    for user in ("alice", "bob", "carol"):
        _, rest, msg = one(srv, user, mark)
        assert msg["Bcc"] is None and b"Bcc" not in rest, rest
        assert msg["Cc"] == "bob"            # the header is not rewritten


def test_t_with_command_line_recipients_and_duplicates(srv):
    mark = marker()
    data = f"To: {ALICE}, {ALICE.upper()}\nSubject: {mark}\n\nx\n".encode()
    r = sendmail(srv.conf, "-t", BOB, "alice", input=data)
    assert r.returncode == 0, r.err
    one(srv, "alice", mark)
    one(srv, "bob", mark)


def test_bcc_is_removed_without_t_too(srv):
    mark = marker()
    data = f"To: {ALICE}\nBcc: secret@{DOMAIN}\nSubject: {mark}\n\nx\n".encode()
    r = sendmail(srv.conf, ALICE, input=data)
    assert r.returncode == 0, r.err
    _, rest, _ = one(srv, "alice", mark)
    assert b"secret@" not in rest


def test_f_sets_return_path_and_F_the_name(srv):
    mark = marker()
    r = sendmail(srv.conf, "-f", "sender@remote.test", "-F", "Jörg Example", ALICE,
                 input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    trace, rest, msg = one(srv, "alice", mark)
    assert trace[0] == ("Return-Path", "<sender@remote.test>"), trace
    name, addr = email.utils.parseaddr(str(msg["From"]))
    assert addr == "sender@remote.test" and name == "Jörg Example", msg["From"]
    # attached values and the old -r spelling; an unqualified sender
    mark = marker()
    r = sendmail(srv.conf, "-rroot", ALICE, input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    trace, _, _ = one(srv, "alice", mark)
    assert trace[0] == ("Return-Path", f"<root@{DOMAIN}>"), trace


def test_F_cannot_add_header_lines_and_quoted_senders_stay_quoted(srv):
    mark = marker()
    r = sendmail(srv.conf, "-f", f'"john doe"@{DOMAIN}', "-F", "Evil\nBcc: x@y, z", ALICE,
                 input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    trace, rest, msg = one(srv, "alice", mark)
    assert trace[0] == ("Return-Path", f'<"john doe"@{DOMAIN}>'), trace
    assert msg["Bcc"] is None and not re.search(rb"^Bcc:", rest, re.M | re.I), rest
    name, addr = email.utils.parseaddr(str(msg["From"]))
    assert name == "Evil Bcc: x@y, z" and addr == f'"john doe"@{DOMAIN}', msg["From"]


def test_null_sender(srv):
    mark = marker()
    r = sendmail(srv.conf, "-f", "<>", ALICE, input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    trace, _, msg = one(srv, "alice", mark)
    assert trace[0] == ("Return-Path", "<>"), trace
    assert msg["From"] is not None


def test_dot_line_ends_input_unless_i(srv):
    mark = marker()
    data = f"Subject: {mark}\n\nbefore\n.\nafter-{mark}\n".encode()
    r = sendmail(srv.conf, ALICE, input=data)
    assert r.returncode == 0, r.err
    assert got(srv, "alice", f"after-{mark}") == []
    _, rest, _ = one(srv, "alice", mark)
    assert rest.replace(b"\r\n", b"\n").endswith(b"\nbefore\n"), rest
    for flag in ("-i", "-oi"):
        mark = marker()
        data = f"Subject: {mark}\n\nbefore\n.\n..two\nafter\n".encode()
        r = sendmail(srv.conf, flag, ALICE, input=data)
        assert r.returncode == 0, r.err
        _, rest, _ = one(srv, "alice", mark)
        assert rest.replace(b"\r\n", b"\n").endswith(b"\nbefore\n.\n..two\nafter\n"), rest


def test_crlf_input_mbox_from_line_and_body_without_header(srv):
    mark = marker()
    r = sendmail(srv.conf, ALICE, input=f"Subject: {mark}\r\n\r\nline\r\n".encode())
    assert r.returncode == 0, r.err
    _, rest, msg = one(srv, "alice", mark)
    assert msg["Date"] and rest.replace(b"\r\n", b"\n").endswith(b"\n\nline\n"), rest
    mark = marker()
    r = sendmail(srv.conf, ALICE, input=f"From x@y Mon Jan  1 00:00:00 2024\nSubject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    _, rest, msg = one(srv, "alice", mark)
    assert not rest.startswith(b"From ") and msg["Subject"] == mark
    mark = marker()
    r = sendmail(srv.conf, ALICE, input=f"just a body {mark}\n".encode())
    assert r.returncode == 0, r.err
    _, rest, msg = one(srv, "alice", mark)
    assert msg["From"] and msg["Date"] and msg["Message-ID"]
    assert rest.replace(b"\r\n", b"\n").endswith(f"\n\njust a body {mark}\n".encode()), rest


def test_remote_recipient_is_queued(srv):
    mark = marker()
    before = set(srv.queue_items())
    r = sendmail(srv.conf, "far@remote.test", input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    new = {k: v for k, v in srv.queue_items().items() if k not in before}
    assert len(new) == 1, new
    (msg, env), = new.values()
    assert mark.encode() in msg
    assert re.search(rf"^sender {re.escape(LOGIN)}@{re.escape(DOMAIN)}$", env, re.M), env
    assert re.search(r"^rcpt far@remote\.test \w+", env, re.M), env


def test_refused_recipient_is_ex_nouser(srv):
    mark = marker()
    r = sendmail(srv.conf, f"nosuch@{DOMAIN}", input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == EX_NOUSER, r.err
    assert r.err.startswith("posthorn-sendmail: <nosuch@example.test>: 550"), r.err
    assert "not sent" in r.err
    # one good, one refused: the good one gets it, the status still says so
    mark = marker()
    r = sendmail(srv.conf, ALICE, f"nosuch@{DOMAIN}", input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == EX_NOUSER, r.err
    assert "sent to the other 1 recipient" in r.err
    one(srv, "alice", mark)


def test_no_recipients_is_ex_usage(srv):
    r = sendmail(srv.conf, input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_USAGE and "no recipients" in r.err, r.err
    r = sendmail(srv.conf, "-t", input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_USAGE and "no recipients" in r.err, r.err
    r = sendmail(srv.conf, "-t", input=b"To: undisclosed-recipients:;\nSubject: x\n\nx\n")
    assert r.returncode == EX_USAGE, r.err


def test_empty_input_is_ex_noinput(srv):
    assert sendmail(srv.conf, ALICE, input=b"").returncode == EX_NOINPUT
    r = sendmail(srv.conf, ALICE, input=b".\nrest\n")
    assert r.returncode == EX_NOINPUT and "no message" in r.err, r.err


@pytest.mark.parametrize("args,text", [
    (["-X"], "unknown option -X"),
    (["-f"], "missing value for -f"),
    (["-bs", ALICE], "unsupported mode -bs"),
    (["-bp"], "posthornctl queue list"),
    (["-f", "a b@c", ALICE], "bad sender address"),
    (["bad address with spaces"], "bad recipient address"),
    (["-N", "sometimes", ALICE], "bad -N value"),
    (["-N", "never,success", ALICE], "bad -N value"),
    (["-R", "most", ALICE], "bad -R value"),
])
def test_usage_errors(srv, args, text):
    r = sendmail(srv.conf, *args, input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_USAGE, r.err
    assert r.err.startswith("posthorn-sendmail: ") and text in r.err, r.err


def test_ignored_options_and_dsn_options(srv):
    mark = marker()
    r = sendmail(srv.conf, "-oem", "-odi", "-oQ/var/spool", "-bm", "-B", "8BITMIME",
                 "-N", "failure,delay", "-R", "hdrs", "-V", "env id+1", "-n", "--", ALICE,
                 input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    assert "warning: ignoring option -oQ/var/spool" in r.err, r.err
    assert "-oem" not in r.err and "-odi" not in r.err
    one(srv, "alice", mark)


def test_help():
    r = sendmail(None, "--help")
    assert r.returncode == 0 and b"usage: posthorn-sendmail" in r.stdout


def test_verbose_shows_the_dialogue(srv):
    mark = marker()
    r = sendmail(srv.conf, "-v", ALICE, input=f"Subject: {mark}\n\nx\n".encode())
    assert r.returncode == 0, r.err
    assert "C: RCPT TO:<alice@example.test>" in r.err and "S: 250" in r.err, r.err


def test_server_down_is_ex_tempfail(make_mailserver):  # noqa: F811
    down = make_mailserver(start=False)
    r = sendmail(down.conf, ALICE, input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_TEMPFAIL, r.err
    assert "is posthornd running?" in r.err and "not sent" in r.err, r.err


def test_unreadable_config_is_ex_config(tmp_path):
    r = sendmail(tmp_path / "missing.conf", ALICE, input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_CONFIG, r.err
    assert "missing.conf" in r.err
    bad = tmp_path / "bad.conf"
    bad.write_text("this is not a config\n")
    r = sendmail(bad, ALICE, input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_CONFIG, r.err


def test_config_from_the_environment(srv):
    mark = marker()
    r = sendmail(None, ALICE, input=f"Subject: {mark}\n\nx\n".encode(),
                 env={"POSTHORN_CONF": str(srv.conf)})
    assert r.returncode == 0, r.err
    one(srv, "alice", mark)


def test_message_larger_than_the_server_takes(make_mailserver):  # noqa: F811
    small = make_mailserver(limits={"message_size": 2000})
    r = sendmail(small.conf, ALICE, input=b"Subject: big\n\n" + b"x" * 70 + b"\n" * 100)
    assert r.returncode == 0, r.err
    r = sendmail(small.conf, ALICE, input=b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 100)
    assert r.returncode == EX_DATAERR, r.err
    assert "not sent" in r.err


def test_relay_denied_is_ex_nouser(mailserver_module):  # noqa: F811
    # this server lets loopback relay only after AUTH: remote mail is refused
    r = sendmail(mailserver_module.conf, "far@remote.test", input=b"Subject: x\n\nx\n")
    assert r.returncode == EX_NOUSER, r.err
    assert "far@remote.test" in r.err


def test_neomutt_batch_mode(srv, tmp_path):
    neomutt = "/usr/bin/neomutt"
    if not os.access(neomutt, os.X_OK):
        pytest.skip("neomutt not installed")
    mark = marker()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHORN_")}
    env.update(HOME=str(home), TMPDIR=str(tmp_path), TERM="dumb", LC_ALL="C.UTF-8")
    r = subprocess.run(
        [neomutt, "-F", "/dev/null", "-n",
         "-e", f"set sendmail=\"{SENDMAIL} -C {srv.conf}\"",
         "-e", f"set from=\"Alice Example <{ALICE}>\"",
         "-e", "set use_envelope_from=yes",
         "-e", "set record=\"\"", "-e", "set copy=no",
         "-s", f"mutt {mark}", "--", f"{BOB}"],
        input=f"sent by neomutt {mark}\n".encode(), capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    trace, rest, msg = one(srv, "bob", mark)
    assert trace[0] == ("Return-Path", f"<{ALICE}>"), trace
    assert msg["Subject"] == f"mutt {mark}"
    assert email.utils.parseaddr(msg["From"])[1] == ALICE
    assert msg["Message-ID"] and msg["Date"]
    assert f"sent by neomutt {mark}" in msg.get_content()
