"""posthorn show / parts / extract: real behaviour, every option and every
error path, on the sample messages in tests/data."""
import hashlib
import json
import os

import pytest

from conftest import DATA

COMMANDS = ["show", "parts", "extract"]

GB_SUBJECT = "关于下周会议的安排"
GB_ATT1 = "会议议程.txt"
GB_ATT2 = "报名表.xls"


def args_for(cmd, path, tmp_path):
    """The arguments that run cmd on path (extract also needs a DIR)."""
    return [cmd, path] + ([tmp_path / "out"] if cmd == "extract" else [])


def lines(b):
    return b.decode("utf-8").splitlines()


def one_line(stderr):
    text = stderr.decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text.rstrip("\n")


# ------------------------------------------------------------ usage & errors

@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_goes_to_stdout(run, cmd, flag):
    p = run(cmd, flag)
    assert p.returncode == 0
    assert p.stdout.decode().startswith(f"usage: posthorn {cmd}")
    assert p.stderr == b""


@pytest.mark.parametrize("cmd", COMMANDS)
def test_unknown_option_is_usage_error(run, cmd):
    p = run(cmd, "--bogus", DATA / "plain.eml", "/tmp")
    assert p.returncode == 2
    assert p.stdout == b""
    assert b"unknown option '--bogus'" in p.stderr


@pytest.mark.parametrize("args", [["show"], ["parts"], ["extract"],
                                  ["extract", "x.eml"],
                                  ["show", "a", "b"], ["parts", "a", "b"],
                                  ["extract", "a", "b", "c"]])
def test_wrong_argument_count_is_usage_error(run, args):
    p = run(*args)
    assert p.returncode == 2
    assert p.stdout == b""
    assert b"usage: posthorn" in p.stderr


def test_option_missing_its_value(run, tmp_path):
    p = run("extract", DATA / "plain.eml", tmp_path, "--part")
    assert p.returncode == 2
    assert b"needs a value" in p.stderr


def test_flag_with_value_rejected(run):
    p = run("show", "--json=yes", DATA / "plain.eml")
    assert p.returncode == 2


def test_double_dash_ends_options(run, tmp_path):
    odd = tmp_path / "--json"
    odd.write_bytes((DATA / "plain.eml").read_bytes())
    p = run("show", "--", odd)
    assert p.returncode == 0
    assert b"Subject: Lunch on Friday?" in p.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_missing_file_exits_3_with_one_line(run, cmd, tmp_path):
    missing = tmp_path / "nope.eml"
    p = run(*args_for(cmd, missing, tmp_path))
    assert p.returncode == 3
    assert one_line(p.stderr) == f"posthorn: {missing}: No such file or directory"
    assert p.stdout == b""
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("cmd", COMMANDS)
def test_directory_as_file_exits_3(run, cmd, tmp_path):
    p = run(*args_for(cmd, tmp_path, tmp_path))
    assert p.returncode == 3
    assert one_line(p.stderr) == f"posthorn: {tmp_path}: Is a directory"


def test_unreadable_file_exits_3(run, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    f = tmp_path / "secret.eml"
    f.write_bytes(b"Subject: x\n\nx\n")
    f.chmod(0)
    p = run("show", f)
    assert p.returncode == 3
    assert one_line(p.stderr) == f"posthorn: {f}: Permission denied"


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("content", [b"", b"\r\n\r\n  \n"])
def test_empty_input_is_not_a_message(run, cmd, content, tmp_path):
    f = tmp_path / "empty.eml"
    f.write_bytes(content)
    p = run(*args_for(cmd, f, tmp_path))
    assert p.returncode == 3
    assert "not a message" in one_line(p.stderr)
    p = run(*args_for(cmd, "-", tmp_path), input=content)
    assert p.returncode == 3
    assert one_line(p.stderr).startswith("posthorn: stdin: ")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_binary_garbage_is_not_a_message(run, cmd, tmp_path):
    import random
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    f = tmp_path / "garbage.bin"
    f.write_bytes(garbage)
    p = run(*args_for(cmd, f, tmp_path))
    assert p.returncode == 3
    assert "not a message" in one_line(p.stderr)
    assert p.stdout == b""


def test_headerless_text_is_shown_with_warning(run):
    p = run("show", "-", input=b"just some words\nand more\n")
    assert p.returncode == 0
    assert b"posthorn: warning:" in p.stderr
    assert b"just some words" in p.stdout


# ------------------------------------------------------------------ show

def test_show_plain(run):
    p = run("show", DATA / "plain.eml", env={"TZ": "UTC"})
    assert p.returncode == 0
    assert p.stderr == b""
    assert lines(p.stdout) == [
        "From: Alice Example <alice@example.org>",
        "To: Bob <bob@example.com>, carol@example.net",
        "Cc: \"Doe, John\" <john@example.com>",
        "Date: Sat, 04 Dec 2004 08:18:08 +0000",
        "Subject: Lunch on Friday?",
        "",
        "Hi Bob,",
        "",
        "Shall we meet for lunch on Friday at noon?",
        "",
        "-- Alice",
    ]


@pytest.mark.parametrize("tz,expect", [
    ("UTC", "Sat, 04 Dec 2004 08:18:08 +0000"),
    ("CST-8", "Sat, 04 Dec 2004 16:18:08 +0800"),
    ("EST5", "Sat, 04 Dec 2004 03:18:08 -0500"),
])
def test_show_date_in_local_time(run, tz, expect):
    p = run("show", DATA / "plain.eml", env={"TZ": tz})
    assert f"Date: {expect}" in lines(p.stdout)


def test_show_unparsable_date_kept_raw(run):
    msg = b"From: a@b.c\nDate: sometime soon\nSubject: d\n\nbody\n"
    p = run("show", "-", input=msg)
    assert "Date: sometime soon" in lines(p.stdout)
    p = run("show", "--json", "-", input=msg)
    assert json.loads(p.stdout)["date"] is None


def test_show_json_plain(run):
    p = run("show", "--json", DATA / "plain.eml")
    assert p.returncode == 0
    assert p.stdout.count(b"\n") == 1
    assert json.loads(p.stdout) == {
        "from": [{"name": "Alice Example", "address": "alice@example.org"}],
        "to": [{"name": "Bob", "address": "bob@example.com"},
               {"name": "", "address": "carol@example.net"}],
        "cc": [{"name": "Doe, John", "address": "john@example.com"}],
        "subject": "Lunch on Friday?",
        "date": "2004-12-04T08:18:08Z",
        "message_id": "20041204161808.1234@example.org",
        "text": "Hi Bob,\n\nShall we meet for lunch on Friday at noon?\n\n-- Alice\n",
    }


def test_show_json_absent_fields(run):
    p = run("show", "--json", "-", input=b"X-Other: 1\n\nhello\r\nworld\r\n")
    doc = json.loads(p.stdout)
    assert doc == {"from": [], "to": [], "cc": [], "subject": None,
                   "date": None, "message_id": None, "text": "hello\nworld\n"}


def test_show_json_local_part_without_domain(run):
    p = run("show", "--json", "-", input=b"To: Someone <postmaster>\n\nx\n")
    assert json.loads(p.stdout)["to"] == [{"name": "Someone",
                                           "address": "postmaster"}]


def test_show_gb2312(run):
    p = run("show", DATA / "gb2312-attachments.eml", env={"TZ": "CST-8"})
    assert p.returncode == 0, p.stderr
    out = lines(p.stdout)
    assert out[0] == "From: 王小明 <wang@example.cn>"
    assert out[1] == "To: 李华 <lihua@example.cn>, 张三 <zhangsan@example.cn>"
    assert out[2] == "Date: Mon, 15 Mar 2021 09:30:00 +0800"
    assert out[3] == f"Subject: {GB_SUBJECT}"
    assert "下周一上午十点在三楼会议室开会，请准时参加。" in out
    i = out.index("Attachments:")
    assert out[i + 1] == f"  [2] {GB_ATT1} (text/plain, 18 bytes)"
    assert out[i + 2] == f"  [3] {GB_ATT2} (application/vnd.ms-excel, 768 bytes)"
    assert "\r" not in p.stdout.decode()


def test_show_json_gb2312(run):
    p = run("show", "--json", DATA / "gb2312-attachments.eml")
    doc = json.loads(p.stdout)
    assert doc["subject"] == GB_SUBJECT
    assert doc["from"] == [{"name": "王小明", "address": "wang@example.cn"}]
    assert [a["name"] for a in doc["to"]] == ["李华", "张三"]
    assert doc["date"] == "2021-03-15T01:30:00Z"
    assert doc["message_id"] == "abc123@mail.example.cn"
    assert doc["text"].startswith("各位同事：\n\n下周一")
    assert "\r" not in doc["text"]


def test_show_nested_prefers_plain_and_lists_attachments(run):
    p = run("show", DATA / "nested-html.eml")
    assert p.returncode == 0
    out = lines(p.stdout)
    assert "From: \"Nested, Sender\" <nested@example.org>" in out
    assert "Subject: Café newsletter" in out
    assert "Café news: the plain version." in out
    assert "HTML" not in p.stdout.decode()
    i = out.index("Attachments:")
    listed = out[i + 1:]
    assert any(l.startswith("  [2] ") and "(message/rfc822," in l for l in listed)
    assert "  [3] report.pdf (application/pdf, 15 bytes)" in listed
    # the parts of the attached message are not listed separately
    assert not any("data.bin" in l for l in listed)


def test_show_html_only(run):
    p = run("show", DATA / "html-only.eml")
    assert p.returncode == 0
    text = p.stdout.decode().split("\n\n", 1)[1]
    for gone in ("Ignored title", "color: red", "not text", "hidden", "<",
                 "&amp;", "DOCTYPE"):
        assert gone not in text.replace("<5>", "")
    assert "Weekly news" in text
    assert 'Fish & chips cost <5> "euros" € ☺ café.' in text
    assert "First line\nSecond line" in text
    assert "one" in text and "two" in text
    assert lines(p.stdout)[-2:] == ["- one", "- two"]


def test_show_json_html_only(run):
    doc = json.loads(run("show", "--json", DATA / "html-only.eml").stdout)
    assert doc["text"].startswith("Weekly news\n\nFish & chips")
    assert "<" not in doc["text"].replace("<5>", "")


def test_show_damaged_warns_but_succeeds(run):
    p = run("show", DATA / "damaged.eml")
    assert p.returncode == 0
    warn = [l for l in lines(p.stderr) if l.startswith("posthorn: warning: ")]
    assert warn, p.stderr
    assert "Text survives the damage." in lines(p.stdout)
    assert "Subject: broken message" in lines(p.stdout)
    assert "Date: yesterday-ish" in lines(p.stdout)


def test_show_is_terminal_safe(run):
    msg = (b"From: =?utf-8?q?Evil=1B]0;title=07?= <e@x.y>\n"
           b"Subject: red \x1b[31mALERT\x1b[0m =?utf-8?b?wps=?= \x7f\n"
           b"Content-Type: text/plain; charset=utf-8\n\n"
           b"line\x1b[2J one\tTab\r\nbad \xff\xfe utf8\x00 nul \xc2\x9b c1\n")
    p = run("show", "-", input=msg)
    assert p.returncode == 0
    out = p.stdout
    assert b"\x1b" not in out and b"\x07" not in out and b"\x00" not in out
    assert b"\x7f" not in out and b"\xc2\x9b" not in out and b"\r" not in out
    out.decode("utf-8")  # valid UTF-8
    text = out.decode()
    assert "line[2J one\tTab\n" in text
    assert "bad \ufffd\ufffd utf8" in text


def test_show_stdin(run):
    data = (DATA / "plain.eml").read_bytes()
    a = run("show", "-", input=data)
    b = run("show", DATA / "plain.eml")
    assert a.returncode == 0 and a.stdout == b.stdout


# ----------------------------------------------------------------- parts

def test_parts_json_nested(run):
    p = run("parts", "--json", DATA / "nested-html.eml")
    assert p.returncode == 0, p.stderr
    parts = json.loads(p.stdout)
    assert [(x["section"], x["type"]) for x in parts] == [
        ("", "multipart/mixed"),
        ("1", "multipart/related"),
        ("1.1", "multipart/alternative"),
        ("1.1.1", "text/plain"),
        ("1.1.2", "text/html"),
        ("1.2", "image/png"),
        ("2", "message/rfc822"),
        ("2", "multipart/mixed"),
        ("2.1", "text/plain"),
        ("2.2", "application/octet-stream"),
        ("3", "application/pdf"),
    ]
    for x in parts:
        assert set(x) == {"section", "type", "charset", "encoding",
                          "disposition", "filename", "size", "sha256"}
    assert parts[3]["charset"] == "utf-8"
    assert parts[3]["encoding"] == "quoted-printable"
    assert parts[3]["size"] == len("Café news: the plain version.".encode())
    assert parts[0]["charset"] is None and parts[0]["disposition"] is None
    assert parts[5]["disposition"] == "inline"
    assert parts[6]["disposition"] == "attachment"
    assert parts[9]["filename"] == "data.bin"
    assert parts[9]["size"] == 6
    assert parts[9]["sha256"] == hashlib.sha256(bytes(range(6))).hexdigest()
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    assert parts[10] == {"section": "3", "type": "application/pdf",
                         "charset": None, "encoding": "base64",
                         "disposition": "attachment", "filename": "report.pdf",
                         "size": len(pdf),
                         "sha256": hashlib.sha256(pdf).hexdigest()}


def test_parts_json_container_digest_is_raw_body(run):
    raw = (DATA / "nested-html.eml").read_bytes()
    parts = json.loads(run("parts", "--json", DATA / "nested-html.eml").stdout)
    body = raw[raw.index(b"\r\n\r\n") + 4:]
    assert parts[0]["size"] in (len(body), len(body) - 2)
    assert parts[0]["sha256"] == hashlib.sha256(body[:parts[0]["size"]]).hexdigest()


def test_parts_json_gb2312_names(run):
    parts = json.loads(run("parts", "--json", DATA / "gb2312-attachments.eml").stdout)
    assert [x["filename"] for x in parts] == [None, None, GB_ATT1, GB_ATT2]
    assert parts[1]["charset"] == "gb2312"
    assert parts[3]["sha256"] == hashlib.sha256(bytes(range(256)) * 3).hexdigest()
    assert parts[2]["sha256"] == hashlib.sha256(
        "一、开场\n二、总结\n".encode("gb2312")).hexdigest()


def test_parts_single_part_is_section_1(run):
    parts = json.loads(run("parts", "--json", DATA / "plain.eml").stdout)
    assert len(parts) == 1
    assert parts[0]["section"] == "1" and parts[0]["type"] == "text/plain"
    assert parts[0]["charset"] == "us-ascii" and parts[0]["encoding"] == "7bit"


def test_parts_text_columns(run):
    p = run("parts", DATA / "gb2312-attachments.eml")
    assert p.returncode == 0
    out = lines(p.stdout)
    assert len(out) == 4
    assert out[0].split() == ["-", "multipart/mixed", "-", "7bit", "-", "-",
                              out[0].split()[-1]]
    assert out[1].split() == ["1", "text/plain", "gb2312", "base64", "-", "-",
                              out[1].split()[-1]]
    assert out[2].split() == ["2", "text/plain", "gb2312", "base64",
                              "attachment", GB_ATT1, "18"]
    assert out[3].split() == ["3", "application/vnd.ms-excel", "-", "base64",
                              "attachment", GB_ATT2, "768"]
    # children indented under their multipart
    assert out[1].index("text/plain") > out[0].index("multipart/mixed")


def test_parts_text_depth_indentation(run):
    out = lines(run("parts", DATA / "nested-html.eml").stdout)
    col = [l.index(t) for l, t in zip(out, ["multipart/mixed",
           "multipart/related", "multipart/alternative", "text/plain"])]
    assert col == sorted(col) and len(set(col)) == 4


def test_parts_stdin_and_damaged(run):
    a = run("parts", "--json", "-", input=(DATA / "damaged.eml").read_bytes())
    assert a.returncode == 0
    assert b"posthorn: warning:" in a.stderr
    parts = json.loads(a.stdout)
    assert parts[-1]["filename"] == "cut.bin"
    assert parts[-1]["size"] == 6  # the "!!" is skipped


# --------------------------------------------------------------- extract

def test_extract_all_gb2312(run, tmp_path):
    out = tmp_path / "out"
    p = run("extract", DATA / "gb2312-attachments.eml", out)
    assert p.returncode == 0, p.stderr
    assert lines(p.stdout) == [f"{out}/{GB_ATT1}", f"{out}/{GB_ATT2}"]
    assert (out / GB_ATT1).read_bytes() == "一、开场\n二、总结\n".encode("gb2312")
    assert (out / GB_ATT2).read_bytes() == bytes(range(256)) * 3
    assert sorted(os.listdir(out)) == sorted([GB_ATT1, GB_ATT2])


def test_extract_hostile_names(run, tmp_path):
    out = tmp_path / "a" / "out"
    out.parent.mkdir()
    p = run("extract", DATA / "traversal.eml", str(out) + "/")
    assert p.returncode == 0, p.stderr
    names = [l.split("/")[-1] for l in lines(p.stdout)]
    assert names == ["passwd", "evil.exe", "hidden", "same.txt",
                     "same (2).txt", "part-7.bin", "belland[31mred.txt"]
    assert sorted(os.listdir(out)) == sorted(names)
    assert os.listdir(tmp_path / "a") == ["out"]
    assert (out / "passwd").read_bytes() == b"root:x:0:0"
    assert (out / "same.txt").read_bytes() == b"first"
    assert (out / "same (2).txt").read_bytes() == b"second"
    assert lines(p.stdout)[0] == f"{out}/passwd"


def test_extract_nested_saves_attached_message_whole(run, tmp_path):
    p = run("extract", DATA / "nested-html.eml", tmp_path)
    assert p.returncode == 0, p.stderr
    names = sorted(os.listdir(tmp_path))
    # the inline image is a non-text leaf that is not the body: saved too
    assert names == ["part-1.2.png", "part-2.eml", "report.pdf"]
    eml = (tmp_path / "part-2.eml").read_bytes()
    assert eml.startswith(b"From: Inner <inner@example.org>")
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


def test_extract_refuses_to_overwrite(run, tmp_path):
    (tmp_path / GB_ATT1).write_bytes(b"mine")
    p = run("extract", DATA / "gb2312-attachments.eml", tmp_path)
    assert p.returncode == 1
    assert (tmp_path / GB_ATT1).read_bytes() == b"mine"
    assert (tmp_path / GB_ATT2).read_bytes() == bytes(range(256)) * 3
    assert lines(p.stdout) == [f"{tmp_path}/{GB_ATT2}"]
    assert "exists" in p.stderr.decode() and GB_ATT1 in p.stderr.decode()


def test_extract_force_overwrites(run, tmp_path):
    (tmp_path / GB_ATT1).write_bytes(b"mine")
    p = run("extract", "--force", DATA / "gb2312-attachments.eml", tmp_path)
    assert p.returncode == 0
    assert (tmp_path / GB_ATT1).read_bytes() == "一、开场\n二、总结\n".encode("gb2312")
    assert "replacing" in p.stderr.decode()
    assert sorted(os.listdir(tmp_path)) == sorted([GB_ATT1, GB_ATT2])


def test_extract_does_not_follow_symlinks(run, tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "passwd").symlink_to(outside)
    p = run("extract", DATA / "traversal.eml", out, "--part", "2")
    assert p.returncode == 1
    assert outside.read_bytes() == b"precious"
    p = run("extract", DATA / "traversal.eml", out, "--part", "2", "--force")
    assert p.returncode == 0
    assert outside.read_bytes() == b"precious"
    assert not (out / "passwd").is_symlink()
    assert (out / "passwd").read_bytes() == b"root:x:0:0"


def test_extract_part(run, tmp_path):
    p = run("extract", DATA / "gb2312-attachments.eml", tmp_path, "--part", "3")
    assert p.returncode == 0
    assert os.listdir(tmp_path) == [GB_ATT2]
    # --part=N form, and a part that is not an attachment (the body text)
    p = run("extract", "--part=1", DATA / "gb2312-attachments.eml", tmp_path)
    assert p.returncode == 0
    assert lines(p.stdout) == [f"{tmp_path}/part-1.txt"]
    assert (tmp_path / "part-1.txt").read_bytes().decode("gb18030").startswith("各位同事")


def test_extract_missing_part(run, tmp_path):
    p = run("extract", DATA / "plain.eml", tmp_path, "--part", "9.9")
    assert p.returncode == 1
    assert one_line(p.stderr) == (f"posthorn: {DATA / 'plain.eml'}: no part "
                                  "'9.9' (see 'posthorn parts')")
    assert os.listdir(tmp_path) == []


def test_extract_no_attachments(run, tmp_path):
    p = run("extract", DATA / "plain.eml", tmp_path)
    assert p.returncode == 0
    assert p.stdout == b""
    assert b"no attachments" in p.stderr


def test_extract_stdin(run, tmp_path):
    data = (DATA / "gb2312-attachments.eml").read_bytes()
    p = run("extract", "-", tmp_path, input=data)
    assert p.returncode == 0
    assert sorted(os.listdir(tmp_path)) == sorted([GB_ATT1, GB_ATT2])


def test_extract_unusable_dir(run, tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"")
    p = run("extract", DATA / "gb2312-attachments.eml", f)
    assert p.returncode == 1
    assert one_line(p.stderr) == f"posthorn: {f}: Not a directory"
    p = run("extract", DATA / "gb2312-attachments.eml", tmp_path / "x" / "y")
    assert p.returncode == 1
    assert "No such file or directory" in one_line(p.stderr)
