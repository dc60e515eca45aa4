"""The shared mail corpus (/work/shared/corpus) run through posthorn.

Every message must parse without a crash or sanitizer report (with
`posthorn parts --json` and `posthorn inspect tree --bodies`), and every
leaf must decode with consistent sizes. Where a collection ships expected
results (mime4j, stalwart-mail-parser) our results are compared with them;
the cases where we knowingly differ are listed, with the reason, in
tests/it/corpus_expect/known_disagreements.json and tests/corpus-notes.md.

POSTHORN_BIN names the binary (default build/posthorn), POSTHORN_CORPUS the
corpus (default /work/shared/corpus). Only the Python standard library.
"""
import base64
import calendar
import concurrent.futures
import functools
import json
import os
import re
import subprocess
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("POSTHORN_CORPUS", "/work/shared/corpus"))
EXPECT = Path(__file__).resolve().parent / "corpus_expect"
WORKERS = 2
BATCH_FILES = 40
BATCH_BYTES = 4 << 20

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# Names that are never messages: licences, notes, expected results.
SKIP_NAMES = re.compile(r"^(LICENSE.*|NOTICE|COPYING|SOURCE\.md|README.*|"
                        r"\.gitattributes|ARTISTIC-LICENSE\.txt)$")
SKIP_SUFFIXES = (".xml", ".json", ".out", ".bin", ".md")
# Files in the corpus that are inputs of other tests, not messages (charset
# and codec pairs, structure dumps). They are still fed to the parser (it
# must not crash), but `parts` may call them "not a message" (exit 3).
NOT_MESSAGES = re.compile(r"^(gmime/data/filters/|gmime/data/encodings/|"
                          r"gmime/data/mbox/output/|mimekit/mbox/.*-summary\.txt$|"
                          r"mikel-mail/sample_output_multipart$)")

def binary():
    # the same rule as conftest.py's posthorn fixture; read here because the
    # batched runs are cached at module level, outside any fixture
    return os.environ.get("POSTHORN_BIN", str(ROOT / "build" / "posthorn"))


pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus {CORPUS} not present"),
]


def run_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    env["LC_ALL"] = "C"
    return env


def run(args, data=None, timeout=300):
    return subprocess.run([binary()] + [str(a) for a in args], input=data,
                          capture_output=True, timeout=timeout, env=run_env())


def sanitizer_report(stderr):
    text = stderr.decode("utf-8", "replace")
    return next((text for mark in SANITIZER_MARKS if mark in text), None)


def pmap(fn, items):
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, items))


# ---------------------------------------------------------------- inputs

def corpus_files():
    """Every input file of the corpus (relative names), messages first."""
    if not CORPUS.is_dir():
        return []
    names = []
    for path in sorted(CORPUS.rglob("*")):
        rel = path.relative_to(CORPUS).as_posix()
        if not path.is_file() or SKIP_NAMES.match(path.name):
            continue
        if path.name.endswith(SKIP_SUFFIXES) or "_decoded_" in path.name:
            continue
        names.append(rel)
    return names


def project_files():
    return sorted("tests/data/" + p.name for p in (ROOT / "tests/data").glob("*.eml"))


def input_path(name):
    return ROOT / name if name.startswith("tests/data/") else CORPUS / name


@functools.lru_cache(maxsize=None)
def known():
    with open(EXPECT / "known_disagreements.json", encoding="utf-8") as f:
        data = json.load(f)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def check_known(collection, case, problems):
    """Fails on problems unless the case is a listed known disagreement."""
    reason = known().get(collection, {}).get(case)
    if reason is None:
        assert not problems, "\n".join(problems)
        return
    if not problems:
        warnings.warn(f"{collection} {case} is listed as a known disagreement "
                      f"but now agrees: remove it from known_disagreements.json")
        return
    pytest.skip(f"known disagreement: {reason}")


# ---------------------------------------------------------------- trees

def tree_batch(paths, extra=()):
    """{path: (status, doc or None, stderr)} for `inspect tree` over paths,
    one process per batch; a batch that fails is rerun file by file so the
    failure is pinned on its file."""
    args = ["inspect", "tree", "--bodies", "--text", *extra, "--"]
    if len(paths) > 1:
        p = run(args + list(paths))
        lines = p.stdout.decode("utf-8", "replace").split("\n")[:-1]
        if p.returncode == 0 and not sanitizer_report(p.stderr) and \
                len(lines) == len(paths):
            try:
                return {path: (0, json.loads(line), b"")
                        for path, line in zip(paths, lines)}
            except ValueError:
                pass
    out = {}
    for path in paths:
        p = run(args + [path])
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            doc = None
        out[path] = (p.returncode, doc, p.stderr)
    return out


def batches(paths):
    batch, size = [], 0
    for path in paths:
        n = Path(path).stat().st_size
        if batch and (len(batch) >= BATCH_FILES or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += n
    if batch:
        yield batch


def trees_for(paths):
    result = {}
    for part in pmap(tree_batch, list(batches(paths))):
        result.update(part)
    return result


@functools.lru_cache(maxsize=None)
def corpus_trees():
    names = corpus_files() + project_files()
    by_path = trees_for([str(input_path(n)) for n in names])
    return {n: by_path[str(input_path(n))] for n in names}


def children_of(doc):
    kids = {p["index"]: [] for p in doc["parts"]}
    for p in doc["parts"]:
        if p["parent"] is not None:
            kids[p["parent"]].append(p["index"])
    return kids


def tree_problems(doc, size):
    """Consistency of one tree: offsets inside the input and the parent,
    parent links, decoded sizes that fit the encoding."""
    problems = []
    parts = doc["parts"]
    if doc["size"] != size:
        problems.append(f"size {doc['size']} != {size}")
    if not parts or parts[0]["parent"] is not None:
        problems.append("no root part")
    if doc["nparts"] != len(parts):
        problems.append(f"nparts {doc['nparts']} != {len(parts)} listed")
    kids = children_of(doc)
    for p in parts:
        where = f"part {p['section'] or '(root)'} #{p['index']}"
        end = p["body_offset"] + p["body_len"]
        if p["offset"] + p["header_len"] != p["body_offset"]:
            problems.append(f"{where}: offset + header_len != body_offset")
        if end > size:
            problems.append(f"{where}: body ends at {end} > {size}")
        if len(kids[p["index"]]) != p["nchildren"]:
            problems.append(f"{where}: nchildren {p['nchildren']} but "
                            f"{len(kids[p['index']])} listed")
        if p["parent"] is not None:
            parent = parts[p["parent"]]
            pend = parent["body_offset"] + parent["body_len"]
            if p["offset"] < parent["body_offset"] or end > pend:
                problems.append(f"{where}: outside its parent's body")
        for key in ("preamble", "epilogue"):
            if p[key + "_len"] and p[key + "_offset"] + p[key + "_len"] > size:
                problems.append(f"{where}: {key} past the end")
        if not kids[p["index"]]:
            problems += leaf_problems(p, where)
    return problems


def leaf_problems(p, where):
    if "body_base64" not in p:
        return [f"{where}: leaf without a decoded body"]
    body = base64.b64decode(p["body_base64"])
    problems = []
    if len(body) != p["decoded_len"]:
        problems.append(f"{where}: decoded_len {p['decoded_len']} != {len(body)}")
    enc, n = p["encoding"], p["body_len"]
    if enc == "base64" and len(body) > n * 3 // 4 + 3:
        problems.append(f"{where}: base64 decoded to {len(body)} from {n}")
    if enc == "quoted-printable" and len(body) > n:
        problems.append(f"{where}: quoted-printable grew {n} -> {len(body)}")
    if enc in ("7bit", "8bit", "binary", "unknown") and len(body) != n:
        problems.append(f"{where}: identity encoding changed size {n} -> {len(body)}")
    return problems


ALL_FILES = corpus_files() + project_files()


@pytest.mark.parametrize("name", ALL_FILES)
def test_tree_parses(name):
    status, doc, stderr = corpus_trees()[name]
    report = sanitizer_report(stderr)
    assert not report, report
    assert status == 0, stderr.decode("utf-8", "replace")
    assert doc and doc["ok"], "no JSON tree"
    problems = tree_problems(doc, input_path(name).stat().st_size)
    assert not problems, "\n".join(problems)


def parts_json(name):
    p = run(["parts", "--json", input_path(name)])
    return p.returncode, p.stdout, p.stderr


@functools.lru_cache(maxsize=None)
def corpus_parts():
    return dict(zip(ALL_FILES, pmap(parts_json, ALL_FILES)))


@pytest.mark.parametrize("name", ALL_FILES)
def test_parts_json(name):
    status, stdout, stderr = corpus_parts()[name]
    report = sanitizer_report(stderr)
    assert not report, report
    allowed = (0, 1, 3) if NOT_MESSAGES.match(name) else (0, 1)
    assert status in allowed, f"exit {status}: {stderr.decode('utf-8', 'replace')}"
    if status != 3:
        json.loads(stdout)


def test_unreadable_input_exits_3(tmp_path):
    p = run(["inspect", "tree", tmp_path / "missing.eml"])
    assert p.returncode == 3
    assert json.loads(p.stdout)["ok"] is False


def test_tree_from_stdin():
    data = b"Subject: x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    p = run(["inspect", "tree", "--bodies", "-"], data=data)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    leaf = doc["parts"][0]
    assert base64.b64decode(leaf["body_base64"]) == b"hello\r\n"
    assert leaf["headers"][0] == ["Subject", "x", 0, 12]


# ---------------------------------------------------------------- probes

def escape_line(s):
    """The --escaped form of s (str or bytes): one line of bytes."""
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    for b in s:
        if b == 0x5c:
            out += b"\\\\"
        elif b == 0x0a:
            out += b"\\n"
        elif b == 0x0d:
            out += b"\\r"
        elif b == 0x09:
            out += b"\\t"
        elif b < 0x20 or b == 0x7f:
            out += b"\\x%02x" % b
        else:
            out.append(b)
    return bytes(out)


def probe_many(probe, values):
    """Runs `inspect PROBE --lines --escaped` over values; a list of JSON."""
    if not values:
        return []
    data = b"".join(escape_line(v) + b"\n" for v in values)
    p = run(["inspect", probe, "--lines", "--escaped"], data=data)
    report = sanitizer_report(p.stderr)
    assert not report, report
    assert p.returncode in (0, 1), p.stderr.decode("utf-8", "replace")
    lines = p.stdout.decode("utf-8").split("\n")[:-1]
    assert len(lines) == len(values), f"{probe}: {len(lines)} answers for {len(values)}"
    return [json.loads(line) for line in lines]


def field_value(raw):
    """The value of a header field as our header parser hands it on: up to
    the first line end that is not a fold, without that line end."""
    m = re.search(r"\r?\n(?![ \t])", raw)
    return raw[:m.start()] if m else raw


def raw_value(field):
    """The unfolded value of a raw field (bytes), as the library sees it:
    JSON would have replaced its invalid UTF-8."""
    value = field.partition(b":")[2]
    value = re.sub(rb"\r?\n$", b"", value)
    return re.sub(rb"\r?\n(?=[ \t])", b"", value).strip(b" \t")


def unfold(value):
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip(" \t")


def test_probe_usage():
    assert run(["inspect", "address"]).returncode == 2
    assert run(["inspect", "nonsense", "x"]).returncode == 2
    for probe in ("address", "date", "ctype", "disposition", "encword",
                  "msgid", "tree"):
        p = run(["inspect", probe, "--help"])
        assert p.returncode == 0 and p.stdout.startswith(b"usage:")


def test_probe_single_value():
    p = run(["inspect", "date", "Tue, 1 Jul 2003 10:52:37 +0200"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["utc"] == 1057049557 and doc["offset"] == 120
    assert doc["iso"] == "2003-07-01T08:52:37Z"


# ---------------------------------------------------------------- mime4j

MIME4J = CORPUS / "mime4j"


def mime4j_cases():
    if not MIME4J.is_dir():
        return []
    return sorted(p.relative_to(MIME4J).as_posix()[:-len("_decoded.xml")]
                  for p in MIME4J.rglob("*_decoded.xml"))


@functools.lru_cache(maxsize=None)
def mime4j_trees():
    cases = mime4j_cases()
    by_path = trees_for([str(MIME4J / (c + ".msg")) for c in cases])
    return {c: by_path[str(MIME4J / (c + ".msg"))] for c in cases}


def lf(b):
    return b.replace(b"\r\n", b"\n")


def xml_fields(header):
    out = []
    for field in header.findall("field"):
        text = (field.text or "").lstrip("\n")
        name, _, value = text.partition(":")
        out.append([name.rstrip(" \t"), unfold(value)])
    return out


class Mime4jCompare:
    """Walks a mime4j _decoded.xml and our tree side by side."""

    def __init__(self, case, doc, data):
        self.case, self.doc, self.data = case, doc, data
        self.parts = doc["parts"]
        self.kids = children_of(doc)
        self.problems = []

    def entity(self, el, index, where):
        part = self.parts[index]
        ours = [[n, v] for n, v, *_ in part["headers"]]
        theirs = xml_fields(el.find("header"))
        if ours != theirs:
            self.problems.append(f"{where}: headers differ:\n  ours   {ours}\n"
                                 f"  theirs {theirs}")
        content = [c for c in el if c.tag != "header"]
        if len(content) != 1:
            return
        c = content[0]
        kids = self.kids[index]
        if c.tag == "multipart":
            self.multipart(c, part, kids, where)
        elif c.tag == "message":
            if len(kids) != 1:
                self.problems.append(f"{where}: message/rfc822 expected, ours "
                                     f"{part['type']}/{part['subtype']} with "
                                     f"{len(kids)} children")
            else:
                self.entity(c, kids[0], where + ">msg")
        else:
            self.leaf(c, part, kids, where)

    def slice(self, offset, length):
        return self.data[offset:offset + length]

    def multipart(self, el, part, kids, where):
        bodies = el.findall("body-part")
        if part["type"] != "multipart" or len(kids) != len(bodies):
            self.problems.append(f"{where}: multipart with {len(bodies)} parts "
                                 f"expected, ours {part['type']}/"
                                 f"{part['subtype']} with {len(kids)}")
            return
        for key in ("preamble", "epilogue"):
            node = el.find(key)
            theirs = "" if node is None else (node.text or "")[1:]
            ours = lf(self.slice(part[key + "_offset"], part[key + "_len"]))
            if ours.decode("latin-1") != theirs:
                self.problems.append(f"{where}: {key} {ours!r} != {theirs!r}")
        for i, (body, kid) in enumerate(zip(bodies, kids), 1):
            self.entity(body, kid, f"{where}.{i}")

    def leaf(self, el, part, kids, where):
        if kids:
            self.problems.append(f"{where}: leaf expected, ours has {len(kids)} children")
            return
        expected = (MIME4J / self.case).parent / el.get("name")
        theirs = expected.read_bytes()
        ours = base64.b64decode(part["body_base64"])
        if el.tag == "text-body":
            # the snapshot's decoded .txt files do not keep the message's
            # line ends (CRLF files for LF messages): text compares by lines
            ours, theirs = lf(ours), lf(theirs)
        if ours != theirs:
            self.problems.append(f"{where}: body differs ({len(ours)} bytes, "
                                 f"expected {len(theirs)}): {ours[:80]!r} vs "
                                 f"{theirs[:80]!r}")


def mime4j_problems(case):
    status, doc, stderr = mime4j_trees()[case]
    assert status == 0 and doc, stderr.decode("utf-8", "replace")
    root = ET.parse(MIME4J / (case + "_decoded.xml")).getroot()
    cmp = Mime4jCompare(case, doc, (MIME4J / (case + ".msg")).read_bytes())
    cmp.entity(root, 0, "1")
    return cmp.problems


@pytest.mark.parametrize("case", mime4j_cases())
def test_mime4j(case):
    check_known("mime4j", case, mime4j_problems(case))


# ---------------------------------------------------------------- stalwart

STALWART = CORPUS / "stalwart-mail-parser"


def vectors(name):
    path = STALWART / (name + ".json")
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def date_expected(e):
    """(utc, offset minutes) of a stalwart DateTime."""
    offset = e["tz_hour"] * 60 + e["tz_minute"]
    if e["tz_before_gmt"]:
        offset = -offset
    local = calendar.timegm((e["year"], e["month"], e["day"], e["hour"],
                             e["minute"], e["second"]))
    return local - offset * 60, offset


def date_problems(ours, expected):
    if expected is None:
        return [] if not ours["ok"] else [f"date expected invalid, ours {ours}"]
    try:
        utc, offset = date_expected(expected)
    except ValueError:
        return [] if not ours["ok"] else [f"expected an impossible date "
                                          f"{expected}, ours {ours['iso']}"]
    if not ours["ok"]:
        return [f"date not parsed, expected {expected}"]
    if (ours["utc"], ours["offset"]) != (utc, offset):
        return [f"date utc/offset ({ours['utc']}, {ours['offset']}) != "
                f"({utc}, {offset}) [{ours.get('rfc5322')}]"]
    return []


def address_ours(doc):
    """Our address probe answer as (group count, [(group, name, address)])."""
    items = []
    for a in doc["addresses"]:
        spec = a["spec"] if (a["local"] or a["domain"]) else None
        items.append((a["group"], a["name"] or None, spec))
    return doc["groups"], items


def address_theirs(expected):
    if expected is None:
        return 0, []
    if "List" in expected:
        return 0, [(None, a["name"], a["address"]) for a in expected["List"]]
    groups, items = 0, []
    for g in expected["Group"]:
        if g["name"] is not None:
            groups += 1
        items += [(g["name"], a["name"], a["address"]) for a in g["addresses"]]
    return groups, items


def address_problems(ours, expected):
    if expected is None:
        return [] if not ours["addresses"] else [f"no addresses expected, ours {ours}"]
    if address_ours(ours) != address_theirs(expected):
        return [f"addresses differ:\n  ours   {address_ours(ours)}\n"
                f"  theirs {address_theirs(expected)}"]
    return []


def params_theirs(attrs):
    out = {}
    for a in attrs or []:
        name, value = (a["name"], a["value"]) if isinstance(a, dict) else a
        out[name.lower()] = value
    return out


def params_ours(doc, key="params"):
    out = dict(doc[key])
    for ext in doc.get(key + "_ext", []):
        if ext["lang"]:
            out[ext["name"] + "-language"] = ext["lang"]
    return out


def ctype_problems(ours, expected):
    if expected is None:
        return [] if not ours["ok"] else [f"invalid expected, ours {ours['type']}/{ours['subtype']}"]
    theirs = ((expected["c_type"] or "").lower(), (expected["c_subtype"] or "").lower() or None,
              params_theirs(expected.get("attributes")))
    mine = (ours["type"] or "", ours["subtype"], params_ours(ours))
    return [] if mine == theirs else [f"content type differs:\n  ours   {mine}\n  theirs {theirs}"]


def stalwart_vector_cases(name):
    return [f"{name}.json#{i}" for i in range(len(vectors(name)))]


@functools.lru_cache(maxsize=None)
def stalwart_vector_results(name):
    """{case: problems} for one header-vector file."""
    cases = vectors(name)
    values = [field_value(c["header"]) for c in cases]
    out = {}
    if name == "address":
        for i, (c, r) in enumerate(zip(cases, probe_many("address", values))):
            out[i] = address_problems(r, c["expected"])
    elif name == "date":
        for i, (c, r) in enumerate(zip(cases, probe_many("date", values))):
            out[i] = date_problems(r, c["expected"])
    elif name == "content_type":
        ct = probe_many("ctype", values)
        disp = probe_many("disposition", values)
        for i, (c, r, d) in enumerate(zip(cases, ct, disp)):
            e = c["expected"]
            # stalwart parses both fields with one parser: a value without
            # "/" is a disposition to us
            use = d if e is not None and not e["c_subtype"] and "/" not in values[i] else r
            out[i] = ctype_problems(use, e)
    elif name == "received":
        dated = [(i, c) for i, c in enumerate(cases) if c["expected"].get("date")]
        dates = [field_value(c["header"]).rpartition(";")[2] for _, c in dated]
        for (i, c), r in zip(dated, probe_many("date", dates)):
            out[i] = date_problems(r, c["expected"]["date"])
    elif name == "id":
        for i, (c, r) in enumerate(zip(cases, probe_many("msgid", values))):
            if r["ids"] != (c["expected"] or []):
                out[i] = [f"ids {r['ids']} != {c['expected']}"]
            else:
                out[i] = []
    elif name == "unstructured":
        texts = [unfold(v) for v in values]
        for i, (c, r) in enumerate(zip(cases, probe_many("encword", texts))):
            out[i] = [] if r["text"] == c["expected"] else \
                [f"text {r['text']!r} != {c['expected']!r}"]
    return out


VECTOR_FILES = ("address", "content_type", "date", "received", "id", "unstructured")


@pytest.mark.parametrize("case", [c for n in VECTOR_FILES for c in stalwart_vector_cases(n)])
def test_stalwart_header(case):
    name, _, index = case.partition(".json#")
    results = stalwart_vector_results(name)
    if int(index) not in results:
        pytest.skip("no date in this Received case: nothing that maps to our model")
    check_known("stalwart-header", case, results[int(index)])


# Stalwart message trees: NNN.json was made from the message with LF line
# ends, NNN.crlf.json from the same with CRLF; we parse both variants.

def stalwart_messages():
    if not STALWART.is_dir():
        return []
    return sorted(p.relative_to(STALWART / "eml").as_posix()
                  for p in (STALWART / "eml").rglob("*.eml"))


STALWART_CASES = [f"{m}:{v}" for m in stalwart_messages() for v in ("lf", "crlf")]


@functools.lru_cache(maxsize=None)
def stalwart_work():
    """Writes the LF and CRLF variants, parses them; {case: (data, tree)}."""
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="posthorn-corpus-"))
    files = {}
    for case in STALWART_CASES:
        msg, variant = case.split(":")
        data = (STALWART / "eml" / msg).read_bytes().replace(b"\r\n", b"\n")
        if variant == "crlf":
            data = data.replace(b"\n", b"\r\n")
        path = tmp / (msg.replace("/", "_") + "." + variant)
        path.write_bytes(data)
        files[case] = (data, str(path))
    trees = trees_for([p for _, p in files.values()])
    return {case: (data, trees[path]) for case, (data, path) in files.items()}


HEADER_ADDRESS = {"from", "to", "cc", "bcc", "reply_to", "sender", "resent_from",
                  "resent_to", "resent_cc", "resent_bcc", "resent_sender"}


class StalwartCompare:
    """Walks a stalwart parse tree and ours side by side. Header values that
    need a probe are queued in self.queries and checked afterwards."""

    def __init__(self, doc, data):
        self.parts, self.kids, self.data = doc["parts"], children_of(doc), data
        self.problems = []
        self.queries = []  # (probe, value, check(answer) -> problems, where)

    def message(self, tree, index, where):
        self.part(tree, 0, index, where)

    def part(self, tree, i, index, where):
        theirs, ours = tree["parts"][i], self.parts[index]
        kids = self.kids[index]
        self.offsets(theirs, ours, where)
        self.headers(theirs, ours, where)
        body = theirs["body"]
        kind = next(iter(body)) if isinstance(body, dict) else body
        if kind == "Multipart":
            if ours["type"] != "multipart" or len(kids) != len(body[kind]):
                self.problems.append(f"{where}: multipart of {len(body[kind])} "
                                     f"expected, ours {ours['type']}/"
                                     f"{ours['subtype']} with {len(kids)}")
                return
            for n, (j, kid) in enumerate(zip(body[kind], kids), 1):
                self.part(tree, j, kid, f"{where}.{n}")
        elif kind == "Message":
            if len(kids) != 1:
                self.problems.append(f"{where}: embedded message expected, ours "
                                     f"{ours['type']}/{ours['subtype']}")
                return
            self.message(body[kind], kids[0], where + ">msg")
        else:
            self.leaf(kind, body[kind], ours, kids, where)

    def offsets(self, theirs, ours, where):
        mine = (ours["offset"], ours["body_offset"], ours["body_offset"] + ours["body_len"])
        exp = (theirs["offset_header"], theirs["offset_body"], theirs["offset_end"])
        if mine != exp:
            self.problems.append(f"{where}: offsets (header, body, end) {mine} != {exp}")

    def leaf(self, kind, value, ours, kids, where):
        if kids:
            self.problems.append(f"{where}: leaf expected, ours has {len(kids)} children")
            return
        if kind in ("Text", "Html"):
            if ours.get("text") != value:
                self.problems.append(f"{where}: text differs: ours "
                                     f"{(ours.get('text') or '')[:80]!r}... theirs "
                                     f"{value[:80]!r}...")
        else:
            mine = base64.b64decode(ours["body_base64"])
            if mine != bytes(value):
                self.problems.append(f"{where}: {kind} body differs ({len(mine)} "
                                     f"bytes, expected {len(value)})")

    def headers(self, theirs, ours, where):
        names = [h["name"] if isinstance(h["name"], str) else next(iter(h["name"].values()))
                 for h in theirs["headers"]]
        mine = [h[0] for h in ours["headers"]]
        if [n.lower().replace("-", "_") for n in mine] != \
                [n.lower().replace("-", "_") for n in names]:
            self.problems.append(f"{where}: header names {mine} != {names}")
            return
        for (name, _, offset, length), h in zip(ours["headers"], theirs["headers"]):
            self.header(name, raw_value(self.data[offset:offset + length]),
                        h["value"], ours, where)

    def header(self, name, value, expected, ours, where):
        kind = next(iter(expected)) if isinstance(expected, dict) else expected
        lname = name.lower().replace("-", "_")
        at = f"{where} {name}"
        if kind == "Address" and lname in HEADER_ADDRESS:
            self.queries.append(("address", value, functools.partial(
                address_problems, expected=expected[kind]), at))
        elif kind == "DateTime" and lname == "date":
            self.queries.append(("date", value, functools.partial(
                date_problems, expected=expected[kind]), at))
        elif kind == "Text" and lname == "subject":
            exp = expected[kind]
            self.queries.append(("encword", value, lambda r, exp=exp: [] if r["text"] == exp
                                 else [f"text {r['text']!r} != {exp!r}"], at))
        elif kind == "ContentType" and lname == "content_type":
            exp = expected[kind]
            mine = {"ok": True, "type": ours["type"], "subtype": ours["subtype"],
                    "params": ours["params"], "params_ext": ours.get("params_ext", [])}
            for p in ctype_problems(mine, exp):
                self.problems.append(f"{at}: {p}")


@functools.lru_cache(maxsize=None)
def stalwart_results():
    """{case: problems} for every message variant, header probes batched."""
    work = stalwart_work()
    compares, queries = {}, []
    for case, (data, (status, doc, stderr)) in work.items():
        msg, variant = case.split(":")
        expected_file = (STALWART / "eml" / msg).with_suffix(
            ".crlf.json" if variant == "crlf" else ".json")
        if status != 0 or not doc:
            compares[case] = [f"exit {status}: {stderr.decode('utf-8', 'replace')}"]
            continue
        with open(expected_file, encoding="utf-8") as f:
            tree = json.load(f)
        cmp = StalwartCompare(doc, data)
        cmp.message(tree, 0, "1")
        compares[case] = cmp
        queries += [(case, q) for q in cmp.queries]
    by_probe = {}
    for case, q in queries:
        by_probe.setdefault(q[0], []).append((case, q))
    for probe, items in by_probe.items():
        answers = probe_many(probe, [q[1] for _, q in items])
        for (case, (_, _, check, at)), answer in zip(items, answers):
            compares[case].problems += [f"{at}: {p}" for p in check(answer)]
    return {case: c if isinstance(c, list) else c.problems
            for case, c in compares.items()}


@pytest.mark.parametrize("case", STALWART_CASES)
def test_stalwart_message(case):
    check_known("stalwart-message", case, stalwart_results()[case])
