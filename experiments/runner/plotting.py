"""Figures: matplotlib is optional; without it the plot step says so and is
skipped (tables are still written)."""

import math
import os
import sys

from .defaults import RSSP_FIT
from .fair import BEST_EDF, BEST_FCFS, EDF, RSSP_SEARCH, TETRI_DROP, Best, series

# One colour and marker per policy across all figures; the fair baselines
# (EDF, late requests set aside) in blues and purple, solid and thick.
POLICY_STYLE = {
    "fixed-sp:1": ("#9e9e9e", "v"),
    "fixed-sp:2": ("#607d8b", "^"),
    "fixed-sp:4": ("#37474f", "s"),
    "fixed-sp:8": ("#000000", "D"),
    "rssp": ("#ff9800", "o"),
    RSSP_FIT: ("#8d6e63", "P"),
    "tetriserve": ("#d32f2f", "*"),
    TETRI_DROP: ("#880e4f", "*"),
    BEST_EDF: ("#1565c0", "D"),
    BEST_FCFS: ("#9e9e9e", "s"),
    RSSP_SEARCH: ("#7b1fa2", "X"),
    f"fixed-sp:1{EDF}": ("#90caf9", "v"),
    f"fixed-sp:2{EDF}": ("#42a5f5", "^"),
    f"fixed-sp:4{EDF}": ("#1565c0", "s"),
    f"fixed-sp:8{EDF}": ("#0d47a1", "D"),
}
# The best EDF/defer degree is drawn wide so that rssp-search, often equal,
# does not hide it.
WIDE = {BEST_EDF: 4.0}
# Dashed: the paper's FCFS baselines and tetriserve's late=drop variant.
DASHED = {"fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "fixed-sp:8", "rssp", RSSP_FIT, TETRI_DROP, BEST_FCFS}


def pyplot():
    """matplotlib.pyplot with a file-only backend, or None when missing."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    # Same results, same SVG bytes: fixed element ids, no creation date.
    matplotlib.rcParams["svg.hashsalt"] = "tetriserve"
    import matplotlib.pyplot as plt
    return plt


def draw(exp, res, outdir, name):
    """Calls the experiment's plot function when matplotlib is present."""
    plt = pyplot()
    if plt is None:
        print(f"[{name}] matplotlib is not installed (pip install matplotlib): figures skipped",
              file=sys.stderr)
        return
    exp.plot(res, plt, outdir)


def save(fig, outdir, stem):
    """Writes the figure as STEM.png and STEM.svg in outdir and closes it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    for ext in ("png", "svg"):
        path = os.path.join(outdir, f"{stem}.{ext}")
        if ext == "png":
            fig.savefig(path, dpi=150)
        else:
            fig.savefig(path, metadata={"Date": None})
        print(f"figure written to {path}", file=sys.stderr)
    plt.close(fig)


def style(policy):
    """(colour, marker) of a policy; rssp with a map of no style of its own
    looks like rssp."""
    if policy not in POLICY_STYLE and policy.startswith("rssp"):
        policy = "rssp"
    return POLICY_STYLE.get(policy, (None, "o"))


def errorbar_line(ax, xs, spreads, label, policy=None, colour=None):
    """A line of means with min-max error bars; points without data are left
    out. The colour and marker are the policy's (policy, else label) unless
    colour is given."""
    pts = [(x, s) for x, s in zip(xs, spreads) if s.n > 0 and math.isfinite(s.mean)]
    if not pts:
        return
    policy_colour, marker = style(policy or label)
    dashed = (policy or label) in DASHED or (policy or label).startswith("rssp:")
    ax.errorbar([x for x, _ in pts], [s.mean for _, s in pts],
                yerr=[[s.mean - s.lo for _, s in pts], [s.hi - s.mean for _, s in pts]],
                label=label, color=colour or policy_colour, marker=marker, capsize=3,
                linewidth=1.0 if dashed else WIDE.get(policy or label, 2.0),
                linestyle="--" if dashed else "-", markersize=5 if dashed else 6)


def grouped_bars(ax, groups, series, values, colours=None):
    """Bars of means with min-max error bars: values[(group, series)] is a
    Spread; one cluster per group, one bar per series."""
    width = 0.8 / max(len(series), 1)
    for j, s in enumerate(series):
        xs, means, lo, hi = [], [], [], []
        for i, g in enumerate(groups):
            v = values.get((g, s))
            if v is None or v.n == 0:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            means.append(v.mean)
            lo.append(v.mean - v.lo)
            hi.append(v.hi - v.mean)
        colour = (colours or {}).get(s) or style(s)[0]
        ax.bar(xs, means, width, yerr=[lo, hi], capsize=2, label=s, color=colour)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([str(g) for g in groups])


CEILING_LABEL = "SAR ceiling (idle node)"


def ceiling_line(ax, xs, spreads):
    """The SAR ceiling (Results.ceiling) as a dashed black line of means."""
    pts = [(x, s.mean) for x, s in zip(xs, spreads) if s.n > 0 and math.isfinite(s.mean)]
    if pts:
        ax.plot([x for x, _ in pts], [m for _, m in pts], color="black", linestyle="--",
                linewidth=1, label=CEILING_LABEL)


def ceiling_marks(ax, spreads):
    """The SAR ceiling of each bar cluster of grouped_bars (spreads in group
    order) as a dashed black segment across the cluster."""
    for i, s in enumerate(spreads):
        if s.n > 0 and math.isfinite(s.mean):
            ax.hlines(s.mean, i - 0.42, i + 0.42, colors="black", linestyles="dashed", linewidth=1,
                      label=CEILING_LABEL if i == 0 else None)


def sar_panels(res, plt, outdir, stem, x, xlabel, panels, ncols=2):
    """One panel per entry of panels, (title, params, policies): SAR of the
    points matching params vs the param x, one line per policy with min-max
    bars over seeds, and the SAR ceiling of the traces (dashed). The panels
    of a row share one legend, so they should show the same policies. A
    policy may be a fair.Best: the best of several policies at each x."""
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols + 2.5, 3.6 * nrows), sharey=True,
                             squeeze=False)
    xs = sorted({p.params[x] for p in res.points if x in p.params})
    for ax, (title, params, policies) in zip(axes.flat, panels):
        xs_here = [v for v in xs if res.select(**params, **{x: v})]
        for pol in policies:
            label = pol.label if isinstance(pol, Best) else pol
            errorbar_line(ax, xs_here, [series(res, pol, **params, **{x: v}) for v in xs_here], label)
        ceiling_line(ax, xs_here, [res.ceiling(**params, **{x: v}) for v in xs_here])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("SLO attainment ratio")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    # One legend a row, right of its last panel (inside, it would hide
    # lines): the panels of a row show the same policies.
    for row in axes:
        row[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save(fig, outdir, stem)
