#!/usr/bin/env python3
"""Results files read where the user cannot write: a read-only folder is
read through SQLite's immutable mode only when no WAL holds committed rows
(else a clear refusal naming the WAL, never a short answer); absolute paths
that start with "//" open; and --max-requests does not change what a policy
derives from the trace (its step-time classes are the whole trace's)."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE, SRC = sys.argv[1], sys.argv[2]
TRACE = os.path.join(SRC, "traces", "small.csv")
PROFILE = os.path.join(SRC, "traces", "profiles", "flux-dev_H200_engine.csv")


def run(*args, as_nobody=False):
    cmd = [EXE, *args]
    if as_nobody:  # root writes anywhere: read as an ordinary user
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def make_results(folder):
    db = os.path.join(folder, "r.db")
    r = run("sim", "--trace", TRACE, "--profile", PROFILE, "--policy", "fixed-sp:1,fixed-sp:2", "--db", db)
    check(r.returncode == 0, f"sim: {r.stderr}")
    return db


def leave_wal_data(db):
    """Commits one change that stays in PATH-wal: a process that exits
    without closing its connection (closing would checkpoint)."""
    code = ("import os, sqlite3, sys\n"
            "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "con.execute('PRAGMA wal_autocheckpoint=0')\n"
            "con.execute('CREATE TABLE wal_probe(a)')\n"
            "con.execute('INSERT INTO wal_probe VALUES (1)')\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, db], check=True)
    if os.path.exists(db + "-shm"):
        os.remove(db + "-shm")
    return os.path.getsize(db + "-wal") > 0


def test_read_only_folder(tmp):
    if os.geteuid() == 0 and subprocess.run(["setpriv", "--help"], capture_output=True).returncode != 0:
        print("read-only folder: skipped (root without setpriv)")
        return
    folder = os.path.join(tmp, "ro")
    os.mkdir(folder)
    db = make_results(folder)
    os.chmod(tmp, 0o755)
    os.chmod(folder, 0o555)
    nobody = os.geteuid() == 0
    try:
        r = run("report", "--db", db, as_nobody=nobody)
        check(r.returncode == 0 and "fixed-sp:1" in r.stdout and "fixed-sp:2" in r.stdout,
              f"report of a file in a read-only folder: {r.returncode} {r.stderr}")
        os.chmod(folder, 0o755)
        has_wal = leave_wal_data(db)
        check(has_wal, "the WAL holds the committed change")
        os.chmod(db + "-wal", 0o644)
        os.chmod(folder, 0o555)
        r = run("report", "--db", db, as_nobody=nobody)
        check(r.returncode == 1 and "r.db-wal" in r.stderr and "read-only" in r.stderr,
              f"committed rows in the WAL are never skipped: {r.returncode} {r.stdout} {r.stderr}")
    finally:
        os.chmod(folder, 0o755)


def test_double_slash(tmp):
    db = make_results(tmp)
    r = run("report", "--db", "/" + os.path.abspath(db))
    check(r.returncode == 0 and "fixed-sp:2" in r.stdout, f"report --db //...: {r.stderr}")


def test_prefix_keeps_classes(tmp):
    db = os.path.join(tmp, "prefix.db")
    for extra in ([], ["--max-requests", "2"]):
        r = run("sim", "--trace", TRACE, "--profile", PROFILE, "--policy", "tetriserve,rssp", "--db", db, *extra)
        check(r.returncode == 0, f"sim {extra}: {r.stderr}")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT policy, policy_params FROM runs ORDER BY run_id").fetchall()
    con.close()
    whole, prefix = rows[:2], rows[2:]
    for (p1, a), (p2, b) in zip(whole, prefix):
        check(p1 == p2 and json.loads(a) == json.loads(b),
              f"{p1}: parameters with --max-requests 2 equal the whole trace's: {a} vs {b}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_double_slash(tmp)
        test_prefix_keeps_classes(tmp)
        test_read_only_folder(tmp)
    return result("results_access")


if __name__ == "__main__":
    sys.exit(main())
