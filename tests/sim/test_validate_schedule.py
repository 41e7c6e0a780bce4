#!/usr/bin/env python3
"""`tetriserve validate` names where two schedules of one trace first differ:
the same run twice gives "the same launches", and so does a run with noise
within the driver's window (decisions are made on model time); a run whose
1024x1024 steps take 10% longer (a profile edited so) differs, and validate
names the request and time that an independent walk over the segments
tables finds as the earliest differing launch (GPU set, first step, steps).
A divergence that no launch's duration explains is called a fault of the
model-time rule, unless the driver of the second run recorded a launch
outside its window before it (its summary's first_window_miss: a launch
the executor started late), which is then named as the cause."""
import json
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


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True)


def first_difference(db, a, b):
    """(time, request) of the earliest launch that differs, or None."""
    con = sqlite3.connect(db)
    def launches(run_id):
        out = {}
        for r, g, f, n, t in con.execute(
                "SELECT request_id, gpus, first_step, nsteps, start_ns FROM segments"
                " WHERE run_id = ? AND kind = 'steps' ORDER BY request_id, first_step", (run_id,)):
            out.setdefault(r, []).append(((g, f, n), t))
        return out
    la, lb = launches(a), launches(b)
    con.close()
    best = None
    for r in set(la) | set(lb):
        xa, xb = la.get(r, []), lb.get(r, [])
        for k in range(max(len(xa), len(xb))):
            pa = xa[k] if k < len(xa) else None
            pb = xb[k] if k < len(xb) else None
            if pa is None or pb is None or pa[0] != pb[0]:
                t = min(p[1] for p in (pa, pb) if p)
                if best is None or t < best[0]:
                    best = (t, r)
                break
    return best


def edited_profile(path, slower_1024=False):
    """The test profile with a CV of 1% a step (so noise leaves a launch
    within the driver's window of max(2 ms, 5%): 5 standard deviations even
    for one step), and with slower_1024 every 1024x1024 step 10% longer."""
    out = []
    with open(PROFILE) as f:
        for line in f:
            p = line.rstrip("\n").split(",")
            if len(p) == 7 and p[0] != "model":
                p[6] = "0.01"
                if slower_1024 and p[2] == "1024":
                    p[5] = str(float(p[5]) * 1.1)
            out.append(",".join(p))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "t.csv")
        db = os.path.join(tmp, "v.db")
        calm, slow = os.path.join(tmp, "calm.csv"), os.path.join(tmp, "slow.csv")
        edited_profile(calm)
        edited_profile(slow, slower_1024=True)
        r = run("trace", "gen", "--out", trace, "--count", "60", "--seed", "5", "--rate", "12")
        check(r.returncode == 0, f"trace gen: {r.stderr}")
        for extra in ([], ["--noise", "--seed", "3"], [], ["--profile", slow]):
            r = run("sim", "--trace", trace, "--profile", calm, "--gpus", "4", "--policy", "tetriserve",
                    "--db", db, "--quiet", *extra)
            check(r.returncode == 0, f"sim {extra}: {r.stderr}")
        r = run("validate", "--db", db, "--sim", "1", "--exec", "3")
        check(r.returncode == 0 and "the same launches" in r.stdout, f"a run against its replay: {r.stdout}")
        r = run("validate", "--db", db, "--sim", "1", "--exec", "2")
        check(r.returncode == 0 and "the same launches" in r.stdout, f"a run against a noisy one: {r.stdout}")
        r = run("validate", "--db", db, "--sim", "1", "--exec", "4")
        m = re.search(r"schedules differ for (\d+) request\(s\); first at t=([0-9.]+) s, request (\d+):", r.stdout)
        check(r.returncode == 0 and m is not None, f"validate against the noisy run: {r.stdout}{r.stderr}")
        expect = first_difference(db, 1, 4)
        check(expect is not None, "the slower run's schedule differs (else the test proves nothing)")
        if m and expect:
            check(int(m.group(3)) == expect[1], f"first differing request {m.group(3)}, expected {expect[1]}")
            check(abs(float(m.group(2)) - expect[0] / 1e9) < 1e-4,
                  f"first difference at {m.group(2)} s, expected {expect[0] / 1e9:.4f}")
            check(re.search(r"\n  sim:  .*\n  exec: ", r.stdout) is not None, "both runs' launches printed")
        test_driver_recorded_cause(db, tmp)
    return result("validate_schedule")


def test_driver_recorded_cause(db, tmp):
    """Run 3 (a replay of run 1) gets one launch moved to other GPUs by hand:
    nothing in the durations explains it; then its summary records an
    earlier launch the driver saw outside the window."""
    edited = os.path.join(tmp, "edited.db")
    con = sqlite3.connect(db)
    con.execute("VACUUM INTO ?", (edited,))
    con.close()
    con = sqlite3.connect(edited)
    rows = con.execute("SELECT rowid, request_id, gpus, start_ns FROM segments WHERE run_id = 3 AND "
                       "kind = 'steps' AND degree = 1 ORDER BY start_ns").fetchall()
    check(len(rows) > 2, f"run 3 has launches on one GPU: {len(rows)}")
    rowid, req, gpus, start = rows[len(rows) // 2]
    other = 1 if gpus != 1 else 2
    con.execute("UPDATE segments SET gpus = ?, gpu_list = ? WHERE rowid = ?",
                (other, str(other.bit_length() - 1), rowid))
    con.commit()
    r = run("validate", "--db", edited, "--sim", "1", "--exec", "3")
    check("fault of the model-time rule" in r.stdout,
          f"an unexplained divergence is called a fault: {r.stdout[-1500:]}")
    first = con.execute("SELECT request_id, first_step, nsteps, gpus, start_ns, end_ns FROM segments "
                        "WHERE run_id = 3 AND kind = 'steps' ORDER BY start_ns LIMIT 1").fetchone()
    modelled = (first[5] - first[4]) / 1e6
    summary = json.loads(con.execute("SELECT summary FROM runs WHERE run_id = 3").fetchone()[0])

    def record_miss(issued_ns):
        miss = {"request": first[0], "first_step": first[1], "steps": first[2], "gpus": first[3],
                "start_s": issued_ns / 1e9, "issued_s": issued_ns / 1e9, "observed_ms": modelled + 7.5,
                "modelled_ms": modelled}
        summary.update(window_misses=2, first_window_miss=miss)
        con.execute("UPDATE runs SET summary = ? WHERE run_id = 3", (json.dumps(summary),))
        con.commit()
        return run("validate", "--db", edited, "--sim", "1", "--exec", "3")

    r = record_miss(first[4])
    want = f"cause: the hardware launch of request {first[0]}, "
    check(want in r.stdout and "the first the driver recorded outside its window" in r.stdout
          and "fault of" not in r.stdout and "; 2 recorded by the driver" in r.stdout,
          f"the driver's recorded miss is named: {r.stdout[-1500:]}")
    rep = json.loads(run("report", "--db", edited, "--format", "json").stdout)
    stored = [x for x in rep if x["run_id"] == 3]
    check(len(stored) == 1 and stored[0]["window_misses"] == 2 and
          stored[0]["first_window_miss"]["request"] == first[0],
          f"report shows the stored misses: {stored}")
    r = record_miss(start + 1)
    check("fault of the model-time rule" in r.stdout,
          f"a miss after the divergence explains nothing: {r.stdout[-1500:]}")
    con.close()


if __name__ == "__main__":
    sys.exit(main())
