"""The client's local commands on a Maildir++ mail_dir: list (numbers,
unread and attachment marks, newest first, paging), read (GB2312 decoded to
UTF-8, HTML-only mail, marks seen), attachments (exact bytes, hostile names
kept inside the target directory), reply and forward (subject prefixes once,
threading fields, Reply-To, --all without our own address, message/rfc822
and inline forwarding), folders, move, delete to Trash, search, and the
address book's vCard import and export. Replies and forwards really go out
through posthornd and are checked where they were delivered."""
import os
import pathlib
import re
import time

import pytest

from mailserver import DOMAIN
from clientlib import (EXIT, attachments_of, list_rows, module_server, parse, row_for,
                       simple_message, text_of)
from clientlib import client, make_client  # noqa: F401  (fixtures)

srv = module_server(pool=50)

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
GB_SUBJECT = "关于下周会议的安排"
GB_ATT1 = "会议议程.txt"
GB_ATT2 = "报名表.xls"
T0 = 1_700_000_000


def attach_message(subject, frm="Peer <peer@remote.test>", to="me@example.test",
                   files=None, msgid=None, date="Mon, 01 Dec 2025 10:00:00 +0000", text="see attached\n"):
    from email.message import EmailMessage
    import email.policy
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = msgid or f"<{time.monotonic_ns()}@remote.test>"
    m.set_content(text)
    for name, data in (files or {}).items():
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes()


def delivered(c, user, n=1):
    msgs = c.srv.wait_messages(user, n)
    assert len(msgs) == n, f"{user}: {len(msgs)} delivered, expected {n}"
    return [parse(p.read_bytes()) for p in msgs]


def flags_of(path):
    return path.name.rpartition(":2,")[2] if ":2," in path.name else ""


def only_file(c, folder="INBOX"):
    files = c.folder(folder)
    assert len(files) == 1, files
    return files[0]


# ------------------------------------------------------------------ list

def test_list_newest_first_with_marks_and_paging(client):
    client.put(simple_message("oldest seen"), ts=T0, flags="S")
    client.put(attach_message("middle attach", files={"a.bin": b"\0\1\2" * 100}), ts=T0 + 60)
    client.put(simple_message("newest plain"), ts=T0 + 120)
    r = client.run("list")
    assert r.rc == 0, r
    rows = list_rows(r.out)
    order = [subj for subj in ("newest plain", "middle attach", "oldest seen")
             for row in rows if subj in row[2]]
    assert order == ["newest plain", "middle attach", "oldest seen"], r.out
    n, marks, line = row_for(r.out, "oldest seen")
    assert n == 1 and "*" not in marks and "@" not in marks, line
    n, marks, line = row_for(r.out, "middle attach")
    assert n == 2 and "*" in marks and "@" in marks, line
    n, marks, line = row_for(r.out, "newest plain")
    assert n == 3 and "*" in marks and "@" not in marks, line
    assert "peer@remote.test" in r.out or "Peer" in r.out

    r = client.run("list", "--unread")
    assert r.rc == 0, r
    assert "oldest seen" not in r.out and "newest plain" in r.out and "middle attach" in r.out
    r = client.run("list", "--limit", "2")
    assert r.rc == 0, r
    assert "newest plain" in r.out and "middle attach" in r.out and "oldest seen" not in r.out
    r = client.run("list", "--limit", "2", "--page", "2")
    assert r.rc == 0, r
    assert "oldest seen" in r.out and "newest plain" not in r.out
    # listing marks nothing read
    assert [flags_of(p) for p in client.folder()].count("S") == 1


def test_list_missing_folder_and_message(client):
    r = client.run("list", "NoSuchFolder")
    assert r.rc == EXIT["INPUT"], r
    assert "NoSuchFolder" in r.err
    r = client.run("read", "7")
    assert r.rc == EXIT["INPUT"], r
    assert "7" in r.err


# ------------------------------------------------------------------ read

def test_read_gb2312_fetched_from_server_marks_seen(client):
    client.srv.put_message(client.user, (DATA / "gb2312-attachments.eml").read_bytes())
    r = client.fetch()
    assert r.rc == 0, r
    path = only_file(client)
    assert "S" not in flags_of(path)
    r = client.run("read", "1")
    assert r.rc == 0, r
    out = r.out
    assert GB_SUBJECT in out and "王小明" in out and "wang@example.cn" in out
    assert "下周一上午十点在三楼会议室开会，请准时参加。" in out
    assert GB_ATT1 in out and GB_ATT2 in out
    assert "\r" not in out and "=?gb2312?" not in out
    path = only_file(client)
    assert path.parent.name == "cur" and "S" in flags_of(path), path
    r = client.run("list")
    assert "*" not in row_for(r.out, GB_SUBJECT)[1]


def test_read_html_only_and_headers_and_raw(client):
    client.put((DATA / "html-only.eml").read_bytes())
    r = client.run("read", "1")
    assert r.rc == 0, r
    assert "Weekly news" in r.out or "Weekly   news" in r.out
    assert "Fish & chips" in r.out and "café" in r.out
    assert "<p>" not in r.out and "not text" not in r.out and "color: red" not in r.out
    r = client.run("read", "1", "--raw")
    assert r.rc == 0, r
    assert r.stdout.replace(b"\r\n", b"\n") == (DATA / "html-only.eml").read_bytes().replace(b"\r\n", b"\n")
    r = client.run("read", "1", "--headers")
    assert r.rc == 0 and "Content-Transfer-Encoding" in r.out, r


def test_read_in_folder(client):
    client.put(simple_message("in archive", body="archived text\n"), folder="Archive")
    r = client.run("read", "1", "--folder", "Archive")
    assert r.rc == 0, r
    assert "archived text" in r.out
    assert "S" in flags_of(only_file(client, "Archive"))


# ------------------------------------------------------------------ attachments

def test_attachments_list_and_save_exact(client):
    client.put((DATA / "gb2312-attachments.eml").read_bytes())
    r = client.run("attachments", "1")
    assert r.rc == 0, r
    assert GB_ATT1 in r.out and GB_ATT2 in r.out
    out = client.base / "out"
    out.mkdir()
    r = client.run("attachments", "1", "--save", out)
    assert r.rc == 0, r
    assert (out / GB_ATT1).read_bytes() == "一、开场\n二、总结\n".encode("gb2312")
    assert (out / GB_ATT2).read_bytes() == bytes(range(256)) * 3
    # existing files are kept unless --force (refused, or saved beside
    # under another name: either way the old file is untouched)
    (out / GB_ATT1).write_bytes(b"mine")
    r = client.run("attachments", "1", "--save", out)
    assert (out / GB_ATT1).read_bytes() == b"mine", r
    assert all(p.parent == out for p in out.rglob("*"))
    r = client.run("attachments", "1", "--save", out, "--force")
    assert r.rc == 0, r
    assert (out / GB_ATT1).read_bytes() == "一、开场\n二、总结\n".encode("gb2312")


def test_attachments_hostile_names_stay_inside(client):
    client.put((DATA / "traversal.eml").read_bytes())
    box = client.base / "box"
    out = box / "a" / "out"
    out.mkdir(parents=True)
    r = client.run("attachments", "1", "--save", out)
    assert r.rc == 0, r
    outside = [p for p in box.rglob("*") if p != out and out not in p.parents and p != out.parent]
    assert outside == [], f"written outside DIR: {outside}"
    names = os.listdir(out)
    assert "passwd" in names and (out / "passwd").read_bytes() == b"root:x:0:0"
    assert not any("/" in n or n.startswith(".") or "\x1b" in n for n in names), names
    assert os.listdir(out.parent) == ["out"]


# ------------------------------------------------------------------ reply

@pytest.mark.parametrize("subject,expect", [
    ("hello", "Re: hello"),
    ("Re: hello", "Re: hello"),
    ("RE: hello", None),          # one prefix, whatever its case
])
def test_reply_subject_threading_and_quote(make_client, subject, expect):
    me, peer = make_client(), make_client()
    orig = simple_message(subject, frm=f"Peer <{peer.address}>", to=me.address,
                          msgid="<orig.1@remote.test>", body="original line one\nline two\n",
                          extra="References: <root.0@remote.test>\n")
    me.put(orig)
    body = me.base / "reply.txt"
    body.write_text("My answer.\n")
    r = me.run("reply", "1", "--body-file", body, "--send")
    assert r.rc == 0, r
    m = delivered(me, peer.user)[0]
    if expect:
        assert m["Subject"] == expect
    else:
        assert re.fullmatch(r"(?i:re): hello", m["Subject"]), m["Subject"]
    assert m["In-Reply-To"] == "<orig.1@remote.test>"
    assert m["References"].split() == ["<root.0@remote.test>", "<orig.1@remote.test>"]
    assert [a.addr_spec for a in m["To"].addresses] == [peer.address]
    text = text_of(m)
    assert "My answer." in text
    assert "> original line one" in text and "> line two" in text
    files = me.folder()
    assert len(files) == 1 and "R" in flags_of(files[0]), files
    assert len(me.folder("Sent")) == 1


def test_reply_honours_reply_to(make_client):
    me, peer, other = make_client(), make_client(), make_client()
    me.put(simple_message("list mail", frm=f"Peer <{peer.address}>", to=me.address,
                          extra=f"Reply-To: Other <{other.address}>\n"))
    body = me.base / "b.txt"
    body.write_text("to the reply-to\n")
    r = me.run("reply", "1", "--body-file", body, "--send")
    assert r.rc == 0, r
    m = delivered(me, other.user)[0]
    assert [a.addr_spec for a in m["To"].addresses] == [other.address]
    time.sleep(0.2)
    assert me.srv.messages(peer.user) == []


def test_reply_all_excludes_own_address(make_client):
    me, p1, p2, p3 = (make_client() for _ in range(4))
    me.put(simple_message("to many", frm=f"P1 <{p1.address}>",
                          to=f"{me.address}, P2 <{p2.address}>",
                          extra=f"Cc: P3 <{p3.address}>, {me.user}@{DOMAIN.upper()}\n"))
    body = me.base / "b.txt"
    body.write_text("to all\n")
    r = me.run("reply", "1", "--all", "--body-file", body, "--send")
    assert r.rc == 0, r
    copies = [delivered(me, p.user)[0] for p in (p1, p2, p3)]
    m = copies[0]
    addrs = [a.addr_spec.lower() for f in ("To", "Cc") if m[f] for a in m[f].addresses]
    assert sorted(addrs) == sorted([p1.address, p2.address, p3.address]), addrs
    assert [a.addr_spec for a in m["To"].addresses] == [p1.address]
    time.sleep(0.2)
    assert me.srv.messages(me.user) == []


# ------------------------------------------------------------------ forward

def test_forward_attached_as_rfc822(make_client):
    me, peer = make_client(), make_client()
    orig = attach_message("Fwd: report", files={"data.bin": bytes(range(256)) * 4},
                          msgid="<fw.1@remote.test>")
    me.put(orig)
    body = me.base / "b.txt"
    body.write_text("FYI\n")
    r = me.run("forward", "1", "--to", peer.address, "--body-file", body)
    assert r.rc == 0, r
    m = delivered(me, peer.user)[0]
    assert m["Subject"] == "Fwd: report"
    assert "FYI" in text_of(m)
    inner = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
    assert len(inner) == 1, [p.get_content_type() for p in m.walk()]
    inner_msg = inner[0].get_content()
    assert inner_msg["Message-ID"] == "<fw.1@remote.test>"
    assert attachments_of(inner_msg) == {"data.bin": bytes(range(256)) * 4}
    assert "P" in flags_of(only_file(me))


def test_forward_inline_keeps_attachments(make_client):
    me, peer = make_client(), make_client()
    me.put(attach_message("quarterly", files={"q.bin": b"\xff\x00" * 500},
                          text="the original text\n"))
    body = me.base / "b.txt"
    body.write_text("see below\n")
    r = me.run("forward", "1", "--inline", "--to", peer.address, "--body-file", body)
    assert r.rc == 0, r
    m = delivered(me, peer.user)[0]
    assert m["Subject"] == "Fwd: quarterly"
    text = text_of(m)
    assert "see below" in text and "Forwarded message" in text and "the original text" in text
    assert attachments_of(m) == {"q.bin": b"\xff\x00" * 500}
    assert not [p for p in m.walk() if p.get_content_type() == "message/rfc822"]


# ------------------------------------------------------------------ folders

def test_folders_create_rename_delete(client):
    client.put(simple_message("one"), ts=T0)
    for name in ("Work", "Projects/2026"):
        r = client.run("folder", "create", name)
        assert r.rc == 0, r
    assert (client.mail_dir / ".Work" / "cur").is_dir()
    assert (client.mail_dir / ".Projects.2026" / "cur").is_dir()
    r = client.run("folders")
    assert r.rc == 0, r
    for name in ("INBOX", "Work", "Projects/2026"):
        assert name in r.out, r
    inbox = [l for l in r.out.splitlines() if "INBOX" in l][0]
    assert re.search(r"\b1\b", inbox), inbox

    r = client.run("move", "1", "Work")
    assert r.rc == 0, r
    assert client.folder() == [] and len(client.folder("Work")) == 1
    r = client.run("list", "Work")
    assert r.rc == 0 and "one" in r.out, r

    r = client.run("folder", "rename", "Work", "Job")
    assert r.rc == 0, r
    assert not (client.mail_dir / ".Work").exists() and len(client.folder("Job")) == 1
    r = client.run("folder", "delete", "Job")
    assert r.rc != 0 and "--force" in r.err, r
    assert len(client.folder("Job")) == 1
    r = client.run("folder", "delete", "Job", "--force")
    assert r.rc == 0, r
    assert not (client.mail_dir / ".Job").exists()
    for args in (("rename", "INBOX", "Other"), ("delete", "INBOX", "--force")):
        r = client.run("folder", *args)
        assert r.rc != 0 and "INBOX" in r.err, r
    assert (client.mail_dir / "cur").is_dir()
    r = client.run("folder", "create", "bad.name")
    assert r.rc != 0, r


def test_move_and_delete_to_trash_and_expunge(client):
    for i in range(6):
        client.put(simple_message(f"msg {i}"), ts=T0 + i)
    r = client.run("delete", "1,3")
    assert r.rc == 0, r
    assert sorted(parse(p.read_bytes())["Subject"] for p in client.folder("Trash")) == ["msg 0", "msg 2"]
    assert len(client.folder()) == 4
    r = client.run("move", "1", "Nowhere")
    assert r.rc == EXIT["INPUT"] and "Nowhere" in r.err, r
    assert client.run("folder", "create", "Archive").rc == 0
    r = client.run("move", "1-2", "Archive")        # msg 1, msg 3
    assert r.rc == 0, r
    assert sorted(parse(p.read_bytes())["Subject"] for p in client.folder("Archive")) == ["msg 1", "msg 3"]
    r = client.run("delete", "1", "--folder", "Trash")   # from Trash: for good
    assert r.rc == 0, r
    assert [parse(p.read_bytes())["Subject"] for p in client.folder("Trash")] == ["msg 2"]
    r = client.run("delete", "2", "--expunge")           # msg 5
    assert r.rc == 0, r
    assert [parse(p.read_bytes())["Subject"] for p in client.folder()] == ["msg 4"]
    assert len(client.folder("Trash")) == 1
    r = client.run("move", "5", "Archive")
    assert r.rc == EXIT["INPUT"], r


def test_search(client):
    # delivery times equal to the Date fields, so --since/--before agree
    # whichever of the two the client uses
    client.put(simple_message("Budget 2025", frm="Finance <fin@corp.test>", body="numbers\n",
                              date="Mon, 03 Feb 2025 10:00:00 +0000"), ts=1738576800)
    client.put((DATA / "gb2312-attachments.eml").read_bytes(), ts=1615771800)
    client.put(simple_message("lunch", frm="Friend <pal@fun.test>", body="The BUDGET is fine\n",
                              date="Mon, 10 Nov 2025 10:00:00 +0000"), ts=1762768800)
    client.put(simple_message("budget archived", body="old\n"), folder="Archive")

    def subjects(*args):
        r = client.run("search", *args)
        assert r.rc == 0, r
        return sorted(s for s in ("Budget 2025", GB_SUBJECT, "lunch", "budget archived") if s in r.out)

    assert subjects("budget") == ["Budget 2025", "lunch"]
    assert subjects("会议室") == [GB_SUBJECT]            # decoded GB2312 body
    assert subjects("budget", "--from", "fin@corp") == ["Budget 2025"]
    assert subjects("budget", "--from", "friend") == ["lunch"]
    assert subjects("budget", "--subject", "budget") == ["Budget 2025"]
    assert subjects("budget", "--since", "2025-06-01") == ["lunch"]
    assert subjects("budget", "--before", "2025-06-01") == ["Budget 2025"]
    assert subjects("budget", "--folder", "Archive") == ["budget archived"]
    assert subjects("budget", "--all-folders") == ["Budget 2025", "budget archived", "lunch"]


# ------------------------------------------------------------------ contacts

VCARD3 = """BEGIN:VCARD\r
VERSION:3.0\r
FN:李华\r
N:李;华;;;\r
EMAIL;TYPE=INTERNET:lihua@example.cn\r
TEL:+86 10 1234 5678\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:3.0\r
FN:Zed Example\r
NICKNAME:zed\r
EMAIL:zed@example.org\r
ORG:Example Inc.\r
END:VCARD\r
"""


def test_contacts_import_search_export_remove(client):
    f = client.base / "in.vcf"
    f.write_text(VCARD3, encoding="utf-8")
    r = client.run("contacts", "import", f)
    assert r.rc == 0, r
    r = client.run("contacts", "list")
    assert r.rc == 0 and "李华" in r.out and "zed@example.org" in r.out, r
    r = client.run("contacts", "search", "zed")
    assert r.rc == 0 and "Zed Example" in r.out and "李华" not in r.out, r
    out = client.base / "out.vcf"
    r = client.run("contacts", "export", out, "--version", "3.0")
    assert r.rc == 0, r
    text = out.read_text(encoding="utf-8")
    assert text.count("BEGIN:VCARD") == 2 and "VERSION:3.0" in text and "VERSION:4.0" not in text
    assert "FN:李华" in text and "lihua@example.cn" in text
    r = client.run("contacts", "export", "-")
    assert r.rc == 0 and "VERSION:4.0" in r.out and "zed@example.org" in r.out, r
    r = client.run("contacts", "remove", "zed@example.org")
    assert r.rc == 0, r
    r = client.run("contacts", "list")
    assert "zed@example.org" not in r.out and "李华" in r.out, r
