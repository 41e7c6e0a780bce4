"""Bursty arrivals: 25 minutes of on/off traffic (Poisson during ON periods,
nothing during OFF periods, same mean rate), SLO attainment per time window
and the SP degree the policies run at over time (paper: bursty pattern,
TetriServe adapts its degrees to the load)."""

from experiments.runner import expand_seeds, spread
from experiments.runner import defaults as d
from experiments.runner import fair
from experiments.runner.plotting import grouped_bars, save, style
from experiments.runner.tables import CEILING, cell, markdown

TITLE = "Bursty arrivals: SAR and SP degree over time"
DURATION_S = 1500
ON_S, OFF_S = 120, 120
WINDOW_S = 60
SCALE = 1.0
MIX = "uniform"
# A window is a burst when at least this multiple of the mean arrivals fall in it.
BURST = 1.5
# The paper's FCFS baselines, then the fair ones (runner/fair.py).
POLICIES = d.POLICIES + fair.fair(d.DEGREES)
# The timeline shows fewer lines: the strongest of each kind.
TIMELINE = ("fixed-sp:2", "fixed-sp:4", "rssp", f"fixed-sp:2{fair.EDF}", f"fixed-sp:4{fair.EDF}",
            fair.RSSP_SEARCH, "tetriserve", fair.TETRI_DROP)


def points(quick, seeds):
    return expand_seeds(
        seeds, trace={"rate": d.RATE_PER_MIN, "arrivals": "onoff", "on-s": ON_S, "off-s": OFF_S,
                      "mix": MIX, "duration": DURATION_S},
        sim={"gpus": d.GPUS, "slo-scale": SCALE}, policies=POLICIES,
        tag="onoff", params={})


def arrivals_by_window(res, run_id):
    """{window: (requests arrived, met)} of one run, windows of WINDOW_S."""
    rows = res.query("""SELECT CAST(arrival_s / ? AS INTEGER), COUNT(*), SUM(met_slo)
                        FROM request_results WHERE run_id = ? GROUP BY 1""", (WINDOW_S, run_id))
    return {w: (n, met) for w, n, met in rows}


def degree_by_window(res, run_id):
    """{window: GPU-time-weighted mean SP degree} of one run: each step
    segment's degree weighted by the GPU-time (degree x overlap) it spent in
    the window, i.e. the degree an average busy GPU was working at."""
    segs = res.query("""SELECT degree, start_ns, end_ns FROM segments
                        WHERE run_id = ? AND kind = 'steps'""", (run_id,))
    num, den = {}, {}
    win = WINDOW_S * 1e9
    for degree, start, end in segs:
        w = int(start // win)
        while w * win < end:
            overlap = min(end, (w + 1) * win) - max(start, w * win)
            num[w] = num.get(w, 0.0) + degree * degree * overlap
            den[w] = den.get(w, 0.0) + degree * overlap
            w += 1
    return {w: num[w] / den[w] for w in den if den[w] > 0}


def burst_windows(arrivals):
    """Windows of the trace with at least BURST x the mean arrivals."""
    nwin = DURATION_S // WINDOW_S
    mean = sum(n for w, (n, _) in arrivals.items() if w < nwin) / nwin
    return {w for w, (n, _) in arrivals.items() if w < nwin and n >= BURST * mean}


def window_stats(res, point, policy):
    """(overall SAR, burst-window SAR, calm-window SAR, burst degree, calm
    degree) of one run, or None when it has not run."""
    found = res.run(point, policy)
    if not found:
        return None
    arrivals = arrivals_by_window(res, found[0])
    degrees = degree_by_window(res, found[0])
    bursts = burst_windows(arrivals)

    def sar(ws):
        n = sum(arrivals[w][0] for w in ws)
        return sum(arrivals[w][1] for w in ws) / n if n else float("nan")

    def deg(ws):
        v = [degrees[w] for w in ws if w in degrees]
        return sum(v) / len(v) if v else float("nan")

    calm = set(arrivals) - bursts
    return found[1].get("sar"), sar(bursts), sar(calm), deg(bursts), deg(calm)


def _stats(res):
    return {pol: [window_stats(res, p, pol) for p in res.points] for pol in POLICIES}


def plot_timeline(res, plt, outdir):
    """The first seed's trace: arrivals, SAR and degree per window."""
    point = min(res.points, key=lambda p: p.seed)
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    shown = False
    for pol in TIMELINE:
        found = res.run(point, pol)
        if not found:
            continue
        arrivals = arrivals_by_window(res, found[0])
        if not shown:
            ws = sorted(w for w in arrivals if w < DURATION_S // WINDOW_S)
            axes[0].bar([w * WINDOW_S / 60 for w in ws], [arrivals[w][0] for w in ws],
                        width=WINDOW_S / 60 * 0.9, align="edge", color="#90a4ae")
            shown = True
        ws = sorted(w for w in arrivals if w < DURATION_S // WINDOW_S)
        colour, marker = style(pol)
        axes[1].plot([(w + 0.5) * WINDOW_S / 60 for w in ws], [arrivals[w][1] / arrivals[w][0] for w in ws],
                     label=pol, color=colour, marker=marker, markersize=4)
        degrees = degree_by_window(res, found[0])
        ws = sorted(degrees)
        axes[2].plot([(w + 0.5) * WINDOW_S / 60 for w in ws], [degrees[w] for w in ws],
                     label=pol, color=colour, marker=marker, markersize=4)
    axes[0].set_ylabel(f"arrivals / {WINDOW_S} s")
    axes[0].set_title(f"on/off arrivals (ON {ON_S} s, OFF {OFF_S} s, mean {d.RATE_PER_MIN}/min), "
                      f"{MIX}, SLO {SCALE}x, {d.GPUS} GPUs, seed {point.seed}", fontsize=10)
    axes[1].set_ylabel("SAR of arrivals")
    axes[1].set_ylim(-0.02, 1.02)
    axes[2].set_ylabel("GPU-time-weighted\nSP degree")
    axes[2].set_xlabel("time (minutes)")
    axes[1].legend(fontsize=6, ncol=2)
    for ax in axes:
        ax.grid(alpha=0.3)
    save(fig, outdir, "bursty_timeline")


def plot_summary(res, plt, outdir):
    """SAR in burst and calm windows, spread over seeds."""
    stats = _stats(res)
    groups = ("all", "burst windows", "calm windows")
    values = {}
    for pol, per_seed in stats.items():
        rows = [s for s in per_seed if s]
        for i, g in enumerate(groups):
            values[(g, pol)] = spread(r[i] for r in rows)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    grouped_bars(ax, list(groups), POLICIES, values)
    ax.set_ylabel("SLO attainment ratio")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"on/off arrivals, mean over {len(res.points)} seeds (min–max)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save(fig, outdir, "bursty_summary")


def plot(res, plt, outdir):
    plot_timeline(res, plt, outdir)
    plot_summary(res, plt, outdir)


def table(res):
    rows = []
    for pol, per_seed in _stats(res).items():
        got = [s for s in per_seed if s]
        rows.append([pol] + [cell(spread(r[i] for r in got), 2 if i > 2 else 3) for i in range(5)])
    return (f"Mean over seeds (min–max). Burst windows: {WINDOW_S} s windows with at least "
            f"{BURST}x the mean arrivals; degree: GPU-time-weighted SP degree in those windows.\n\n"
            + markdown(["policy", "SAR", "SAR burst", "SAR calm", "degree burst", "degree calm"], rows)
            + f"\nSAR ceiling: {cell(res.ceiling())}, {CEILING}.\n"
            + "\nFair comparison (best fair = the better of the oracle-K EDF/defer fixed-sp and "
              "rssp-search):\n\n" + fair.fair_table(res, [("on/off, uniform 1.0x", {})], d.DEGREES)
            + "\n" + fair.map_table(res, [("on/off, uniform 1.0x", {})]))
