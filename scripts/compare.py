#!/usr/bin/env python3
"""Whole-process comparison: hapflow vs the reference script vs `wc -l`, side by side.

Generates a question-shaped matrix with `hapflow generate`, then runs each tool on the same
page-cached file, alternately, N times, and reports the median wall time, MB/s and the
peak RSS of each run's own process tree (from wait4). Writes a Markdown table and an SVG
bar chart.

    scripts/compare.py [--size 1200MiB] [--contigs 16] [--runs 3] [--warmup 1]
                       [--no-reference] [--no-formats] [--bgzf-level 1] [--out bench-results]

On a machine shared with other jobs, run it in a session of its own at a high autogroup
priority (see autogroup() below); the table says the load and the group.

Besides the table, the output formats: `--format vcf`, and BGZF compressed in-process
against the plain output piped into `bgzip -@2` at the same level (needs bgzip, Debian
package `tabix`), with each compressed output's ratio to the plain one.

The reference runs only when pandas is installed (it needs ~12x the file's size in RAM;
give it --reference-size to run it on a smaller matrix).
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAPFLOW = os.path.join(ROOT, "target", "release", "hapflow")
REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "matrix_to_haplotype.py")


def timed(cmd):
    """Runs cmd; returns (seconds, peak RSS in bytes, CPU seconds: user + system).

    The peak comes from GNU time, which forks the command from its own ~2 MiB process:
    measured from this Python process instead, the child's ru_maxrss would include
    Python's own size (Linux carries the parent's high-water mark into an exec'd child).
    For a process tree it is the largest single process's peak (the reference's pool
    workers are counted one at a time, not summed). The CPU time is the whole tree's (a
    shell pipeline's processes included): on a shared machine it drifts less than the wall
    time, which depends on how many runnable threads each tool brings."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%M %U %S", "-o", report.name] + cmd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = time.perf_counter() - start
        if code != 0:
            sys.exit("failed: %s" % " ".join(cmd))
        kib, user, system = report.read().split()[-3:]
    return took, int(kib) * 1024, float(user) + float(system)


def autogroup():
    """The scheduler's group of this process (`/proc/self/autogroup`): with autogroups on,
    CPU time is shared between sessions, not threads, so on a machine other jobs load the
    figures depend on the session's share. To measure close to an idle machine (root):

        setsid sh -c 'echo -20 > /proc/self/autogroup; exec scripts/compare.py ...'

    gives this session's tools, each alike, most of the machine (other sessions' `nice`
    values do not count across groups)."""
    try:
        with open("/proc/self/autogroup") as f:
            return "scheduler " + f.read().strip()
    except OSError:
        return "no autogroup"


def size_arg(s):
    units = {"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}
    num = s.rstrip("KMGiBkmgib")
    return int(float(num) * units.get(s[len(num):].lower(), 1))


def svg_chart(rows, path, title):
    """A horizontal bar chart of MB/s (log scale), one bar per tool."""
    import math
    width, bar_h, left, top = 820, 34, 300, 50
    height = top + bar_h * len(rows) + 40
    best = max(r["mbps"] for r in rows)
    lo = math.log10(max(1.0, min(r["mbps"] for r in rows) / 2))
    hi = math.log10(best * 1.5)
    scale = lambda v: (math.log10(max(v, 1.0)) - lo) / (hi - lo) * (width - left - 120)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="24" font-size="15" font-weight="bold">%s</text>' % title]
    colours = {"hapflow": "#2a7ab0", "wc -l": "#999999"}
    for i, r in enumerate(rows):
        y = top + i * bar_h
        w = scale(r["mbps"])
        colour = next((c for k, c in colours.items() if r["tool"].startswith(k)), "#d0743c")
        label = r["tool"] if r["size"] == rows[0]["size"] else "%s, %.0f MB" % (r["tool"], r["size"] / 1e6)
        out.append('<text x="10" y="%d">%s</text>' % (y + 20, label))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (left, y + 6, w, bar_h - 12, colour))
        out.append('<text x="%.1f" y="%d">%.0f MB/s, %.1f MiB</text>' % (left + w + 6, y + 20, r["mbps"], r["rss"] / 2**20))
    out.append('<text x="%d" y="%d" fill="#555">MB/s of input (log scale); peak RSS after each bar</text>' % (left, height - 12))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1200MiB")
    p.add_argument("--contigs", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed runs of each tool first (hyperfine's --warmup)")
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--reference-size", default=None, help="run the reference on a matrix of this size instead")
    p.add_argument("--no-formats", action="store_true", help="leave out --format vcf and the BGZF rows")
    p.add_argument("--bgzf-level", type=int, default=1, help="the level of both BGZF rows (hapflow's default is 1)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    args = p.parse_args()
    if not os.path.exists("/usr/bin/time"):
        sys.exit("needs GNU time (/usr/bin/time; Debian package `time`)")
    if not os.path.exists(HAPFLOW):
        subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="hapflow-compare-")
    try:
        matrix = os.path.join(work, "matrix.txt")
        subprocess.check_call([HAPFLOW, "generate", "--size", args.size, "--contigs", str(args.contigs), "-o", matrix])
        size = os.path.getsize(matrix)
        subprocess.check_call(["cat", matrix], stdout=subprocess.DEVNULL)  # page-cache it
        out = os.path.join(work, "out.txt")
        tools = {
            "wc -l": ["wc", "-l", matrix],
            "hapflow convert -o FILE": [HAPFLOW, "convert", "-q", matrix, "-o", out],
            "hapflow --memory-limit 32MiB": [HAPFLOW, "convert", "-q", "--memory-limit", "32MiB", matrix, "-o", out],
        }
        outputs = {}
        if not args.no_formats:
            level = str(args.bgzf_level)
            tools["hapflow --format vcf"] = [HAPFLOW, "convert", "-q", "--format", "vcf", matrix, "-o", os.path.join(work, "out.vcf")]
            bgzf_in = os.path.join(work, "in-process.txt.gz")
            tools["hapflow --compress bgzf (level %s)" % level] = [HAPFLOW, "convert", "-q", "--compress-level", level, matrix, "-o", bgzf_in]
            outputs["hapflow --compress bgzf (level %s)" % level] = bgzf_in
            if shutil.which("bgzip"):
                piped = os.path.join(work, "piped.txt.gz")
                tool = "hapflow -o - | bgzip -@2 -l %s" % level
                tools[tool] = ["sh", "-c", '"$0" convert -q "$1" -o - | bgzip -@2 -l "$2" > "$3"', HAPFLOW, matrix, level, piped]
                outputs[tool] = piped
            else:
                print("bgzip not found (Debian package tabix): its row is left out", file=sys.stderr)
        sizes = {t: size for t in tools}
        have_pandas = subprocess.call([sys.executable, "-c", "import pandas"], stderr=subprocess.DEVNULL) == 0
        if have_pandas and not args.no_reference:
            ref_matrix, ref_size = matrix, size
            if args.reference_size:
                ref_matrix = os.path.join(work, "ref.txt")
                subprocess.check_call([HAPFLOW, "generate", "--size", args.reference_size, "--contigs", "4", "-o", ref_matrix])
                ref_size = os.path.getsize(ref_matrix)
            header = os.path.join(work, "header.txt")
            with open(header, "wb") as f:
                subprocess.check_call([HAPFLOW, "generate", "--rows", "0", "--header-line"], stdout=f)
            tools["reference (pandas, Pool(3))"] = [sys.executable, REFERENCE, ref_matrix, header, os.path.join(work, "ref-out.txt"), "3"]
            sizes["reference (pandas, Pool(3))"] = ref_size
        for _ in range(args.warmup):
            for tool, cmd in tools.items():
                if not tool.startswith("reference"):  # the reference takes half a minute a run
                    timed(cmd)
        load = os.getloadavg()[0]
        results = {t: [] for t in tools}
        for _ in range(args.runs):
            for tool, cmd in tools.items():  # alternately, so drift hits every tool alike
                results[tool].append(timed(cmd))
        rows = []
        for tool, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            walls = [r[0] for r in runs]
            cpu = statistics.median(r[2] for r in runs)
            rows.append({"tool": tool, "wall": wall, "min": min(walls), "max": max(walls), "cpu": cpu,
                         "mbps": sizes[tool] / 1e6 / wall, "rss": rss, "size": sizes[tool]})
        machine = "%s, %d cores, %s, load average %.1f at the start and %.1f at the end, %s" % (
            platform.machine(), os.cpu_count(), platform.release(), load, os.getloadavg()[0], autogroup())
        lines = ["Matrix: `hapflow generate --size %s --contigs %d` (%d bytes); median of %d runs, run alternately after %d warm-up run(s) each; %s." % (args.size, args.contigs, size, args.runs, args.warmup, machine), "",
                 "| tool | input | wall (median) | wall min-max | CPU (user+sys, median) | MB/s of input | peak RSS (largest process) |",
                 "|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append("| %s | %.0f MB | %.2f s | %.2f-%.2f s | %.2f s | %.0f | %.1f MiB |" % (
                r["tool"], r["size"] / 1e6, r["wall"], r["min"], r["max"], r["cpu"], r["mbps"], r["rss"] / 2**20))
        wc = next(r for r in rows if r["tool"] == "wc -l")
        hf = next(r for r in rows if r["tool"] == "hapflow convert -o FILE")
        lines += ["", "hapflow / wc -l: %.1fx" % (hf["wall"] / wc["wall"])]
        vcf = next((r for r in rows if r["tool"] == "hapflow --format vcf"), None)
        if vcf:
            lines.append("--format vcf / table: %.2fx" % (vcf["wall"] / hf["wall"]))
        plain_size = os.path.getsize(out)
        for tool, path in outputs.items():
            lines.append("%s: %d bytes, compression ratio %.2f" % (tool, os.path.getsize(path), plain_size / os.path.getsize(path)))
        table = "\n".join(lines) + "\n"
        with open(os.path.join(args.out, "compare.md"), "w") as f:
            f.write(table)
        svg_chart(rows, os.path.join(args.out, "compare.svg"), "hapflow vs alternatives, %s matrix" % args.size)
        print(table)
        print("wrote %s/compare.md and compare.svg" % args.out)
    finally:
        shutil.rmtree(work)


main()
