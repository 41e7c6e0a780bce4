#!/usr/bin/env python3
"""Where a step's time goes: every kernel of `tetriserve profile` recorded by
CUPTI (exec/tools/ts_kernel_trace.c, loaded with CUDA_INJECTION64_PATH), one
step's share of each kernel class (GEMMs, attention, communication, the
element-wise rest), the GPU idle time between kernels, and the floor of the
step at given GEMM and attention rates.

    python3 experiments/bench_step/kernel_breakdown.py measure --build B \\
        --cells flux-dev:2048,flux-dev:1024,sd3-medium:2048 --out OUT
    python3 experiments/bench_step/kernel_breakdown.py table OUT/*.json

One step's kernels are the difference of two profile runs of the same cell
with 6 and 2 timed steps, divided by 4: engine start-up, weight generation
and warm-up cancel out. The floor counts the GEMM and attention FLOPs of a
step (the model's shapes, as common/model/step_work.c counts them) at the
rates given (defaults: 780 TFLOP/s bf16 GEMM and 700 TFLOP/s attention, the
best rates measured on an H200: docs/PERFORMANCE.md)."""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

# name fragments of each class, checked in order (cuBLASLt's GEMMs are
# nvjet/sm90_xmma/cutlass kernels; cuDNN's fused attention and ours)
CLASSES = (("communication", ("nccl",)),
           ("attention", ("sdpa", "fmha", "flash", "attn", "attention", "cudnn_generated")),
           ("gemm", ("gemm", "nvjet", "xmma", "cutlass", "matmul")))

# (hidden, joint blocks, single blocks, MLP ratio, head width, text tokens)
SHAPES = {"flux-dev": (3072, 19, 38, 4, 128, 512), "sd3-medium": (1536, 24, 0, 4, 64, 333)}


def kernel_class(name):
    low = name.lower()
    for cls, keys in CLASSES:
        if any(k in low for k in keys):
            return cls
    return "element-wise"


def step_flops(model, res):
    """GEMM and attention FLOPs of one batch-1 step at SP 1."""
    d, joint, single, mlp, _, text = SHAPES[model]
    img = (res // 16) ** 2
    seq = img + text
    # joint block: qkv 3d^2, out d^2, MLP 2 mlp d^2 per token of each stream
    gemm = joint * 2 * (4 + 2 * mlp) * d * d * seq
    # single block: linear1 (3 + mlp) d^2, linear2 (1 + mlp) d^2 per token
    gemm += single * 2 * (4 + 2 * mlp) * d * d * seq
    attn = (joint + single) * 4 * seq * seq * d
    return gemm, attn


def read_trace(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            n, ns, name = line.rstrip("\n").split("\t", 2)
            c = out.setdefault(name, [0, 0])
            c[0] += int(n)
            c[1] += int(ns)
    return out


def profile_run(args, model, res, iters, tmp):
    trace, csv = os.path.join(tmp, f"k{iters}.tsv"), os.path.join(tmp, f"p{iters}.csv")
    env = dict(os.environ, CUDA_INJECTION64_PATH=os.path.abspath(args.lib), TS_KTRACE_OUT=trace)
    cmd = [os.path.join(args.build, "tetriserve"), "profile", "--model", model, "--res", str(res),
           "--sp", "1", "--gpus", "1", "--warmup", "1", "--iters", str(iters), "--out", csv]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    with open(csv) as f:
        rows = [l.split(",") for l in f if l[0].isalpha() and not l.startswith("model")]
    return read_trace(trace), float(rows[0][5])


def measure_cell(args, model, res):
    with tempfile.TemporaryDirectory() as tmp:
        few, step_few = profile_run(args, model, res, 2, tmp)
        many, step_many = profile_run(args, model, res, 6, tmp)
    per_class, kernels = {}, []
    for name, (n, ns) in many.items():
        n0, ns0 = few.get(name, (0, 0))
        ms = (ns - ns0) / 4 / 1e6
        if n - n0 <= 0:
            continue
        cls = kernel_class(name)
        per_class[cls] = per_class.get(cls, 0.0) + ms
        kernels.append((ms, (n - n0) / 4, cls, name[:120]))
    kernels.sort(reverse=True)
    gemm_f, attn_f = step_flops(model, res)
    return {"model": model, "res": res, "step_ms": step_many, "step_ms_short_run": step_few,
            "class_ms": per_class, "top_kernels": kernels[:12],
            "gemm_tflop": gemm_f / 1e12, "attention_tflop": attn_f / 1e12}


def cmd_measure(args):
    os.makedirs(args.out, exist_ok=True)
    for cell in args.cells.split(","):
        model, res = cell.split(":")
        r = measure_cell(args, model, int(res))
        with open(os.path.join(args.out, f"kernels_{model}_{res}.json"), "w") as f:
            json.dump(r, f, indent=1)
        print(f"{model} {res}: step {r['step_ms']:.2f} ms, " +
              ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["class_ms"].items())), flush=True)


def cmd_table(args):
    print("| cell | step ms | GEMM ms (TFLOP/s) | attention ms (TFLOP/s) | communication ms | "
          "element-wise ms | GPU idle ms | floor ms | step / floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in sorted(p for pat in args.files for p in glob.glob(pat)):
        with open(path) as f:
            r = json.load(f)
        c = r["class_ms"]
        gemm, attn = c.get("gemm", 0.0), c.get("attention", 0.0)
        busy = sum(c.values())
        floor = r["gemm_tflop"] / args.gemm_tflops * 1e3 + r["attention_tflop"] / args.attn_tflops * 1e3
        rate = lambda tf, ms: tf / (ms / 1e3) if ms > 0 else 0.0  # noqa: E731
        print(f"| {r['model']} {r['res']}² | {r['step_ms']:.1f} | {gemm:.1f} ({rate(r['gemm_tflop'], gemm):.0f}) "
              f"| {attn:.1f} ({rate(r['attention_tflop'], attn):.0f}) | {c.get('communication', 0.0):.1f} "
              f"| {c.get('element-wise', 0.0):.1f} | {r['step_ms'] - busy:.1f} | {floor:.1f} "
              f"| {r['step_ms'] / floor:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--build", default="build")
    m.add_argument("--lib", default=None, help="the injection library (default BUILD/exec/libts_kernel_trace.so)")
    m.add_argument("--cells", default="flux-dev:2048,flux-dev:1024,sd3-medium:2048")
    m.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    t.add_argument("--gemm-tflops", type=float, default=780.0)
    t.add_argument("--attn-tflops", type=float, default=700.0)
    args = ap.parse_args()
    if args.cmd == "measure":
        args.lib = args.lib or os.path.join(args.build, "exec", "libts_kernel_trace.so")
        cmd_measure(args)
    else:
        cmd_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
