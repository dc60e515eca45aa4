"""Interoperability of the client with mail software we did not write:
messages posthorn builds and sends are parsed by Python's email package
(policy=default) to exactly what was given (subject, display names, text,
HTML, attachment names and bytes), and mail built by Python's email and by
neomutt in batch mode is read by `posthorn read` and `attachments`
correctly."""
import email.policy
import json
import os
import random
import subprocess
from email.message import EmailMessage
from email.headerregistry import Address

import pytest

from mailserver import split_trace
from clientlib import (attachments_of, module_server, parse, sent_id, text_of, tool)
from clientlib import client, make_client  # noqa: F401  (fixtures)

srv = module_server(pool=24)


def delivered_raw(c, user):
    msgs = c.srv.wait_messages(user, 1)
    assert len(msgs) == 1, msgs
    return msgs[0].read_bytes()


# ------------------------------------------------------------------ posthorn -> Python

def test_client_message_parses_identically_in_python(make_client):
    a = make_client(name="欧阳 Wei-Ling “Quote” Smith")
    b, c = make_client(), make_client()
    rng = random.Random(11)
    files = {
        "数据 2025 (final).bin": bytes(rng.randrange(256) for _ in range(40_000)),
        "非常长的文件名" * 6 + ".txt": "文本附件\r\n第二行\r\n".encode("utf-8"),
        "plain.txt": b"line one\nline two without CR\n",
        "empty.dat": b"",
    }
    for name, data in files.items():
        (a.base / name).write_bytes(data)
    html = a.base / "h.html"
    html.write_text("<p>你好 <i>HTML</i></p>\n", encoding="utf-8")
    subject = "Ünïcödé 和 中文主题 " + "混合 mixed words " * 6 + "end"
    text = ("第一行 first line\n" + "long line " * 150 + "\n"
            "trailing spaces   \n\tindented\n.\nFrom me\n")
    body = a.base / "body.txt"
    body.write_text(text, encoding="utf-8")
    args = ["send", "--to", f"张三 <{b.address}>", "--cc", f'"Doe, Jane" <{c.address}>',
            "--subject", subject, "--body-file", body, "--html-file", html,
            "--reply-to", "回复 <reply@example.test>"]
    for name in files:
        args += ["--attach", a.base / name]
    r = a.run(*args)
    assert r.rc == 0, r
    mid = sent_id(r)

    raw = split_trace(delivered_raw(a, b.user))[1]
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in the message"
    assert all(len(l) <= 998 for l in lines)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(l) <= 78 for l in head.split(b"\r\n")), "header line over 78 columns"
    assert all(ch < 128 for ch in head)
    m = parse(raw)
    assert not m.defects, m.defects
    assert m["Subject"] == subject
    assert m["Message-ID"] == f"<{mid}>"
    frm = m["From"].addresses[0]
    assert (frm.display_name, frm.addr_spec) == (a.settings["name"], a.address)
    to = m["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("张三", b.address)
    cc = m["Cc"].addresses[0]
    assert (cc.display_name, cc.addr_spec) == ("Doe, Jane", c.address)
    rt = m["Reply-To"].addresses[0]
    assert (rt.display_name, rt.addr_spec) == ("回复", "reply@example.test")
    assert text_of(m, "plain") == text
    assert "你好 <i>HTML</i>" in text_of(m, "html")
    got = attachments_of(m)
    want = dict(files)
    # text attachments may come back with CRLF line ends (RFC 2046 canonical form)
    for k in ("plain.txt",):
        if got.get(k) == want[k].replace(b"\n", b"\r\n"):
            want[k] = got[k]
    assert got == want
    for part in m.walk():
        assert not part.defects, (part.get_content_type(), part.defects)

    # the Sent copy is the same message, with the Bcc field if any
    sent = a.folder("Sent")
    assert len(sent) == 1
    s = parse(sent[0].read_bytes())
    assert s["Message-ID"] == m["Message-ID"] and s["Subject"] == subject
    assert attachments_of(s) == got

    # posthorn's own reading of it agrees with Python's
    f = a.base / "delivered.eml"
    f.write_bytes(raw)
    p = a.run("show", "--json", f)
    assert p.rc == 0, p
    doc = json.loads(p.out)
    assert doc["subject"] == subject
    assert doc["text"] == text
    assert doc["from"] == [{"name": a.settings["name"], "address": a.address}]


# ------------------------------------------------------------------ Python -> posthorn

def python_message(policy):
    m = EmailMessage(policy=policy)
    m["From"] = Address("李四", addr_spec="lisi@example.cn")
    m["To"] = Address("Bob", addr_spec="bob@example.test")
    m["Subject"] = "Python 发来的邮件：附件与 HTML"
    m["Date"] = "Tue, 02 Dec 2025 08:00:00 +0800"
    m["Message-ID"] = "<py.1@example.cn>"
    m.set_content("纯文本正文。\nPlain body line.\n")
    m.add_alternative("<html><body><p>HTML 正文</p></body></html>\n", subtype="html")
    data = bytes(random.Random(5).randrange(256) for _ in range(5000))
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="附件 一.bin")
    return m.as_bytes(), data


@pytest.mark.parametrize("policy", [email.policy.SMTP, email.policy.SMTPUTF8], ids=["rfc2047", "utf8"])
def test_python_built_mail_read_by_posthorn(client, policy):
    raw, data = python_message(policy)
    client.put(raw)
    r = client.run("read", "1")
    assert r.rc == 0, r
    assert "Python 发来的邮件：附件与 HTML" in r.out
    assert "李四" in r.out and "lisi@example.cn" in r.out
    assert "纯文本正文。" in r.out and "Plain body line." in r.out
    assert "<p>" not in r.out
    assert "附件 一.bin" in r.out
    r = client.run("attachments", "1")
    assert r.rc == 0 and "附件 一.bin" in r.out, r
    out = client.base / "out"
    out.mkdir()
    r = client.run("attachments", "1", "--save", out)
    assert r.rc == 0, r
    assert (out / "附件 一.bin").read_bytes() == data


# ------------------------------------------------------------------ neomutt -> posthorn

@pytest.mark.parametrize("charset", ["utf-8", "gb2312"])
def test_neomutt_built_mail_read_by_posthorn(client, charset, tmp_path):
    neomutt = tool("neomutt")
    work = tmp_path / "nm"
    (work / "home").mkdir(parents=True)
    (work / "tmp").mkdir()
    out = work / "out.eml"
    sendmail = work / "sendmail.sh"
    sendmail.write_text(f"#!/bin/sh\ncat > '{out}'\n")
    sendmail.chmod(0o755)
    att = work / "报告.pdf"
    pdf = b"%PDF-1.4\n" + bytes(random.Random(9).randrange(256) for _ in range(3000))
    att.write_bytes(pdf)
    body = "你好，这是 neomutt 发的。\nSecond line.\n"
    env = {"HOME": str(work / "home"), "TMPDIR": str(work / "tmp"), "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb"}
    send_charset = "us-ascii:gb2312:utf-8" if charset == "gb2312" else "utf-8"
    p = subprocess.run(
        [neomutt, "-F", "/dev/null", "-n",
         "-e", 'set from="王小明 <wang@example.test>"', "-e", "set use_from=yes",
         "-e", f"set sendmail={sendmail}", "-e", "set charset=utf-8",
         "-e", f"set send_charset={send_charset}", "-e", "set copy=no",
         "-s", "neomutt 测试邮件", "-a", str(att), "--", "bob@example.test"],
        input=body.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        timeout=30, cwd=str(work))
    assert p.returncode == 0 and out.exists(), p.stderr.decode(errors="replace")
    raw = out.read_bytes()
    if charset == "gb2312":
        assert b"gb2312" in raw.lower(), raw[:600]
    client.put(raw)
    r = client.run("read", "1")
    assert r.rc == 0, r
    assert "neomutt 测试邮件" in r.out and "王小明" in r.out
    assert "你好，这是 neomutt 发的。" in r.out and "Second line." in r.out
    assert "报告.pdf" in r.out
    dest = client.base / "att"
    dest.mkdir()
    r = client.run("attachments", "1", "--save", dest)
    assert r.rc == 0, r
    assert (dest / "报告.pdf").read_bytes() == pdf


def test_reply_to_foreign_mail_threads(make_client):
    """A reply to mail from another client carries its Message-ID."""
    me, peer = make_client(), make_client()
    raw, _ = python_message(email.policy.SMTP)
    raw = raw.replace(b"lisi@example.cn", peer.address.encode())
    me.put(raw)
    body = me.base / "b.txt"
    body.write_text("收到。\n", encoding="utf-8")
    r = me.run("reply", "1", "--body-file", body, "--send")
    assert r.rc == 0, r
    m = parse(delivered_raw(me, peer.user))
    assert m["In-Reply-To"] == "<py.1@example.cn>"
    assert m["Subject"] == "Re: Python 发来的邮件：附件与 HTML"
    assert "收到。" in text_of(m)
    assert "> 纯文本正文。" in text_of(m)
