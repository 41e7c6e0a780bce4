#!/usr/bin/env python3
"""experiments/beyond/bound_gap.py on its first trace (traces/small.csv at
three SLO scales): every policy's SAR is at most the bound (the bound is an
upper bound on any schedule the driver accepts), each cell's gap is the
difference it prints, and the mean row averages them.

Usage: test_bound_gap.py TETRISERVE SOURCE_ROOT"""
import os
import re
import subprocess
import sys

EXE, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from pycheck import check, result  # noqa: E402

SCRIPT = os.path.join(ROOT, "experiments", "beyond", "bound_gap.py")


def main():
    help_text = subprocess.run([EXE, "bound", "--help"], capture_output=True, text=True).stdout
    if "MILP solver in this build: none" in help_text:
        print("test_bound_gap: skipped: this build has no MILP solver (apt-get install libglpk-dev)")
        return 77
    out = subprocess.run([sys.executable, SCRIPT, "--exe", EXE, "--first", "1"],
                         capture_output=True, text=True)
    check(out.returncode == 0, f"bound_gap.py runs: {out.stderr[-500:]}")
    rows = [l for l in out.stdout.splitlines() if l.startswith("| small.csv")]
    check(len(rows) == 3, f"three scales of small.csv: {out.stdout}")
    gaps = []
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        bound = float(cells[3].strip("*").split()[0])
        row_gaps = []
        for c in cells[4:]:
            m = re.fullmatch(r"([0-9.]+) \(([-+][0-9.]+)\)", c)
            check(m is not None, f"cell '{c}' is 'SAR (points)'")
            if not m:
                continue
            sar, pts = float(m.group(1)), float(m.group(2))
            check(sar <= bound + 1e-9, f"{cells[0]} x{cells[1]}: SAR {sar} above the bound {bound}")
            check(abs(100 * (sar - bound) - pts) < 0.051, f"gap {pts} is SAR - bound in points")
            row_gaps.append(pts)
        gaps.append(row_gaps)
    mean = [l for l in out.stdout.splitlines() if l.startswith("| **mean")]
    check(len(mean) == 1, "a mean row")
    if mean and gaps:
        shown = [float(c) for c in mean[0].strip("|").split("|")[4:]]
        want = [sum(g[i] for g in gaps) / len(gaps) for i in range(len(shown))]
        check(all(abs(a - b) < 0.06 for a, b in zip(shown, want)), f"mean row {shown} vs {want}")
    return result("test_bound_gap")


if __name__ == "__main__":
    sys.exit(main())
