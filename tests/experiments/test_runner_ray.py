#!/usr/bin/env python3
"""Tests of `python3 -m experiments.runner EXP --ray [ADDRESS]`: on a local
Ray instance the runner starts, and on a cluster this test starts
(ray.init(num_cpus=2)) and names by address, a tiny experiment stores the
same runs as the thread-pool runner (options, hashes, summaries, every
request's outcome); a rerun skips completed points; deleted or incomplete
runs are run again alone; a failing point reports tetriserve's error; and
the task a worker runs needs no checkout of this repository.

Usage: test_runner_ray.py TETRISERVE_EXE SOURCE_ROOT"""
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402
from test_runner import EXE, PROFILE, ROOT, listed, runner, write_experiment  # noqa: E402

POLICIES = ("fixed-sp:1", "rssp")
# Everything a run stores but its id, wall-clock stamps and input paths.
RUN_COLUMNS = ("backend, policy, policy_params, trace_hash, profile_hash, gpus, seed, version, "
               "options, completed, summary")


def runs(db):
    """{(label, policy): (stored run columns, trace file name, profile file
    name, requests, segment count)} of the completed runs."""
    con = sqlite3.connect(db)
    out = {}
    for row in con.execute(f"""SELECT run_id, json_extract(options, '$.label'), {RUN_COLUMNS},
                               trace_name, profile_name FROM runs WHERE completed = 1"""):
        run_id, label, stored, trace, profile = row[0], row[1], row[2:-2], row[-2], row[-1]
        requests = con.execute("""SELECT request_id, height, width, steps, arrival_ns, start_ns, finish_ns,
                                  deadline_ns, met_slo FROM requests WHERE run_id = ? ORDER BY request_id""",
                               (run_id,)).fetchall()
        segments = con.execute("SELECT count(*) FROM segments WHERE run_id = ?", (run_id,)).fetchone()[0]
        out[(label, stored[1])] = (stored, os.path.basename(trace), os.path.basename(profile), requests, segments)
    con.close()
    return out


def same_runs(ray_db, thread_db, what):
    a, b = runs(ray_db), runs(thread_db)
    check(sorted(a) == sorted(b), f"{what}: the same (point, policy) runs: {sorted(a)} vs {sorted(b)}")
    check(all(a[k] == b[k] for k in a if k in b), f"{what}: runs, summaries (SAR) and requests equal")


def test_local_instance(tmp, exp, thread_db):
    """--ray without an address: the runner starts (and stops) its own Ray."""
    db = os.path.join(tmp, "ray.db")
    r = runner(exp, "--seeds", "1", "--db", db, "--ray", "--jobs", "2", "--no-plot")
    check(r.returncode == 0, f"--ray run: {r.stderr}")
    check("3 points to run, 0 already" in r.stderr and "3/3 points" in r.stderr, f"progress: {r.stderr}")
    same_runs(db, thread_db, "local Ray instance vs threads")
    trace_names = {v[1] for v in runs(db).values()}
    check(all(n.startswith("trace-") and n.endswith(".csv") for n in trace_names),
          f"runs name the trace file, not a worker's temporary path: {trace_names}")
    check(not [f for f in os.listdir(tmp) if f.startswith(".ray-")], "no spool folder left")
    return db


def delete_some_runs(db, keys):
    """Deletes keys[0]'s runs and marks keys[1]'s rssp run incomplete (as a
    killed run leaves it); returns the largest run id before."""
    con = sqlite3.connect(db)
    con.execute("DELETE FROM runs WHERE json_extract(options, '$.label') = ?", (keys[0],))
    con.execute("""UPDATE runs SET completed = 0 WHERE json_extract(options, '$.label') = ?
                   AND policy = 'rssp'""", (keys[1],))
    con.commit()
    last = con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
    con.close()
    return last


def runs_after(db, run_id):
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT json_extract(options, '$.label'), policy FROM runs WHERE run_id > ?
                          ORDER BY 1, 2""", (run_id,)).fetchall()
    con.close()
    return rows


def test_cluster(tmp, exp, db, thread_db, address):
    """--ray ADDRESS: rerun skips, resume runs exactly what is missing."""
    before = runs(db)
    r = runner(exp, "--seeds", "1", "--db", db, "--ray", address, "--no-plot")
    check(r.returncode == 0 and "0 points to run, 3 already" in r.stderr, f"rerun skips all: {r.stderr}")
    check(runs(db) == before, "rerun adds no runs")

    keys = listed(exp, "--seeds", "1")
    last = delete_some_runs(db, keys)
    r = runner(exp, "--seeds", "1", "--db", db, "--ray", address, "--no-plot")
    check(r.returncode == 0 and "2 points to run, 1 already" in r.stderr, f"resume on the cluster: {r.stderr}")
    check(runs_after(db, last) == sorted([(keys[0], "fixed-sp:1"), (keys[0], "rssp"), (keys[1], "rssp")]),
          f"only the missing runs ran: {runs_after(db, last)}")
    same_runs(db, thread_db, "after the resume")

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("model,gpu,height,width,sp,step_ms\nflux-dev,H100,256,256,1,30\n")
    r = runner(exp, "--seeds", "1", "--db", os.path.join(tmp, "bad.db"), "--profile", bad,
               "--ray", address, "--no-plot")
    check(r.returncode == 1 and "3 failed" in r.stderr and "on a Ray worker" in r.stderr
          and "--interpolate" in r.stderr, f"failing points report tetriserve's error: {r.stderr}")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# Loads the pickled task and its arguments from stdin and runs it, in a
# Python where this repository cannot be imported.
OUTSIDE = """import importlib.util, pickle, sys
assert importlib.util.find_spec('experiments') is None, 'the checkout is importable'
task = pickle.load(sys.stdin.buffer)
status, err, db = task(*pickle.load(sys.stdin.buffer))
open('out.db', 'wb').write(db)
print(status, err)
"""


def test_task_needs_no_checkout(tmp):
    """The task as Ray ships it (pickled by value) runs in a Python that
    cannot import this repository (-I, another folder) and returns a
    results file holding the point's run."""
    sys.path.insert(0, ROOT)
    from experiments.runner import onray, sandbox
    ray = onray.import_ray()
    task = ray.cloudpickle.dumps(sandbox.run_sim)
    call = (read_bytes(EXE), "t.csv", read_bytes(os.path.join(ROOT, "traces", "small.csv")), "p.csv",
            read_bytes(PROFILE), ["sim", "--trace", "t.csv", "--profile", "p.csv", "--gpus", "4",
                                  "--policy", "rssp", "--db", sandbox.DB, "--quiet"])
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere)
    r = subprocess.run([sys.executable, "-I", "-c", OUTSIDE], cwd=elsewhere, capture_output=True,
                       input=task + pickle.dumps(call), env={"PATH": os.environ.get("PATH", "")})
    check(r.returncode == 0 and r.stdout.decode().startswith("0 "), f"task run outside the checkout: {r.stderr}")
    if r.returncode == 0:
        con = sqlite3.connect(os.path.join(elsewhere, "out.db"))
        got = con.execute("SELECT policy, completed, trace_name, count(*) FROM runs").fetchone()
        con.close()
        check(got == ("rssp", 1, "t.csv", 1), f"its results file holds the run: {got}")


def main():
    start = time.monotonic()
    import ray
    with tempfile.TemporaryDirectory() as tmp:
        exp = write_experiment(tmp, "tiny", 3, 60)
        thread_db = os.path.join(tmp, "threads.db")
        r = runner(exp, "--seeds", "1", "--db", thread_db, "--jobs", "2", "--no-plot")
        check(r.returncode == 0, f"thread-pool run: {r.stderr}")
        db = test_local_instance(tmp, exp, thread_db)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            test_cluster(tmp, exp, db, thread_db, ray.get_runtime_context().gcs_address)
        finally:
            ray.shutdown()
        test_task_needs_no_checkout(tmp)
    return result("experiments runner on Ray", f", {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
