"""SLO attainment on homogeneous workloads: every request of a trace has the
same resolution (paper: single-resolution workloads, FLUX, Poisson)."""

from experiments.runner import expand_seeds
from experiments.runner import defaults as d
from experiments.runner.plotting import ceiling_marks, grouped_bars, save
from experiments.runner.tables import CEILING, cell, markdown

TITLE = "SAR on homogeneous (single-resolution) workloads"
RESOLUTIONS = (256, 512, 1024, 2048)
SCALES = (1.0, 1.5)


def points(quick, seeds):
    pts = []
    for res in RESOLUTIONS:
        for scale in SCALES[:1] if quick else SCALES:
            pts += expand_seeds(
                seeds, trace={"rate": d.RATE_PER_MIN, "res": res, "duration": d.duration(quick)},
                sim={"gpus": d.GPUS, "slo-scale": scale}, policies=d.POLICIES,
                tag=f"res{res}-x{scale}", params={"res": res, "scale": scale})
    return pts


def _scales(res):
    return sorted({p.params["scale"] for p in res.points})


def plot(res, plt, outdir):
    scales = _scales(res)
    fig, axes = plt.subplots(1, len(scales), figsize=(5.5 * len(scales), 3.8), sharey=True,
                             squeeze=False)
    for ax, scale in zip(axes[0], scales):
        values = {(r, pol): res.metric(pol, res=r, scale=scale) for r in RESOLUTIONS for pol in d.POLICIES}
        grouped_bars(ax, [f"{r}²" for r in RESOLUTIONS], d.POLICIES,
                     {(f"{r}²", pol): v for (r, pol), v in values.items()})
        ceiling_marks(ax, [res.ceiling(res=r, scale=scale) for r in RESOLUTIONS])
        ax.set_title(f"one resolution a trace, {d.RATE_PER_MIN} req/min, SLO {scale}x", fontsize=10)
        ax.set_xlabel("resolution")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("SLO attainment ratio")
    axes[0][0].set_ylim(0, 1.05)
    axes[0][-1].legend(fontsize=8)
    save(fig, outdir, "homogeneous")


def table(res):
    rows = [[f"{r}²", f"{s:.1f}"] + [cell(res.metric(p, res=r, scale=s)) for p in d.POLICIES]
            + [cell(res.ceiling(res=r, scale=s))] for s in _scales(res) for r in RESOLUTIONS]
    return (f"SAR, mean over seeds (min–max); ceiling: {CEILING}:\n\n"
            + markdown(["resolution", "SLO scale", *d.POLICIES, "ceiling"], rows))
