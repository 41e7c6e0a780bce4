#!/usr/bin/env python3
"""`tetriserve profile model` as a user runs it (no GPU): fit a bundled
profile, predict a profile with SP 8, validate by leaving cells out; the
output profile keeps the measured cells' values and marks the others
modelled; bad usage exits 2, bad input 1 with a message naming the file."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = sys.argv[1]
ROOT = sys.argv[2]
PROFILE = os.path.join(ROOT, "traces", "profiles", "sd3-medium_H200_engine.csv")


def run(*args):
    return subprocess.run([EXE, "profile", "model", *args], capture_output=True, text=True)


def data_rows(path):
    """The rows of a profile CSV as dicts (comments skipped)."""
    lines = [x for x in open(path).read().splitlines() if x.strip() and not x.startswith("#")]
    head = lines[0].split(",")
    return [dict(zip(head, x.split(","))) for x in lines[1:]]


def key(r):
    return (r["height"], r["width"], r["sp"], r.get("batch") or "1")


def test_fit_predict(tmp):
    model = os.path.join(tmp, "m.json")
    r = run("--fit", PROFILE, "--out", model)
    check(r.returncode == 0 and "gemm_tflops" in r.stdout, f"fit: {r.stderr}")
    m = json.load(open(model))
    check(m["model"] == "sd3-medium" and m["fit"]["cells"] == 20, "model file")
    check(all(v["value"] > 0 and v["source"] for v in m["params"].values()), "params with sources")
    out = os.path.join(tmp, "p.csv")
    r = run("--predict", model, "--res", "256,512,768,1024,2048", "--sp", "1,2,4,8", "--out", out)
    check(r.returncode == 0, f"predict: {r.stderr}")
    text = open(out).read()
    check("MODELLED" in text and "gemm_tflops" in text and "assumed: as sp 4" in text,
          "comments name the model, its parameters and the SP 8 assumption")
    got = {key(x): x for x in data_rows(out)}
    measured = data_rows(PROFILE)
    check(all(float(got[key(x)][c]) == float(x[c]) for x in measured
              for c in ("step_ms", "p50_ms", "p99_ms", "cv", "samples")) and
          all(got[key(x)]["source"] == "measured" for x in measured), "measured cells copied unchanged")
    modelled = [x for x in got.values() if x["source"] == "modelled"]
    check(len(modelled) == 8, f"{len(modelled)} modelled cells")  # 768^2 at 4 degrees, SP 8 at 4 sizes
    check(("2048", "2048", "8", "1") in got and ("768", "768", "1", "1") in got, "grid cells present")
    sim = subprocess.run([EXE, "sim", "--trace", os.path.join(ROOT, "traces", "small.csv"),
                          "--profile", out, "--gpus", "8", "--policy", "fixed-sp:8", "--no-db"],
                         capture_output=True, text=True)
    check(sim.returncode == 0 and "fixed-sp:8" in sim.stdout, f"sim on it: {sim.stderr}")


def test_validate():
    r = run("--validate", PROFILE, "--hold", "res=1024")
    check(r.returncode == 0 and "model: median" in r.stdout and "--interpolate: median" in r.stdout,
          f"validate: {r.stderr}")


def test_errors(tmp):
    r = run("--fit", PROFILE)
    check(r.returncode == 2 and "--out" in r.stderr, "fit without --out is bad usage")
    r = run("--predict", "x.json", "--out", "y.csv")
    check(r.returncode == 2 and "--res" in r.stderr, "predict without --res")
    r = run("--fit", PROFILE, "--hold", "sp=4", "--out", "x")
    check(r.returncode == 2, "--hold without --validate")
    small = os.path.join(tmp, "small.csv")
    with open(small, "w") as f:
        f.write("model,gpu,height,width,sp,step_ms\nsd3-medium,H200,256,256,1,4.7\n"
                "sd3-medium,H200,512,512,1,7.0\n")
    r = run("--fit", small, "--out", os.path.join(tmp, "s.json"))
    check(r.returncode == 1 and "small.csv: too small to fit" in r.stderr, f"too small: {r.stderr}")
    fast = os.path.join(tmp, "fast.csv")
    with open(fast, "w") as f:
        f.write("model,gpu,height,width,sp,step_ms\n")
        for res, ms in ((256, 0.2), (512, 0.3), (1024, 0.8), (2048, 4.0)):
            f.write(f"sd3-medium,H200,{res},{res},1,{ms}\n")
    r = run("--fit", fast, "--out", os.path.join(tmp, "f.json"))
    check(r.returncode == 1 and "fast.csv: non-physical fit" in r.stderr, f"non-physical: {r.stderr}")
    model = os.path.join(tmp, "m.json")
    r = run("--predict", model, "--res", "8192", "--sp", "1", "--out", os.path.join(tmp, "x.csv"))
    check(r.returncode == 1 and "--force" in r.stderr and "8192x8192" in r.stderr,
          f"beyond the range: {r.stderr}")
    r = run("--predict", model, "--res", "8192", "--sp", "1", "--force", "--out",
            os.path.join(tmp, "x.csv"))
    check(r.returncode == 0, f"--force: {r.stderr}")
    r = run("--predict", model, "--res", "1024", "--sp", "16", "--force", "--out",
            os.path.join(tmp, "x.csv"))
    check(r.returncode == 1 and "does not divide" in r.stderr, f"sp 16 of 24 heads: {r.stderr}")


def test_runs_say_modelled(tmp):
    """A run timed by modelled cells says so: the table's header, the stored
    options and summary, report's note; a measured profile's run does not."""
    db = os.path.join(tmp, "m.db")
    modelled = os.path.join(ROOT, "traces", "profiles", "flux-dev_H200_engine_sp8_modelled.csv")
    measured = os.path.join(ROOT, "traces", "profiles", "flux-dev_H200_engine.csv")
    trace = os.path.join(ROOT, "traces", "small.csv")
    sim = [EXE, "sim", "--trace", trace, "--policy", "tetriserve", "--db", db]
    r = subprocess.run([*sim, "--profile", modelled, "--gpus", "8"], capture_output=True, text=True)
    check(r.returncode == 0 and "MODELLED" in r.stdout, f"sim names modelled step times: {r.stdout}{r.stderr}")
    r = subprocess.run([*sim, "--profile", measured, "--gpus", "4", "--json"], capture_output=True, text=True)
    check(r.returncode == 0 and json.loads(r.stdout)["modelled_cells"] == 0, "a measured profile: none")
    r = subprocess.run([EXE, "report", "--db", db, "--format", "json"], capture_output=True, text=True)
    rep = json.loads(r.stdout)
    check(rep[0]["modelled_cells"] > 0 and rep[1]["modelled_cells"] == 0, f"report JSON: {rep}")
    r = subprocess.run([EXE, "report", "--db", db], capture_output=True, text=True)
    check("MODELLED, not measured, in runs 1 " in r.stdout, f"report's note: {r.stdout}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_fit_predict(tmp)
        test_validate()
        test_errors(tmp)
        test_runs_say_modelled(tmp)
    return result("test_profile_model_cli")


if __name__ == "__main__":
    sys.exit(main())
