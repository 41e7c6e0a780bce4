#!/usr/bin/env python3
"""End-to-end tests of the `tetriserve` command as a user runs it: sim and
trace gen, the SQLite results, errors on bad input, determinism, Ctrl-C."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = sys.argv[1]
DATA = sys.argv[2]
PROFILE = os.path.join(DATA, "profile_small.csv")


def run(*args, **kw):
    return subprocess.run([EXE, *args], capture_output=True, text=True, **kw)


def gen(path, *extra):
    r = run("trace", "gen", "--out", path, *extra)
    check(r.returncode == 0, f"trace gen {extra}: {r.stderr}")


def test_help(tmp):
    for args in ([], ["sim"], ["trace", "gen"]):
        r = run(*args, "--help")
        check(r.returncode == 0 and "usage" in r.stdout, f"--help of {args}")
    r = run("bogus")
    check(r.returncode == 2 and "unknown command" in r.stderr, "unknown command")


def test_sim_and_db(tmp):
    trace = os.path.join(tmp, "t.csv")
    db = os.path.join(tmp, "r.db")
    gen(trace, "--count", "120", "--seed", "5", "--rate", "6")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--gpus", "4",
            "--policy", "fixed-sp:1,rssp", "--db", db)
    check(r.returncode == 0, f"sim ran: {r.stderr}")
    check("fixed-sp:1" in r.stdout and "rssp" in r.stdout and "SAR" in r.stdout, "table printed")
    rj = run("sim", "--trace", trace, "--profile", PROFILE, "--gpus", "4",
             "--policy", "fixed-sp:1,rssp", "--no-db", "--json")
    summaries = json.loads(rj.stdout)
    con = sqlite3.connect(db)
    runs = con.execute("SELECT run_id, policy, completed, backend, gpus FROM runs ORDER BY run_id").fetchall()
    check(len(runs) == 2 and all(x[2] == 1 and x[3] == "sim" and x[4] == 4 for x in runs), f"runs rows {runs}")
    for (run_id, policy, *_), s in zip(runs, summaries):
        check(s["policy"] == policy, "json order matches runs")
        n, met = con.execute("SELECT COUNT(*), SUM(met_slo) FROM request_results WHERE run_id=?",
                             (run_id,)).fetchone()
        check(n == 120 and met == s["met"], f"{policy}: {n} rows, {met} met vs {s['met']}")
        bad = con.execute("""SELECT COUNT(*) FROM request_results WHERE run_id=? AND
                             (start_s < arrival_s OR finish_s < start_s OR
                              met_slo != (finish_s <= deadline_s))""", (run_id,)).fetchone()[0]
        check(bad == 0, f"{policy}: request rows consistent")
        steps = con.execute("""SELECT COUNT(*) FROM (SELECT r.request_id, r.steps, SUM(s.nsteps) AS ran
                               FROM request_results r JOIN segments s
                               ON s.run_id = r.run_id AND s.request_id = r.request_id
                               WHERE r.run_id=? AND s.kind='steps' GROUP BY r.request_id)
                               WHERE ran != steps""", (run_id,)).fetchone()[0]
        check(steps == 0, f"{policy}: segments add up to each request's steps")
    con.close()


def rows(db, run_id):
    con = sqlite3.connect(db)
    req = con.execute("""SELECT request_id, start_s, finish_s, met_slo FROM request_results
                         WHERE run_id=? ORDER BY request_id""", (run_id,)).fetchall()
    seg = con.execute("""SELECT request_id, gpus, first_step, nsteps, start_ns, end_ns FROM segments
                         WHERE run_id=? ORDER BY request_id, start_ns, kind""", (run_id,)).fetchall()
    con.close()
    return req, seg


def test_many_resolutions(tmp):
    trace = os.path.join(tmp, "many.csv")
    with open(trace, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s\n")
        for i, side in enumerate(range(256, 2976, 32)):
            f.write(f"{i},{i},{side},{side},5,30\n")
    db = os.path.join(tmp, "many.db")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--interpolate", "--policy", "rssp,fixed-sp:1",
            "--db", db, "--quiet")
    check(r.returncode == 0, f"85 resolutions with --interpolate: {r.stderr}")
    con = sqlite3.connect(db)
    params = con.execute("SELECT policy_params FROM runs WHERE policy = 'rssp'").fetchone()
    con.close()
    check(params is not None and len(json.loads(params[0])["degrees"]) == 85,
          "rssp's stored parameters name every resolution")


def test_determinism(tmp):
    trace = os.path.join(tmp, "d.csv")
    gen(trace, "--count", "80", "--seed", "9", "--mix", "skewed")
    db = os.path.join(tmp, "d.db")
    for _ in range(2):
        r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "rssp",
                "--noise", "--seed", "4", "--db", db, "--quiet")
        check(r.returncode == 0, f"determinism run: {r.stderr}")
    check(rows(db, 1) == rows(db, 2), "same inputs and seed give identical rows")


def test_bad_inputs(tmp):
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("request_id,arrival_s,height,width,steps\n1,0,256,256,50\n")
    r = run("sim", "--trace", bad, "--profile", PROFILE, "--no-db")
    check(r.returncode == 1 and bad in r.stderr and "slo_s" in r.stderr, f"missing column: {r.stderr}")
    with open(bad, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s\n1,0,256,256,50,2\n2,x,256,256,50,2\n")
    r = run("sim", "--trace", bad, "--profile", PROFILE, "--no-db")
    check(r.returncode == 1 and ":3" in r.stderr and "arrival_s" in r.stderr, f"bad number: {r.stderr}")
    odd = os.path.join(tmp, "odd.csv")
    with open(odd, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s\n1,0,768,768,50,2\n")
    r = run("sim", "--trace", odd, "--profile", PROFILE, "--policy", "fixed-sp:2", "--no-db")
    check(r.returncode == 1 and "768" in r.stderr and "--interpolate" in r.stderr,
          f"missing profile cell: {r.stderr}")
    r = run("sim", "--trace", odd, "--profile", PROFILE, "--policy", "fixed-sp:2", "--no-db",
            "--interpolate", "--quiet")
    check(r.returncode == 0, f"--interpolate fills the cell: {r.stderr}")
    r = run("sim", "--trace", odd, "--profile", PROFILE, "--gpus", "0")
    check(r.returncode == 2 and "--gpus" in r.stderr, "--gpus 0 refused")
    r = run("sim", "--trace", odd, "--profile", PROFILE, "--gpus", "4", "--policy", "fixed-sp:8", "--no-db")
    check(r.returncode == 1 and "GPU count" in r.stderr, f"fixed-sp:8 on 4 GPUs refused: {r.stderr}")
    r = run("trace", "gen", "--res", "256,,512", "--count", "2")
    check(r.returncode == 2 and "empty entry" in r.stderr, "an empty --res entry is refused")
    r = run("trace", "gen", "--seed", "4294967297", "--count", "2")
    check(r.returncode == 2 and "--seed" in r.stderr, "seeds beyond 32 bits are refused (MT19937 takes 32)")
    r = run("trace", "gen", "--rate", "1e-9", "--count", "3")
    check(r.returncode == 1 and "1e9 s" in r.stderr, f"arrivals beyond 1e9 s are refused: {r.stderr}")
    r = run("sim", "--trace", odd, "--profile", PROFILE, "--policy", "", "--no-db")
    check(r.returncode == 2 and "--policy is empty" in r.stderr, "an empty policy list is refused")
    r = run("sim", "--trace", os.path.join(tmp, "nope.csv"), "--profile", PROFILE, "--no-db")
    check(r.returncode == 1 and "nope.csv" in r.stderr, "missing file named")


def test_interrupt(tmp):
    """Ctrl-C mid-run: exit 130, the run marked incomplete, the earlier run
    intact. The signal goes once the run's first progress line shows it under
    way (its store writes take seconds for 400k requests), not after a
    guessed delay; a run that ends before the signal lands fails the test."""
    trace = os.path.join(tmp, "big.csv")
    gen(trace, "--count", "400000", "--seed", "3", "--rate", "12")
    db = os.path.join(tmp, "i.db")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "fixed-sp:1",
            "--db", db, "--quiet")
    check(r.returncode == 0, "first run completes")
    p = subprocess.Popen([EXE, "sim", "--trace", trace, "--profile", PROFILE, "--policy",
                          "fixed-sp:2", "--db", db, "--progress", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    err = first + p.stderr.read()
    p.wait(timeout=60)
    check(first.startswith("fixed-sp:2: ") and "/400000 requests" in first and "(done)" not in first,
          f"a progress line before the interrupt: {first!r}")
    check(p.returncode == 130 and "incomplete" in err,
          f"Ctrl-C landed mid-run: exit {p.returncode} (0: the run ended first), stderr {err[-500:]!r}")
    con = sqlite3.connect(db)
    runs = con.execute("SELECT run_id, completed FROM runs ORDER BY run_id").fetchall()
    check(runs == [(1, 1), (2, 0)], f"runs after Ctrl-C: {runs}")
    n1 = con.execute("SELECT COUNT(*) FROM request_results WHERE run_id=1").fetchone()[0]
    check(n1 == 400000, "the earlier run is intact")
    n2 = con.execute("SELECT COUNT(*) FROM request_results WHERE run_id=2").fetchone()[0]
    check(n2 < 400000, f"the interrupted run stopped early: {n2} results")
    con.close()


def test_report_merge_regress(tmp):
    trace = os.path.join(tmp, "m.csv")
    gen(trace, "--count", "60", "--seed", "11")
    a, b, m = (os.path.join(tmp, x) for x in ("a.db", "b.db", "m.db"))
    base = os.path.join(tmp, "base.json")
    for db, pols in ((a, "fixed-sp:1,rssp"), (b, "fixed-sp:1,fixed-sp:2")):
        r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", pols, "--db", db, "--quiet")
        check(r.returncode == 0, f"sim for merge: {r.stderr}")
    r = run("report", "--db", a, "--format", "json")
    rep = json.loads(r.stdout)
    js = json.loads(run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "fixed-sp:1,rssp",
                        "--no-db", "--json").stdout)
    keys = ("requests", "finished", "met", "sar", "sar_by_resolution", "latency_s", "launches", "rounds")
    for x, y in zip(rep, js):
        check(all(x[k] == y[k] for k in keys), f"report recomputes the stored summary of {y['policy']}: {x} vs {y}")
    check(all(abs(x["gpu_utilisation"] - y["gpu_utilisation"]) < 1e-9 for x, y in zip(rep, js)),
          "report utilisation equals the run's")
    c = os.path.join(tmp, "c.db")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "tetriserve", "--db", c, "--quiet")
    rep = json.loads(run("report", "--db", c, "--format", "json").stdout)[0]
    js = json.loads(run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "tetriserve", "--no-db",
                        "--json").stdout)
    check(rep["rounds"] == js["rounds"] > 0 and rep["launches"] == js["launches"],
          f"report counts tetriserve's rounds and launches: {rep['rounds']}/{js['rounds']}, "
          f"{rep['launches']}/{js['launches']}")
    r = run("report", "--db", a, "--format", "csv", "--run", "2")
    check(r.returncode == 0 and r.stdout.count("\n") == 2 and "rssp" in r.stdout, "csv of one run")
    r = run("report", "--db", os.path.join(tmp, "missing.db"))
    check(r.returncode == 1 and "missing.db" in r.stderr, "report on a missing file")
    r = run("merge", "--out", m, a, b)
    check(r.returncode == 0 and "3 runs copied, 1 duplicates" in r.stdout, f"merge: {r.stdout}")
    r = run("merge", "--out", m, b)
    check("0 runs copied, 2 duplicates" in r.stdout, "merging again adds nothing")
    con = sqlite3.connect(m)
    n = con.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    con.close()
    check(n == 3 * 60, "merged request rows")
    r = run("merge", "--out", m, m)
    check(r.returncode == 1 and "output file itself" in r.stderr, f"merging a file into itself: {r.stderr}")
    r = run("merge", "--out", m, os.path.join(tmp, "nope.db"))
    check(r.returncode == 1 and "nope.db" in r.stderr and not os.path.exists(os.path.join(tmp, "nope.db")),
          "merging a missing file is an error and creates nothing")
    # a profile run (as `tetriserve profile --db` writes it) travels with its cells
    con = sqlite3.connect(a)
    con.execute("""INSERT INTO runs(backend, policy, gpus, started_at, completed)
                   VALUES ('profile', 'profile', 4, '2026-01-01T00:00:00Z', 1)""")
    pid = con.execute("SELECT MAX(run_id) FROM runs").fetchone()[0]
    con.executemany("""INSERT INTO profile_cells(run_id, model, gpu, height, width, sp, batch, step_ms,
                       p50_ms, p99_ms, cv, samples) VALUES (?, 'flux-dev', 'H200', ?, ?, 1, 1, ?, NULL, NULL, 0, 5)""",
                    [(pid, 256, 256, 24.3), (pid, 512, 512, 46.8)])
    con.commit()
    con.close()
    r = run("merge", "--out", m, a)
    check(r.returncode == 0 and "1 runs copied" in r.stdout, f"profile run merged: {r.stdout}{r.stderr}")
    con = sqlite3.connect(m)
    cells = con.execute("""SELECT height, step_ms FROM profile_cells c JOIN runs r ON r.run_id = c.run_id
                           WHERE r.backend = 'profile' ORDER BY cell_id""").fetchall()
    con.close()
    check(cells == [(256, 24.3), (512, 46.8)], f"profile cells merged: {cells}")
    r = run("regress", "--db", m, "--baseline", base, "--record")
    check(r.returncode == 0 and os.path.exists(base), "regress --record")
    r = run("regress", "--db", m, "--baseline", base)
    check(r.returncode == 0 and r.stdout.count(" ok") == 3, f"regress passes on the same code: {r.stdout}")
    with open(base) as f:
        bl = json.load(f)
    bl["configs"][0]["sar"] = bl["configs"][0]["sar"] + 0.05
    with open(base, "w") as f:
        json.dump(bl, f)
    r = run("regress", "--db", m, "--baseline", base, "--tolerance", "1")
    check(r.returncode == 1 and "DROPPED" in r.stdout, "regress fails when SAR falls below the baseline")
    r = run("regress", "--db", m, "--baseline", base, "--tolerance", "6")
    check(r.returncode == 0, "within the tolerance")


def test_timeline_validate(tmp):
    trace = os.path.join(tmp, "v.csv")
    gen(trace, "--count", "50", "--seed", "13", "--rate", "4")
    db = os.path.join(tmp, "v.db")
    for extra in ([], ["--noise", "--seed", "2"]):
        r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "rssp", "--db", db, "--quiet", *extra)
        check(r.returncode == 0, f"sim for validate: {r.stderr}")
    r = run("timeline", "--db", db, "--run", "1")
    check(r.returncode == 0, f"timeline: {r.stderr}")
    tl = json.loads(r.stdout)
    slices = [e for e in tl["traceEvents"] if e["ph"] == "X"]
    con = sqlite3.connect(db)
    expect = con.execute("SELECT SUM(degree) FROM segments WHERE run_id=1").fetchone()[0]
    con.close()
    check(len(slices) == expect, "one slice per segment per GPU")
    by_gpu = {}
    for e in slices:
        by_gpu.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    overlap = any(b[0] < a[1] - 1e-6 for v in by_gpu.values() for a, b in zip(sorted(v), sorted(v)[1:]))
    check(not overlap, "no overlapping slices on a GPU track")
    r = run("validate", "--db", db, "--sim", "1", "--exec", "1")
    check(r.returncode == 0 and "median 0.00%" in r.stdout, "a run against itself has no error")
    r = run("validate", "--db", db, "--sim", "1", "--exec", "2")
    check(r.returncode == 0 and "per-step time" in r.stdout and "worst requests" in r.stdout,
          f"validate sim vs noisy: {r.stdout}{r.stderr}")
    other = os.path.join(tmp, "v2.csv")
    gen(other, "--count", "50", "--seed", "14", "--rate", "4")
    r = run("sim", "--trace", other, "--profile", PROFILE, "--policy", "rssp", "--db", db, "--quiet")
    r = run("validate", "--db", db, "--sim", "1", "--exec", "3")
    check(r.returncode == 1 and "not of one trace" in r.stderr, f"validate refuses runs of two traces: {r.stderr}")
    r = run("validate", "--db", db, "--sim", "1", "--exec", "9")
    check(r.returncode == 1 and "no run 9" in r.stderr, "validate names a missing run")


def test_progress(tmp):
    """The progress line: none on a short sim, plain lines with --progress
    (the last one's SAR is the run's), none with --quiet, one line redrawn
    in place when stderr is a terminal."""
    trace = os.path.join(tmp, "p.csv")
    gen(trace, "--count", "80", "--seed", "9", "--rate", "6")
    base = ["sim", "--trace", trace, "--profile", PROFILE, "--gpus", "4", "--no-db"]
    r = run(*base, "--policy", "fixed-sp:1")
    check(r.returncode == 0 and r.stderr == "", f"a short sim prints no progress: {r.stderr!r}")
    sar = json.loads(run(*base, "--policy", "fixed-sp:1", "--json").stdout)["sar"]
    r = run(*base, "--policy", "fixed-sp:1,tetriserve", "--progress", "0")
    lines = r.stderr.splitlines()
    done = [x for x in lines if x.startswith("fixed-sp:1: 80/80 requests") and x.endswith("(done)")]
    check(r.returncode == 0 and len(lines) > 10 and len(done) == 1, f"--progress 0 lines: {lines[-3:]}")
    check(done and f"SAR so far {sar:.3f}" in done[0], f"final SAR {sar:.3f}: {done}")
    check(any(x.startswith("tetriserve: ") for x in lines), "a line per policy")
    r = run(*base, "--policy", "fixed-sp:1", "--progress", "0", "--quiet")
    check(r.returncode == 0 and r.stderr == "" and r.stdout == "", "--quiet: no progress")
    r = run(*base, "--policy", "fixed-sp:1", "--progress", "x")
    check(r.returncode == 2 and "--progress" in r.stderr, f"bad --progress: {r.stderr}")
    master, slave = os.openpty()
    p = subprocess.run([EXE, *base, "--policy", "fixed-sp:1", "--progress", "0"],
                       stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    text = tty.decode()
    check(p.returncode == 0 and "\r" in text and "\x1b[K" in text and text.count("\n") == 1,
          f"terminal: one line redrawn: {text[-200:]!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_help, test_sim_and_db, test_many_resolutions, test_report_merge_regress, test_timeline_validate, test_progress, test_determinism, test_bad_inputs, test_interrupt):
            t(tmp)
    return result("cli")


if __name__ == "__main__":
    sys.exit(main())
