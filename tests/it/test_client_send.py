"""posthorn send / compose / account against a real posthornd: the message
goes out over submission (STARTTLS with the server's certificate verified,
or implicit TLS), is fetched back over POP3 by the recipient's client and
compared part for part: plain text, an HTML alternative, binary
attachments byte for byte, Chinese subject, display name and file names;
Bcc only in the envelope and in the Sent copy; --trace without the
password; address book names; another identity; compose through $EDITOR."""
import random
import re
import stat
import struct
import time
import zlib

from mailserver import split_trace
from clientlib import (EXIT, attachments_of, auth_plain_forms, fetch_summary, has_header,
                       module_server, parse, row_for, sent_id, text_of)
from clientlib import client, make_client  # noqa: F401  (fixtures)

srv = module_server(pool=50)


def delivered(srv, user, n=1, timeout=10):
    """The n messages the server stored for user (fails when fewer or more)."""
    msgs = srv.wait_messages(user, n, timeout=timeout)
    assert len(msgs) == n, f"{user}: {len(msgs)} messages delivered, expected {n}"
    return [p.read_bytes() for p in msgs]


def fetched_one(rcpt):
    """Runs fetch on the recipient's client; returns its only INBOX file."""
    r = rcpt.fetch()
    assert r.rc == 0, r
    assert fetch_summary(r)[0] == 1, r
    files = rcpt.folder()
    assert len(files) == 1, files
    return files[0]


def png_bytes(w=16, h=8, seed=1):
    """A small valid PNG (libmagic says image/png)."""
    rng = random.Random(seed)
    raw = b"".join(b"\0" + bytes(rng.randrange(256) for _ in range(w * 3)) for _ in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf_bytes(seed=2):
    rng = random.Random(seed)
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 300 >>\nstream\n"
            + bytes(rng.randrange(256) for _ in range(300)) + b"\nendstream\nendobj\n%%EOF\n")


def reply_lines(res, address):
    return [l for l in res.out.splitlines() if address in l]


# ------------------------------------------------------------------ send

def test_send_plain_then_fetch_and_read(make_client):
    a, b = make_client(), make_client()
    subject = f"plain round trip {time.time_ns()}"
    r = a.send("--to", b.address, "--subject", subject, body="Hello Bob,\nsecond line.\n")
    assert r.rc == 0, r
    lines = reply_lines(r, b.address)
    assert lines and "250" in lines[0], r
    mid = sent_id(r)
    raw = delivered(a.srv, b.user)[0]
    m = parse(raw)
    assert m["Subject"] == subject
    assert m["Message-ID"].strip("<>") == mid
    assert m["From"].addresses[0].addr_spec == a.address
    assert m["From"].addresses[0].display_name == a.settings["name"]
    assert [x.addr_spec for x in m["To"].addresses] == [b.address]
    assert m["Date"] is not None
    assert text_of(m) == "Hello Bob,\nsecond line.\n"

    local = parse(fetched_one(b).read_bytes())
    assert local["Message-ID"] == m["Message-ID"]
    r = b.run("read", "1")
    assert r.rc == 0, r
    assert subject in r.out and "Hello Bob," in r.out and "second line." in r.out
    assert a.address in r.out


def test_send_body_file_utf8_and_several_recipients(make_client):
    a, b, c = make_client(), make_client(), make_client()
    body = a.base / "body.txt"
    text = "Grüße, 你好，世界。\n" + "a long line " * 20 + "\n.\n.leading dot\n"
    body.write_text(text, encoding="utf-8")
    r = a.run("send", "--to", f"{b.address},{c.address}", "--subject", "body file",
              "--body-file", body)
    assert r.rc == 0, r
    for rcpt in (b, c):
        assert reply_lines(r, rcpt.address), r
        m = parse(delivered(a.srv, rcpt.user)[0])
        assert text_of(m) == text
        assert sorted(x.addr_spec for x in m["To"].addresses) == sorted([b.address, c.address])


def test_send_html_alternative(make_client):
    a, b = make_client(), make_client()
    html = a.base / "mail.html"
    html.write_text("<html><body><p>Hello <b>HTML</b> 世界</p></body></html>\n", encoding="utf-8")
    r = a.send("--to", b.address, "--subject", "with html", "--html-file", html,
               body="Hello plain 世界\n")
    assert r.rc == 0, r
    m = parse(delivered(a.srv, b.user)[0])
    assert m.get_content_type() == "multipart/alternative", m.get_content_type()
    types = [p.get_content_type() for p in m.iter_parts()]
    assert types == ["text/plain", "text/html"], types
    assert text_of(m, "plain") == "Hello plain 世界\n"
    assert "Hello <b>HTML</b> 世界" in text_of(m, "html")


def test_attachments_chinese_round_trip(make_client):
    a = make_client(name="王小明")
    b = make_client()
    files = {
        "random.bin": bytes(random.Random(7).randrange(256) for _ in range(100_000)),
        "picture.png": png_bytes(),
        "报告.pdf": pdf_bytes(),
    }
    for name, data in files.items():
        (a.base / name).write_bytes(data)
    subject = "季度报告：请查收 附件 " + "很长的主题" * 8
    args = ["send", "--to", b.address, "--subject", subject]
    for name in files:
        args += ["--attach", a.base / name]
    r = a.run(*args, input="正文：你好。\nBody text.\n")
    assert r.rc == 0, r

    raw = delivered(a.srv, b.user)[0]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(c < 128 for c in head), "non-ASCII bytes in the header (RFC 2047 expected)"
    assert all(len(l) <= 998 for l in raw.split(b"\r\n")), "line over 998 octets"
    m = parse(raw)
    assert m["Subject"] == subject
    assert m["From"].addresses[0].display_name == "王小明"
    assert text_of(m) == "正文：你好。\nBody text.\n"
    assert attachments_of(m) == files
    types = {p.get_filename(): p.get_content_type() for p in m.iter_attachments()}
    assert types["picture.png"] == "image/png", types
    assert types["报告.pdf"] == "application/pdf", types

    # the recipient's client: fetch, list marks, read, save
    path = fetched_one(b)
    assert attachments_of(parse(path.read_bytes())) == files
    r = b.run("list")
    assert r.rc == 0, r
    n, marks, line = row_for(r.out, "季度报告")
    assert n == 1 and "@" in marks and "*" in marks, line
    r = b.run("read", "1")
    assert r.rc == 0, r
    assert "季度报告" in r.out and "王小明" in r.out and "正文：你好。" in r.out
    for name in files:
        assert name in r.out, f"attachment {name} not listed:\n{r}"
    out = b.base / "saved"
    out.mkdir()
    r = b.run("attachments", "1", "--save", out)
    assert r.rc == 0, r
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


def test_bcc_only_in_envelope_and_sent_copy(make_client):
    a, b, c, d = (make_client() for _ in range(4))
    subject = f"bcc test {time.time_ns()}"
    r = a.send("--to", b.address, "--cc", c.address, "--bcc", d.address,
               "--subject", subject, body="for three\n")
    assert r.rc == 0, r
    for rcpt in (b, c, d):
        lines = reply_lines(r, rcpt.address)
        assert lines, f"no reply line for {rcpt.address}:\n{r}"
        assert re.search(r"\b250\b", lines[0]), lines
    mid = sent_id(r)
    for rcpt in (b, c, d):
        raw = delivered(a.srv, rcpt.user)[0]
        assert not has_header(raw, "Bcc"), f"{rcpt.user} got a Bcc header:\n{raw[:800]!r}"
        m = parse(raw)
        assert m["Subject"] == subject
        assert [x.addr_spec for x in m["Cc"].addresses] == [c.address]
        # the Bcc address is in no header the sender wrote
        own = split_trace(raw)[1].split(b"\r\n\r\n", 1)[0]
        assert d.address.encode() not in own, raw[:1000]

    sent = a.folder("Sent")
    assert len(sent) == 1, sent
    assert sent[0].parent.name == "cur" and re.search(r":2,[A-Z]*S", sent[0].name), sent[0]
    raw = sent[0].read_bytes()
    m = parse(raw)
    assert m["Message-ID"].strip("<>") == mid
    assert [x.addr_spec for x in m["Bcc"].addresses] == [d.address]
    assert m["Subject"] == subject


def test_no_save_keeps_sent_empty(make_client):
    a, b = make_client(), make_client()
    r = a.send("--to", b.address, "--subject", "not saved", "--no-save")
    assert r.rc == 0, r
    delivered(a.srv, b.user)
    assert a.folder("Sent") == []


def test_trace_shows_dialogue_never_password(make_client):
    a, b = make_client(), make_client()
    r = a.run("--trace", "send", "--to", b.address, "--subject", "traced", input="x\n")
    assert r.rc == 0, r
    err = r.err
    for want in ("C: EHLO", "S: 250", "C: STARTTLS", "C: AUTH PLAIN <redacted>",
                 "C: MAIL FROM:<", "C: RCPT TO:<", "C: DATA", "C: QUIT"):
        assert want in err, f"{want!r} not in the trace:\n{err}"
    assert re.search(r"^S: 220", err, re.M), err
    assert err.index("C: STARTTLS") < err.index("C: AUTH PLAIN"), "AUTH before STARTTLS"
    leaks = {a.password} | auth_plain_forms(a.user, a.address, a.password)
    for secret in leaks:
        assert secret not in err and secret not in r.out, f"password form {secret!r} leaked"
    # the global option also works after the command
    r = b.run("fetch", "--trace")
    assert r.rc == 0, r
    assert "C: STLS" in r.err and "S: +OK" in r.err, r.err
    for secret in {b.password} | auth_plain_forms(b.user, b.address, b.password):
        assert secret not in r.err and secret not in r.out, f"POP3 password form {secret!r} leaked"


def test_address_book_names_expand(make_client):
    a, b, c = make_client(), make_client(), make_client()
    r = a.run("contacts", "add", "Bob Builder", b.address, "--nick", "bobby")
    assert r.rc == 0, r
    r = a.run("contacts", "add", "Carol", c.address)
    assert r.rc == 0, r
    r = a.run("contacts", "list")
    assert r.rc == 0 and "Bob Builder" in r.out and c.address in r.out, r
    vcf = a.base / "contacts.vcf"
    assert vcf.is_file(), "contacts.vcf not beside the --config file"
    assert "BEGIN:VCARD" in vcf.read_text() and "VERSION:4.0" in vcf.read_text()
    r = a.send("--to", "bobby", "--cc", "Carol", "--subject", "via address book")
    assert r.rc == 0, r
    m = parse(delivered(a.srv, b.user)[0])
    assert [x.addr_spec for x in m["To"].addresses] == [b.address]
    assert [x.addr_spec for x in m["Cc"].addresses] == [c.address]
    delivered(a.srv, c.user)
    r = a.send("--to", "nobody-in-the-book", "--subject", "x")
    assert r.rc in (EXIT["USAGE"], EXIT["INPUT"], EXIT["CONFIG"]), r
    assert "nobody-in-the-book" in r.err, r


def test_from_another_identity(make_client):
    a, b = make_client(), make_client()
    r = a.send("--from", "Other Me <other-id@example.test>", "--to", b.address,
               "--subject", "identity")
    assert r.rc == 0, r
    m = parse(delivered(a.srv, b.user)[0])
    frm = m["From"].addresses[0]
    assert frm.addr_spec == "other-id@example.test" and frm.display_name == "Other Me"


def test_send_over_implicit_tls(make_client):
    a, b = make_client(), make_client()
    a.write(smtp_tls="tls", smtp_port=a.srv.port("smtps"))
    r = a.run("--trace", "send", "--to", b.address, "--subject", "smtps", input="x\n")
    assert r.rc == 0, r
    assert "C: STARTTLS" not in r.err
    m = parse(delivered(a.srv, b.user)[0])
    assert m["Subject"] == "smtps"


EDIT_SCRIPT = r"""#!/usr/bin/python3
import sys
path = sys.argv[-1]
text = open(path, encoding="utf-8").read()
head, _, body = text.partition("\n\n")
out = []
for line in head.split("\n"):
    key = line.split(":", 1)[0].strip().lower()
    if key == "to":
        line = "To: TO_ADDR"
    elif key == "subject":
        line = "Subject: SUBJECT"
    out.append(line)
EXTRA
open(path, "w", encoding="utf-8").write("\n".join(out) + "\n\n" + "BODY" + body)
"""


def editor(c, to, subject, body, extra=""):
    path = c.base / "edit.py"
    path.write_text(EDIT_SCRIPT.replace("TO_ADDR", to).replace("SUBJECT", subject)
                    .replace("BODY", body).replace("EXTRA", extra))
    path.chmod(0o755)
    return str(path)


def test_compose_with_editor_sends(make_client):
    a, b = make_client(), make_client()
    ed = editor(a, b.address, "composed 你好", "Written in the editor.\\n")
    r = a.run("compose", env={"EDITOR": ed})
    assert r.rc == 0, r
    sent_id(r)
    m = parse(delivered(a.srv, b.user)[0])
    assert m["Subject"] == "composed 你好"
    assert text_of(m).startswith("Written in the editor.\n"), text_of(m)
    assert len(a.folder("Sent")) == 1


def test_compose_visual_wins_over_editor(make_client):
    a, b = make_client(), make_client()
    ed = editor(a, b.address, "via VISUAL", "v\\n")
    r = a.run("compose", env={"VISUAL": ed, "EDITOR": "false"})
    assert r.rc == 0, r
    assert parse(delivered(a.srv, b.user)[0])["Subject"] == "via VISUAL"


def test_compose_draft_saves_to_drafts(make_client):
    a, b = make_client(), make_client()
    ed = editor(a, b.address, "a draft", "not yet\\n")
    r = a.run("compose", "--draft", env={"EDITOR": ed})
    assert r.rc == 0, r
    drafts = a.folder("Drafts")
    assert len(drafts) == 1, drafts
    assert "D" in drafts[0].name.rpartition(":2,")[2], drafts[0].name
    m = parse(drafts[0].read_bytes())
    assert m["Subject"] == "a draft"
    assert [x.addr_spec for x in m["To"].addresses] == [b.address]
    time.sleep(0.3)
    assert a.srv.messages(b.user) == [], "a draft was sent"
    assert a.folder("Sent") == []


def test_compose_draft_header_in_file(make_client):
    a, b = make_client(), make_client()
    ed = editor(a, b.address, "draft by header", "later\\n",
                extra='out.insert(1, "X-Posthorn-Draft: yes")')
    r = a.run("compose", env={"EDITOR": ed})
    assert r.rc == 0, r
    assert len(a.folder("Drafts")) == 1
    time.sleep(0.3)
    assert a.srv.messages(b.user) == []


def test_compose_unchanged_template_not_sent(make_client):
    a, b = make_client(), make_client()
    r = a.run("compose", "--to", b.address, env={"EDITOR": "true"})
    assert re.search(r"nothing (to send|was sent)", r.err + r.out), r
    time.sleep(0.3)
    assert a.srv.messages(b.user) == []
    assert a.folder("Sent") == [] and a.folder("Drafts") == []


# ------------------------------------------------------------------ accounts

def test_account_add_list_test(make_client):
    a = make_client()
    cfg = a.base / "new" / "config"
    args = ["--config", cfg, "account", "add", "--name", "work", "--address", a.address,
            "--display-name", "Work 工作", "--smtp-host", "127.0.0.1",
            "--smtp-port", a.srv.port("submission"), "--smtp-tls", "starttls",
            "--smtp-user", a.user, "--pop3-host", "127.0.0.1",
            "--pop3-port", a.srv.port("pop3s"), "--pop3-tls", "tls",
            "--mail-dir", a.base / "WorkMail", "--keep", "no",
            "--password-env", "PH_PW", "--ca-file", a.srv.tls_cert]
    r = a.run(*args, config=False)
    assert r.rc == 0, r
    text = cfg.read_text(encoding="utf-8")
    assert "[account work]" in text and a.password not in text
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600, oct(cfg.stat().st_mode)
    r = a.run("--config", cfg, "account", "add", "--name", "second", "--address",
              "second@example.test", "--smtp-host", "127.0.0.1", "--pop3-host", "127.0.0.1",
              "--password-env", "PH_PW", config=False)
    assert r.rc == 0, r
    r = a.run("--config", cfg, "account", "list", config=False)
    assert r.rc == 0, r
    rows = [l for l in r.out.splitlines() if l.strip()]
    star = [l for l in rows if "*" in l]
    assert len(star) == 1 and "work" in star[0], r
    assert any("second" in l for l in rows), r
    r = a.run("--config", cfg, "account", "test", "work", config=False)
    assert r.rc == 0, r
    assert re.search(r"TLS ?v?1\.[23]", r.out), f"no TLS protocol reported:\n{r}"
    r = a.run("--config", cfg, "account", "test", "work", config=False,
              env={"PH_PW": "wrong-password"})
    assert r.rc == EXIT["LOGIN"], r
    r = a.run("--config", cfg, "account", "remove", "second", config=False)
    assert r.rc == 0, r
    assert "[account second]" not in cfg.read_text()


def test_account_add_missing_option_without_tty(make_client):
    a = make_client()
    cfg = a.base / "other" / "config"
    r = a.run("--config", cfg, "account", "add", "--name", "x", config=False)
    assert r.rc in (EXIT["USAGE"], EXIT["CONFIG"]), r
    assert "--address" in r.err, r
    assert not cfg.exists()
