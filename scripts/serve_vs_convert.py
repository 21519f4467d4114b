#!/usr/bin/env python3
"""The daemon against the command: how long `hapflow serve` takes over a large matrix, from
the job's start to its output published (checkpoints and fsyncs included), next to
`hapflow convert -o FILE` on the same page-cached file, run alternately.

    scripts/serve_vs_convert.py [--size 1200MiB] [--contigs 16] [--runs 5]

The daemon's time comes from its own log (the `start` and `published` lines of each job),
so the settle delay before a job is taken is not counted; convert's is the process's wall
time. Both write to the same filesystem (a temporary folder beside the matrix).
"""
import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAPFLOW = os.path.join(ROOT, "target", "release", "hapflow")


def log_times(log, job):
    """Seconds from the job's `start` line to its `published` line, or None yet."""
    start = end = None
    for line in open(log, encoding="utf-8", errors="replace"):
        if not re.search(r"\bjob=%d\b" % job, line):
            continue
        stamp = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
        if " start " in line:
            start = stamp
        elif " published " in line:
            end = stamp
    return (end - start).total_seconds() if start and end else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1200MiB")
    p.add_argument("--contigs", type=int, default=16)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    if not os.path.exists(HAPFLOW):
        subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="hapflow-serve-")
    daemon = None
    try:
        matrix = os.path.join(work, "matrix.txt")
        subprocess.check_call([HAPFLOW, "generate", "--size", args.size, "--contigs", str(args.contigs), "-o", matrix])
        subprocess.check_call(["cat", matrix], stdout=subprocess.DEVNULL)  # page-cache it
        with open(os.path.join(ROOT, "config", "hapflow.toml")) as f:
            config = f.read()
        for key, value in [("settle_ms", "100"), ("log_level", '"info"'), ("on_success", '"delete"')]:
            config = re.sub(r"(?m)^%s = .*$" % key, "%s = %s" % (key, value), config)
        cfg = os.path.join(work, "hapflow.toml")
        with open(cfg, "w") as f:
            f.write(config)
        log = os.path.join(work, "serve.log")
        daemon = subprocess.Popen([HAPFLOW, "serve", "--config", cfg], stdout=open(log, "w"), stderr=subprocess.STDOUT)
        while " ready " not in open(log).read():
            if daemon.poll() is not None:
                sys.exit("the daemon ended:\n" + open(log).read())
            time.sleep(0.05)
        staging = os.path.join(work, "staging")
        os.mkdir(staging)
        converted, served = [], []
        for run in range(args.runs):
            start = time.perf_counter()
            subprocess.check_call([HAPFLOW, "convert", "-q", matrix, "-o", os.path.join(work, "convert-out.txt")])
            converted.append(time.perf_counter() - start)

            name = "m%d.txt" % run
            os.link(matrix, os.path.join(staging, name))
            os.rename(os.path.join(staging, name), os.path.join(work, "inbox", name))
            output = os.path.join(work, "outbox", "m%d.haplotype.txt" % run)
            deadline = time.time() + 600
            while not os.path.exists(output) or log_times(log, run) is None:
                if time.time() > deadline or daemon.poll() is not None:
                    sys.exit("job %d did not finish:\n%s" % (run, open(log).read()))
                time.sleep(0.01)
            served.append(log_times(log, run))
            os.remove(output)
        c, s = statistics.median(converted), statistics.median(served)
        print("convert: %s s" % " ".join("%.2f" % x for x in converted))
        print("serve:   %s s" % " ".join("%.2f" % x for x in served))
        print("median convert %.2f s, serve %.2f s: serve takes %+.0f%%" % (c, s, 100 * (s / c - 1)))
    finally:
        if daemon and daemon.poll() is None:
            daemon.terminate()
            daemon.wait()
        shutil.rmtree(work)


main()
