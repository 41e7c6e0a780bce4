#!/usr/bin/env python3
"""`tetriserve validate` as a user runs it, without a GPU: bad usage is
refused naming the cause; a build without CUDA says how to get one; --dry-run runs the whole flow (plan within
--max-minutes, executor runs whose steps sleep their profile time,
simulations of the same configurations, one results file, the comparisons
and the markdown table); every policy makes the same launches in both; the
two-run form compares the stored runs again; a budget nothing fits is an
error that says what to change.
Usage: test_validate_cli.py TETRISERVE DATA_DIR"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = sys.argv[1]
PROFILE = os.path.join(sys.argv[2], "profile_small.csv")
POLICIES = "fixed-sp:1,fixed-sp:2,rssp,fixed-sp:1:order=edf:late=defer,tetriserve,tetriserve:late=drop"


def run(*args):
    return subprocess.run([EXE, "validate", *args], capture_output=True, text=True)


def usage_errors():
    for args, needle in ((["--profile", PROFILE], "--trace is required"),
                         (["--trace", "t.csv"], "give one of --profile F and --measure"),
                         (["--trace", "t.csv", "--profile", PROFILE, "--measure"], "give one of"),
                         (["--trace", "t.csv", "--measure", "--dry-run"], "--measure needs GPUs"),
                         (["--trace", "t.csv", "--profile", PROFILE, "--max-minutes", "0"], "--max-minutes"),
                         (["--trace", "t.csv", "--profile", PROFILE, "--bogus"], "'--bogus'")):
        r = run(*args)
        check(r.returncode == 2 and needle in r.stderr, f"validate {args}: {r.returncode} {r.stderr}")
    r = run("--help")
    check(r.returncode == 0 and "--max-minutes" in r.stdout and "--db F --sim RUN --exec RUN" in r.stdout,
          f"--help names both forms: {r.stdout}")
    no_cuda = "no CUDA executor" in subprocess.run([EXE, "exec", "--help"], capture_output=True, text=True).stdout
    if no_cuda:  # the GPU form says how to get a build that has it
        r = run("--trace", "t.csv", "--profile", PROFILE)
        check(r.returncode == 1 and "-Dcuda=enabled" in r.stderr and "--dry-run" in r.stderr,
              f"without CUDA: {r.returncode} {r.stderr}")


def dry_run(tmp):
    trace, db, md = (os.path.join(tmp, n) for n in ("t.csv", "v.db", "results.md"))
    r = subprocess.run([EXE, "trace", "gen", "--out", trace, "--count", "40", "--rate", "240", "--seed", "3",
                        "--res", "256,512,1024", "--steps", "6", "--slo-scale", "0.4"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"trace gen: {r.stderr}")
    r = run("--trace", trace, "--profile", PROFILE, "--gpus", "2", "--policy", POLICIES, "--dry-run",
            "--max-minutes", "0.5", "--min-requests", "8", "--db", db, "--markdown", md, "--label", "dry")
    out = r.stdout
    check(r.returncode == 0, f"dry run: {r.returncode}\n{out}{r.stderr}")
    m = re.search(r"plan: the whole trace \(40 requests\) would take an estimated [0-9.]+ min, more than "
                  r"the [0-9.]+ min left; so: the first (\d+) of 40 requests", out)
    check(m is not None, f"the plan names the prefix: {out[:600]}")
    # Each policy makes the launches of the simulator, unless a launch of the
    # executor ran outside the driver's window (a loaded machine delays the
    # sleeps): then the report names that launch as the cause.
    same = out.count("schedules: the same launches")
    explained = len(re.findall(r"  cause: the hardware launch of request \d+, .* outside the window\)", out))
    check(out.count("== ") == 6 and same >= 1 and same + explained == 6 and "fault of the model-time" not in out,
          f"six comparisons, each the same launches or a divergence with its cause:\n{out}")
    with open(md) as f:
        table = f.read()
    check("### dry:" in table and table.count("| identical (") == same and table.count("\n| ") == 7,
          f"markdown table: {table}")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT backend, count(*) FROM runs WHERE completed = 1 GROUP BY backend").fetchall()
    con.close()
    check(sorted(rows) == [("exec", 6), ("sim", 6)], f"runs stored: {rows}")
    r = run("--db", db, "--sim", "7", "--exec", "1")
    check(r.returncode == 0 and "the same launches" in r.stdout, f"two-run form: {r.stdout}{r.stderr}")
    r = run("--trace", trace, "--profile", PROFILE, "--gpus", "2", "--policy", "fixed-sp:1,fixed-sp:2,rssp",
            "--dry-run", "--max-minutes", "0.05", "--min-requests", "40", "--db", db)
    check(r.returncode == 1 and "raise --max-minutes or lower --min-requests" in r.stderr,
          f"nothing fits: {r.returncode} {r.stderr}")


def main():
    usage_errors()
    with tempfile.TemporaryDirectory() as tmp:
        dry_run(tmp)
    return result("validate_cli")


if __name__ == "__main__":
    sys.exit(main())
