#!/usr/bin/env python3
"""Tests of the trace importer (python3 -m experiments.traceimport) as a user
runs it, on small files this test writes in the real layouts: DiffusionDB's
metadata Parquet (its 13 columns, a UTC timestamp column), a CSV export of
it (ISO-8601 text, prompts with commas, quotes and line breaks) and a
generic CSV. Each option changes what it should; the outputs load in
`tetriserve trace stats` and `tetriserve sim`; SLOs agree with `tetriserve
trace gen`; bad input gives exit status 2 and a message naming the file,
column and row, never a traceback.

Usage: test_traceimport.py TETRISERVE_EXE SOURCE_ROOT"""
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
ENGINE_PROFILE = os.path.join(ROOT, "traces", "profiles", "flux-dev_H200_engine.csv")
T0 = dt.datetime(2022, 8, 1, 12, 0, 0, tzinfo=dt.timezone.utc)

# DiffusionDB rows: (seconds after T0, width, height, step, user, seed).
# File order is not time order; rows 3 and 4 arrive together; row 9 has no
# width; row 10 has 0 steps; 500x500 is off the 16-pixel grid.
ROWS = [
    (30, 512, 512, 50, "u1", 1000),
    (0, 768, 512, 30, "u2", 1001),
    (10, 1024, 1024, 25, "u3", 1002),
    (10, 512, 512, 50, "u1", 1003),
    (100, 640, 640, 50, "u2", 1004),
    (55, 384, 384, 50, "u1", 1005),
    (70, 500, 500, 40, "u1", 1006),
    (200, 256, 256, 50, "u3", 1007),
    (160, 1536, 1536, 20, "u2", 1008),
    (120, None, 512, 50, "u1", 1009),
    (130, 512, 512, 0, "u3", 1010),
]
KEPT_SEEDS_BY_TIME = [1001, 1002, 1003, 1000, 1005, 1006, 1004, 1008, 1007]   # stable in file order
# The engine profile has 256², 512², 1024², 2048²: nearest in log token count.
NEAREST = {(512, 512): (512, 512), (512, 768): (512, 512), (1024, 1024): (1024, 1024),
           (640, 640): (512, 512), (384, 384): (512, 512), (500, 500): (512, 512),
           (256, 256): (256, 256), (1536, 1536): (2048, 2048)}
BASE_SLO = {(256, 256): 1.5, (512, 512): 2.0, (1024, 1024): 3.0, (2048, 2048): 5.0}


def diffusiondb_table(rows):
    """A table with DiffusionDB's metadata schema (column names and types)."""
    n = len(rows)
    return pa.table({
        "image_name": [f"{i:08x}.webp" for i in range(n)],
        "prompt": ['a cat, "sitting"\non a mat'] * n,
        "part_id": pa.array([1] * n, pa.uint16()),
        "seed": pa.array([r[5] for r in rows], pa.uint32()),
        "step": pa.array([r[3] for r in rows], pa.uint16()),
        "cfg": pa.array([7.0] * n, pa.float32()),
        "sampler": pa.array([8] * n, pa.uint8()),
        "width": pa.array([r[1] for r in rows], pa.uint16()),
        "height": pa.array([r[2] for r in rows], pa.uint16()),
        "user_name": [r[4] for r in rows],
        "timestamp": pa.array([T0 + dt.timedelta(seconds=r[0]) for r in rows], pa.timestamp("ns", tz="UTC")),
        "image_nsfw": pa.array([0.1] * n, pa.float32()),
        "prompt_nsfw": pa.array([0.05] * n, pa.float32()),
    })


def write_inputs(tmp):
    """metadata.parquet, its CSV export, and a generic CSV of the same
    requests (times in ms since some origin, other column names)."""
    table = diffusiondb_table(ROWS)
    paths = {"parquet": os.path.join(tmp, "metadata.parquet"), "export": os.path.join(tmp, "export.csv"),
             "generic": os.path.join(tmp, "log.csv")}
    pq.write_table(table, paths["parquet"])
    table.to_pandas().to_csv(paths["export"], index=False)
    with open(paths["generic"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_ms", "who", "H", "W", "n", "extra"])
        for t, width, height, step, user, _ in ROWS:
            w.writerow([5_000_000 + t * 1000, user, height, "" if width is None else width, step, "x,y"])
    return paths


def traceimport(*args):
    cmd = [sys.executable, "-m", "experiments.traceimport", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def imported(tmp, name, *args):
    """Runs an import into tmp/name; (rows as dicts, summary text)."""
    out = os.path.join(tmp, name)
    r = traceimport(*args, "--out", out)
    check(r.returncode == 0 and "Traceback" not in r.stderr, f"{name}: {' '.join(args)}: {r.stderr}")
    return (read_trace(out) if r.returncode == 0 else []), r.stdout


def read_trace(path):
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def column(rows, name, kind=str):
    return [kind(r[name]) for r in rows]


def loads_in_tetriserve(path, *sim_args):
    """`trace stats` and `sim` accept the file; returns the sim summary."""
    r = subprocess.run([EXE, "trace", "stats", path], capture_output=True, text=True)
    check(r.returncode == 0, f"trace stats {path}: {r.stderr}")
    r = subprocess.run([EXE, "sim", "--trace", path, "--profile", ENGINE_PROFILE, "--gpus", "4",
                        "--policy", "fixed-sp:1", "--no-db", "--json", *sim_args], capture_output=True, text=True)
    check(r.returncode == 0, f"sim --trace {path}: {r.stderr}")
    return json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 else {}


def test_default_import(tmp, paths):
    rows, summary = imported(tmp, "default.csv", "diffusiondb", paths["parquet"])
    with open(os.path.join(tmp, "default.csv")) as f:
        lines = f.read().splitlines()
    check(lines[0].startswith("# python3 -m experiments.traceimport diffusiondb"), f"provenance: {lines[0]}")
    header = [line for line in lines if not line.startswith("#")][0]
    check(header == "request_id,arrival_s,height,width,steps,slo_s,seed", f"header: {header}")
    check(column(rows, "seed", int) == KEPT_SEEDS_BY_TIME, f"sorted by time, ties in file order: {rows}")
    check(column(rows, "request_id", int) == list(range(9)), "ids 0..n-1 in arrival order")
    by_seed = {r[5]: r for r in ROWS}
    check(column(rows, "arrival_s", float) == [by_seed[s][0] for s in KEPT_SEEDS_BY_TIME],
          f"arrivals from 0 at the first kept request: {column(rows, 'arrival_s')}")
    sizes = [NEAREST[(by_seed[s][2], by_seed[s][1])] for s in KEPT_SEEDS_BY_TIME]
    check(list(zip(column(rows, "height", int), column(rows, "width", int))) == sizes,
          f"sizes mapped to the nearest profiled resolution: {rows}")
    check(column(rows, "steps", int) == [by_seed[s][3] for s in KEPT_SEEDS_BY_TIME], "steps from the input")
    check(column(rows, "slo_s", float) == [BASE_SLO[hw] for hw in sizes], "the paper's SLOs")
    for text in ("rows read: 11", "kept: 9 ", "dropped: 2", "no value in column 'width': 1",
                 "'step' below 1 step: 1", "size changes: 5 requests mapped to the nearest profiled resolution",
                 "512x512: 6 (66.7%)", "2048x2048: 1 (11.1%)", f"mean rate {60 * 8 / 200:.3f} requests/min"):
        check(text in summary, f"summary has {text!r}: {summary}")
    sim = loads_in_tetriserve(os.path.join(tmp, "default.csv"))
    check(sim.get("requests") == 9, f"sim replays the 9 requests: {sim}")

    export, _ = imported(tmp, "from_export.csv", "diffusiondb", paths["export"])
    check(export == rows, "the CSV export (ISO-8601 text) gives the same trace as the Parquet file")
    r = traceimport("diffusiondb", paths["parquet"], "--out", "-")
    check(r.returncode == 0 and r.stdout.splitlines()[2] == header and "rows read: 11" in r.stderr,
          f"--out -: trace on stdout, summary on stderr: {r.stdout} {r.stderr}")
    return rows


def test_time_options(tmp, paths, base):
    rows, _ = imported(tmp, "fast.csv", "diffusiondb", paths["parquet"], "--speedup", "3")
    check(column(rows, "arrival_s", float) == [round(a / 3, 6) for a in column(base, "arrival_s", float)],
          f"--speedup 3 divides the arrival gaps: {column(rows, 'arrival_s')}")
    check(column(rows, "seed") == column(base, "seed"), "--speedup keeps the requests")

    window = ("--start", "2022-08-01T12:00:10Z", "--end", "2022-08-01T12:01:40+00:00")
    rows, summary = imported(tmp, "window.csv", "diffusiondb", paths["parquet"], *window)
    check(column(rows, "seed", int) == [1002, 1003, 1000, 1005, 1006], f"[start, end) kept: {rows}")
    check(column(rows, "arrival_s", float) == [0, 0, 20, 45, 60], "arrivals from 0 at the first kept request")
    check("outside the time window (--start/--end/--duration): 5" in summary, f"window drops: {summary}")
    same, _ = imported(tmp, "duration.csv", "diffusiondb", paths["parquet"], "--start", window[1],
                       "--duration", "90")
    check(same == rows, "--duration 90 from --start is the same window as --end")
    rows, _ = imported(tmp, "head.csv", "diffusiondb", paths["parquet"], "--duration", "30")
    check(column(rows, "seed", int) == [1001, 1002, 1003], f"--duration alone starts at the first request: {rows}")


def test_filters(tmp, paths):
    rows, summary = imported(tmp, "users.csv", "diffusiondb", paths["parquet"], "--users", "u1,u3")
    check(column(rows, "seed", int) == [1002, 1003, 1000, 1005, 1006, 1007], f"--users u1,u3: {rows}")
    check("user not selected (--users): 3" in summary, f"user drops counted: {summary}")
    rows, summary = imported(tmp, "res.csv", "diffusiondb", paths["parquet"], "--keep-res", "512,512x768")
    check(column(rows, "seed", int) == [1001, 1003, 1000], f"--keep-res on the input sizes: {rows}")
    check("size not selected (--keep-res): 6" in summary, f"size drops counted: {summary}")
    rows, _ = imported(tmp, "steps.csv", "diffusiondb", paths["parquet"], "--steps", "20")
    check(len(rows) == 10 and set(column(rows, "steps")) == {"20"},
          f"--steps 20: every request, the 0-step row too, gets 20 steps: {rows}")


def test_resolution_maps(tmp, paths):
    rows, summary = imported(tmp, "exact.csv", "diffusiondb", paths["parquet"], "--resolution-map", "exact")
    sizes = dict(zip(column(rows, "seed", int), zip(column(rows, "height", int), column(rows, "width", int))))
    check(sizes[1001] == (512, 768) and sizes[1008] == (1536, 1536) and sizes[1006] == (496, 496),
          f"exact keeps sizes, rounds 500 to 496: {sizes}")
    check("size changes: 1 requests rounded to a multiple of 16" in summary and "500x500 -> 496x496" in summary,
          f"rounding reported: {summary}")
    sim = loads_in_tetriserve(os.path.join(tmp, "exact.csv"), "--interpolate")
    check(sim.get("requests") == 9, f"exact sizes replay with --interpolate: {sim}")
    rows, summary = imported(tmp, "aligned.csv", "diffusiondb", paths["parquet"], "--resolution-map", "exact",
                             "--unaligned", "drop")
    check(1006 not in column(rows, "seed", int) and len(rows) == 8, "--unaligned drop drops 500x500")
    check("height or width not a multiple of 16 (--unaligned drop): 1" in summary, f"reason: {summary}")

    # A profile of 256², 768² and 512x1024 / 1024x512 (same token count): 512x768
    # is nearest to 2048 tokens and, of the two, to 512x1024 by aspect ratio.
    profile = os.path.join(tmp, "profile.csv")
    with open(profile, "w") as f:
        f.write("# test profile\nmodel,gpu,height,width,sp,step_ms\n"
                "flux-dev,H100,256,256,1,30\nflux-dev,H100,768,768,1,90\n"
                "flux-dev,H100,512,1024,1,80\nflux-dev,H100,1024,512,1,80\nsd3,H100,2048,2048,1,900\n")
    rows, _ = imported(tmp, "own.csv", "diffusiondb", paths["parquet"], "--profile", profile,
                       "--model", "flux-dev")
    sizes = dict(zip(column(rows, "seed", int), zip(column(rows, "height", int), column(rows, "width", int))))
    check(sizes[1001] == (512, 1024) and sizes[1008] == (768, 768) and sizes[1007] == (256, 256),
          f"nearest among the model's profiled sizes, aspect breaks the tie: {sizes}")
    check(set(column(rows, "model")) == {"flux-dev"}, "--model adds the model column")
    shapes = os.path.join(tmp, "shapes.csv")
    with open(shapes, "w") as f:
        f.write("t,h,w\n0,512,768\n1,768,512\n")
    rows, _ = imported(tmp, "shapes_out.csv", "csv", shapes, "--map", "arrival=t,height=h,width=w",
                       "--time-format", "s", "--steps", "10", "--profile", profile, "--model", "flux-dev")
    check(list(zip(column(rows, "height", int), column(rows, "width", int))) == [(512, 1024), (1024, 512)],
          f"wide and tall sizes keep their orientation: {rows}")


def test_slos_agree_with_trace_gen(tmp, paths):
    """--slo-scale X on sizes off the paper's table gives the SLOs `trace gen
    --slo-scale X` gives the same sizes (log-log interpolation)."""
    rows, _ = imported(tmp, "slo.csv", "diffusiondb", paths["parquet"], "--resolution-map", "exact",
                       "--slo-scale", "1.3")
    mine = dict(zip(zip(column(rows, "height"), column(rows, "width")), column(rows, "slo_s")))
    gen = os.path.join(tmp, "gen.csv")
    res = ",".join(f"{h}x{w}" for h, w in mine)
    r = subprocess.run([EXE, "trace", "gen", "--res", res, "--slo-scale", "1.3", "--count", "400", "--out", gen],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"trace gen: {r.stderr}")
    theirs = {(g["height"], g["width"]): g["slo_s"] for g in read_trace(gen)}
    check(len(mine) == 8 and all(theirs.get(k) == v for k, v in mine.items()),
          f"same SLO text per size: {mine} vs {theirs}")


def test_generic_csv(tmp, paths):
    base = ("csv", paths["generic"], "--map", "arrival=t_ms,height=H,width=W,steps=n,user=who")
    rows, summary = imported(tmp, "generic.csv", *base, "--time-format", "ms", "--users", "u1,u2")
    check(column(rows, "arrival_s", float) == [0, 10, 30, 55, 70, 100, 160] and len(rows) == 7,
          f"ms times, users u1,u2: {rows}")
    check("no value in column 'W': 1" in summary and "user not selected (--users): 3" in summary,
          f"generic summary: {summary}")
    check(loads_in_tetriserve(os.path.join(tmp, "generic.csv")).get("requests") == 7, "generic trace replays")
    rows, _ = imported(tmp, "window_ms.csv", *base, "--time-format", "ms", "--start", "5010000",
                       "--end", "5070000")
    check(column(rows, "arrival_s", float) == [0, 0, 20, 45], f"--start/--end in the column's ms: {rows}")

    seconds = os.path.join(tmp, "seconds.csv")
    iso = os.path.join(tmp, "iso.csv")
    with open(paths["generic"]) as f:
        records = list(csv.DictReader(f))
    for path, convert in ((seconds, lambda ms: f"{ms / 1000:.3f}"),
                          (iso, lambda ms: (T0 + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=records[0].keys())
            w.writeheader()
            w.writerows({**r, "t_ms": convert(int(r["t_ms"]))} for r in records)
    ms_rows, _ = imported(tmp, "all_ms.csv", *base, "--time-format", "ms")
    for path, fmt in ((seconds, "s"), (iso, "iso")):
        rows, _ = imported(tmp, f"all_{fmt}.csv", "csv", path, "--map", base[3], "--time-format", fmt)
        check(rows == ms_rows and len(rows) == 9, f"--time-format {fmt} gives the same trace as ms")
    rows, _ = imported(tmp, "nosteps.csv", "csv", seconds, "--map", "arrival=t_ms,height=H,width=W",
                       "--time-format", "s", "--steps", "12")
    check(set(column(rows, "steps")) == {"12"} and len(rows) == 10, "no steps column: --steps")


def expect_error(what, args, *parts):
    """The import fails with status 2 and a message holding every part."""
    r = traceimport(*args, "--out", os.devnull)
    check(r.returncode == 2 and "Traceback" not in r.stderr and all(p in r.stderr for p in parts),
          f"{what}: status {r.returncode}, wanted {parts} in: {r.stderr}")


def test_bad_input(tmp, paths):
    no_time = os.path.join(tmp, "no_time.parquet")
    pq.write_table(diffusiondb_table(ROWS).drop_columns(["timestamp"]), no_time)
    expect_error("missing column", ("diffusiondb", no_time), "no_time.parquet", "no column 'timestamp'")
    bad_time = os.path.join(tmp, "bad_time.csv")
    with open(paths["export"]) as f:
        text = f.read()
    with open(bad_time, "w") as f:
        f.write(text.replace("2022-08-01 12:00:55+00:00", "2022-08-01 25:00:55"))
    expect_error("unparsable time", ("diffusiondb", bad_time), "bad_time.csv", "column 'timestamp'",
                 "data row 6", "'2022-08-01 25:00:55' is not an ISO-8601 time")
    expect_error("empty window", ("diffusiondb", paths["parquet"], "--start", "2023-01-01"),
                 "metadata.parquet", "holds none of its 10 requests", "2022-08-01T12:00:00+00:00")
    bad_ms = os.path.join(tmp, "bad_ms.csv")
    with open(bad_ms, "w") as f:
        f.write("t_ms,H,W\n1000,512,512\n2000,512,512\nsoon,512,512\n")
    expect_error("unparsable number", ("csv", bad_ms, "--map", "arrival=t_ms,height=H,width=W",
                                       "--time-format", "ms", "--steps", "5"),
                 "bad_ms.csv", "column 't_ms'", "data row 3", "'soon' is not a number")
    expect_error("missing mapped column", ("csv", bad_ms, "--map", "arrival=t,height=H,width=W",
                                           "--time-format", "ms", "--steps", "5"),
                 "bad_ms.csv", "no column 't'", "t_ms, H, W")
    expect_error("incomplete map", ("csv", bad_ms, "--map", "arrival=t_ms,height=H", "--time-format", "s",
                                    "--steps", "5"), "--map", "'width'")
    expect_error("unknown map field", ("csv", bad_ms, "--map", "arrival=t_ms,colour=H", "--time-format", "s"),
                 "--map", "'colour=H'")
    expect_error("missing input", ("diffusiondb", os.path.join(tmp, "none.parquet")), "none.parquet")
    expect_error("bad --start", ("diffusiondb", paths["parquet"], "--start", "noon"), "--start", "'noon'")
    expect_error("profile without sizes", ("diffusiondb", paths["parquet"], "--profile", bad_ms),
                 "bad_ms.csv", "no 'height' column")
    expect_error("nothing left", ("diffusiondb", paths["parquet"], "--users", "nobody"),
                 "no request left of 11 rows", "user not selected (--users): 10")
    r = traceimport("csv", bad_ms, "--map", "arrival=t_ms,height=H,width=W", "--time-format", "ms",
                    "--steps", "5", "--out", bad_ms)
    check(r.returncode == 2 and "that is the input file" in r.stderr and os.path.getsize(bad_ms) == 48,
          f"--out the input refused, input untouched: {r.stderr}")
    r = traceimport("diffusiondb", paths["parquet"], "--out", os.devnull, "--speedup", "0")
    check(r.returncode == 2 and "--speedup" in r.stderr, f"bad --speedup: {r.stderr}")


def main():
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_inputs(tmp)
        base = test_default_import(tmp, paths)
        test_time_options(tmp, paths, base)
        test_filters(tmp, paths)
        test_resolution_maps(tmp, paths)
        test_slos_agree_with_trace_gen(tmp, paths)
        test_generic_csv(tmp, paths)
        test_bad_input(tmp, paths)
    return result("trace importer", f", {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
