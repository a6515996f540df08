#!/usr/bin/env python3
"""Container start-to-exit latency, median of repeated runs.

Usage:
  latency.py [--runs N] [--max-seconds S] run -- CMD...
      times CMD as a whole; "{id}" in CMD becomes a fresh container id each run
  latency.py [--runs N] [--max-seconds S] --bundle DIR cycle -- RUNTIME...
      times RUNTIME create --bundle DIR --pid-file F ID; RUNTIME start ID;
      wait for the container's process to exit; RUNTIME delete ID
      (this process becomes a child subreaper, as container shims do)
Prints one JSON object: {"median_ms", "min_ms", "max_ms", "runs"}.
Exits 1 with the failing command's stderr when a run fails.
"""
import argparse
import ctypes
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def call(argv, what, timeout=120):
    # stderr goes to a file, not a pipe: after "create" the container holds the
    # runtime's stdio open, and reading a pipe to its end would wait for the container.
    with tempfile.TemporaryFile() as err:
        try:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout after %ds" % timeout
        if rc != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            sys.stderr.write("latency: %s failed (exit %s): %s\n"
                             % (what, rc, lines[-1] if lines else "no message"))
            sys.exit(1)


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_exit(pid, timeout=60):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([fd], [], [], timeout)[0]:
            sys.stderr.write("latency: container process %d still running after %ds\n" % (pid, timeout))
            sys.exit(1)
    finally:
        os.close(fd)


def once_run(cmd, cid):
    argv = [a.replace("{id}", cid) for a in cmd]
    t0 = time.perf_counter()
    call(argv, " ".join(argv))
    return time.perf_counter() - t0


def once_cycle(runtime, bundle, cid, tmp):
    pidfile = os.path.join(tmp, cid + ".pid")
    t0 = time.perf_counter()
    call(runtime + ["create", "--bundle", bundle, "--pid-file", pidfile, cid], "create")
    with open(pidfile) as f:
        pid = int(f.read().strip())
    call(runtime + ["start", cid], "start")
    wait_exit(pid)
    reap_all()
    call(runtime + ["delete", cid], "delete")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=20.0,
                    help="stop early (after at least 3 runs) once this much time has gone")
    ap.add_argument("mode", choices=["run", "cycle"])
    ap.add_argument("--bundle")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd or (a.mode == "cycle" and not a.bundle):
        ap.error("need a command (and --bundle for cycle)")

    if a.mode == "cycle":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.stderr.write("latency: prctl(PR_SET_CHILD_SUBREAPER) failed\n")
            sys.exit(1)

    times = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kbox-latency.") as tmp:
        for i in range(a.runs):
            cid = "kbox-bench-%d-%d" % (os.getpid(), i)
            if a.mode == "run":
                times.append(once_run(cmd, cid))
            else:
                times.append(once_cycle(cmd, os.path.abspath(a.bundle), cid, tmp))
            if len(times) >= 3 and time.monotonic() - start > a.max_seconds:
                break
    ms = [t * 1000 for t in times]
    print(json.dumps({"median_ms": round(statistics.median(ms), 2), "min_ms": round(min(ms), 2),
                      "max_ms": round(max(ms), 2), "runs": len(ms)}))


if __name__ == "__main__":
    main()
