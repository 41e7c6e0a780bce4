#!/usr/bin/env python3
"""`tetriserve regress` works wherever the baseline and the inputs are: the
baseline names its trace and profile relative to its own folder, so a copy of
the inputs and the baseline at another path passes from any working
directory; a path that does not resolve is found by content hash among the
bundled inputs (TETRISERVE_DATA_DIR); a changed input, or a SAR that moves
either way, fails.

usage: test_regress_portable.py TETRISERVE SOURCE_ROOT"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
BASELINE = os.path.join(ROOT, "tests", "regress", "baseline.json")


def regress(baseline, db, *extra, env_data=None, cwd=None):
    env = dict(os.environ)
    env.pop("TETRISERVE_DATA_DIR", None)
    if env_data is not None:
        env["TETRISERVE_DATA_DIR"] = env_data
    return subprocess.run([EXE, "regress", "--db", db, "--baseline", baseline, "--tolerance", "0.5",
                           *extra], capture_output=True, text=True, env=env, cwd=cwd)


def copy_checkout_inputs(dest):
    """The bundled traces and profiles and the baseline, laid out as in the
    repository, under dest; returns the copied baseline's path."""
    shutil.copytree(os.path.join(ROOT, "traces"), os.path.join(dest, "traces"))
    os.makedirs(os.path.join(dest, "tests", "regress"))
    return shutil.copy(BASELINE, os.path.join(dest, "tests", "regress", "baseline.json"))


def configs(path):
    with open(path) as f:
        return json.load(f)["configs"]


def test_other_path(tmp):
    other = os.path.join(tmp, "another place", "checkout")
    base = copy_checkout_inputs(other)
    elsewhere = os.path.join(tmp, "cwd")
    os.makedirs(elsewhere)
    n = len(configs(base))
    r = regress(base, os.path.join(tmp, "a.db"), cwd=elsewhere, env_data=os.path.join(tmp, "empty"))
    check(r.returncode == 0 and r.stdout.count(" ok\n") == n,
          f"regress of a copy at another path, from another folder: rc {r.returncode}\n{r.stdout}{r.stderr}")
    return other


def test_found_by_hash(tmp, other):
    lone = os.path.join(tmp, "lone")
    os.makedirs(lone)
    base = shutil.copy(BASELINE, os.path.join(lone, "baseline.json"))
    n = len(configs(base))
    r = regress(base, os.path.join(tmp, "b.db"), env_data=other)
    check(r.returncode == 0 and r.stdout.count(" ok\n") == n,
          f"inputs that do not resolve are found by hash in TETRISERVE_DATA_DIR: {r.stdout}{r.stderr}")
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    r = regress(base, os.path.join(tmp, "c.db"), env_data=empty)
    first = configs(base)[0]
    check(r.returncode == 1 and first["trace_hash"] in r.stderr and empty in r.stderr
          and first["trace"] in r.stderr,
          f"the error names the file, its hash and the folders searched: {r.stderr}")


def test_tampered_profile(tmp, other):
    base = os.path.join(other, "tests", "regress", "baseline.json")
    prof = os.path.join(other, configs(base)[0]["profile"].replace("../../", ""))
    with open(prof) as f:
        lines = f.read().split("\n")
    cols = lines[[i for i, l in enumerate(lines) if l.startswith("model,")][0]].split(",")
    for i, line in enumerate(lines):
        f = line.split(",")
        if len(f) == len(cols) and f[cols.index("height")] == "1024" and f[cols.index("sp")] == "4":
            f[cols.index("step_ms")] = str(2 * float(f[cols.index("step_ms")]))
            lines[i] = ",".join(f)
    with open(prof, "w") as f:
        f.write("\n".join(lines))
    r = regress(base, os.path.join(tmp, "d.db"))
    recorded = configs(base)[0]["profile_hash"]
    check(r.returncode == 1 and "changed since the baseline was recorded" in r.stderr
          and recorded in r.stderr and "flux-dev_H200_engine.csv" in r.stderr,
          f"a tampered profile cell fails regress, naming the file and both hashes: {r.stderr}")


def test_moves_either_way(tmp):
    d = os.path.join(tmp, "moves")
    base = copy_checkout_inputs(d)
    with open(base) as f:
        doc = json.load(f)
    doc["configs"] = doc["configs"][:2]
    doc["configs"][0]["sar"] -= 0.05   # the code now does better than recorded
    with open(base, "w") as f:
        json.dump(doc, f)
    r = regress(base, os.path.join(tmp, "e.db"))
    check(r.returncode == 1 and "ROSE" in r.stdout and "rose by more than" in r.stderr,
          f"a rise beyond the tolerance fails by default: {r.stdout}{r.stderr}")
    r = regress(base, os.path.join(tmp, "f.db"), "--allow-improvement")
    check(r.returncode == 0 and "rose (allowed)" in r.stdout and "note:" in r.stdout,
          f"--allow-improvement lets a rise pass with a note: {r.stdout}{r.stderr}")
    doc["configs"][0]["sar"] += 0.10
    with open(base, "w") as f:
        json.dump(doc, f)
    r = regress(base, os.path.join(tmp, "g.db"), "--allow-improvement")
    check(r.returncode == 1 and "DROPPED" in r.stdout, f"a drop fails: {r.stdout}{r.stderr}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        other = test_other_path(tmp)
        test_found_by_hash(tmp, other)
        test_tampered_profile(tmp, other)
        test_moves_either_way(tmp)
    return result("test_regress_portable")


if __name__ == "__main__":
    sys.exit(main())
