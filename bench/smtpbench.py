#!/usr/bin/env python3
"""smtpbench: SMTP accept+deliver rate of posthornd next to Postfix.

Runs Postfix's smtp-source against a private posthornd and a private Postfix
instance, both on 127.0.0.1 in one temporary directory, both delivering to a
Maildir with fsync. A run is timed from the start of smtp-source until every
message is a file in the Maildir's new/ directory (delivered, not merely
accepted). Prints a table and writes JSON. A benchmark, never a test: the
exit status says whether the runs happened, not whether a figure was good.

Usage: bench/smtpbench.py [--quick] [--build DIR] [--json FILE] ...
       (see --help; bench/README.md explains the figures)
"""

import argparse
import os
import pwd
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import (best, catch_signals, cleanups, die, free_port,  # noqa: E402
                      free_port_base, interrupted, log, machine_result, make_top,
                      stop_servers, tail, wait_gone, write_json)

benchlib.set_prog("smtpbench")

SMTP_SOURCE = "/usr/sbin/smtp-source"
POSTFIX = "/usr/sbin/postfix"
RCPT = "bench@bench.test"
SENDER = "from@bench.test"


# --------------------------------------------------------------- helpers

def wait_listening(port, what, proc=None, timeout=15.0):
    """True once port greets with 220; False when proc ended or after
    timeout seconds."""
    if benchlib.wait_greeting(port, b"220", lambda: proc is None or proc.poll() is None,
                              timeout):
        return True
    if proc is None or proc.poll() is None:
        log("%s is not answering on 127.0.0.1:%d" % (what, port))
    return False


def count_new(maildir):
    try:
        with os.scandir(os.path.join(maildir, "new")) as it:
            return sum(1 for e in it if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def clean_maildir(maildir):
    for sub in ("new", "cur", "tmp"):
        d = os.path.join(maildir, sub)
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_file(follow_symlinks=False):
                        os.unlink(e.path)
        except FileNotFoundError:
            pass


# --------------------------------------------------------------- servers

class Posthornd(benchlib.Posthornd):
    def __init__(self, build, top, limits):
        super().__init__(build, top)
        self.limits = limits
        self.maildir = None

    def setup(self):
        base = free_port_base(21000)
        self.port = base + 25
        self.init(base)
        self.tune_config()
        self.add_user("bench", "bench-password")
        self.ctl("check")
        data = self.data_dir()
        self.maildir = os.path.join(data, "mail", "bench")

    def tune_config(self):
        """Lift the limits a load generator on one address runs into (20
        sessions that reconnect for every message can briefly be 21 from
        127.0.0.1 while the server is still closing the old ones)."""
        with open(self.conf) as f:
            lines = f.read().split("\n")
        out, done = [], False
        keys = {k for k, _ in self.limits}
        section = None
        for line in lines:
            s = line.strip()
            if s.startswith("["):
                section = s
            elif section == "[limits]" and "=" in s and not s.startswith("#") \
                    and s.split("=", 1)[0].strip() in keys:
                line = "# " + line + "   # smtpbench: set below"
            out.append(line)
            if s == "[limits]" and not done:
                out += ["%s = %s   # smtpbench" % kv for kv in self.limits]
                done = True
        if not done:
            out += ["", "[limits]"] + ["%s = %s   # smtpbench" % kv for kv in self.limits]
        with open(self.conf, "w") as f:
            f.write("\n".join(out))

    def start(self):
        self.spawn()
        if not wait_listening(self.port, "posthornd", self.proc):
            die("posthornd did not start; its log %s ends:\n%s"
                % (self.logfile, tail(self.logfile)))

    def version(self):
        return "posthornd (%s)" % self.build


class Postfix(benchlib.PidFileServer):
    name = "postfix"

    def __init__(self, top):
        self.top = os.path.join(top, "postfix")
        self.conf = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "spool")
        self.pid_file = os.path.join(self.queue, "pid", "master.pid")
        self.data = os.path.join(self.top, "lib")
        self.vmail = os.path.join(self.top, "vmail")
        self.logfile = os.path.join(top, "postfix.log")
        self.maildir = os.path.join(self.vmail, "bench")
        self.port = None
        self.started = False

    def setup(self):
        pf = pwd.getpwnam("postfix")
        deliver = pwd.getpwnam("nobody")
        for d in (self.conf, self.queue, self.data, self.vmail):
            os.makedirs(d, mode=0o755, exist_ok=True)
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chown(self.vmail, deliver.pw_uid, deliver.pw_gid)
        self.port = free_port()
        subst = {
            "CONF_DIR": self.conf, "QUEUE_DIR": self.queue,
            "DATA_DIR": self.data, "VMAIL_DIR": self.vmail,
            "LOG_FILE": self.logfile, "UID": str(deliver.pw_uid),
            "GID": str(deliver.pw_gid), "PORT": str(self.port),
            "LISTEN": "127.0.0.1",
        }
        for name in ("main.cf", "master.cf"):
            with open(os.path.join(HERE, "postfix", name + ".in")) as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace("@%s@" % k, v)
            with open(os.path.join(self.conf, name), "w") as f:
                f.write(text)
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            f.write("%s bench/\n" % RCPT)
        r = self.postfix("check")
        if r.returncode != 0:
            die("postfix check failed:\n" + r.stdout + r.stderr)

    def postfix(self, *args):
        env = dict(os.environ, MAIL_CONFIG=self.conf)
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args),
                              capture_output=True, text=True, env=env)

    def start(self):
        cleanups.append(self.stop)
        r = self.postfix("start")
        self.started = True
        if r.returncode != 0 or not wait_listening(self.port, "postfix"):
            die("postfix did not start:\n%s%s\n%s" % (r.stdout, r.stderr,
                                                     tail(self.logfile)))

    def stop(self):
        if not self.started:
            return
        self.started = False
        master = self.pid()
        self.postfix("stop")
        if not wait_gone(master):
            self.postfix("abort")

    def version(self):
        r = subprocess.run(["postconf", "-d", "-h", "mail_version"],
                           capture_output=True, text=True)
        return "Postfix " + r.stdout.strip()


# --------------------------------------------------------------- a run

def one_run(server, sessions, messages, size, reuse, timeout, quiet=False):
    clean_maildir(server.maildir)
    cmd = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages),
           "-l", str(size), "-f", SENDER, "-t", RCPT, "-M", "client.bench.test"]
    if reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % server.port)
    cpu0 = server.cpu()
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cleanups.append(lambda: src.poll() is None and src.kill())
    deadline = t0 + timeout
    t_accept = None
    n = 0
    while True:
        now = time.monotonic()
        if t_accept is None and src.poll() is not None:
            t_accept = now - t0
            if src.returncode != 0:
                err = src.stderr.read().decode(errors="replace")
                log("%s, %d sessions: smtp-source exited %d: %s"
                    % (server.name, sessions, src.returncode, err.strip()[-400:]))
                break
        n = count_new(server.maildir)
        if n >= messages and t_accept is not None:
            break
        if now > deadline:
            log("%s, %d sessions: timeout after %.0f s with %d of %d delivered"
                % (server.name, sessions, timeout, n, messages))
            if src.poll() is None:
                src.kill()
                src.wait()
            break
        time.sleep(0.005 if n > messages * 0.98 else 0.02)
    t_done = time.monotonic() - t0
    cpu = server.cpu() - cpu0
    ok = n >= messages and src.returncode == 0
    res = {
        "server": server.name, "sessions": sessions, "messages": messages,
        "delivered": n, "ok": ok,
        "accept_s": round(t_accept, 4) if t_accept is not None else None,
        "deliver_s": round(t_done, 4),
        "msgs_per_s": round(messages / t_done, 1) if ok else None,
        "accept_msgs_per_s": round(messages / t_accept, 1)
        if ok and t_accept else None,
        "server_cpu_s": round(cpu, 3),
        "server_cpu_ms_per_msg": round(cpu * 1000 / messages, 3),
    }
    if not quiet:
        log("%-9s %2d sessions: %5d/%d delivered in %.2f s (accepted in %.2f s)"
            % (server.name, sessions, n, messages, t_done,
               t_accept if t_accept is not None else float("nan")))
    return res


# --------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="SMTP accept+deliver rate: posthornd vs Postfix, "
                    "loaded by Postfix's smtp-source on 127.0.0.1.")
    ap.add_argument("--build", default="build",
                    help="directory holding posthornd and posthornctl (build)")
    ap.add_argument("--quick", action="store_true",
                    help="500 messages per run, for development")
    ap.add_argument("--messages", type=int, help="messages per run (5000)")
    ap.add_argument("--size", type=int, default=4096,
                    help="smtp-source -l: body bytes per message (4096)")
    ap.add_argument("--sessions", default="1,20",
                    help="comma-separated parallel session counts (1,20)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per server and session count; the best counts")
    ap.add_argument("--reuse", action="store_true",
                    help="smtp-source -d: several messages per connection "
                         "(default: one connection per message)")
    ap.add_argument("--only", choices=("posthornd", "postfix"),
                    help="run one server only (profiling)")
    ap.add_argument("--timeout", type=float,
                    help="seconds a run may take (default: 60 + messages/20)")
    benchlib.add_output_options(ap, "after setup, print the ports and wait for Ctrl-C "
                                    "(for perf/strace by hand)")
    a = ap.parse_args()
    messages = a.messages or (500 if a.quick else 5000)
    sessions = [int(x) for x in a.sessions.split(",") if x.strip()]
    timeout = a.timeout or (60 + messages / 20)
    build = os.path.abspath(a.build)

    if not os.access(SMTP_SOURCE, os.X_OK):
        die("%s not found: install the Debian package postfix "
            "(scripts/deps.sh bench)" % SMTP_SOURCE)

    servers = []
    if a.only != "postfix":
        missing = [p for p in ("posthornd", "posthornctl")
                   if not os.access(os.path.join(build, p), os.X_OK)]
        if not missing:
            servers.append("posthornd")
        elif a.only == "posthornd":
            die("%s/%s is missing: run make all first" % (build, missing[0]))
        else:
            log("%s/%s is not built: Postfix figures only" % (build, missing[0]))
    if a.only != "posthornd":
        if os.geteuid() != 0:
            log("not root: a private Postfix instance needs root; "
                "running posthornd only")
        else:
            servers.append("postfix")
    if not servers:
        die("nothing to measure")

    catch_signals()
    top = make_top(os.environ.get("TMPDIR", "/var/tmp"), a.keep)

    try:
        objs = []
        if "posthornd" in servers:
            # A value large enough never to be reached by the load.
            ph = Posthornd(build, top, [("connections", 10000),
                                        ("connections_per_ip", 10000)])
            ph.setup()
            ph.start()
            objs.append(ph)
        if "postfix" in servers:
            pf = Postfix(top)
            pf.setup()
            pf.start()
            objs.append(pf)

        if a.hold:
            for s in objs:
                log("%s on 127.0.0.1:%d (pid %s), Maildir %s"
                    % (s.name, s.port, s.pid(), s.maildir))
            log("holding; Ctrl-C stops everything")
            while True:
                time.sleep(3600)

        log("%d messages of %d body bytes per run, to %s, %s; sessions %s"
            % (messages, a.size, RCPT,
               "several per connection (-d)" if a.reuse
               else "one connection per message", a.sessions))
        # Warm-up: first deliveries create the Maildir and Postfix spawns
        # its daemons; neither should be inside a timed run.
        for s in objs:
            w = one_run(s, min(10, max(sessions)), 100, a.size, a.reuse,
                        timeout, quiet=True)
            if not w["ok"]:
                die("warm-up against %s failed; log:\n%s"
                    % (s.name, tail(getattr(s, "logfile"))))

        runs = []
        for n in sessions:
            for _ in range(a.repeat):
                for s in objs:  # interleaved, so drift hits both alike
                    runs.append(one_run(s, n, messages, a.size, a.reuse, timeout))
    except KeyboardInterrupt:
        return interrupted()

    versions = stop_servers(objs)

    # ---- report
    rows, ratios = [], {}
    print()
    print("SMTP accept+deliver, %d x %d-byte messages, loopback, Maildir+fsync%s"
          % (messages, a.size, ", connection reuse" if a.reuse else ""))
    print("%-10s %8s %10s %10s %10s %12s" % ("server", "sessions", "msgs/s",
                                            "accept/s", "seconds", "CPU ms/msg"))
    for n in sessions:
        by = {}
        for name in servers:
            r = best([x for x in runs if x["server"] == name and x["sessions"] == n])
            by[name] = r
            rows.append(r)
            print("%-10s %8d %10s %10s %10.2f %12.3f" % (
                name, n,
                "%.0f" % r["msgs_per_s"] if r["ok"] else "FAILED",
                "%.0f" % r["accept_msgs_per_s"] if r["ok"] else "-",
                r["deliver_s"], r["server_cpu_ms_per_msg"]))
        if "posthornd" in by and "postfix" in by and by["posthornd"]["ok"] \
                and by["postfix"]["ok"]:
            ratios[str(n)] = round(by["posthornd"]["msgs_per_s"]
                                   / by["postfix"]["msgs_per_s"], 2)
    if ratios:
        print()
        print("%-28s %s" % ("posthornd/postfix", "  ".join(
            "%s sessions: %.2fx" % (k, v) for k, v in ratios.items())))
        met = all(v >= 2.0 for v in ratios.values())
        print("aim (DESIGN.md, issue 3): at least 2x Postfix: %s"
              % ("met" if met else "not met"))
    print("CPU ms/msg is the server's CPU (all its processes) per message; "
          "the machine has %d cores." % os.cpu_count())

    result = {
        "bench": "smtp", "messages": messages, "body_bytes": a.size,
        "reuse_connections": a.reuse, "sessions": sessions,
        "repeat": a.repeat, "quick": a.quick,
        **machine_result(versions, rows, runs),
        "ratio_posthornd_postfix": ratios,
    }
    if a.json:
        write_json(a.json, result)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    benchlib.run(main)
