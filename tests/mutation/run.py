#!/usr/bin/env python3
"""Mutation run: do the CPU tests notice when the code is wrong?

Each mutation of tests/mutation/mutations.txt (a file, a snippet that occurs
exactly once in it, its replacement, the behaviour it breaks and the test
that should notice) is applied, one at a time, to a scratch copy of this
checkout (never to the checkout itself), built incrementally with ninja, and
the CPU suites run on it, fastest first, stopping at the first failure. A
mutation is killed when a test fails (or the build, or the time limit), and
survives when every test passes. Prints one line per mutation and the score:
killed / (mutations - those marked equivalent). Exits 1 when a mutation not
marked equivalent survives, or one marked equivalent is killed.

  python3 tests/mutation/run.py                 # every mutation (slow: docs/TESTING.md)
  python3 tests/mutation/run.py --only late-boundary,noise-clip
  python3 tests/mutation/run.py --check         # the list is well formed (quick; in CI)

docs/TESTING.md says how long a run takes and what it scored."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LIST = os.path.join("tests", "mutation", "mutations.txt")
FIELDS = ("id", "file", "find", "replace", "what", "pinned", "equivalent")
REQUIRED = ("id", "file", "find", "replace", "what")
SUITES = "sched,sim,unit,cli"


class ListError(Exception):
    pass


def parse(text, where=LIST):
    """The mutations of the list's text: dicts of FIELDS, in order."""
    muts, cur = [], None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            cur = None
            continue
        m = re.match(r"([a-z]+): ?(.*)$", line)
        if not m or m.group(1) not in FIELDS:
            raise ListError(f"{where}:{n}: expected 'FIELD: value' with FIELD one of {', '.join(FIELDS)}")
        if cur is None:
            cur = {"line": n}
            muts.append(cur)
        if m.group(1) in cur:
            raise ListError(f"{where}:{n}: {m.group(1)} given twice in one mutation")
        cur[m.group(1)] = m.group(2)
    return muts


def check(muts, root, where=LIST):
    """Problems of the list against the source tree at root (empty: none)."""
    bad, seen = [], set()
    for m in muts:
        name = f"{where}:{m['line']}: {m.get('id', '?')}"
        missing = [f for f in REQUIRED if not m.get(f)]
        if missing:
            bad.append(f"{name}: missing {', '.join(missing)}")
            continue
        if m["id"] in seen:
            bad.append(f"{name}: id used twice")
        seen.add(m["id"])
        if ("pinned" in m) == ("equivalent" in m):
            bad.append(f"{name}: needs either 'pinned:' (the test that kills it) or 'equivalent:' (why none can)")
        if m["find"] == m["replace"]:
            bad.append(f"{name}: the replacement equals the snippet")
        path = os.path.join(root, m["file"])
        if not os.path.isfile(path):
            bad.append(f"{name}: no file {m['file']}")
            continue
        with open(path, encoding="utf-8") as f:
            count = f.read().count(m["find"])
        if count != 1:
            bad.append(f"{name}: the snippet occurs {count} times in {m['file']} (must be once): {m['find']!r}")
        bad += check_pinned(m, root, name)
    return bad


def check_pinned(m, root, name):
    """'pinned: PATH (FUNCTION)': the test file exists and holds the function."""
    if "pinned" not in m:
        return []
    p = re.match(r"(\S+)(?: \((\w+)\))?$", m["pinned"])
    if not p:
        return [f"{name}: pinned must read 'tests/PATH' or 'tests/PATH (function)'"]
    path = os.path.join(root, p.group(1))
    if not os.path.isfile(path):
        return [f"{name}: pinned test {p.group(1)} does not exist"]
    with open(path, encoding="utf-8") as f:
        if p.group(2) and p.group(2) not in f.read():
            return [f"{name}: {p.group(2)} is not in {p.group(1)}"]
    return []


def scratch_copy(root, dest):
    """Copies the checkout's tracked and untracked-but-not-ignored files
    (what .ci/run tests) to dest/src."""
    files = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout.split(b"\0")
    tar = os.path.join(dest, "src.tar")
    with tarfile.open(tar, "w") as t:
        for f in files:
            name = f.decode()
            if name and os.path.lexists(os.path.join(root, name)):
                t.add(os.path.join(root, name), arcname=name, recursive=False)
    src = os.path.join(dest, "src")
    with tarfile.open(tar) as t:
        t.extractall(src)
    os.remove(tar)
    # a repository of its own, so tests that ask git for the files see them
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=src, check=True, capture_output=True)
    return src


def sh(cmd, log, timeout=None, cwd=None):
    """Runs cmd with its output appended to log; its exit code, or None on timeout."""
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd).returncode
        except subprocess.TimeoutExpired:
            return None


def first_failure(log):
    """The first failing test named in a meson test log (or '?')."""
    with open(log) as f:
        for line in f:
            m = re.search(r"tetriserve:(\S+ / \S+)\s+(FAIL|TIMEOUT|ERROR)", line)
            if m:
                return m.group(1)
    return "?"


def run_suites(build, suites, log, deadline):
    """'passed', or what killed it: the first failing test or 'timeout'."""
    for suite in suites:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        rc = sh(["meson", "test", "-C", build, "--no-rebuild", "--maxfail", "1", "--num-processes", "2",
                 "--suite", suite], log, timeout=left)
        if rc is None:
            return "timeout"
        if rc:
            return first_failure(log)
    return "passed"


def try_mutation(m, src, build, suites, timeout, logs):
    """Applies m in the scratch copy, builds, tests, restores: (outcome, detail)."""
    log = os.path.join(logs, m["id"] + ".log")
    path = os.path.join(src, m["file"])
    with open(path, encoding="utf-8") as f:
        original = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(original.replace(m["find"], m["replace"], 1))
    try:
        deadline = time.monotonic() + timeout
        rc = sh(["ninja", "-C", build], log, timeout=timeout)
        if rc is None:
            return "killed", "timeout (build)"
        if rc:
            return "killed", "build failed"
        r = run_suites(build, suites, log, deadline)
        return ("survived", "every test passed") if r == "passed" else ("killed", r)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)


def setup_scratch(root, keep, meson_args):
    """The scratch copy built and its suites passing unmutated: (src, build, logs, top)."""
    top = tempfile.mkdtemp(prefix="tetriserve-mutation-")
    print(f"scratch copy: {top}" + ("" if keep else " (removed at the end; --keep keeps it)"), flush=True)
    src = scratch_copy(root, top)
    build, logs = os.path.join(src, "build-mutation"), os.path.join(top, "logs")
    os.makedirs(logs)
    log = os.path.join(logs, "baseline.log")
    if sh(["meson", "setup", build, *meson_args], log, cwd=src) or sh(["ninja", "-C", build], log):
        raise SystemExit(f"run.py: the unmutated scratch copy does not build: see {log}")
    return src, build, logs, top


def report(results, muts, started):
    """Prints the table and the score; returns the exit status."""
    print()
    status, killed, counted = 0, 0, 0
    for m, (outcome, detail) in zip(muts, results):
        equivalent = "equivalent" in m
        mark = outcome
        if equivalent and outcome == "survived":
            mark = "equivalent"
        elif equivalent:
            mark, status = "KILLED (marked equivalent: fix the list)", 1
        elif outcome == "survived":
            mark, status = "SURVIVED", 1
        counted += not equivalent
        killed += outcome == "killed" and not equivalent
        print(f"{m['id']:<26} {mark:<12} {detail:<34} {m['what']}")
    score = killed / counted if counted else 1.0
    print(f"\n{killed} killed of {counted} (score {score:.0%}), "
          f"{sum('equivalent' in m for m in muts)} marked equivalent; {time.monotonic() - started:.0f} s")
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check the list against the sources")
    ap.add_argument("--root", default=ROOT, help="checkout to copy (default: this one)")
    ap.add_argument("--only", help="comma-separated ids to run")
    ap.add_argument("--suites", default=SUITES, help=f"meson suites, run in this order (default {SUITES})")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutation, build and tests (900)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy and its logs")
    ap.add_argument("--meson-arg", action="append", default=[],
                    help="extra argument of meson setup for the scratch build (always -Dcuda=disabled)")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    with open(os.path.join(root, LIST), encoding="utf-8") as f:
        try:
            muts = parse(f.read())
        except ListError as e:
            raise SystemExit(f"run.py: {e}")
    bad = check(muts, root)
    for b in bad:
        print(b, file=sys.stderr)
    if a.check:
        print(f"mutation list: {len(muts)} mutations, {len(bad)} problems")
        return 1 if bad else 0
    if bad:
        return 1
    if a.only:
        wanted = set(a.only.split(","))
        unknown = wanted - {m["id"] for m in muts}
        if unknown:
            raise SystemExit(f"run.py: no mutation named {', '.join(sorted(unknown))}")
        muts = [m for m in muts if m["id"] in wanted]
    started = time.monotonic()
    src, build, logs, top = setup_scratch(root, a.keep, ["-Dcuda=disabled", *a.meson_arg])
    suites = a.suites.split(",")
    if run_suites(build, suites, os.path.join(logs, "baseline.log"), time.monotonic() + 3 * a.timeout) != "passed":
        raise SystemExit(f"run.py: the suites fail without any mutation: see {logs}/baseline.log")
    print(f"unmutated build and suites: {time.monotonic() - started:.0f} s", flush=True)
    results = []
    for i, m in enumerate(muts, 1):
        t0 = time.monotonic()
        results.append(try_mutation(m, src, build, suites, a.timeout, logs))
        print(f"[{i}/{len(muts)}] {m['id']}: {results[-1][0]} ({results[-1][1]}, {time.monotonic() - t0:.0f} s)",
              flush=True)
    status = report(results, muts, started)
    if not a.keep:
        shutil.rmtree(top, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
