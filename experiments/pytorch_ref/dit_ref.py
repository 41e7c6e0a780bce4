#!/usr/bin/env python3
"""dit_ref.py: a reference DiT denoising step in PyTorch, timed per step.

One step = patchify the latent, run the transformer (FLUX.1-dev or SD3-medium
shapes, random bf16 weights drawn from a seeded generator on the device),
final adaLN layer, unpatchify, flow-matching Euler update of the latent.
With k ranks (torchrun, NCCL) the step runs Ulysses sequence parallelism:
each rank holds 1/k of the text and image tokens (padded to a multiple of
k, the padding masked out of attention); before attention one
all_to_all_single trades the token split of q, k, v for a head split, and
one after attention trades it back. Every rank ends the step holding the
full updated latent (one all-gather), which is what lets a scheduler change
the SP degree between steps.

Output: rows in the project's profile format (traces/README.md),
  model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch
plus, with --details, one row per cell with peak memory and the all-to-all
share of the step. See README.md beside this file for the CLI contract.
The model itself is in dit_model.py.
"""

import argparse
import csv
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from dit_model import (DTYPES, LATENT_DOWNSCALE, PRESETS, DiT, Layout, SeqParallel,
                       WeightFactory, denoise_step)

PROFILE_COLUMNS = ["model", "gpu", "height", "width", "sp", "step_ms",
                   "p50_ms", "p99_ms", "cv", "samples", "batch"]
DETAIL_COLUMNS = ["model", "gpu", "height", "width", "sp", "batch",
                  "step_ms", "peak_mem_gib", "weights_gib", "a2a_share",
                  "out_std", "check_rel_err"]
MIN_SAMPLES = 5        # timed steps per cell even when --max-seconds is hit

# ----------------------------------------------------------------------------
# Measurement


def short_gpu_name(name):
    """'NVIDIA H100 80GB HBM3' -> 'H100-SXM-80GB'; 'NVIDIA H200' -> 'H200'."""
    if "H100" in name:
        if "PCIe" in name:
            return "H100-PCIe-80GB"
        if "NVL" in name:
            return "H100-NVL-94GB"
        return "H100-SXM-80GB"
    if "H200" in name:
        return "H200"
    return name.replace("NVIDIA", "").strip().replace(" ", "-") or "unknown"


class Clock:
    """Times device work: CUDA events on a GPU, the host clock on a CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def start(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return time.perf_counter()

    def stop_ms(self, start):
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        return (time.perf_counter() - start) * 1e3


def all_max(value, device, group):
    """Max of a float over the group; also a barrier."""
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
    return t.item()


def all_mean(value, device, group, world):
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
    return t.item() / world


def percentile(sorted_xs, q):
    """Linear-interpolated percentile (numpy's default) of a sorted list."""
    pos = (len(sorted_xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def summarize(samples):
    """mean, p50, p99, cv (sample std / mean, a fraction) of step times."""
    n = len(samples)
    mean = sum(samples) / n
    var = sum((x - mean) ** 2 for x in samples) / (n - 1) if n > 1 else 0.0
    s = sorted(samples)
    return mean, percentile(s, 50), percentile(s, 99), math.sqrt(var) / mean


class Cell:
    """Inputs of one (resolution, batch) cell, drawn from a seeded generator."""

    def __init__(self, cfg, height, width, batch, seed, device, dtype, lay):
        g = torch.Generator(device=device)
        g.manual_seed(seed)
        h8, w8 = height // LATENT_DOWNSCALE, width // LATENT_DOWNSCALE
        self.latent = torch.randn(batch, cfg["channels"], h8, w8, generator=g, device=device)
        txt = torch.randn(batch, cfg["txt_tokens"], cfg["txt_dim"], generator=g, device=device)
        self.txt = F.pad(txt, (0, 0, 0, lay.lt_pad - lay.lt)).to(dtype)
        self.pooled = torch.randn(batch, cfg["vec_dim"], generator=g, device=device).to(dtype)
        self.t_curr = torch.full((batch,), 0.5, device=device)
        self.t_prev = torch.full((batch,), 0.48, device=device)
        self.guidance = torch.full((batch,), 3.5, device=device)

    def step(self, model, sp, lay):
        return denoise_step(model, sp, lay, self.latent, self.txt, self.pooled,
                            self.t_curr, self.t_prev, self.guidance)


def velocity_rel_err(model, sp, lay_sp, lay_one, cell):
    """Relative L2 error between the SP step's update and a single-rank step
    on the same inputs (each rank holds all weights)."""
    one = SeqParallel(None, 1, 0)
    ref = cell.step(model, one, lay_one) - cell.latent
    got = cell.step(model, sp, lay_sp) - cell.latent
    return ((got - ref).norm() / ref.norm()).item()


def time_cell(model, sp, lay, cell, args, clock, device):
    """Warm-up, then timed steps until --iters or --max-seconds (at least
    MIN_SAMPLES). Each sample is the slowest rank's step; ranks start each
    step together (the max-reduction of the previous sample is a barrier)."""
    for _ in range(args.warmup):
        cell.step(model, sp, lay)
    all_max(0.0, device, sp.group)
    samples = []
    while len(samples) < args.iters:
        t0 = clock.start()
        cell.step(model, sp, lay)
        samples.append(all_max(clock.stop_ms(t0), device, sp.group))
        if sum(samples) >= 1e3 * args.max_seconds and len(samples) >= MIN_SAMPLES:
            break
    return samples


def a2a_share(model, sp, lay, cell, clock, device, steps=3):
    """Share of step time spent inside the all-to-alls (CUDA events around
    each collective, which includes waiting for the slowest peer), averaged
    over ranks and a few extra steps. 0 without SP or without CUDA."""
    if sp.world == 1 or not clock.cuda:
        return 0.0
    total_comm = total_step = 0.0
    for _ in range(steps):
        sp.trace = []
        all_max(0.0, device, sp.group)
        t0 = clock.start()
        cell.step(model, sp, lay)
        total_step += clock.stop_ms(t0)
        total_comm += sum(s.elapsed_time(e) for s, e in sp.trace)
    sp.trace = None
    return all_mean(total_comm / total_step, device, sp.group, sp.world)


# ----------------------------------------------------------------------------
# Driver


def parse_res(text):
    """'256,512' or '1024x768' -> [(h, w), ...], each a multiple of 16."""
    out = []
    for item in text.split(","):
        h, sep, w = item.strip().lower().partition("x")
        if not (h.isdigit() and (w.isdigit() or not sep)):
            raise ValueError(f"--res: '{item}' is not N or HxW")
        hw = (int(h), int(w or h))
        if hw[0] <= 0 or hw[1] <= 0 or hw[0] % 16 or hw[1] % 16:
            raise ValueError(f"--res: '{item}' is not a positive multiple of 16")
        out.append(hw)
    return out


def parse_ints(text, name):
    if not all(x.strip().isdigit() for x in text.split(",")):
        raise ValueError(f"{name}: '{text}' is not a comma-separated list of integers")
    vals = [int(x) for x in text.split(",")]
    if any(v <= 0 for v in vals):
        raise ValueError(f"{name}: values must be positive, got '{text}'")
    return vals


def cells_of(args):
    """(h, w, batch) in order of growing work, so a budget cut drops the largest."""
    cells = [(h, w, b) for (h, w) in args.res for b in args.batch
             if b == 1 or args.batch_res_max is None or max(h, w) <= args.batch_res_max]
    return sorted(cells, key=lambda c: (c[0] * c[1] * c[2], c[2]))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default="flux-dev", choices=sorted(PRESETS))
    ap.add_argument("--res", default="256,512,1024,2048",
                    help="square sizes or HxW, comma-separated (multiples of 16)")
    ap.add_argument("--batch", default="1", help="batch sizes, comma-separated")
    ap.add_argument("--batch-res-max", type=int, default=None,
                    help="run batches > 1 only at resolutions up to this side")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per cell")
    ap.add_argument("--iters", type=int, default=20, help="most timed steps per cell")
    ap.add_argument("--max-seconds", type=float, default=4.0,
                    help=f"stop timing a cell after this much step time "
                         f"(at least {MIN_SAMPLES} steps)")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="start no new cell after this many seconds of the run")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES),
                    help="weights and activations (fp32 sharpens --check on a CPU)")
    ap.add_argument("--check", action="store_true",
                    help="with SP, compare the first cell's update with a one-rank step")
    ap.add_argument("--check-tol", type=float, default=None,
                    help="with --check, exit 1 when the relative error exceeds this")
    ap.add_argument("--out", required=True, help="profile CSV to write (rank 0)")
    ap.add_argument("--details", default=None,
                    help="CSV of peak memory and all-to-all share per cell (rank 0)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu (gloo) is for checking the SP logic on tiny presets")
    args = ap.parse_args(argv)
    try:
        args.res = parse_res(args.res)
        args.batch = parse_ints(args.batch, "--batch")
    except ValueError as e:
        ap.error(str(e))
    if args.iters < 1 or args.warmup < 0:
        ap.error("--iters must be >= 1 and --warmup >= 0")
    return args


def init_dist(device_kind):
    """Process group from torchrun's environment (or a single process)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_kind == "cuda":
        if not torch.cuda.is_available():
            sys.exit("dit_ref.py: no CUDA device (use --device cpu for tiny presets)")
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if "MASTER_ADDR" not in os.environ:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    dist.init_process_group(backend, rank=rank, world_size=world,
                            device_id=device if backend == "nccl" else None)
    return SeqParallel(dist.group.WORLD, world, rank), device


def open_csv(path, columns):
    f = open(path, "w", newline="")
    w = csv.writer(f)
    w.writerow(columns)
    f.flush()
    return f, w


def measure_cell(model, sp, cfg, args, device, clock, meta, hwb, check):
    """Times one cell and returns (profile row, details row). meta: (short
    GPU name, GiB of weights per rank)."""
    gpu, weights_gib = meta
    h, w, b = hwb
    lay = Layout(cfg, h, w, sp, device)
    cell = Cell(cfg, h, w, b, args.seed + 1, device, DTYPES[args.dtype], lay)
    rel_err = ""
    if check:
        lay_one = Layout(cfg, h, w, SeqParallel(None, 1, 0), device)
        rel_err = velocity_rel_err(model, sp, lay, lay_one, cell)
        if args.check_tol is not None and not rel_err <= args.check_tol:
            raise RuntimeError(f"--check: {h}x{w} b{b} sp{sp.world}: relative error "
                               f"{rel_err:.3e} above {args.check_tol:g}")
    if clock.cuda:  # after the check: its one-rank step is not part of this cell
        torch.cuda.reset_peak_memory_stats(device)
    samples = time_cell(model, sp, lay, cell, args, clock, device)
    share = a2a_share(model, sp, lay, cell, clock, device)
    out_std = cell.step(model, sp, lay).std().item()
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if clock.cuda else 0.0
    peak = all_max(peak, device, sp.group)
    mean, p50, p99, cv = summarize(samples)
    row = [args.model, gpu, h, w, sp.world, f"{mean:.3f}", f"{p50:.3f}", f"{p99:.3f}",
           f"{cv:.5f}", len(samples), b]
    details = [args.model, gpu, h, w, sp.world, b, f"{mean:.3f}", f"{peak:.2f}",
               f"{weights_gib:.2f}", f"{share:.4f}", f"{out_std:.4f}",
               rel_err if rel_err == "" else f"{rel_err:.3e}"]
    if not math.isfinite(out_std):
        raise RuntimeError(f"cell {h}x{w} b{b} sp{sp.world}: non-finite latent")
    return row, details


def check_shapes(cfg, res):
    """Exits with a message if a resolution does not fit the preset."""
    for h, w in res:
        try:
            Layout(cfg, h, w, SeqParallel(None, 1, 0), torch.device("cpu"))
        except ValueError as e:
            sys.exit(f"dit_ref.py: --res: {e}")


def main(argv):
    args = parse_args(argv)
    t_begin = time.monotonic()
    cfg = PRESETS[args.model]
    check_shapes(cfg, args.res)
    sp, device = init_dist(args.device)
    if cfg["heads"] % sp.world:
        sys.exit(f"dit_ref.py: {cfg['heads']} heads do not split over {sp.world} ranks")
    clock = Clock(device)
    gpu = short_gpu_name(torch.cuda.get_device_name(device)) if clock.cuda else "cpu"
    model = DiT(cfg, WeightFactory(args.seed, device, DTYPES[args.dtype]))
    weights_gib = torch.cuda.memory_allocated(device) / 2**30 if clock.cuda else 0.0
    lead = sp.rank == 0
    out_f, out_w = open_csv(args.out, PROFILE_COLUMNS) if lead else (None, None)
    det_f, det_w = (open_csv(args.details, DETAIL_COLUMNS)
                    if lead and args.details else (None, None))
    if lead:
        print(f"# {args.model} sp={sp.world} on {gpu}: weights {weights_gib:.2f} GiB/rank, "
              f"torch {torch.__version__}", flush=True)
    for i, hwb in enumerate(cells_of(args)):
        elapsed = all_max(time.monotonic() - t_begin, device, sp.group)
        if args.time_budget is not None and elapsed > args.time_budget:
            if lead:
                print(f"# budget: skipped {hwb[0]}x{hwb[1]} b{hwb[2]}", flush=True)
            continue
        check = args.check and i == 0 and sp.world > 1
        row, details = measure_cell(model, sp, cfg, args, device, clock,
                                    (gpu, weights_gib), hwb, check)
        if lead:
            out_w.writerow(row)
            out_f.flush()
            if det_w:
                det_w.writerow(details)
                det_f.flush()
            print(f"{args.model} {hwb[0]}x{hwb[1]} b{hwb[2]} sp{sp.world}: "
                  f"mean {row[5]} p50 {row[6]} p99 {row[7]} ms cv {row[8]} n {row[9]} "
                  f"peak {details[7]} GiB a2a {details[9]} rel_err {details[11]}",
                  flush=True)
    if lead:
        out_f.close()
        if det_f:
            det_f.close()
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
