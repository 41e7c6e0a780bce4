#!/usr/bin/env python3
"""bench_diffusers.py: diffusers' transformer step beside ours, on one GPU.

  bench_diffusers.py measure --out DIFF.csv [--budget-s 240] [--models sd3,flux]
                             [--flux-res 256,512,1024,2048] [--sd3-res 256,1024,2048]
                             [--warmup 2] [--iters 5]
  bench_diffusers.py table --ours OURS.csv... --ours-graphs OURS_G.csv... --diffusers DIFF.csv

measure: one forward of FluxTransformer2DModel (FLUX.1-dev shapes, 512 text
tokens, guidance) and SD3Transformer2DModel (SD3-medium, 333 tokens) with
random bf16 weights, batch 1, as the pipelines call them, timed per step
(torch.cuda.synchronize around each call, mean of --iters after --warmup)
in three modes: eager; torch.compile mode "default"; torch.compile mode
"reduce-overhead" (CUDA graphs). Compilation is regional, as diffusers
recommends (ModelMixin.compile_repeated_blocks): each transformer block is
compiled with torch.compile's defaults otherwise (automatic dynamic shapes:
the first resolution gets a static graph, a second one a dynamic graph that
the later ones share), embeddings and the final layer stay eager. A compile is slow, so the run keeps to --budget-s: models
in order (SD3 first, then FLUX, each given its share), modes in order, cells
small to large; eager cells always run, and a compiled cell whose compile
(estimated by the mode's last first call, 30 s before any) would end past
its model's share is written as skipped (never guessed). Rows: model, height, width,
mode, step_ms, p50_ms, cv, samples, first_s (the first call, compile
included), note.

table: a markdown table of our profile CSVs (tetriserve profile, graphs
off and on) beside the diffusers CSV, per model and resolution, with the
fastest of each side and their ratio.
"""
import argparse
import csv
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "diffusers_check"))

MODES = ["eager", "compile-default", "compile-reduce-overhead"]
NAMES = {"flux": "flux-dev", "sd3": "sd3-medium"}
BLOCKS = {"FluxTransformerBlock", "FluxSingleTransformerBlock", "JointTransformerBlock"}


DEVICE = "cuda"
TEXT_TOKENS = {"flux": 512, "sd3": 333}


def inputs(kind, cfg, res, torch):
    """What the pipeline passes the transformer (config cfg) for one res x res image."""
    dev, bf = DEVICE, torch.bfloat16
    h = w = res // 8
    n = TEXT_TOKENS[kind]
    text = torch.randn(1, n, cfg["joint_attention_dim"], device=dev, dtype=bf)
    pooled = torch.randn(1, cfg["pooled_projection_dim"], device=dev, dtype=bf)
    if kind == "flux":
        ids = torch.zeros(h // 2, w // 2, 3, device=dev)
        ids[..., 1] += torch.arange(h // 2, device=dev)[:, None]
        ids[..., 2] += torch.arange(w // 2, device=dev)[None, :]
        lat = torch.randn(1, (h // 2) * (w // 2), cfg["in_channels"], device=dev, dtype=bf)
        return dict(hidden_states=lat, encoder_hidden_states=text, pooled_projections=pooled,
                    timestep=torch.tensor([0.5], device=dev), img_ids=ids.reshape(-1, 3),
                    txt_ids=torch.zeros(n, 3, device=dev),
                    guidance=torch.tensor([3.5], device=dev), return_dict=False)
    lat = torch.randn(1, cfg["in_channels"], h, w, device=dev, dtype=bf)
    return dict(hidden_states=lat, encoder_hidden_states=text, pooled_projections=pooled,
                timestep=torch.tensor([500.0], device=dev), return_dict=False)


def sync(torch):
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def compile_blocks(model, mode, torch):
    """Regional compilation of every transformer block in `mode`."""
    torch._dynamo.reset()
    for sub in model.modules():
        if type(sub).__name__ in BLOCKS:
            sub.compile(mode=mode)


def time_cell(model, args, warmup, iters, graphs, torch):
    """(first call seconds, per-step milliseconds of the timed calls); with
    `graphs` each call is marked as a new step for CUDA-graph trees."""
    mark = getattr(torch.compiler, "cudagraph_mark_step_begin", None) if graphs else None
    times = []
    first = None
    for i in range(warmup + iters):
        if mark:
            mark()
        sync(torch)
        t0 = time.perf_counter()
        model(**args)
        sync(torch)
        dt = time.perf_counter() - t0
        first = dt if first is None else first
        if i >= warmup:
            times.append(dt * 1e3)
    return first, times


def row(kind, res, mode, times=None, first=None, note=""):
    r = dict(model=NAMES[kind], height=res, width=res, mode=mode, step_ms="", p50_ms="", cv="",
             samples=0, first_s="", note=note)
    if times:
        mean = statistics.fmean(times)
        r.update(step_ms=f"{mean:.3f}", p50_ms=f"{statistics.median(times):.3f}",
                 cv=f"{(statistics.stdev(times) / mean if len(times) > 1 else 0):.4f}",
                 samples=len(times), first_s=f"{first:.2f}")
    return r


CONFIGS = {}


def measure_model(kind, cells, deadline, a, writer, torch):
    """Every mode and cell of one model until `deadline` (time.time())."""
    from make_cases import FLUX_DEV, SD3_MEDIUM, build
    cfg = CONFIGS.get(kind) or (FLUX_DEV if kind == "flux" else SD3_MEDIUM)
    t0 = time.time()
    model = build(kind, cfg, DEVICE, 1)
    print(f"{kind}: model built in {time.time() - t0:.1f} s", flush=True)
    for mode in MODES:
        if mode != "eager":
            compile_blocks(model, mode[len("compile-"):], torch)
        need = 0.0 if mode == "eager" else 30.0  # a first compile; then the last cell's
        for res in cells:
            if mode != "eager" and time.time() + need > deadline:  # eager is cheap: always
                writer.writerow(row(kind, res, mode, note="skipped: time budget spent"))
                continue
            graphs = mode == "compile-reduce-overhead"
            try:
                with torch.inference_mode():
                    first, times = time_cell(model, inputs(kind, cfg, res, torch),
                                             a.warmup + graphs, a.iters, graphs, torch)
            except Exception as e:  # a failed compile is a result too
                writer.writerow(row(kind, res, mode, note=f"failed: {type(e).__name__}: {e}"[:200]))
                print(f"{kind} {res} {mode}: failed: {e}", flush=True)
                continue
            need = first if mode != "eager" else 0.0
            r = row(kind, res, mode, times, first)
            writer.writerow(r)
            print(f"{kind} {res}x{res} {mode}: {r['step_ms']} ms (first call {r['first_s']} s)",
                  flush=True)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def measure(a):
    import torch
    for knob in ("cache_size_limit", "recompile_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, 64)
    cells = {"flux": [int(r) for r in a.flux_res.split(",")],
             "sd3": [int(r) for r in a.sd3_res.split(",")]}
    models = a.models.split(",")
    start = time.time()
    share = {"sd3": 0.4, "flux": 0.6} if len(models) == 2 else {models[0]: 1.0}
    spent = 0.0
    with open(a.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row("sd3", 0, "eager").keys()))
        writer.writeheader()
        for kind in models:
            spent += share[kind]
            measure_model(kind, cells[kind], start + spent * a.budget_s, a, writer, torch)
            f.flush()
    print(f"diffusers measured in {time.time() - start:.0f} s", flush=True)


def read_rows(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows += list(csv.DictReader(ln for ln in f if not ln.startswith("#")))
    return rows


def ms(v):
    return float(v) if v not in ("", None) else math.nan


def fmt(v):
    return "-" if math.isnan(v) else f"{v:.2f}"


def table(a):
    ours = {(r["model"], int(r["height"])): ms(r["step_ms"])
            for r in read_rows(a.ours) if int(r["sp"]) == 1 and int(r.get("batch") or 1) == 1}
    graphs = {(r["model"], int(r["height"])): ms(r["step_ms"])
              for r in read_rows(a.ours_graphs) if int(r["sp"]) == 1 and int(r.get("batch") or 1) == 1}
    diff = {}
    for r in read_rows([a.diffusers]):
        diff.setdefault((r["model"], int(r["height"])), {})[r["mode"]] = ms(r["step_ms"])
    print("| model | res | ours ms | ours + graphs ms | diffusers eager ms | + compile default ms "
          "| + compile reduce-overhead ms | fastest diffusers / fastest ours |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in sorted(set(ours) | set(diff), key=lambda k: (k[0], k[1])):
        o, g = ours.get(key, math.nan), graphs.get(key, math.nan)
        d = diff.get(key, {})
        cols = [d.get(m, math.nan) for m in MODES]
        best_o = min((v for v in (o, g) if not math.isnan(v)), default=math.nan)
        best_d = min((v for v in cols if not math.isnan(v)), default=math.nan)
        ratio = best_d / best_o if not (math.isnan(best_o) or math.isnan(best_d)) else math.nan
        print(f"| {key[0]} | {key[1]}² | {fmt(o)} | {fmt(g)} | " +
              " | ".join(fmt(v) for v in cols) + f" | {fmt(ratio)} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", required=True)
    m.add_argument("--budget-s", type=float, default=240)
    m.add_argument("--models", default="sd3,flux")
    m.add_argument("--flux-res", default="256,512,1024,2048")
    m.add_argument("--sd3-res", default="256,1024,2048")
    m.add_argument("--warmup", type=int, default=2)
    m.add_argument("--iters", type=int, default=5)
    t = sub.add_parser("table")
    t.add_argument("--ours", nargs="+", required=True)
    t.add_argument("--ours-graphs", nargs="+", required=True)
    t.add_argument("--diffusers", required=True)
    a = ap.parse_args()
    if a.cmd == "measure":
        if not set(a.models.split(",")) <= {"sd3", "flux"}:
            ap.error("--models: sd3 and/or flux")
        measure(a)
    else:
        table(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
