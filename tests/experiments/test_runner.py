#!/usr/bin/env python3
"""Tests of the experiment runner (python3 -m experiments.runner) as a user
relies on it: it runs every point, a rerun skips what is done, an interrupted
or partly deleted experiment resumes with only what is missing, shards
partition the points, sharded and unsharded runs give the same results,
--slo-factor scales every point's SLO, and no policy exceeds the SAR ceiling.

Usage: test_runner.py TETRISERVE_EXE SOURCE_ROOT"""
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
PROFILE = os.path.join(ROOT, "tests", "data", "profile_small.csv")

# An experiment of `npoints` points (alternating mixes, rising rates), the
# baselines only, `count` requests a trace.
EXPERIMENT = '''
from experiments.runner import expand_seeds
from experiments.runner.tables import cell, markdown

TITLE = "tiny"
POLICIES = ("fixed-sp:1", "rssp")


def points(quick, seeds):
    pts = []
    for i in range({npoints}):
        mix = ("uniform", "skewed")[i % 2]
        pts += expand_seeds(seeds, trace={{"rate": 6 + i, "mix": mix, "count": {count}}},
                            sim={{"gpus": 4}}, policies=POLICIES, tag=f"p{{i}}", params={{"i": i}})
    return pts


def plot(res, plt, outdir):
    raise AssertionError("the tests run without figures")


def table(res):
    rows = [[p.key(res.profile_hash)] + [cell(res.metric(pol, i=p.params["i"])) for pol in POLICIES]
            for p in res.points]
    return markdown(["point", *POLICIES], rows)
'''


def write_experiment(tmp, name, npoints, count):
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    path = os.path.join(folder, "experiment.py")
    with open(path, "w") as f:
        f.write(EXPERIMENT.format(npoints=npoints, count=count))
    return path


def runner_cmd(exp, *args):
    return [sys.executable, "-m", "experiments.runner", exp, "--exe", EXE,
            "--profile", PROFILE, *args]


# Hides matplotlib, so the plot step is the documented "skip" whatever is installed.
NO_MPL = "import sys; sys.modules['matplotlib'] = None; from experiments.runner.cli import main; sys.exit(main())"


def runner(exp, *args):
    cmd = [sys.executable, "-c", NO_MPL, *runner_cmd(exp, *args)[3:]]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def completed(db):
    """{(label, policy): [summary, ...]} of the completed runs."""
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT json_extract(options, '$.label'), policy, summary FROM runs
                          WHERE completed = 1 ORDER BY run_id""").fetchall()
    con.close()
    out = {}
    for label, policy, summary in rows:
        out.setdefault((label, policy), []).append(json.loads(summary))
    return out


def listed(exp, *args):
    r = runner(exp, "--list", *args)
    check(r.returncode == 0, f"--list {args}: {r.stderr}")
    return r.stdout.split()


def test_run_and_rerun(tmp):
    exp = write_experiment(tmp, "tiny", 2, 60)
    db = os.path.join(tmp, "tiny.db")
    r = runner(exp, "--seeds", "1", "--db", db, "--jobs", "2")
    check(r.returncode == 0, f"first run: {r.stderr}")
    check("2 points to run, 0 already" in r.stderr and "2/2 points" in r.stderr, f"progress: {r.stderr}")
    check("matplotlib is not installed" in r.stderr and "figures skipped" in r.stderr,
          "plot step skipped with a message when matplotlib is missing")
    keys = listed(exp, "--seeds", "1")
    runs = completed(db)
    check(sorted(runs) == sorted((k, p) for k in keys for p in ("fixed-sp:1", "rssp")),
          f"one completed run per point and policy: {sorted(runs)}")
    check(os.path.isfile(os.path.join(tmp, "tiny", "results.md")), "table written beside the experiment")
    check(all(k in r.stdout for k in keys), "table printed with each point")

    # The runner's results are those of tetriserve sim on the cached trace.
    traces = sorted(os.listdir(os.path.join(tmp, "tiny", ".cache", "traces")))
    check(len(traces) == 2 and all(t.endswith(".csv") for t in traces), f"traces cached: {traces}")
    point0 = [k for k in keys if k.startswith("p0-")][0]
    trace0 = os.path.join(tmp, "tiny", ".cache", "traces", traces[0])
    direct = {}
    for t in traces:
        path = os.path.join(tmp, "tiny", ".cache", "traces", t)
        d = subprocess.run([EXE, "sim", "--trace", path, "--profile", PROFILE, "--gpus", "4",
                            "--policy", "fixed-sp:1,rssp", "--seed", "1", "--no-db", "--json"],
                           capture_output=True, text=True)
        direct[t] = json.loads(d.stdout)
    check(any(runs[(point0, "rssp")][0] == s[1] for s in direct.values()),
          "stored summary equals a direct tetriserve sim of the cached trace")
    mtime = os.path.getmtime(trace0)

    r = runner(exp, "--seeds", "1", "--db", db)
    check(r.returncode == 0 and "0 points to run, 2 already" in r.stderr, f"rerun skips all: {r.stderr}")
    check(completed(db) == runs, "rerun adds no runs")
    check(os.path.getmtime(trace0) == mtime, "cached trace reused")
    return exp, db, keys


def test_resume_after_deletion(exp, db, keys):
    """Deleting one point's runs, and marking one run of the other point
    incomplete (as a killed tetriserve leaves it), makes the rerun run
    exactly those."""
    con = sqlite3.connect(db)
    con.execute("DELETE FROM runs WHERE json_extract(options, '$.label') = ?", (keys[0],))
    con.execute("""UPDATE runs SET completed = 0 WHERE json_extract(options, '$.label') = ?
                   AND policy = 'rssp'""", (keys[1],))
    con.commit()
    before = con.execute("SELECT MAX(run_id) FROM runs").fetchone()[0]
    con.close()
    r = runner(exp, "--seeds", "1", "--db", db, "--no-plot")
    check(r.returncode == 0 and "2 points to run, 0 already" in r.stderr, f"resume: {r.stderr}")
    con = sqlite3.connect(db)
    new = con.execute("""SELECT json_extract(options, '$.label'), policy FROM runs
                         WHERE run_id > ? ORDER BY 1, 2""", (before,)).fetchall()
    con.close()
    check(new == sorted([(keys[0], "fixed-sp:1"), (keys[0], "rssp"), (keys[1], "rssp")]),
          f"only the missing runs ran: {new}")
    check(all((k, p) in completed(db) for k in keys for p in ("fixed-sp:1", "rssp")), "complete again")


def test_interrupt(tmp):
    """Ctrl-C in the middle of an experiment, then a rerun: every point ends
    with exactly the runs it needs and none runs twice. The signal goes once
    two of the 16 runs are stored; an experiment that ends before it lands
    fails the test (each run simulates 40k requests and stores them)."""
    exp = write_experiment(tmp, "slow", 8, 40000)
    db = os.path.join(tmp, "slow.db")
    cmd = runner_cmd(exp, "--seeds", "1", "--db", db, "--jobs", "1", "--no-plot")
    p = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(db) and len(completed_or_empty(db)) >= 2:
            break
        time.sleep(0.05)
    running = p.poll() is None
    if running:
        os.killpg(p.pid, signal.SIGINT)  # as Ctrl-C does: the runner and its tetriserve
    _, err = p.communicate(timeout=60)
    check(running, f"the experiment was still running when interrupted (exit {p.returncode})")
    check(p.returncode == 130 and "rerun to resume" in err, f"interrupted: {p.returncode} {err}")
    done_before = completed(db)
    check(2 <= len(done_before) < 16, f"the interrupt left work to do: {len(done_before)} of 16 runs done")
    r = runner(exp, "--seeds", "1", "--db", db, "--no-plot", "--jobs", "2")
    check(r.returncode == 0, f"resume after Ctrl-C: {r.stderr}")
    keys = listed(exp, "--seeds", "1")
    after = completed(db)
    check(sorted(after) == sorted((k, p) for k in keys for p in ("fixed-sp:1", "rssp")),
          "every point and policy completed after the resume")
    check(all(len(v) == 1 for v in after.values()), "no run repeated")
    check(all(after[k] == v for k, v in done_before.items()), "earlier runs kept")


def completed_or_empty(db):
    try:
        return completed(db)
    except sqlite3.Error:
        return {}


def test_shards(tmp):
    exp = write_experiment(tmp, "shards", 5, 60)
    everything = listed(exp, "--seeds", "2")
    s0 = listed(exp, "--seeds", "2", "--shard", "0/2")
    s1 = listed(exp, "--seeds", "2", "--shard", "1/2")
    check(len(everything) == 10 and len(set(everything)) == 10, f"10 distinct keys: {everything}")
    check(not set(s0) & set(s1) and sorted(s0 + s1) == sorted(everything),
          "shards 0/2 and 1/2 partition the points")
    check(abs(len(s0) - len(s1)) <= 1, "shards are balanced")
    check(s0 == listed(exp, "--seeds", "2", "--shard", "0/2"), "shards are deterministic")

    whole, split = os.path.join(tmp, "whole.db"), os.path.join(tmp, "split.db")
    r = runner(exp, "--seeds", "2", "--db", whole, "--no-plot")
    check(r.returncode == 0, f"unsharded run: {r.stderr}")
    for shard in ("1/2", "0/2"):
        r = runner(exp, "--seeds", "2", "--db", split, "--shard", shard)
        check(r.returncode == 0 and "5 points to run" in r.stderr, f"shard {shard}: {r.stderr}")
        check("figures not drawn" in r.stderr, "a shard leaves the figures for --plot-only")
    a, b = completed(whole), completed(split)
    check(len(a) == 20 and a == b, "sharded and unsharded runs store the same summaries")


def test_ceiling(tmp, exp, db):
    """The SAR ceiling: fastest step per resolution at the allowed degrees,
    the idle-node deadline test at its boundary, errors naming the file,
    and on real runs no policy above it."""
    sys.path.insert(0, ROOT)
    from experiments.runner.ceiling import ceiling, fastest_step_ns
    from experiments.runner.cli import file_hash, load_experiment
    from experiments.runner.results import Results

    fast2, fast4 = fastest_step_ns(PROFILE, 2), fastest_step_ns(PROFILE, 4)
    check(fast2[(256, 256)] == 22_000_000 and fast4[(256, 256)] == 19_000_000
          and fast4[(2048, 2048)] == 265_000_000, f"fastest steps: {fast2} {fast4}")
    on_time = (256, 256, 50, 10, 10 + 50 * 19_000_000)
    late = on_time[:4] + (on_time[4] - 1,)
    check(ceiling([on_time, late], fast4) == 0.5, "a request meets the ceiling exactly at its deadline")
    check(math.isnan(ceiling([], fast4)) and math.isnan(ceiling([(640, 480, 50, 0, 10**12)], fast4)),
          "no requests, or an unprofiled resolution: NaN")
    for name, text, cause in (("two.csv", "model,gpu,height,width,sp,step_ms\nflux-dev,H100,256,256,1,30\n"
                                          "sd3,H100,256,256,1,20\n", "several"),
                              ("nan.csv", "model,gpu,height,width,sp,step_ms\nflux-dev,H100,256,256,one,30\n",
                               "data row 1")):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        try:
            fastest_step_ns(path, 4)
            check(False, f"{name}: accepted")
        except ValueError as e:
            check(name in str(e) and cause in str(e), f"{name}: error names file and cause: {e}")

    points = load_experiment(exp).points(False, 1)
    res = Results(db, points, file_hash(PROFILE), PROFILE)
    for p in points:
        top = res.ceiling(i=p.params["i"])
        sars = [res.metric(pol, i=p.params["i"]).mean for pol in p.policies]
        check(top.n == 1 and 0 < top.mean < 1 and all(s <= top.mean for s in sars),
              f"point {p.params['i']}: no policy above the ceiling {top} {sars}")


def stored_slo_scales(db):
    """{label: slo_scale} of the completed runs."""
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT json_extract(options, '$.label'), json_extract(options, '$.slo_scale')
                          FROM runs WHERE completed = 1""").fetchall()
    con.close()
    return dict(rows)


def test_slo_factor(tmp):
    """--slo-factor X replays every point with its SLO scale times X (here
    tetriserve's default 1.0 becomes 2.5), under keys of its own."""
    exp = write_experiment(tmp, "factor", 2, 60)
    plain = listed(exp, "--seeds", "1")
    scaled = listed(exp, "--seeds", "1", "--slo-factor", "2.5")
    check(len(scaled) == 2 and not set(plain) & set(scaled), f"new keys: {plain} {scaled}")
    db = os.path.join(tmp, "factor.db")
    r = runner(exp, "--seeds", "1", "--db", db, "--slo-factor", "2.5", "--no-plot")
    check(r.returncode == 0, f"run with --slo-factor: {r.stderr}")
    check(stored_slo_scales(db) == {k: 2.5 for k in scaled}, f"runs at SLO x2.5: {stored_slo_scales(db)}")
    traces = os.path.join(tmp, "factor", ".cache", "traces")
    direct = []
    for t in sorted(os.listdir(traces)):
        d = subprocess.run([EXE, "sim", "--trace", os.path.join(traces, t), "--profile", PROFILE,
                            "--gpus", "4", "--slo-scale", "2.5", "--policy", "fixed-sp:1,rssp",
                            "--seed", "1", "--no-db", "--json"], capture_output=True, text=True)
        direct += json.loads(d.stdout)
    runs = completed(db)
    check(all(runs[(k, "rssp")][0] in direct for k in scaled),
          "stored summaries equal a direct tetriserve sim at --slo-scale 2.5")
    r = runner(exp, "--slo-factor", "0")
    check(r.returncode == 2 and "--slo-factor" in r.stderr, f"bad factor: {r.stderr}")


def test_bad_usage(tmp):
    exp = write_experiment(tmp, "usage", 2, 10)
    bare = [sys.executable, "-m", "experiments.runner"]
    r = subprocess.run(bare + ["--list"], cwd=ROOT, capture_output=True, text=True)
    check(r.returncode == 0 and all(f"{n} " in r.stdout for n in ("sar_vs_slo", "ablation", "decision_latency")),
          f"--list alone lists the experiments: {r.stdout} {r.stderr}")
    r = subprocess.run(bare, cwd=ROOT, capture_output=True, text=True)
    check(r.returncode == 2 and "experiment" in r.stderr and "--list" in r.stderr,
          f"no experiment named: {r.stderr}")
    r = runner(os.path.join(tmp, "nope"))
    check(r.returncode == 2 and "no experiment" in r.stderr and "sar_vs_slo" in r.stderr,
          f"unknown experiment named with the known ones: {r.stderr}")
    r = runner(exp, "--shard", "2/2")
    check(r.returncode == 2 and "--shard" in r.stderr, f"bad shard: {r.stderr}")
    r = runner(exp, "--exe", os.path.join(tmp, "no-exe"))
    check(r.returncode == 2 and "no-exe" in r.stderr, f"missing binary named: {r.stderr}")
    cmd = [sys.executable, "-c", NO_MPL, exp, "--exe", EXE, "--profile", os.path.join(tmp, "p.csv")]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    check(r.returncode == 2 and "p.csv" in r.stderr, f"missing profile named: {r.stderr}")
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("model,gpu,height,width,sp,step_ms\nflux-dev,H100,256,256,1,30\n")
    r = runner(exp, "--seeds", "1", "--db", os.path.join(tmp, "u.db"), "--profile", bad, "--no-plot")
    check(r.returncode == 1 and "failed" in r.stderr and "--interpolate" in r.stderr,
          f"a failing point reports tetriserve's error: {r.stderr}")


def main():
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        exp, db, keys = test_run_and_rerun(tmp)
        test_resume_after_deletion(exp, db, keys)
        test_ceiling(tmp, exp, db)
        test_interrupt(tmp)
        test_shards(tmp)
        test_slo_factor(tmp)
        test_bad_usage(tmp)
    return result("experiments runner", f", {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
