#!/usr/bin/env python3
"""Tests of what the fair comparison added to the experiment runner: the
rssp map search (candidates, choice, tuning on seeds apart from the
evaluation's, its cache, resolved points and their aliases), points with a
profile of their own, the fair tables' best-of choice, and the rules that
carry SLOs and load from one model to another (runner/scaling.py).

Usage: test_mapsearch.py TETRISERVE_EXE SOURCE_ROOT"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
sys.path.insert(0, ROOT)
PROFILE_REL = "tests/data/profile_small.csv"
PROFILE = os.path.join(ROOT, PROFILE_REL)

from experiments.runner import mapsearch, scaling  # noqa: E402
from experiments.runner.errors import UsageError  # noqa: E402
from experiments.runner.point import Point, file_hash  # noqa: E402

SEARCH = "rssp-search:order=edf:late=defer"
EXPERIMENT = '''
from experiments.runner import expand_seeds, fair
from experiments.runner.tables import markdown

TITLE = "search"
POLICIES = ("fixed-sp:1", "{search}")


def points(quick, seeds):
    return [p for rate in (20, 40) for p in expand_seeds(
        seeds, trace={{"rate": rate, "res": "256,1024", "count": 80}}, sim={{"gpus": 4}},
        policies=POLICIES, tag=f"r{{rate}}", params={{"rate": rate}}, profile="{profile}")]


def plot(res, plt, outdir):
    raise AssertionError("the tests run without figures")


def table(res):
    return fair.map_table(res, [(f"{{r}}/min", {{"rate": r}}) for r in (20, 40)])
'''
NO_MPL = "import sys; sys.modules['matplotlib'] = None; from experiments.runner.cli import main; sys.exit(main())"


def test_units():
    maps = mapsearch.candidate_maps((256, 512), (1, 2, 4))
    check(len(maps) == 9 and len(set(maps)) == 9 and maps[0] == "rssp:256=1,512=1"
          and maps[-1] == "rssp:256=4,512=4", f"candidates: {maps}")
    check(mapsearch.profile_degrees(PROFILE, 2) == (1, 2) and mapsearch.profile_degrees(PROFILE, 8) == (1, 2, 4),
          "degrees: the profile's, capped at the node")
    check(mapsearch.resolutions({"res": 256}) == (256,) and mapsearch.resolutions({"res": "256,1024"}) == (256, 1024)
          and mapsearch.resolutions({"mix": "uniform"}) == (256, 512, 1024, 2048), "resolutions of a trace")
    sars = {"rssp:256=4,512=4": [0.5, 0.7], "rssp:256=1,512=2": [0.7, 0.5], "rssp:256=2,512=1": [0.6, 0.6],
            "rssp:256=1,512=1": [0.1, 0.2]}
    check(mapsearch.choose(sars) == "rssp:256=1,512=2", "ties go to the fewest GPUs, then spec order")
    check(mapsearch.choose({"rssp:256=4:order=edf": [0.9], "rssp:256=1:order=edf": [0.8]}) == "rssp:256=4:order=edf",
          "the highest mean wins over fewer GPUs")
    p = Point(trace={"rate": 6}, sim={"gpus": 4}, policies=(SEARCH,), seed=mapsearch.TUNE_SEEDS[0], tag="t")
    try:
        mapsearch.resolve([p], {}, "h")
        check(False, "an evaluation point on a tuning seed is refused")
    except UsageError as e:
        check("tuning seed" in str(e), f"refusal names the cause: {e}")


def test_scaling(tmp):
    half = os.path.join(tmp, "half.csv")
    with open(PROFILE) as src, open(half, "w") as dst:
        for line in src:
            if line[0].isdigit() or line.startswith("flux"):
                f = line.rstrip("\n").split(",")
                f[5] = str(float(f[5]) / 2)
                line = ",".join(f) + "\n"
            dst.write(line)
    check(abs(scaling.slo_factor(PROFILE, PROFILE, 4) - 1) < 1e-12, "same profile: factor 1")
    check(abs(scaling.slo_factor(PROFILE, half, 4) - 0.5) < 1e-9, "steps halved: SLOs halved")
    check(abs(scaling.rate_factor(PROFILE, half) - 2) < 1e-9, "steps halved: twice the rate")
    check(abs(scaling.sp1_capacity_per_min(PROFILE, 256, 4) - 4 * 60 / 1.5) < 1e-9,
          "capacity: 4 GPUs / (50 x 30 ms)")


def runner(exp, db, *args):
    cmd = [sys.executable, "-c", NO_MPL, exp, "--exe", EXE, "--profile", os.path.join(ROOT, "traces", "profiles",
           "flux-dev_H200_engine.csv"), "--db", db, "--seeds", "2", "--jobs", "2", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def stored(db):
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT json_extract(options, '$.label'), policy, seed, profile_name FROM runs
                          WHERE completed = 1""").fetchall()
    con.close()
    return rows


def check_choices(tune_dir, runs):
    """Each point runs its setting's argmax over the cached tuning SARs."""
    by_setting = {}
    for name in os.listdir(tune_dir):
        with open(os.path.join(tune_dir, name)) as f:
            sars = json.load(f)
        by_setting.setdefault(name.split("-s")[0], []).append(sars)
    check(sorted(len(v) for v in by_setting.values()) == [3, 3], f"3 tuning seeds a setting: {by_setting.keys()}")
    for tag, runs_of in by_setting.items():
        merged = {spec: [r[spec] for r in runs_of] for spec in runs_of[0]}
        best = mapsearch.choose(merged)
        check(len(merged) == 9 and all(s.endswith(":order=edf:late=defer") for s in merged), "9 candidate specs")
        mine = {pol for label, pol, _, _ in runs if label.startswith(tag.replace("tune-", "")) and pol.startswith("rssp")}
        check(mine == {best}, f"{tag}: points ran the argmax {best}: {mine}")
    return by_setting


def test_end_to_end(tmp):
    folder = os.path.join(tmp, "search")
    os.makedirs(folder)
    exp = os.path.join(folder, "experiment.py")
    with open(exp, "w") as f:
        f.write(EXPERIMENT.format(search=SEARCH, profile=PROFILE_REL))
    db = os.path.join(tmp, "search.db")
    r = runner(exp, db)
    check(r.returncode == 0 and "map search: 6 tuning runs (0 cached)" in r.stderr, f"first run: {r.stderr}")
    runs = stored(db)
    check(len(runs) == 8 and {seed for _, _, seed, _ in runs} == {1, 2}, f"evaluation seeds only: {runs}")
    check(all(prof == PROFILE for *_, prof in runs), "points ran on their own profile")
    check(not any(pol.startswith("rssp-search") for _, pol, _, _ in runs), "the chosen spec is stored, not the entry")
    tune_dir = os.path.join(folder, ".cache", "tune")
    by_setting = check_choices(tune_dir, runs)
    # a cached tuning value is the SAR of a direct sim of that map on the tuning trace
    one = sorted(os.listdir(tune_dir))[0]
    with open(os.path.join(tune_dir, one)) as f:
        sars = json.load(f)
    seed = int(one.split("-s")[1].split("-")[0])
    traces = os.path.join(folder, ".cache", "traces")
    spec = sorted(sars)[4]
    direct = []
    for t in os.listdir(traces):
        d = subprocess.run([EXE, "sim", "--trace", os.path.join(traces, t), "--profile", PROFILE, "--gpus", "4",
                            "--seed", str(seed), "--policy", spec, "--no-db", "--json"], capture_output=True, text=True)
        out = json.loads(d.stdout)
        direct.append((out[0] if isinstance(out, list) else out)["sar"])
    check(sars[spec] in direct, f"cached SAR {sars[spec]} is a direct sim's: {direct}")
    check("| 20/min | 256=" in r.stdout and "| 40/min | 256=" in r.stdout, f"map table: {r.stdout}")
    key_hash = file_hash(PROFILE)
    check(all(key_hash for _ in by_setting), "profile hash")
    r = runner(exp, db)
    check(r.returncode == 0 and "map search" not in r.stderr and "0 points to run, 4 already" in r.stderr,
          f"rerun: tunings cached, nothing runs: {r.stderr}")
    check(sorted(stored(db)) == sorted(runs), "rerun adds no runs")
    r = runner(exp, db, "--plot-only")
    check(r.returncode == 0 and "| 20/min | 256=" in r.stdout, "--plot-only resolves from the cache")


def test_best_of():
    """best_of: the policy with the highest mean where it has data."""
    from experiments.runner import fair
    from experiments.runner.results import spread

    class Fake:
        def metric(self, policy, **params):
            return spread({"a": [0.5, 0.7], "b": [0.65], "c": []}[policy])

    pol, s = fair.best_of(Fake(), ("a", "b", "c"))
    check(pol == "b" and s.mean == 0.65, f"best of: {pol} {s}")
    pol, s = fair.best_of(Fake(), ("c",))
    check(pol is None and s.n == 0, "no data: none")
    check(fair.edf_fixed((1, 8)) == ("fixed-sp:1:order=edf:late=defer", "fixed-sp:8:order=edf:late=defer"),
          "the fair fixed-sp specs")


def test_own_profile_key():
    p = Point(trace={"rate": 6}, sim={"gpus": 4}, policies=("tetriserve",), seed=1, tag="t")
    q = Point(trace={"rate": 6}, sim={"gpus": 4}, policies=("tetriserve",), seed=1, tag="t", profile=PROFILE_REL)
    check(p.key("abc") != p.key("def"), "a plain point's key follows the runner's profile")
    check(q.key("abc") == q.key("def") == p.key(file_hash(PROFILE)), "an own profile's key is its file's")
    check(q.profile_path("/x.csv") == PROFILE and p.profile_path("/x.csv") == "/x.csv", "profile_path")


def main():
    start = time.monotonic()
    test_units()
    test_best_of()
    test_own_profile_key()
    with tempfile.TemporaryDirectory() as tmp:
        test_scaling(tmp)
        test_end_to_end(tmp)
    return result("experiments map search", f", {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
