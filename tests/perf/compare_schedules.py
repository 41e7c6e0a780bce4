#!/usr/bin/env python3
"""compare_schedules.py: do two tetriserve binaries make the same scheduling
decisions? Runs both on the bundled traces (and optional extra traces) under
every policy configuration below, and compares per run: each request's
outcome (start, finish, drop time, status) and its segments, with the
contiguous pieces of a request on one GPU set (same batch, each starting at
the previous one's end, steps following on) merged into one. So a request
that one binary runs round by round and the other in one launch (tetriserve's
solo launch, docs/SCHEDULER.md) compares equal when it ran the same steps on
the same GPUs at the same times.

usage: compare_schedules.py OLD_BINARY NEW_BINARY [--extra TRACE ...] [--raw]
                            [--new-items ITEMS]
  --raw        compare the segment rows as stored, without merging
  --new-items  append ITEMS to every tetriserve spec of the new binary's runs
               (e.g. ":solo=off" with --raw: the same launches, one by one)
Exit status 0 when every configuration agrees; else the first differences
are printed. Needs only the Python standard library.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACES = ["traces/default.csv", "traces/skewed.csv", "traces/bursty.csv"]
PROFILES = ["traces/profiles/flux-dev_H200_engine.csv", "traces/profiles/sd3-medium_H200.csv"]
TETRI = ("tetriserve,tetriserve:late=drop,tetriserve:elastic=off,tetriserve:placement=off,"
         "tetriserve:batching=off,tetriserve:round_ms=80")


def policies(gpus):
    """The policies that run on a node of this many GPUs (rssp's default map
    needs SP 4, the profiles stop at SP 4)."""
    k = min(gpus, 4)
    base = f"fixed-sp:1,fixed-sp:{k},fixed-sp:{k}:order=edf:late=defer"
    return base + (",rssp" if gpus == 4 else "") + "," + TETRI


def configs(extra):
    for trace in TRACES + extra:
        for profile in PROFILES:
            for gpus in (1, 2, 4, 8):
                for slo in ("1", "2.5"):
                    yield [f"--trace={trace}", f"--profile={profile}", f"--gpus={gpus}",
                           f"--slo-scale={slo}", f"--policy={policies(gpus)}"]


def with_items(args, items):
    """args with items appended to each tetriserve spec of --policy."""
    out = []
    for a in args:
        if a.startswith("--policy="):
            specs = a[len("--policy="):].split(",")
            a = "--policy=" + ",".join(p + items if p.startswith("tetriserve") else p
                                       for p in specs)
        out.append(a)
    return out


def run(binary, args, db, items=""):
    args = with_items(args, items)
    cmd = [binary, "sim", *args, f"--db={db}", "--quiet", "--interpolate"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        return p.stderr.strip()
    return None


def merged(rows):
    out = []
    for r in rows:
        req, kind, gpus, first, n, batch, start, end = r
        if out and kind == "steps":
            p = out[-1]
            if (p[0] == req and p[1] == "steps" and p[2] == gpus and p[5] == batch
                    and p[7] == start and p[3] + p[4] == first):
                out[-1] = (req, kind, gpus, p[3], p[4] + n, batch, p[6], end)
                continue
        out.append(tuple(r))
    return out


def load(db, raw):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    runs = []
    for run_id, policy in con.execute("SELECT run_id, policy FROM runs ORDER BY run_id"):
        reqs = con.execute("SELECT request_id, start_ns, finish_ns, dropped_ns, status FROM requests"
                           " WHERE run_id = ? ORDER BY request_id", (run_id,)).fetchall()
        segs = con.execute("SELECT request_id, kind, gpus, first_step, nsteps, batch, start_ns,"
                           " end_ns FROM segments WHERE run_id = ? ORDER BY request_id, start_ns,"
                           " kind = 'steps'", (run_id,)).fetchall()
        runs.append((policy, reqs, segs if raw else merged(segs)))
    con.close()
    return runs


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"row {i}: {x} != {y}"
    return f"{len(a)} rows != {len(b)} rows"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--new-items", default="")
    a = ap.parse_args()
    bad = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(configs([os.path.abspath(t) for t in a.extra])):
            dbs = [os.path.join(tmp, f"{i}_{side}.db") for side in ("old", "new")]
            errs = [run(os.path.abspath(a.old), args, dbs[0]),
                    run(os.path.abspath(a.new), args, dbs[1], a.new_items)]
            total += 1
            if errs[0] or errs[1]:
                bad += 1
                print(f"FAILED {' '.join(args)}: {errs}")
                continue
            old, new = (load(db, a.raw) for db in dbs)
            if len(old) != len(new):
                bad += 1
                print(f"DIFF {' '.join(args)}: {len(old)} runs != {len(new)} runs")
            for (policy, *x_rows), (_, *y_rows) in zip(old, new):
                for what, x, y in zip(("requests", "segments"), x_rows, y_rows):
                    if x != y:
                        bad += 1
                        print(f"DIFF {' '.join(args)} {policy} {what}: {first_diff(x, y)}")
            for db in dbs:
                os.remove(db)
    print(f"{total} configurations, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
