#!/usr/bin/env python3
"""`tetriserve bound` as a user runs it:
- the bound is never below any policy's SAR (fixed-sp:1/2/4, rssp, tetriserve)
  on traces/small.csv and on generated traces at SLO scale 1.0 and 2.5, with
  the bundled engine profile on 4 GPUs (simulator without noise);
- on traces/small.csv it finishes (the meson timeout bounds the time) and its
  --db run shows up in `tetriserve report` next to the policies' runs;
- exit statuses: 0 on success (also on a time limit, saying so), 1 on an
  error, 2 on bad usage;
- in a build without a MILP solver the command says how to get one.
Usage: test_bound_cli.py TETRISERVE SOURCE_ROOT [--bench]"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = sys.argv[1]
ROOT = sys.argv[2]
SMALL = os.path.join(ROOT, "traces", "small.csv")
PROFILE = os.path.join(ROOT, "traces", "profiles", "flux-dev_H200_engine.csv")
POLICIES = "fixed-sp:1,fixed-sp:2,fixed-sp:4,rssp,tetriserve"


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True)


def have_solver():
    r = run("bound", "--help")
    return r.returncode == 0 and "MILP solver in this build: none" not in r.stdout


def bound_json(trace, scale, *extra):
    r = run("bound", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--slo-scale", str(scale),
            "--json", *extra)
    check(r.returncode == 0, f"bound {trace} x{scale}: exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout) if r.returncode == 0 else None


def policies_json(trace, scale):
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--slo-scale", str(scale),
            "--policy", POLICIES, "--no-db", "--json")
    check(r.returncode == 0, f"sim {trace}: {r.stderr}")
    return json.loads(r.stdout) if r.returncode == 0 else []


def test_never_below(tmp):
    traces = [SMALL]
    for seed in (1, 2, 3):
        path = os.path.join(tmp, f"gen{seed}.csv")
        r = run("trace", "gen", "--count", "12", "--rate", "20", "--seed", str(seed), "--out", path)
        check(r.returncode == 0, f"trace gen: {r.stderr}")
        traces.append(path)
    for trace in traces:
        for scale in (1.0, 2.5):
            b = bound_json(trace, scale)
            if not b:
                continue
            check(b["status"] == "optimal" and b["bound"] == b["met"], f"{trace} x{scale}: proven {b}")
            row = []
            for s in policies_json(trace, scale):
                check(b["bound"] >= s["met"] and b["sar_bound"] >= s["sar"] - 1e-9,
                      f"{trace} x{scale}: bound {b['bound']} below {s['policy']} met {s['met']}")
                row.append(f"{s['policy']} {s['sar']:.3f}")
            print(f"{os.path.basename(trace)} x{scale}: bound SAR {b['sar_bound']:.3f} ({b['solve_s']:.2f} s); "
                  + ", ".join(row))


def test_small_db_report(tmp):
    db = os.path.join(tmp, "r.db")
    r = run("sim", "--trace", SMALL, "--profile", PROFILE, "--gpus", "4", "--policy", "tetriserve", "--db", db,
            "--quiet")
    check(r.returncode == 0, f"sim into the db: {r.stderr}")
    t0 = time.monotonic()
    r = run("bound", "--trace", SMALL, "--profile", PROFILE, "--gpus", "4", "--db", db, "--time-limit", "60")
    secs = time.monotonic() - t0
    print(f"tetriserve bound on traces/small.csv, 4 GPUs: {secs:.2f} s")
    check(r.returncode == 0 and "optimum" in r.stdout and "proven" in r.stdout, f"bound --db: {r.stdout} {r.stderr}")
    con = sqlite3.connect(db)
    runs = con.execute("SELECT run_id, backend, policy, trace_hash, profile_hash, gpus, completed, options, "
                       "summary FROM runs ORDER BY run_id").fetchall()
    con.close()
    check(len(runs) == 2, f"two runs stored: {runs}")
    if len(runs) != 2:
        return
    sim, bnd = runs
    check(bnd[1] == "bound" and bnd[2] == "optimum" and bnd[5] == 4 and bnd[6] == 1, f"bound run row {bnd[:7]}")
    check(bnd[3] == sim[3] and bnd[4] == sim[4], "same trace and profile hashes as sim stores")
    opts = json.loads(bnd[7])
    summ = json.loads(bnd[8])
    check(opts["relaxation"] is True and opts["time_limit_s"] == 60 and "grid" in opts and "solver" in opts,
          f"options JSON {opts}")
    check(summ["status"] == "optimal" and summ["gap"] == 0 and summ["requests"] == 20, f"summary JSON {summ}")
    rep = run("report", "--db", db, "--format", "json")
    check(rep.returncode == 0, f"report: {rep.stderr}")
    rows = json.loads(rep.stdout) if rep.returncode == 0 else []
    by_backend = {x["backend"]: x for x in rows}
    check("bound" in by_backend and "sim" in by_backend, f"report lists both runs: {rep.stdout[:300]}")
    if "bound" in by_backend and "sim" in by_backend:
        b, s = by_backend["bound"], by_backend["sim"]
        check(b["met"] == summ["bound"] and b["sar"] >= s["sar"], f"report: bound {b['sar']} vs sim {s['sar']}")
    txt = run("report", "--db", db)
    check("optimum" in txt.stdout and "bound" in txt.stdout, "report table names the bound run")


def test_time_limit(tmp):
    trace = os.path.join(tmp, "heavy.csv")
    run("trace", "gen", "--count", "40", "--rate", "240", "--seed", "1", "--out", trace)
    r = run("bound", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--slo-scale", "2.5",
            "--time-limit", "0.001", "--json")
    check(r.returncode == 0, f"time limit is not an error: {r.stderr}")
    if r.returncode == 0:
        b = json.loads(r.stdout)
        check(b["status"] == "time-limit" and not b["proven"] and b["bound"] >= b["met"], f"time-limit JSON {b}")
        check(b["policy"] == "bound", "an unproven result is stored as policy 'bound'")
        for s in policies_json(trace, 2.5):
            check(b["bound"] >= s["met"], f"time-limited bound {b['bound']} below {s['policy']} {s['met']}")
    r = run("bound", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--slo-scale", "2.5",
            "--time-limit", "0.001")
    check(r.returncode == 0 and "time limit" in r.stdout and "not proven" in r.stdout, f"text says so: {r.stdout}")
    db = os.path.join(tmp, "tl.db")
    r = run("bound", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--slo-scale", "2.5",
            "--time-limit", "0.001", "--db", db)
    con = sqlite3.connect(db)
    pol = con.execute("SELECT policy FROM runs").fetchall()
    con.close()
    check(pol == [("bound",)], f"stored as 'bound': {pol}")


def test_exit_status(tmp):
    r = run("bound", "--trace", os.path.join(tmp, "missing.csv"), "--profile", PROFILE)
    check(r.returncode == 1 and "missing.csv" in r.stderr, f"missing trace: exit 1 naming it: {r.stderr}")
    for bad in (["--gpus", "0"], ["--time-limit", "-1"], ["--bogus"], ["extra"], ["--lp", "--db", "x.db"],
                ["--slo-scale", "abc"]):
        r = run("bound", "--trace", SMALL, "--profile", PROFILE, *bad)
        check(r.returncode == 2 and r.stderr, f"bad usage {bad}: exit {r.returncode} {r.stderr}")
    r = run("bound", "--help")
    check(r.returncode == 0 and "usage" in r.stdout, "--help")
    r = run("bound", "--trace", SMALL, "--profile", PROFILE, "--lp", "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["status"] == "lp", f"--lp: {r.stdout} {r.stderr}")
    if r.returncode == 0:
        opt = bound_json(SMALL, 1.0)
        check(opt and json.loads(r.stdout)["bound"] >= opt["bound"], "the LP bound is not below the optimum")


def test_no_solver():
    r = run("bound", "--trace", SMALL, "--profile", PROFILE)
    check(r.returncode == 1 and "no MILP solver" in r.stderr and "apt-get install libglpk-dev" in r.stderr,
          f"no solver: exit {r.returncode}: {r.stderr}")


def bench():
    for name in ("small.csv", "default.csv"):
        trace = os.path.join(ROOT, "traces", name)
        t0 = time.monotonic()
        r = run("bound", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--json")
        secs = time.monotonic() - t0
        b = json.loads(r.stdout) if r.returncode == 0 else {}
        print(f"bound {name} (4 GPUs, engine profile): {secs:.2f} s wall, solver {b.get('solve_s', -1):.2f} s, "
              f"bound {b.get('bound')}/{b.get('requests')} {b.get('status')}")
    return 0


def main():
    if len(sys.argv) > 3 and sys.argv[3] == "--bench":
        return bench()
    if not have_solver():
        test_no_solver()
        return result("test_bound_cli (no MILP solver in this build)")
    with tempfile.TemporaryDirectory() as tmp:
        test_never_below(tmp)
        test_small_db_report(tmp)
        test_time_limit(tmp)
        test_exit_status(tmp)
    return result("test_bound_cli")


if __name__ == "__main__":
    sys.exit(main())
