#!/usr/bin/env python3
"""pop3bench: POP3 retrieval throughput of posthornd next to Dovecot.

Fills two Maildirs with deterministic messages (5,000 of 4 KB and 200 of
1 MB), then has a private posthornd and a private Dovecot pop3d serve the
very same Maildirs on 127.0.0.1, one after the other. The load is
bench/pop3load.c: one client session that logs in with USER/PASS, asks STAT
and LIST, RETRieves every message with pipelined RETR commands, checks every
size and QUITs without DELE (keep mode: the mailboxes stay as they are, so
every run sees the same mail). Prints a table and writes JSON. A benchmark,
never a test: the exit status says whether the runs happened, not whether a
figure was good.

Usage: bench/pop3bench.py [--quick] [--build DIR] [--json FILE] ...
       (see --help; bench/README.md explains the figures)
"""

import argparse
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import (best, catch_signals, cleanups, die, free_port,  # noqa: E402
                      free_port_base, interrupted, log, machine_result, make_top,
                      pid_alive, stop_servers, tail, wait_gone, write_json)

benchlib.set_prog("pop3bench")

TOP_SRC = os.path.dirname(HERE)
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "bench-password"
SEED = 20240501
T0 = 1700000000  # the seconds in the Maildir names (message i: T0 + i)


# --------------------------------------------------------------- helpers

def wait_pop3(port, proc_alive, timeout=15.0):
    """True once port greets with +OK; False when proc_alive() turns false
    or after timeout seconds."""
    return benchlib.wait_greeting(port, b"+OK", proc_alive, timeout)


# --------------------------------------------------------------- the mail

def line_pool(seed):
    """4,096 text lines (CRLF) of 40 to 76 characters from a fixed seed;
    one in 50 starts with a dot, so both servers must dot-stuff."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 10)))
             for _ in range(600)]
    lines = []
    for n in range(4096):
        want = rng.randint(40, 76)
        parts, length = [], 0
        while length < want:
            w = rng.choice(words)
            if parts and rng.random() < 0.08:
                w = w.capitalize() + rng.choice(".,;:")
            parts.append(w)
            length += len(w) + 1
        text = " ".join(parts)[:want].rstrip()
        if n % 50 == 7:
            text = "." + text[1:]
        lines.append(text.encode("ascii") + b"\r\n")
    return lines


class MailFactory:
    """Deterministic messages of an exact size, CRLF line ends."""

    def __init__(self, seed):
        lines = line_pool(seed)
        self.nlines = len(lines)
        self.text = b"".join(lines)
        self.starts = []
        off = 0
        for ln in lines:
            self.starts.append(off)
            off += len(ln)
        self.rng = random.Random(seed + 1)

    def headers(self, user, i, count):
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(T0 + i))
        tag = "%016x" % self.rng.getrandbits(64)
        n = i % 97
        return ("Return-Path: <sender%d@example.org>\r\n"
                "Delivered-To: %s@bench.test\r\n"
                "Received: from client.example.org (client.example.org "
                "[192.0.2.%d])\r\n\tby bench.test with ESMTP id %s\r\n"
                "\tfor <%s@bench.test>; %s\r\n"
                "From: Sender %d <sender%d@example.org>\r\n"
                "To: %s@bench.test\r\n"
                "Subject: bench message %d of %d\r\n"
                "Date: %s\r\n"
                "Message-ID: <%d.%s@example.org>\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=us-ascii\r\n"
                "\r\n" % (n, user, i % 250 + 1, tag[:12].upper(), user, date,
                          n, n, user, i + 1, count, date, i, tag)
                ).encode("ascii")

    def message(self, user, i, count, size):
        head = self.headers(user, i, count)
        want = size - len(head)
        if want < 2:
            die("message size %d is smaller than the headers" % size)
        start = self.starts[(i * 131) % self.nlines]
        reps = (start + want) // len(self.text) + 2
        tile = self.text * reps if reps > 1 else self.text
        end = start + want
        # Whole lines up to the size, then one filler line of the rest.
        cut = tile.rfind(b"\n", start, end) + 1
        while cut > start and 0 < end - cut < 2:
            cut = tile.rfind(b"\n", start, cut - 1) + 1
        if cut <= start:
            cut = start
        rest = end - cut
        body = tile[start:cut]
        if rest:
            body += b"z" * (rest - 2) + b"\r\n"
        msg = head + body
        assert len(msg) == size, (len(msg), size)
        return msg


def fill_maildir(maildir, user, count, size, uid, gid):
    """count messages of size bytes as files in maildir/new, named like a
    delivery agent names them, with ,S= and ,W= (both the size: every line
    ends in CRLF already). Returns the total bytes and the sum of the
    messages' CRC-32s (mod 2^64, what pop3load -C checks)."""
    new = os.path.join(maildir, "new")
    os.makedirs(new, exist_ok=True)
    fac = MailFactory(SEED + size)
    rng = random.Random(SEED + count)
    total = crc_sum = 0
    for i in range(count):
        data = fac.message(user, i, count, size)
        name = "%d.R%016x.bench.test,S=%d,W=%d" % (T0 + i, rng.getrandbits(64),
                                                  len(data), len(data))
        path = os.path.join(new, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if uid is not None:
                os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        os.utime(path, (T0 + i, T0 + i))
        total += len(data)
        crc_sum += zlib.crc32(data)
    return total, crc_sum & (2 ** 64 - 1)


# --------------------------------------------------------------- servers

class Posthornd(benchlib.Posthornd):
    def __init__(self, build, top):
        super().__init__(build, top)
        self.base = None

    def setup(self, users):
        self.base = free_port_base(22000)
        self.port = self.base + 110
        self.init(self.base)
        for u in users:
            self.add_user(u, PASSWORD)
        self.ctl("check")

    def maildir(self, user):
        return os.path.join(self.data_dir(), "mail", user)

    def password_hashes(self):
        """name -> hash from posthornd's users file (name:hash[:quota])."""
        out = {}
        with open(os.path.join(self.data_dir(), "users")) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(":")
                if len(parts) >= 2:
                    out[parts[0]] = parts[1]
        return out

    def start(self):
        self.spawn()
        if not wait_pop3(self.port, lambda: self.proc.poll() is None):
            if self.proc.poll() is not None:
                log("posthornd exited (%d); its log %s ends:\n%s"
                    % (self.proc.returncode, self.logfile, tail(self.logfile)))
            else:
                log("posthornd runs but does not answer POP3 on 127.0.0.1:%d "
                    "(no +OK greeting); its log ends:\n%s"
                    % (self.port, tail(self.logfile)))
            self.stop()
            return False
        return True

    def version(self):
        r = subprocess.run([os.path.join(self.build, "posthornd"), "--version"],
                           capture_output=True, text=True)
        v = (r.stdout or r.stderr).strip().splitlines()
        return (v[0] if v else "posthornd") + " (%s)" % self.build


class Dovecot(benchlib.PidFileServer):
    name = "dovecot"

    def __init__(self, top):
        self.top = os.path.join(top, "dovecot")
        self.conf = os.path.join(self.top, "dovecot.conf")
        self.base_dir = os.path.join(self.top, "run")
        self.pid_file = os.path.join(self.base_dir, "master.pid")
        self.state_dir = os.path.join(self.top, "state")
        self.index_dir = os.path.join(self.top, "index")
        self.passwd = os.path.join(self.top, "passwd")
        self.logfile = os.path.join(top, "dovecot.log")
        self.port = None
        self.started = False

    def setup(self, mail_root, hashes, uid, gid):
        for d in (self.top, self.base_dir, self.state_dir, self.index_dir):
            os.makedirs(d, mode=0o755, exist_ok=True)
        for u in hashes:
            d = os.path.join(self.index_dir, u)
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chown(d, uid, gid)
        with open(self.passwd, "w") as f:
            for u, h in hashes.items():
                f.write("%s:%s\n" % (u, h))
        # Dovecot's auth process runs as its internal user (dovecot).
        try:
            auth = pwd.getpwnam("dovecot")
            os.chown(self.passwd, 0, auth.pw_gid)
            os.chmod(self.passwd, 0o640)
        except KeyError:
            os.chmod(self.passwd, 0o644)
        self.port = free_port()
        subst = {
            "BASE_DIR": self.base_dir, "STATE_DIR": self.state_dir,
            "LOG_FILE": self.logfile, "PORT": str(self.port),
            "PASSWD_FILE": self.passwd, "UID": str(uid), "GID": str(gid),
            "MAIL_ROOT": mail_root, "INDEX_DIR": self.index_dir,
        }
        with open(os.path.join(HERE, "dovecot", "dovecot.conf.in")) as f:
            text = f.read()
        for k, v in subst.items():
            text = text.replace("@%s@" % k, v)
        with open(self.conf, "w") as f:
            f.write(text)
        r = subprocess.run(["doveconf", "-c", self.conf, "-n"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die("doveconf rejects %s:\n%s%s" % (self.conf, r.stdout, r.stderr))

    def start(self):
        cleanups.append(self.stop)
        # The master daemonizes and keeps the descriptors it was given:
        # a file, not a pipe nobody would ever see closed.
        out = os.path.join(self.top, "start.out")
        self.started = True
        with open(out, "wb") as f:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=f, stderr=f, timeout=30)
        if r.returncode != 0 or not wait_pop3(self.port,
                                              lambda: pid_alive(self.pid())):
            die("dovecot did not start:\n%s\n%s" % (tail(out), tail(self.logfile)))
        return True

    def stop(self):
        if not self.started:
            return
        self.started = False
        master = self.pid()
        subprocess.run([DOVEADM, "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30)
        if not wait_gone(master):
            os.kill(master, signal.SIGKILL)

    def version(self):
        r = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True)
        return "Dovecot " + r.stdout.strip()


# --------------------------------------------------------------- a run

def one_run(pop3load, server, box, window, timeout, quiet=False, check=False):
    cmd = [pop3load, "-p", str(server.port), "-u", box["user"], "-P", PASSWORD,
           "-w", str(window), "-n", str(box["messages"]),
           "-b", str(box["bytes"]), "-t", "30"]
    if check:
        cmd += ["-C", str(box["crc_sum"])]
    cpu0 = server.cpu()
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out, rc, err = r.stdout, r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        rc, err = None, "pop3load killed after %.0f s" % timeout
    wall = time.monotonic() - t0
    time.sleep(0.05)  # let Dovecot's master reap the session's processes
    cpu = server.cpu() - cpu0
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"ok": False, "error": "no result from pop3load (exit %s): %s%s"
               % (rc, out.strip()[-300:], err.strip()[-300:])}
    ok = bool(res.get("ok")) and rc == 0
    el = res.get("elapsed_s") or wall
    row = {
        "server": server.name, "mailbox": box["label"],
        "messages": box["messages"], "message_bytes": box["size"],
        "ok": ok, "error": None if ok else res.get("error"),
        "elapsed_s": round(el, 4),
        "login_ms": round(res["login_s"] * 1000, 2) if ok else None,
        "list_ms": round(res["list_s"] * 1000, 2) if ok else None,
        "retr_s": round(res["retr_s"], 4) if ok else None,
        "quit_ms": round(res["quit_s"] * 1000, 2) if ok else None,
        "msgs_per_s": round(box["messages"] / el, 1) if ok else None,
        "mb_per_s": round(res["bytes"] / el / 1e6, 1) if ok else None,
        "retr_mb_per_s": round(res["bytes"] / res["retr_s"] / 1e6, 1)
        if ok and res["retr_s"] > 0 else None,
        "bytes": res.get("bytes"), "wire_bytes": res.get("wire_bytes"),
        "server_cpu_s": round(cpu, 3),
        "client_cpu_s": res.get("client_cpu_s"),
    }
    if not quiet:
        if ok:
            log("%-9s %-12s %5d messages, %.1f MB in %.3f s (login %.1f ms)"
                % (server.name, box["label"], box["messages"],
                   res["bytes"] / 1e6, el, row["login_ms"]))
        else:
            log("%-9s %-12s FAILED: %s" % (server.name, box["label"],
                                           row["error"]))
    return row


def size_label(n):
    if n % (1 << 20) == 0:
        return "%d MB" % (n >> 20)
    if n % 1024 == 0:
        return "%d KB" % (n >> 10)
    return "%d B" % n


# --------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="POP3 retrieval throughput: posthornd vs Dovecot pop3d "
                    "serving the same Maildirs on 127.0.0.1, loaded by "
                    "bench/pop3load.c.")
    ap.add_argument("--build", default="build",
                    help="directory holding posthornd, posthornctl and "
                         "bench/pop3load (build)")
    ap.add_argument("--quick", action="store_true",
                    help="500 x 4 KB and 20 x 1 MB, for development")
    ap.add_argument("--small", type=int,
                    help="messages in the small mailbox (5000)")
    ap.add_argument("--small-size", type=int, default=4096,
                    help="bytes per small message (4096)")
    ap.add_argument("--large", type=int,
                    help="messages in the large mailbox (200)")
    ap.add_argument("--large-size", type=int, default=1 << 20,
                    help="bytes per large message (1048576)")
    ap.add_argument("--window", type=int, default=16,
                    help="RETR commands outstanding at once (16)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs per server and mailbox; the best counts (3)")
    ap.add_argument("--only", choices=("posthornd", "dovecot"),
                    help="run one server only (profiling)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds one session may take (300)")
    benchlib.add_output_options(ap, "after setup and warm-up, print the ports "
                                    "and wait for Ctrl-C (for perf/strace by hand)")
    a = ap.parse_args()
    small = a.small if a.small is not None else (500 if a.quick else 5000)
    large = a.large if a.large is not None else (20 if a.quick else 200)
    build = os.path.abspath(a.build)
    if not 1 <= a.window <= 1024:
        die("--window must be 1 to 1024")

    pop3load = os.path.join(build, "bench", "pop3load")
    if not os.access(pop3load, os.X_OK):
        log("building %s" % pop3load)
        r = subprocess.run(["make", "--no-print-directory", "-f", "bench/bench.mk",
                            "BUILD=" + build, pop3load], cwd=TOP_SRC)
        if r.returncode != 0 or not os.access(pop3load, os.X_OK):
            die("could not build %s" % pop3load)

    servers = []
    if a.only != "dovecot":
        missing = [p for p in ("posthornd", "posthornctl")
                   if not os.access(os.path.join(build, p), os.X_OK)]
        if missing:
            die("%s/%s is missing: run make all first (posthornctl also "
                "sets up the Maildirs Dovecot reads)" % (build, missing[0]))
        servers.append("posthornd")
    if a.only != "posthornd":
        if os.geteuid() != 0:
            log("not root: a private Dovecot instance needs root; "
                "running posthornd only")
        elif not os.access(DOVECOT, os.X_OK):
            log("%s not found: install the Debian package dovecot-pop3d "
                "(scripts/deps.sh bench); running posthornd only" % DOVECOT)
            if a.only == "dovecot":
                die("nothing to measure")
        else:
            servers.append("dovecot")
    if not servers:
        die("nothing to measure")

    boxes = []
    for user, count, size in (("small", small, a.small_size),
                              ("large", large, a.large_size)):
        if count > 0:
            boxes.append({"user": user, "messages": count, "size": size,
                          "label": "%d x %s" % (count, size_label(size))})
    if not boxes:
        die("both mailboxes are empty")

    catch_signals()
    tmp = os.environ.get("TMPDIR", "/var/tmp")
    need = sum(b["messages"] * (b["size"] + 4096) for b in boxes)
    if shutil.disk_usage(tmp).free < need * 1.2 + (64 << 20):
        die("%s has less than %.0f MB free" % (tmp, need * 1.2 / 1e6 + 64))
    top = make_top(tmp, a.keep)

    runs, objs = [], []
    try:
        # posthornd is always set up: posthornctl makes the users and the
        # Maildirs both servers read.
        ph = Posthornd(build, top)
        ph.setup([b["user"] for b in boxes])
        first = ph.maildir(boxes[0]["user"])
        st = os.stat(first)
        uid, gid = st.st_uid, st.st_gid
        if uid == 0:
            die("the Maildir %s belongs to root; Dovecot would refuse it" % first)
        t = time.monotonic()
        for b in boxes:
            b["bytes"], b["crc_sum"] = fill_maildir(ph.maildir(b["user"]), b["user"],
                                      b["messages"], b["size"],
                                      uid if os.geteuid() == 0 else None, gid)
        log("wrote %s in %.1f s, files owned by %s"
            % (" and ".join("%s (%.1f MB)" % (b["label"], b["bytes"] / 1e6)
                            for b in boxes), time.monotonic() - t,
               pwd.getpwuid(uid).pw_name))

        if "posthornd" in servers:
            if ph.start():
                objs.append(ph)
            else:
                servers.remove("posthornd")
                if a.only == "posthornd" or "dovecot" not in servers:
                    die("posthornd does not serve POP3: nothing to measure")
                log("measuring Dovecot alone")
        if "dovecot" in servers:
            dv = Dovecot(top)
            hashes = ph.password_hashes()
            dv.setup(os.path.dirname(first),
                     {b["user"]: hashes[b["user"]] for b in boxes}, uid, gid)
            dv.start()
            objs.append(dv)

        # Warm-up: posthornd's first session moves new/ to cur/ at QUIT,
        # Dovecot's first login builds its index; neither is timed. These
        # sessions also check every byte (CRC-32 of each message).
        for s in objs:
            for b in boxes:
                w = one_run(pop3load, s, b, a.window, a.timeout, quiet=True,
                            check=True)
                if not w["ok"]:
                    die("warm-up of %s with %s failed: %s; log:\n%s"
                        % (s.name, b["label"], w["error"], tail(s.logfile)))
        log("warm-up done; %s sent every message intact (sizes and CRC-32s)"
            % " and ".join(s.name for s in objs))

        if a.hold:
            for s in objs:
                log("%s on 127.0.0.1:%d (pid %s)" % (s.name, s.port, s.pid()))
            for b in boxes:
                log("user %s password %s: %s, Maildir %s"
                    % (b["user"], PASSWORD, b["label"], ph.maildir(b["user"])))
            log("e.g. %s -p PORT -u %s -P %s -w %d -n %d"
                % (pop3load, boxes[-1]["user"], PASSWORD, a.window,
                   boxes[-1]["messages"]))
            log("holding; Ctrl-C stops everything")
            while True:
                time.sleep(3600)

        log("one session per run: USER/PASS, STAT, LIST, RETR 1..N with %d "
            "outstanding, QUIT without DELE; best of %d" % (a.window, a.repeat))
        for b in boxes:
            for _ in range(a.repeat):
                for s in objs:  # interleaved, so drift hits both alike
                    runs.append(one_run(pop3load, s, b, a.window, a.timeout))
    except KeyboardInterrupt:
        return interrupted()

    versions = stop_servers(objs)

    # ---- report
    rows, ratios, retr_ratios = [], {}, {}
    print()
    print("POP3 retrieval: one session, USER/PASS, LIST, RETR of every message "
          "(%d outstanding), QUIT; loopback, keep mode" % a.window)
    hdr = ("mailbox", "server", "msgs/s", "MB/s", "seconds", "login ms",
           "LIST ms", "QUIT ms", "RETR MB/s", "srv CPU s", "cli CPU s")
    print("%-12s %-9s %8s %7s %7s %8s %7s %7s %9s %9s %9s" % hdr)
    for b in boxes:
        by = {}
        for name in servers:
            r = best([x for x in runs if x["server"] == name
                      and x["mailbox"] == b["label"]])
            by[name] = r
            rows.append(r)
            if r["ok"]:
                print("%-12s %-9s %8.0f %7.1f %7.3f %8.1f %7.1f %7.1f %9.1f "
                      "%9.3f %9.3f"
                      % (b["label"], name, r["msgs_per_s"], r["mb_per_s"],
                         r["elapsed_s"], r["login_ms"], r["list_ms"],
                         r["quit_ms"], r["retr_mb_per_s"] or 0,
                         r["server_cpu_s"], r["client_cpu_s"] or 0))
            else:
                print("%-12s %-9s %8s  %s" % (b["label"], name, "FAILED",
                                              r["error"]))
        if "posthornd" in by and "dovecot" in by and by["posthornd"]["ok"] \
                and by["dovecot"]["ok"]:
            ratios[b["label"]] = round(by["posthornd"]["msgs_per_s"]
                                       / by["dovecot"]["msgs_per_s"], 2)
            if by["posthornd"]["retr_mb_per_s"] and by["dovecot"]["retr_mb_per_s"]:
                retr_ratios[b["label"]] = round(
                    by["posthornd"]["retr_mb_per_s"]
                    / by["dovecot"]["retr_mb_per_s"], 2)
    if ratios:
        print()
        print("%-29s %s" % ("posthornd/dovecot, session:", "   ".join(
            "%s: %.2fx" % (k, v) for k, v in ratios.items())))
        print("%-29s %s" % ("posthornd/dovecot, RETR only:", "   ".join(
            "%s: %.2fx" % (k, v) for k, v in retr_ratios.items())))
        met = all(v >= 1.5 for v in ratios.values())
        print("aim: at least 1.5x Dovecot over the whole session on both "
              "mailboxes: %s" % ("met" if met else "not met"))
    print("msgs/s, MB/s and seconds: the whole session, connect to the +OK "
          "of QUIT;")
    print("RETR MB/s: first RETR sent to the last message's final dot. "
          "MB = 10^6 message bytes.")
    print("CPU s: the server's processes and the client's, per session; "
          "the machine has %d cores." % os.cpu_count())

    result = {
        "bench": "pop3", "mailboxes": [
            {k: b[k] for k in ("label", "messages", "size", "bytes", "crc_sum")}
            for b in boxes],
        "window": a.window, "repeat": a.repeat, "quick": a.quick,
        **machine_result(versions, rows, runs),
        "ratio_posthornd_dovecot": ratios,
        "ratio_posthornd_dovecot_retr": retr_ratios,
    }
    if a.json:
        write_json(a.json, result)
    return 0 if rows and all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    benchlib.run(main)
