#!/usr/bin/env python3
"""bench_load.py: the load figures of docs/PERFORMANCE.md ("Load: traces of
a million requests"): simulation time of tetriserve against fixed-sp:1 at
the default load, tetriserve's overload series (each doubling of the trace),
one request of many steps, the size of a results file, and the loaders on
many names. Every configuration runs REPEAT times, interleaved between the
binaries, and the median wall and user times are printed with their ratios,
so a machine shared with other work compares like with like.

usage: bench_load.py NEW_BINARY [--old OLD_BINARY] [--repeat N] [--quick]
                     [--only default,overload,steps,db,names]
  --old     a second binary (e.g. the commit before a change): every row is
            run with both, side by side
  --quick   100,000 requests instead of 1,000,000; the overload series to 4,000
Needs only the Python standard library; writes its traces and results files
to a temporary folder.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd):
    """Runs cmd; returns (wall s, user+sys s of the child, return code, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode, p.stderr.strip()


def median_of(binaries, args, repeat, db=None):
    """{binary: (median wall, median cpu, db bytes or None)}, runs interleaved."""
    walls = {b: [] for b in binaries}
    cpus = {b: [] for b in binaries}
    size = {b: None for b in binaries}
    for _ in range(repeat):
        for b in binaries:
            extra = ["--no-db"]
            if db:
                path = f"{db}.{os.path.basename(b)}.db"
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)
                extra = ["--db", path]
            wall, cpu, rc, err = timed([b, "sim", *args, *extra, "--quiet"])
            if rc != 0:
                print(f"  {os.path.basename(b)} {' '.join(args)}: failed: {err}", file=sys.stderr)
                return None
            walls[b].append(wall)
            cpus[b].append(cpu)
            if db:
                size[b] = sum(os.path.getsize(path + s) for s in ("", "-wal")
                              if os.path.exists(path + s))
    return {b: (statistics.median(walls[b]), statistics.median(cpus[b]), size[b]) for b in binaries}


def gen(exe, path, *opts):
    if not os.path.exists(path):
        subprocess.run([exe, "trace", "gen", *opts, "--out", path], check=True)
    return path


def row(name, res, binaries, base=None):
    cells = [name]
    for b in binaries:
        wall, cpu, size = res[b]
        cell = f"{wall:.2f} s ({cpu:.2f} cpu)"
        if size is not None:
            cell += f", {size / 1e6:.0f} MB"
        if base:
            cell += f", x{wall / base[b][0]:.2f}"
        cells.append(cell)
    print("| " + " | ".join(cells) + " |", flush=True)


def bench_default(exe, binaries, tmp, n, repeat):
    trace = gen(exe, os.path.join(tmp, f"default{n}.csv"), "--count", str(n))
    print(f"\n### {n:,} requests at the default load (12/min), 8 GPUs\n")
    print("| policy | " + " | ".join(os.path.basename(b) for b in binaries) + " |")
    print("|---" * (len(binaries) + 1) + "|")
    base = median_of(binaries, ["--trace", trace, "--gpus", "8", "--policy", "fixed-sp:1"], repeat)
    if base:
        row("fixed-sp:1", base, binaries)
    res = median_of(binaries, ["--trace", trace, "--gpus", "8", "--policy", "tetriserve"], repeat)
    if res and base:
        row("tetriserve (x: over fixed-sp:1)", res, binaries, base)


def bench_overload(exe, binaries, tmp, top, repeat):
    print("\n### Overload: 1,200 requests a minute, 8 GPUs, tetriserve "
          "(x: over the row above, linear = 2)\n")
    print("| requests | " + " | ".join(os.path.basename(b) for b in binaries) + " |")
    print("|---" * (len(binaries) + 1) + "|")
    prev = None
    n = 1000
    while n <= top:
        trace = gen(exe, os.path.join(tmp, f"over{n}.csv"), "--rate", "1200", "--count", str(n))
        live = [b for b in binaries if prev is None or prev[b][0] < 20]
        res = median_of(live, ["--trace", trace, "--gpus", "8", "--policy", "tetriserve"], repeat)
        if not res:
            break
        for b in binaries:
            res.setdefault(b, (float("nan"), float("nan"), None))
        row(f"{n:,}", res, binaries, prev)
        prev = res
        n *= 2


def bench_steps(binaries, tmp, repeat):
    print("\n### One request of 10^8 steps (256x256, SLO 10^9 s), 8 GPUs, tetriserve\n")
    print("| | " + " | ".join(os.path.basename(b) for b in binaries) + " |")
    print("|---" * (len(binaries) + 1) + "|")
    trace = os.path.join(tmp, "steps.csv")
    with open(trace, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,100000000,1e9\n")
    res = median_of(binaries, ["--trace", trace, "--gpus", "8", "--policy", "tetriserve"], repeat)
    if res:
        row("10^8 steps", res, binaries)


def bench_db(exe, binaries, tmp, n):
    trace = gen(exe, os.path.join(tmp, f"default{n}.csv"), "--count", str(n))
    print(f"\n### Results file of {n:,} requests (tetriserve, 8 GPUs, --db)\n")
    print("| | " + " | ".join(os.path.basename(b) for b in binaries) + " |")
    print("|---" * (len(binaries) + 1) + "|")
    res = median_of(binaries, ["--trace", trace, "--gpus", "8", "--policy", "tetriserve"], 1,
                    db=os.path.join(tmp, "size"))
    if res:
        row("time, file size", res, binaries)


def bench_names(binaries, tmp, repeat):
    print("\n### Loaders: 40,000 distinct model names in a trace, 40,000 GPU names in a profile\n")
    print("| | " + " | ".join(os.path.basename(b) for b in binaries) + " |")
    print("|---" * (len(binaries) + 1) + "|")
    trace = os.path.join(tmp, "models.csv")
    with open(trace, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s,model\n")
        f.writelines(f"{i},{i},256,256,50,1,m{i}\n" for i in range(40000))
    prof = os.path.join(tmp, "gpus.csv")
    with open(prof, "w") as f:
        f.write("model,gpu,height,width,sp,step_ms\n")
        f.writelines(f"flux-dev,g{i},256,256,1,20\n" for i in range(40000))
    for name, args in (("models (refused: not in the profile)", ["--trace", trace]),
                       ("GPUs (refused: choose one)", ["--profile", prof])):
        res = {}
        for b in binaries:
            runs = [timed([b, "sim", *args, "--no-db", "--quiet"]) for _ in range(repeat)]
            res[b] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
                      None)
        row(name, res, binaries)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("--old")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="default,overload,steps,db,names")
    a = ap.parse_args()
    binaries = [os.path.abspath(a.new)] + ([os.path.abspath(a.old)] if a.old else [])
    only = a.only.split(",")
    n = 100_000 if a.quick else 1_000_000
    print(f"machine: {os.cpu_count()} CPUs; medians of {a.repeat} runs, binaries interleaved")
    with tempfile.TemporaryDirectory() as tmp:
        if "default" in only:
            bench_default(binaries[0], binaries, tmp, n, a.repeat)
        if "overload" in only:
            bench_overload(binaries[0], binaries, tmp, 4000 if a.quick else 32000, a.repeat)
        if "steps" in only:
            bench_steps(binaries, tmp, a.repeat)
        if "db" in only:
            bench_db(binaries[0], binaries, tmp, n)
        if "names" in only:
            bench_names(binaries, tmp, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
