"""What a Ray worker runs for one point (onray.py): tetriserve in a fresh
temporary folder holding the binary and the input files, shipped as bytes.
Standard library only and pickled by value, so a worker needs no checkout
of this repository: only Python, Ray, and the shared libraries the binary
links (GSL, SQLite, jansson; `ldd tetriserve` lists them)."""

import os
import sqlite3
import subprocess
import tempfile

EXE = "tetriserve"
DB = "results.db"


def _write(folder: str, name: str, data: bytes, mode: int = 0o644) -> None:
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _self_contained(path: str) -> bytes:
    """The bytes of a SQLite file with its write-ahead log folded in (the
    store writes in WAL mode), or None when the file was not created."""
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    with open(path, "rb") as f:
        return f.read()


def run_sim(exe: bytes, trace_name: str, trace: bytes, profile_name: str, profile: bytes,
            args: list) -> tuple:
    """Runs `tetriserve ARGS` (which names the inputs by trace_name and
    profile_name and writes --db results.db) in a temporary folder; returns
    (exit status, stderr, bytes of results.db or None). The results file
    comes back even when the command failed, holding the runs that
    completed before the failure."""
    with tempfile.TemporaryDirectory(prefix="tetriserve-point-") as folder:
        _write(folder, EXE, exe, 0o755)
        _write(folder, trace_name, trace)
        _write(folder, profile_name, profile)
        proc = subprocess.run([os.path.join(folder, EXE), *args], cwd=folder, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stderr, _self_contained(os.path.join(folder, DB))
