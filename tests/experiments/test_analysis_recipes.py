#!/usr/bin/env python3
"""Runs every recipe of docs/ANALYSIS.md (each fenced block marked
`<!-- recipe: NAME -->`; an unmarked python/sh/sql block is a failure) the
way a reader would: the `make-results` block makes results.db with the built
binary from traces/bursty.csv, the Python recipes run as scripts in that
folder, the SQL recipes through the doc's own `sqlite3` shell command and its
Python fallback (the shell only when installed: this test installs nothing).
Each output is checked against `tetriserve report --format json` or against
the raw `requests`/`segments` rows, and the figures the doc quotes against
the results.

Usage: test_analysis_recipes.py TETRISERVE_EXE SOURCE_ROOT"""
import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
DOC = os.path.join(ROOT, "docs", "ANALYSIS.md")
MARKED = re.compile(r"<!-- recipe: ([\w-]+) -->\n```(python|sh|sql)\n(.*?)```", re.S)
TETRISERVE_RUN = 4   # the make-results block's runs: fixed-sp:1, fixed-sp:2, rssp, tetriserve
A, B = 2, 4          # the runs the comparison recipes compare


def close(a, b, rel=1e-9):
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def read_recipes(text):
    """{name: (language, code)}; checks every code block is marked, once."""
    found = MARKED.findall(text)
    blocks = re.findall(r"^```(?:python|sh|sql)$", text, re.M)
    names = [name for name, _, _ in found]
    check(len(found) == len(blocks), f"every python/sh/sql block is marked: {len(found)} of {len(blocks)}")
    check(len(set(names)) == len(names), f"recipe names are unique: {names}")
    return {name: (lang, code) for name, lang, code in found}


def workspace(tmp):
    """A folder laid out like the checkout for the recipes: the built binary
    at build/common/cli/tetriserve and the bundled traces."""
    os.makedirs(os.path.join(tmp, "build", "common", "cli"))
    os.symlink(EXE, os.path.join(tmp, "build", "common", "cli", "tetriserve"))
    os.symlink(os.path.join(ROOT, "traces"), os.path.join(tmp, "traces"))


def run_sh(code, cwd):
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, capture_output=True, text=True)
    check(r.returncode == 0, f"sh block failed: {code}\n{r.stderr}")
    return r


def run_python(name, code, cwd):
    """Runs a Python recipe as a script in cwd; (its globals, its stdout)."""
    namespace = {"__name__": "__main__"}
    out = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"ANALYSIS.md:{name}", "exec"), namespace)
    except Exception as e:  # a broken recipe is a failed check, not a crash of the test
        check(False, f"recipe {name} raised {type(e).__name__}: {e}")
    finally:
        os.chdir(old)
    check(out.getvalue().strip() != "", f"recipe {name} prints its result")
    return namespace, out.getvalue()


def run_sql(recipes, name, cwd):
    """Runs an SQL recipe the doc's ways; {way: rows as dicts}."""
    with open(os.path.join(cwd, "query.sql"), "w") as f:
        f.write(recipes[name][1])
    ways = ["sql-python"] + (["sql-cli"] if shutil.which("sqlite3") else [])
    outputs = {}
    for way in ways:
        run_sh(recipes[way][1], cwd)
        with open(os.path.join(cwd, "out.csv"), newline="") as f:
            outputs[way] = list(csv.DictReader(f))
    if len(outputs) == 2:
        check(same_rows(outputs["sql-cli"], outputs["sql-python"]),
              f"{name}: the sqlite3 shell and the Python fallback print the same rows")
    return outputs


def same_rows(a, b):
    def same(x, y):
        try:
            return close(x, y, 1e-12)
        except ValueError:
            return x == y
    return len(a) == len(b) and all(r.keys() == s.keys() and all(same(r[k], s[k]) for k in r)
                                    for r, s in zip(a, b))


def report(cwd, *args):
    r = subprocess.run([EXE, "report", "--db", "results.db", "--format", "json", *args], cwd=cwd,
                       capture_output=True, text=True)
    check(r.returncode == 0, f"tetriserve report: {r.stderr}")
    return {run["run_id"]: run for run in json.loads(r.stdout)}


def raw_segments(cwd, run_id):
    """The run's segments straight from the table: (gpus mask, gpu_list, batch, start_ns, end_ns)."""
    con = sqlite3.connect(os.path.join(cwd, "results.db"))
    rows = con.execute("SELECT gpus, gpu_list, batch, start_ns, end_ns FROM segments WHERE run_id = ?",
                       (run_id,)).fetchall()
    con.close()
    return rows


def by_mask(segments):
    """{gpu: (segments, busy seconds)} from the bit masks."""
    out = {}
    for mask, _, batch, start, end in segments:
        for g in range(64):
            if (mask & (2**64 - 1)) >> g & 1:
                n, busy = out.get(g, (0, 0.0))
                out[g] = (n + 1, busy + (end - start) / 1e9 / batch)
    return out


def test_sar(recipes, cwd, runs):
    ns, _ = run_python("sar-pandas", recipes["sar-pandas"][1], cwd)
    sar = ns.get("sar")
    resolutions = ["256x256", "512x512", "1024x1024", "2048x2048"]
    check(sar is not None and list(sar.columns) == resolutions + ["all"], "sar: columns in pixel order, then all")
    for (run_id, policy), row in (sar.iterrows() if sar is not None else []):
        want = runs[run_id]
        check(policy == want["policy"] and close(row["all"], want["sar"])
              and all(close(row[r], want["sar_by_resolution"][r]["sar"]) for r in resolutions),
              f"sar-pandas run {run_id}: {dict(row)} vs report {want['sar_by_resolution']}")
    rows = run_sql(recipes, "sar-sql", cwd)["sql-python"]
    check(len(rows) == 16, f"sar-sql: a row per run and resolution: {len(rows)}")
    for r in rows:
        want = runs[int(r["run_id"])]["sar_by_resolution"][r["resolution"]]
        check(int(r["requests"]) == want["requests"] and int(r["met"]) == want["met"]
              and close(r["sar"], round(want["sar"], 4)), f"sar-sql {r} vs report {want}")
    quoted = " / ".join(f"{runs[TETRISERVE_RUN]['sar_by_resolution'][r]['sar']:.3f}" for r in resolutions)
    with open(DOC) as f:
        check(f"meets {quoted}" in f.read(), f"the doc quotes tetriserve's SARs {quoted}")


def test_latency(recipes, cwd, runs):
    ns, _ = run_python("latency-pandas", recipes["latency-pandas"][1], cwd)
    pct = ns.get("percentiles")
    for (run_id, _), row in (pct.iterrows() if pct is not None else []):
        want = runs[run_id]["latency_s"]
        check(close(row[0.5], want["p50"]) and close(row[0.95], want["p95"]) and close(row[0.99], want["p99"]),
              f"latency-pandas run {run_id}: {dict(row)} vs report {want}")
    check(pct is not None and len(pct) == 4, "percentiles of the 4 runs")
    check(os.path.getsize(os.path.join(cwd, "latency_cdf.png")) > 10000, "latency_cdf.png drawn")
    rows = run_sql(recipes, "latency-sql", cwd)["sql-python"]
    want = runs[TETRISERVE_RUN]
    latency = [float(r["latency_s"]) for r in rows]
    check(len(rows) == want["finished"] and latency == sorted(latency), f"latency-sql: {want['finished']} sorted rows")
    check(close(sum(latency) / len(latency), want["latency_s"]["mean"]), "latency-sql: mean latency as report's")
    check(all(close(r["fraction"], sum(x <= float(r["latency_s"]) for x in latency) / len(latency), 1e-12)
              for r in rows), "latency-sql: fraction = share at or below each latency")


def test_timeline(recipes, cwd, runs):
    ns, out = run_python("timeline-pandas", recipes["timeline-pandas"][1], cwd)
    segments = raw_segments(cwd, TETRISERVE_RUN)
    truth = by_mask(segments)
    check(close(ns.get("utilisation", -1), runs[TETRISERVE_RUN]["gpu_utilisation"]),
          f"timeline-pandas: utilisation {ns.get('utilisation')} vs report {runs[TETRISERVE_RUN]['gpu_utilisation']}")
    busy, per_gpu = ns.get("busy"), ns.get("per_gpu")
    check(busy is not None and sorted(busy.index) == sorted(truth)
          and all(close(busy[g], truth[g][1]) for g in truth), "timeline-pandas: busy time per GPU from the masks")
    check(per_gpu is not None and per_gpu.groupby("gpu").size().to_dict() == {g: n for g, (n, _) in truth.items()},
          "timeline-pandas: one row per GPU of each segment")
    check(os.path.getsize(os.path.join(cwd, "gpu_timeline.png")) > 10000, "gpu_timeline.png drawn")

    rows = run_sql(recipes, "timeline-sql", cwd)["sql-python"]
    from_lists = {}
    for _, gpu_list, *_ in segments:
        for g in gpu_list.split(","):
            from_lists[int(g)] = from_lists.get(int(g), 0) + 1
    counts = {}
    for r in rows:
        counts[int(r["gpu"])] = counts.get(int(r["gpu"]), 0) + 1
    check(counts == from_lists, f"timeline-sql: rows per GPU as gpu_list says: {counts} vs {from_lists}")
    keys = [(int(r["gpu"]), float(r["start_s"])) for r in rows]
    check(keys == sorted(keys), "timeline-sql: by GPU, then time")


def test_compare(recipes, cwd, runs):
    pair = report(cwd, "--compare", f"{A},{B}")
    check(sorted(pair) == [A, B], f"report --compare {A},{B}")
    ns, _ = run_python("compare-pandas", recipes["compare-pandas"][1], cwd)
    table = ns.get("by_resolution")
    for res, row in (table.iterrows() if table is not None else []):
        a, b = pair[A]["sar_by_resolution"][res]["sar"], pair[B]["sar_by_resolution"][res]["sar"]
        check(close(row[f"sar_{A}"], a) and close(row[f"sar_{B}"], b) and close(row["gain"], b - a, 1e-9),
              f"compare-pandas {res}: {dict(row)} vs report {a} {b}")
    net = pair[B]["met"] - pair[A]["met"]
    gained, lost = ns.get("gained"), ns.get("lost")
    check(gained is not None and lost is not None and len(gained) - len(lost) == net,
          f"compare-pandas: gained - lost = {net}, the difference in met requests")
    rows = run_sql(recipes, "compare-sql", cwd)["sql-python"]
    check(len(rows) == 4, "compare-sql: a row per resolution")
    for r in rows:
        a, b = pair[A]["sar_by_resolution"][r["resolution"]], pair[B]["sar_by_resolution"][r["resolution"]]
        check(int(r["requests"]) == a["requests"] and int(r["met_a"]) == a["met"] and int(r["met_b"]) == b["met"]
              and int(r["gained"]) - int(r["lost"]) == b["met"] - a["met"], f"compare-sql {r} vs report {a} {b}")
    with open(DOC) as f:
        check(f"meets {net} more requests" in f.read(), f"the doc quotes the difference, {net}")


def main():
    start = time.monotonic()
    with open(DOC) as f:
        recipes = read_recipes(f.read())
    needed = {"make-results", "sql-cli", "sql-python", "sar-pandas", "sar-sql", "latency-pandas", "latency-sql",
              "timeline-pandas", "timeline-sql", "compare-pandas", "compare-sql"}
    check(needed <= set(recipes), f"recipes present: {sorted(needed - set(recipes))} missing")
    with tempfile.TemporaryDirectory() as tmp:
        workspace(tmp)
        run_sh(recipes["make-results"][1], tmp)
        runs = report(tmp)
        check([runs[i]["policy"] for i in sorted(runs)] == ["fixed-sp:1", "fixed-sp:2", "rssp", "tetriserve"],
              f"make-results: runs 1-4: {[(i, r['policy']) for i, r in runs.items()]}")
        test_sar(recipes, tmp, runs)
        test_latency(recipes, tmp, runs)
        test_timeline(recipes, tmp, runs)
        test_compare(recipes, tmp, runs)
    ways = ("the sqlite3 shell and Python's sqlite3 module" if shutil.which("sqlite3")
            else "Python's sqlite3 module only (no sqlite3 shell on PATH)")
    return result("analysis recipes", f", SQL run through {ways}, {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
