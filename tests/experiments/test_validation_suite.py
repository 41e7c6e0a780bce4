#!/usr/bin/env python3
"""experiments/validation_suite/run.sh as a person with a node runs it, here
as a dry run on 2 GPUs with a short budget: it writes results.md with one
table per case (mix, batch, burst), a row per policy of that GPU count, and
keeps every run in validation.db; a bad --gpus is refused.
Usage: test_validation_suite.py TETRISERVE SOURCE_ROOT"""
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE, ROOT = sys.argv[1], sys.argv[2]
RUN = os.path.join(ROOT, "experiments", "validation_suite", "run.sh")


def main():
    build = os.path.dirname(os.path.abspath(EXE))
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([RUN, "--gpus", "3", "--build", build, "--out", out], capture_output=True, text=True)
        check(r.returncode == 2 and "--gpus must be 1, 2, 4 or 8" in r.stderr, f"--gpus 3: {r.stderr}")
        r = subprocess.run([RUN, "--gpus", "2", "--build", build, "--out", out, "--minutes", "1.6", "--dry-run"],
                           capture_output=True, text=True)
        with open(os.path.join(out, "validation.log")) as f:
            log = f.read()
        check(r.returncode == 0, f"run.sh --dry-run: {r.returncode}\n{r.stdout}{r.stderr}{log[-3000:]}")
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        for case in ("mix", "batch", "burst"):
            check(f"### {case}: experiments/validation_suite/traces/{case}.csv, 2 GPUs, dry run" in md,
                  f"a table for {case}")
        for spec in ("fixed-sp:1", "fixed-sp:2", "rssp", "fixed-sp:1:order=edf:late=defer",
                     "fixed-sp:2:order=edf:late=defer", "tetriserve:batching=off",
                     "tetriserve:batching=off:late=drop"):
            check(f"\n| {spec} | " in md, f"a row for {spec}")
        con = sqlite3.connect(os.path.join(out, "validation.db"))
        n = dict(con.execute("SELECT backend, count(*) FROM runs GROUP BY backend").fetchall())
        con.close()
        check(n.get("exec") == n.get("sim") == 7 + 1 + 3, f"runs kept: {n}")
    return result("validation_suite")


if __name__ == "__main__":
    sys.exit(main())
