"""Round length: TetriServe's SAR with rounds of 1, 2, 5, 10 and 15 steps of
the reference request (paper: 5 steps is the most robust; 1 step costs too
much overhead, 10 is too inflexible), at three arrival rates."""

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
from experiments.runner import fair
from experiments.runner.plotting import errorbar_line, save
from experiments.runner.tables import CEILING, cell, markdown

TITLE = "SAR vs round length (steps per round)"
ROUND_STEPS = (1, 2, 5, 10, 15)
# The paper's 6, 12 and 18 requests/min on 8 GPUs, at the same per-GPU load.
RATES = (3, 6, 9)
SCALE = 1.0
MIX = "uniform"
COLOURS = ("#1976d2", "#d32f2f", "#388e3c")
# The fair baselines on the same traces (one point a rate): the best of
# fixed-sp EDF/defer at each K (picked after the fact) and rssp-search.
FAIR = fair.edf_fixed(d.DEGREES) + (fair.RSSP_SEARCH,)


def points(quick, seeds):
    pts = []
    for rate in RATES:
        for g in (1, 5, 15) if quick else ROUND_STEPS:
            pts += expand_seeds(
                seeds, trace={"rate": rate, "mix": MIX, "duration": d.duration(quick)},
                sim={"gpus": d.GPUS, "slo-scale": SCALE},
                policies=(_spec(g),), tag=f"r{rate}-g{g}", params={"rate": rate, "steps": g})
        pts += expand_seeds(
            seeds, trace={"rate": rate, "mix": MIX, "duration": d.duration(quick)},
            sim={"gpus": d.GPUS, "slo-scale": SCALE}, policies=FAIR, tag=f"r{rate}-fair",
            params={"rate": rate, "steps": "fair"})
    return pts


def best_fair(res, rate):
    """The best fair baseline's SAR at a rate (oracle over K and rssp-search)."""
    return fair.best_of(res, FAIR, rate=rate, steps="fair")


def _spec(steps):
    return f"tetriserve:round_steps={steps}"


def _steps(res):
    return sorted({p.params["steps"] for p in res.points} - {"fair"})


def decisions_per_s(summary):
    """Round-boundary decisions per simulated second of a run."""
    return summary["rounds"] / summary["makespan_s"] if summary.get("makespan_s") else None


def plot(res, plt, outdir):
    xs = _steps(res)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for rate, colour in zip(RATES, COLOURS):
        label = f"{rate}/min (paper {d.paper_rate(rate):g}/min)"
        errorbar_line(ax, xs, [res.metric(_spec(g), rate=rate, steps=g) for g in xs], label,
                      colour=colour)
        pol, s = best_fair(res, rate)
        if s.n:
            ax.axhline(s.mean, color=colour, linestyle=":", linewidth=1.2,
                       label=f"{rate}/min: best fair baseline")
        errorbar_line(ax2, xs, [res.metric(_spec(g), decisions_per_s, rate=rate, steps=g)
                                for g in xs], label, colour=colour)
    ax.set_ylabel("SLO attainment ratio")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"TetriServe, {MIX} mix, SLO {SCALE}x, {d.GPUS} GPUs", fontsize=10)
    ax2.set_ylabel("round decisions per simulated second")
    ax2.set_yscale("log")
    ax2.set_title("how often the scheduler decides", fontsize=10)
    for a in (ax, ax2):
        a.set_xlabel("round length (steps of the reference request)")
        a.set_xticks(xs)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    save(fig, outdir, "round_length")


def table(res):
    xs = _steps(res)
    rows = [[f"{r} ({d.paper_rate(r):g})"] + [cell(res.metric(_spec(g), rate=r, steps=g)) for g in xs]
            + [f"{cell(best_fair(res, r)[1])} ({best_fair(res, r)[0]})", cell(res.ceiling(rate=r))]
            for r in RATES]
    text = ("TetriServe SAR, mean over seeds (min–max); rows: req/min on 4 GPUs (paper-equivalent "
            f"rate on 8); columns: steps per round, then the best fair baseline on the same traces "
            f"(fixed-sp EDF/defer at the best K, picked after the fact, or rssp-search); ceiling: {CEILING}:\n\n"
            + markdown(["rate", *[f"{g} steps" for g in xs], "best fair baseline", "ceiling"], rows))
    rows = [[f"{r} ({d.paper_rate(r):g})"]
            + [cell(res.metric(_spec(g), decisions_per_s, rate=r, steps=g), 2) for g in xs]
            for r in RATES]
    return (text + "\nRound-boundary decisions per simulated second (summary rounds / makespan):\n\n"
            + markdown(["rate", *[f"{g} steps" for g in xs]], rows))
