"""Decision latency: host time of TetriServe's plan call per round boundary
(the rounds table's plan_wall_ns) against the number of active requests and
the GPU count (paper: under 10 ms per round, C++ core). Timings are host
wall time of the simulator process, so the runner runs these points one at
a time (MAX_JOBS)."""

import math

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
from experiments.runner.plotting import save
from experiments.runner.tables import markdown

TITLE = "TetriServe decision latency vs queue length and GPU count"
MAX_JOBS = 1
GPU_COUNTS = (1, 2, 4, 8)
# Per-GPU load as a multiple of the default (6/min on 4 GPUs); overload builds long queues.
LOADS = (1, 2, 4)
SCALE = 1.0
COLOURS = {1: "#90caf9", 2: "#42a5f5", 4: "#1565c0", 8: "#0d1b52"}


def points(quick, seeds):
    pts = []
    for gpus in (1, 4) if quick else GPU_COUNTS:
        for load in LOADS:
            rate = d.RATE_PER_MIN * load * gpus / d.GPUS
            pts += expand_seeds(
                seeds, trace={"rate": rate, "mix": "uniform", "duration": d.duration(quick)},
                sim={"gpus": gpus, "slo-scale": SCALE, "store-rounds": True},
                policies=("tetriserve",),
                tag=f"g{gpus}-l{load}", params={"gpus": gpus, "load": load})
    return pts


def _bin(active):
    """Power-of-two bin of a queue length: 1, 2-3, 4-7, ..."""
    return 1 << int(math.log2(max(active, 1)))


def _bin_label(b):
    return str(b) if b == 1 else f"{b}–{2 * b - 1}"


def _percentile(sorted_v, p):
    if not sorted_v:
        return float("nan")
    k = (len(sorted_v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (k - lo)


def plan_times(res):
    """{gpus: {bin: sorted plan times in microseconds}} over all seeds and loads."""
    out = {}
    for p in res.points:
        found = res.run(p, "tetriserve")
        if not found:
            continue
        rows = res.query("SELECT active, plan_wall_ns FROM rounds WHERE run_id = ? AND active > 0",
                         (found[0],))
        by_bin = out.setdefault(p.params["gpus"], {})
        for active, ns in rows:
            by_bin.setdefault(_bin(active), []).append(ns / 1e3)
    for by_bin in out.values():
        for v in by_bin.values():
            v.sort()
    return out


def plot(res, plt, outdir):
    times = plan_times(res)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for gpus in sorted(times):
        bins = sorted(times[gpus])
        colour = COLOURS.get(gpus)
        ax.plot(bins, [_percentile(times[gpus][b], 50) for b in bins], marker="o", color=colour,
                label=f"{gpus} GPU{'s' if gpus > 1 else ''}, median")
        ax.plot(bins, [_percentile(times[gpus][b], 99) for b in bins], marker="x", linestyle="--",
                color=colour, label=f"{gpus} GPU{'s' if gpus > 1 else ''}, p99")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("active requests at the round boundary (power-of-two bins)")
    ax.set_ylabel("plan time per round (µs)")
    ax.axhline(10_000, color="#d32f2f", linewidth=0.8)
    ax.text(1, 10_000 * 1.15, "paper: < 10 ms", color="#d32f2f", fontsize=8)
    ax.set_title("TetriServe decision latency (simulator host time)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    save(fig, outdir, "decision_latency")


def table(res):
    times = plan_times(res)
    rows = []
    for gpus in sorted(times):
        for b in sorted(times[gpus]):
            v = times[gpus][b]
            rows.append([gpus, _bin_label(b), len(v), f"{_percentile(v, 50):.1f}",
                         f"{_percentile(v, 99):.1f}", f"{v[-1]:.1f}"])
    return ("Plan time per round boundary in µs (host wall time inside the policy's plan call, "
            "from the rounds table), over all seeds and loads:\n\n"
            + markdown(["GPUs", "active requests", "rounds", "median µs", "p99 µs", "max µs"], rows))
