"""SLO attainment on homogeneous workloads: every request of a trace has the
same resolution (paper: single-resolution workloads, FLUX, Poisson)."""

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
from experiments.runner import fair
from experiments.runner.plotting import ceiling_marks, grouped_bars, save
from experiments.runner.tables import CEILING, cell, markdown

TITLE = "SAR on homogeneous (single-resolution) workloads"
RESOLUTIONS = (256, 512, 1024, 2048)
SCALES = (1.0, 1.5)
# The paper's FCFS baselines, then the fair ones (runner/fair.py); with one
# resolution a trace, rssp-search is the degree that did best on the tuning seeds.
POLICIES = d.POLICIES + fair.fair(d.DEGREES)
BARS = d.POLICIES + (fair.Best(fair.BEST_EDF, fair.edf_fixed(d.DEGREES)), fair.RSSP_SEARCH, fair.TETRI_DROP)


def points(quick, seeds):
    pts = []
    for res in RESOLUTIONS:
        for scale in SCALES[:1] if quick else SCALES:
            pts += expand_seeds(
                seeds, trace={"rate": d.RATE_PER_MIN, "res": res, "duration": d.duration(quick)},
                sim={"gpus": d.GPUS, "slo-scale": scale}, policies=POLICIES,
                tag=f"res{res}-x{scale}", params={"res": res, "scale": scale})
    return pts


def _scales(res):
    return sorted({p.params["scale"] for p in res.points})


def plot(res, plt, outdir):
    scales = _scales(res)
    fig, axes = plt.subplots(1, len(scales), figsize=(7 * len(scales), 4.2), sharey=True,
                             squeeze=False)
    for ax, scale in zip(axes[0], scales):
        labels = [b.label if isinstance(b, fair.Best) else b for b in BARS]
        values = {(f"{r}²", label): fair.series(res, b, res=r, scale=scale)
                  for r in RESOLUTIONS for b, label in zip(BARS, labels)}
        grouped_bars(ax, [f"{r}²" for r in RESOLUTIONS], labels, values)
        ceiling_marks(ax, [res.ceiling(res=r, scale=scale) for r in RESOLUTIONS])
        ax.set_title(f"one resolution a trace, {d.RATE_PER_MIN} req/min, SLO {scale}x", fontsize=10)
        ax.set_xlabel("resolution")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("SLO attainment ratio")
    axes[0][0].set_ylim(0, 1.05)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save(fig, outdir, "homogeneous")


def table(res):
    rows = [[f"{r}²", f"{s:.1f}"] + [cell(res.metric(p, res=r, scale=s)) for p in POLICIES]
            + [cell(res.ceiling(res=r, scale=s))] for s in _scales(res) for r in RESOLUTIONS]
    settings = [(f"{r}² {s:.1f}x", {"res": r, "scale": s}) for s in _scales(res) for r in RESOLUTIONS]
    return (f"SAR, mean over seeds (min–max); ceiling: {CEILING}:\n\n"
            + markdown(["resolution", "SLO scale", *POLICIES, "ceiling"], rows)
            + "\nFair comparison (best fair = the better of the oracle-K EDF/defer fixed-sp and "
              "rssp-search, here the degree best on the tuning seeds):\n\n"
            + fair.fair_table(res, settings, d.DEGREES) + "\n" + fair.map_table(res, settings))
