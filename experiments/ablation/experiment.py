"""Ablation of TetriServe's mechanisms (paper's cumulative rows: schedule only
0.54, + placement preservation 0.56, + elastic scale-up 0.63 on Uniform
1.0x; 0.38 / 0.45 / 0.55 on Skewed 1.5x). Our last row adds selective
batching, which the paper's ablation table does not list."""

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
from experiments.runner import fair
from experiments.runner.plotting import ceiling_marks, grouped_bars, save
from experiments.runner.tables import CEILING, cell, markdown

TITLE = "Ablation: schedule only, + placement, + elastic scale-up, + batching"
# (name, tetriserve spec): each row adds one mechanism to the one before.
VARIANTS = (
    ("schedule only", "tetriserve:placement=off:elastic=off:batching=off"),
    ("+ placement", "tetriserve:elastic=off:batching=off"),
    ("+ elastic scale-up", "tetriserve:batching=off"),
    ("+ batching (full)", "tetriserve"),
)
# Beside the cumulative rows: the full scheduler with a boundary that waits
# for a free GPU (docs/SCHEDULER.md, busy_boundary) and with late requests
# dropped, and the fair baselines on the same traces (runner/fair.py).
EXTRA = (("full, busy_boundary=wait", "tetriserve:busy_boundary=wait"),
         ("full, late=drop", fair.TETRI_DROP))
FAIR = fair.edf_fixed(d.DEGREES) + (fair.RSSP_SEARCH,)
BASELINE_ROWS = ((fair.BEST_EDF, fair.Best(fair.BEST_EDF, fair.edf_fixed(d.DEGREES))),
                 ("rssp-search EDF/defer", fair.RSSP_SEARCH))
SETTINGS = (("uniform", 1.0), ("skewed", 1.5))
PAPER = {("uniform", 1.0): (0.54, 0.56, 0.63, None), ("skewed", 1.5): (0.38, 0.45, 0.55, None)}


def points(quick, seeds):
    pts = []
    for mix, scale in SETTINGS:
        for i, (name, spec) in enumerate(VARIANTS):
            pts += expand_seeds(
                seeds, trace={"rate": d.RATE_PER_MIN, "mix": mix, "duration": d.duration(quick)},
                sim={"gpus": d.GPUS, "slo-scale": scale},
                policies=(spec,), tag=f"{mix}-x{scale}-v{i}",
                params={"mix": mix, "scale": scale, "variant": name})
        # the extra rows and the baselines share one point (its own key)
        pts += expand_seeds(
            seeds, trace={"rate": d.RATE_PER_MIN, "mix": mix, "duration": d.duration(quick)},
            sim={"gpus": d.GPUS, "slo-scale": scale},
            policies=tuple(spec for _, spec in EXTRA) + FAIR, tag=f"{mix}-x{scale}-fair",
            params={"mix": mix, "scale": scale, "variant": "fair"})
    return pts


def _rows():
    """(row name, variant param, policy or fair.Best) of every bar and row."""
    return ([(n, n, spec) for n, spec in VARIANTS] + [(n, "fair", spec) for n, spec in EXTRA]
            + [(n, "fair", b) for n, b in BASELINE_ROWS])


def _setting(mix, scale):
    return f"{mix} {scale}x"


def plot(res, plt, outdir):
    rows = _rows()
    names = [n for n, _, _ in rows]
    values = {(_setting(m, s), n): fair.series(res, pol, mix=m, scale=s, variant=v)
              for m, s in SETTINGS for n, v, pol in rows}
    colours = dict(zip(names, ("#ffcdd2", "#ef9a9a", "#e57373", "#c62828", "#6d4c41", "#880e4f",
                               "#1565c0", "#7b1fa2")))
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    grouped_bars(ax, [_setting(m, s) for m, s in SETTINGS], names, values, colours)
    ceiling_marks(ax, [res.ceiling(mix=m, scale=s) for m, s in SETTINGS])
    ax.set_ylabel("SLO attainment ratio")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"TetriServe ablation and the fair baselines, {d.RATE_PER_MIN} req/min, {d.GPUS} GPUs",
                 fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save(fig, outdir, "ablation")


def table(res):
    header = ["variant"]
    for m, s in SETTINGS:
        header += [f"{_setting(m, s)} ours", f"{_setting(m, s)} paper"]
    rows = []
    for i, (name, variant, pol) in enumerate(_rows()):
        row = [name]
        for m, s in SETTINGS:
            paper = PAPER[(m, s)][i] if i < len(VARIANTS) else None
            row += [cell(fair.series(res, pol, mix=m, scale=s, variant=variant)),
                    f"{paper:.2f}" if paper is not None else "-"]
        rows.append(row)
    rows.append(["SAR ceiling"] + [c for m, s in SETTINGS for c in (cell(res.ceiling(mix=m, scale=s)), "-")])
    settings = [(_setting(m, s), {"mix": m, "scale": s, "variant": "fair"}) for m, s in SETTINGS]
    return (f"TetriServe SAR, mean over seeds (min–max), cumulative rows, then the full scheduler "
            f"with busy_boundary=wait and with late=drop, then the fair baselines on the same traces "
            f"(best K picked per setting after the fact: an oracle); last row: the SAR ceiling, {CEILING}:\n\n"
            + markdown(header, rows) + "\nrssp-search maps:\n\n" + fair.map_table(res, settings))
