#!/usr/bin/env python3
"""No tracked file may hold an absolute path of the machine it was written
on: a checkout's own folder, a home or work folder. Such a path passes on that
machine and fails for every other user (a baseline that opens it, a doc that
tells users to run it). Binary files (SQLite results) are scanned too.

usage: test_tracked_paths.py SOURCE_ROOT"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

ROOT = os.path.realpath(sys.argv[1])
SELF = os.path.relpath(os.path.realpath(__file__), ROOT)
# Folders that hold checkouts and outputs on the machines we and our users
# work on; a path into one of them is someone's machine.
MACHINE_PATH = re.compile(rb"(?<![A-Za-z0-9_.~$-])/(?:work|home|root|Users|mnt|scratch|srv)/[A-Za-z0-9_.-]+")


def tracked_files():
    """The files git tracks under ROOT, or every file when ROOT is no checkout."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, check=True)
        return [p for p in out.stdout.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, subdirs, names in os.walk(ROOT):
            subdirs[:] = [s for s in subdirs if not s.startswith((".", "build"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return files


def offending_lines(path):
    """(line number, matched text) of every machine path in the file."""
    with open(os.path.join(ROOT, path), "rb") as f:
        data = f.read()
    own = ROOT.encode()
    hits = []
    for no, line in enumerate(data.split(b"\n"), 1):
        found = [m.group().decode(errors="replace") for m in MACHINE_PATH.finditer(line)]
        if not found and own != b"/" and own in line:
            found = [ROOT]
        hits += [(no, text) for text in found]
    return hits


def main():
    files = tracked_files()
    check(len(files) > 10, f"found the tracked files of {ROOT} ({len(files)})")
    for path in files:
        if path == SELF or not os.path.isfile(os.path.join(ROOT, path)):
            continue
        hits = offending_lines(path)
        check(not hits, "; ".join(f"{path}:{no}: absolute path of a machine: {text}" for no, text in hits))
    return result("test_tracked_paths")


if __name__ == "__main__":
    sys.exit(main())
