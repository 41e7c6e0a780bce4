"""Ablation of TetriServe's mechanisms (paper's cumulative rows: schedule only
0.54, + placement preservation 0.56, + elastic scale-up 0.63 on Uniform
1.0x; 0.38 / 0.45 / 0.55 on Skewed 1.5x). Our last row adds selective
batching, which the paper's ablation table does not list."""

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
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
    return pts


def _setting(mix, scale):
    return f"{mix} {scale}x"


def plot(res, plt, outdir):
    names = [n for n, _ in VARIANTS]
    values = {(_setting(m, s), n): res.metric(spec, mix=m, scale=s, variant=n)
              for m, s in SETTINGS for n, spec in VARIANTS}
    colours = dict(zip(names, ("#ffcdd2", "#ef9a9a", "#e57373", "#c62828")))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    grouped_bars(ax, [_setting(m, s) for m, s in SETTINGS], names, values, colours)
    ceiling_marks(ax, [res.ceiling(mix=m, scale=s) for m, s in SETTINGS])
    ax.set_ylabel("SLO attainment ratio")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"TetriServe ablation, {d.RATE_PER_MIN} req/min, {d.GPUS} GPUs", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    save(fig, outdir, "ablation")


def table(res):
    header = ["variant"]
    for m, s in SETTINGS:
        header += [f"{_setting(m, s)} ours", f"{_setting(m, s)} paper"]
    rows = []
    for i, (name, spec) in enumerate(VARIANTS):
        row = [name]
        for m, s in SETTINGS:
            paper = PAPER[(m, s)][i]
            row += [cell(res.metric(spec, mix=m, scale=s, variant=name)),
                    f"{paper:.2f}" if paper is not None else "-"]
        rows.append(row)
    rows.append(["SAR ceiling"] + [c for m, s in SETTINGS for c in (cell(res.ceiling(mix=m, scale=s)), "-")])
    return (f"TetriServe SAR, mean over seeds (min–max), cumulative rows; last row: the SAR ceiling, {CEILING}:\n\n"
            + markdown(header, rows))
