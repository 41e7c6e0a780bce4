#!/usr/bin/env python3
"""The admit policy, TetriServe and the fair baseline against the MILP bound
(`tetriserve bound`, docs/BOUND.md) on the small traces of docs/BOUND.md's
table "Bound against the policies": how far below the most any schedule can
do each policy lands, on traces small enough for the bound to be solved.

    python3 experiments/beyond/bound_gap.py [--exe build/tetriserve] [--first N] > experiments/beyond/bound_gap.md

4 GPUs, traces/profiles/flux-dev_H200_engine.csv, no noise; generated
traces: `trace gen --count C --rate R --seed S` (uniform mix, 50 steps)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
POLICIES = ("fixed-sp:4:order=edf:late=defer", "tetriserve", "tetriserve:late=drop", "admit")
# (label, trace file or (count, rate, seed), SLO scales): docs/BOUND.md's rows
CASES = (
    ("small.csv", "traces/small.csv", (1.0, 1.5, 2.5)),
    ("gen 12 @20/min seed 1", (12, 20, 1), (1.0, 2.5)),
    ("gen 12 @20/min seed 2", (12, 20, 2), (1.0, 2.5)),
    ("gen 12 @20/min seed 3", (12, 20, 3), (1.0, 2.5)),
    ("gen 40 @60/min seed 1", (40, 60, 1), (1.0, 2.5)),
    ("gen 40 @60/min seed 2", (40, 60, 2), (1.0, 2.5)),
    ("default.csv", "traces/default.csv", (1.0, 2.5)),
    ("skewed.csv", "traces/skewed.csv", (1.0, 2.5)),
    ("bursty.csv", "traces/bursty.csv", (1.0, 2.5)),
)


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bound_gap: {' '.join(cmd)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def trace_path(exe, spec, tmp):
    if isinstance(spec, str):
        return os.path.join(REPO, spec)
    count, rate, seed = spec
    path = os.path.join(tmp, f"gen_{count}_{rate}_{seed}.csv")
    subprocess.run([exe, "trace", "gen", "--count", str(count), "--rate", str(rate), "--seed",
                    str(seed), "--out", path], check=True, capture_output=True)
    return path


def points(x):
    """x (a SAR difference) in points, signed, with no negative zero."""
    p = round(100 * x, 1)
    return f"{p + 0.0:+.1f}"


def measure(exe, trace, scale):
    """The bound's JSON and {policy: SAR} of one trace at one SLO scale."""
    common = ["--trace", trace, "--gpus", "4", "--slo-scale", str(scale)]
    b = run_json([exe, "bound", *common, "--json", "--quiet", "--time-limit", "120"])
    sims = run_json([exe, "sim", *common, "--policy", ",".join(POLICIES), "--no-db", "--json",
                     "--quiet"])
    return b, {s["policy"]: s["sar"] for s in sims}


def row(label, scale, b, sar):
    bound = b["sar_bound"]
    cells = [f"{sar[p]:.3f} ({points(sar[p] - bound)})" for p in POLICIES]
    proven = "" if b["proven"] else f" (gap {b['gap']:.3f})"
    return f"| {label} | {scale:g} | {b['requests']} | **{bound:.3f}**{proven} | " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", default=os.path.join(REPO, "build", "tetriserve"))
    ap.add_argument("--first", type=int, default=len(CASES), help="only the first N traces")
    a = ap.parse_args()
    print("| trace | SLO scale | requests | bound SAR | " + " | ".join(POLICIES) + " |")
    print("|---|---|---|---|" + "---|" * len(POLICIES))
    gaps = {p: [] for p in POLICIES}
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec, scales in CASES[:a.first]:
            trace = trace_path(a.exe, spec, tmp)
            for scale in scales:
                b, sar = measure(a.exe, trace, scale)
                for p in POLICIES:
                    gaps[p].append(sar[p] - b["sar_bound"])
                print(row(label, scale, b, sar), flush=True)
    mean = [points(sum(g) / len(g)) for g in gaps.values()]
    print("| **mean below the bound** | | | | " + " | ".join(mean) + " |")
    print("\nEach policy's SAR, then (in points) how far below the bound it lands.")


if __name__ == "__main__":
    main()
