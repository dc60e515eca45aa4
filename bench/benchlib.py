"""benchlib: what bench/smtpbench.py and bench/pop3bench.py share.

Logging with the program's prefix (set_prog), the cleanups run on the way
out, free ports on 127.0.0.1, waiting for a server's greeting, pid files
and CPU time from /proc, the end of a log file, a private posthornd made
with posthornctl, the common command line options and the common part of
the JSON result. Python 3 stdlib only.
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

_prog = "bench"

# Everything started here is stopped on the way out, whatever happens.
cleanups = []


def set_prog(name):
    """The prefix of every line log() prints ("smtpbench", "pop3bench")."""
    global _prog
    _prog = name


def log(msg):
    print(_prog + ": " + msg, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def on_exit():
    while cleanups:
        fn = cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep going: the rest must stop too
            log("cleanup: %s" % e)


def _sig(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def catch_signals():
    """SIGTERM and SIGHUP raise KeyboardInterrupt, so cleanups run."""
    signal.signal(signal.SIGTERM, _sig)
    signal.signal(signal.SIGHUP, _sig)


# --------------------------------------------------------------- helpers

def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_port_base(start):
    """A base N >= start with N+25, N+110, ... N+995 all free (posthornctl
    init)."""
    offsets = (25, 110, 143, 465, 587, 993, 995)
    for base in range(start, 60000, 1000):
        if all(port_free(base + o) for o in offsets):
            return base
    die("no free port base for posthornd")


def greets(port, prefix, timeout=2.0):
    """True when what listens on 127.0.0.1:port sends a greeting starting
    with prefix (b"220", b"+OK"); it is then sent QUIT."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            if s.recv(512).startswith(prefix):
                s.sendall(b"QUIT\r\n")
                try:
                    s.recv(512)
                except OSError:
                    pass
                return True
    except OSError:
        pass
    return False


def wait_greeting(port, prefix, alive=lambda: True, timeout=15.0):
    """Polls greets(port, prefix) until it is true (True), alive() is false
    or timeout seconds went by (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive():
            return False
        if greets(port, prefix):
            return True
        time.sleep(0.1)
    return False


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_gone(pid, timeout=10.0):
    """Waits up to timeout seconds for pid to end; True when it did (or
    there was none), False when it still runs."""
    end = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    return not pid_alive(pid)


def read_pid(path):
    """The pid in a daemon's pid file, None when there is none."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def proc_cpu(pid, children=False):
    """utime+stime (+ reaped children) of pid in seconds, 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    tck = os.sysconf("SC_CLK_TCK")
    # fields[0] is state (field 3); utime is field 14 -> index 11
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / tck


def tree_cpu(root):
    """CPU seconds of root, its reaped children and its live descendants."""
    if root is None:
        return 0.0
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    total, todo = proc_cpu(root, children=True), list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        total += proc_cpu(pid, children=True)
        todo.extend(kids.get(pid, []))
    return total


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def best(results):
    """The fastest run that worked (by msgs/s), else the last one."""
    ok = [r for r in results if r["ok"]]
    if not ok:
        return results[-1]
    return max(ok, key=lambda r: r["msgs_per_s"])


# --------------------------------------------------------------- posthornd

class Posthornd:
    """A private posthornd in top/posthorn, made with posthornctl. The
    benchmarks subclass it for their setup, start (waiting for their own
    protocol's greeting) and version."""

    name = "posthornd"

    def __init__(self, build, top):
        self.build = build
        self.dir = os.path.join(top, "posthorn")
        self.conf = os.path.join(self.dir, "posthorn.conf")
        self.logfile = os.path.join(top, "posthornd.log")
        self.proc = None
        self.port = None

    def ctl(self, *args, stdin=None):
        cmd = [os.path.join(self.build, "posthornctl"), "-c", self.conf] + list(args)
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        if r.returncode != 0:
            die("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode,
                                           r.stdout, r.stderr))
        return r.stdout

    def init(self, base):
        """posthornctl init: bench.test on 127.0.0.1, ports from base."""
        self.ctl("init", self.dir, "--hostname", "bench.test",
                 "--domain", "bench.test", "--listen", "127.0.0.1",
                 "--port-base", str(base))

    def add_user(self, user, password):
        self.ctl("user", "add", user, "--password-stdin", stdin=password + "\n")

    def data_dir(self):
        data = "data"
        with open(self.conf) as f:
            for line in f:
                key, sep, val = line.partition("=")
                if sep and key.strip() == "data_dir":
                    data = val.split("#", 1)[0].strip()
                    break
        return data if os.path.isabs(data) else os.path.join(self.dir, data)

    def spawn(self):
        """Start posthornd in the foreground, its output to the log file;
        stopped by on_exit()."""
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "posthornd"), "-c", self.conf, "-f"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            start_new_session=True)
        logf.close()
        cleanups.append(self.stop)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pid(self):
        return self.proc.pid if self.proc else None

    def cpu(self):
        return tree_cpu(self.pid())


class PidFileServer:
    """For the server compared with posthornd (Postfix, Dovecot), whose
    master daemonizes: subclasses set pid_file to its master.pid."""

    pid_file = None

    def pid(self):
        return read_pid(self.pid_file)

    def cpu(self):
        return tree_cpu(self.pid())


# --------------------------------------------------------------- main

def add_output_options(ap, hold_help):
    """--json, --keep and --hold (its help text: hold_help)."""
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, Maildirs)")
    ap.add_argument("--hold", action="store_true", help=hold_help)


def interrupted():
    """After Ctrl-C: runs the cleanups; the exit status to return."""
    log("interrupted")
    on_exit()
    return 130


def stop_servers(objs):
    """The servers' versions, then the cleanups run (servers stopped)."""
    versions = {s.name: s.version() for s in objs}
    on_exit()
    return versions


def machine_result(versions, rows, runs):
    """The part of the JSON result both benchmarks share."""
    return {"versions": versions, "cpus": os.cpu_count(),
            "kernel": platform.release(), "results": rows, "all_runs": runs}


def make_top(tmp, keep):
    """A temporary directory <prog>.XXXX in tmp for the servers' files,
    removed on the way out unless keep."""
    top = tempfile.mkdtemp(prefix=_prog + ".", dir=tmp)
    os.chmod(top, 0o755)  # the servers run as their own users
    if not keep:
        cleanups.append(lambda: shutil.rmtree(top, ignore_errors=True))
    else:
        log("files in " + top)
    return top


def write_json(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def run(main):
    """sys.exit(main()), running the cleanups whatever happens."""
    try:
        sys.exit(main())
    finally:
        on_exit()
