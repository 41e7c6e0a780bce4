"""Selective batching where it should matter: one small resolution (256²)
under rising load on 4 GPUs, FLUX (batch 4 at SP 1 is 20% cheaper per image
than 4 single steps) and SD3-medium (51% cheaper), both with their measured
profiles; SD3's SLOs carried over from FLUX by runner/scaling.py's rule
(experiments/sd3). TetriServe with and without batching, with its default
round boundary and with busy_boundary=wait (docs/SCHEDULER.md: a boundary
that finds every GPU busy is otherwise lost, with its packing and batching),
against the fair fixed-SP baselines. Load is a multiple of what 4 GPUs
finish at SP = 1 without batching."""

from experiments.runner import expand_seeds, spread
from experiments.runner import defaults as d
from experiments.runner import fair, scaling
from experiments.runner.plotting import save, errorbar_line
from experiments.runner.point import repo_path
from experiments.runner.tables import cell, markdown

TITLE = "Selective batching: 256² under load, FLUX and SD3 (busy_boundary start/wait)"
FLUX = "traces/profiles/flux-dev_H200_engine.csv"
SD3_FACTOR = round(scaling.slo_factor(repo_path(FLUX), repo_path(d.SD3), d.GPUS), 2)
RES = 256
LOADS = (0.5, 0.8, 1.0, 1.2, 1.5, 2.0)
QUICK_LOADS = (0.8, 1.5)
# (model, profile, SLO factor, trace seconds): SD3's traces are shorter (5x the rate).
MODELS = (("flux", FLUX, 1.0, 600), ("sd3", d.SD3, SD3_FACTOR, 120))
SCALES = (1.0, 2.0)
TETRI = ("tetriserve", "tetriserve:batching=off",
         "tetriserve:busy_boundary=wait", "tetriserve:busy_boundary=wait:batching=off")
POLICIES = TETRI + fair.edf_fixed(d.DEGREES)
SEEDS = 3


def points(quick, seeds):
    pts = []
    for model, profile, factor, secs in MODELS:
        cap = scaling.sp1_capacity_per_min(repo_path(profile), RES, d.GPUS)
        for scale in SCALES:
            for load in QUICK_LOADS if quick else LOADS:
                pts += expand_seeds(
                    min(seeds, SEEDS), trace={"rate": round(load * cap, 1), "res": RES, "duration": secs},
                    sim={"gpus": d.GPUS, "slo-scale": round(scale * factor, 6)}, policies=POLICIES,
                    tag=f"{model}-{RES}-x{scale}-l{load}", profile=profile,
                    params={"model": model, "scale": scale, "load": load})
    return pts


def batched_share(res, point, policy):
    """Share of the run's request-steps that ran in a batch of 2 or more."""
    found = res.run(point, policy)
    if not found:
        return None
    total, batched = res.query("""SELECT SUM(nsteps), SUM(CASE WHEN batch > 1 THEN nsteps ELSE 0 END)
                                  FROM segments WHERE run_id = ? AND kind = 'steps'""", (found[0],))[0]
    return batched / total if total else None


def share(res, policy, **params):
    return spread(batched_share(res, p, policy) for p in res.select(**params))


def plot(res, plt, outdir):
    loads = sorted({p.params["load"] for p in res.points})
    fig, axes = plt.subplots(2, len(MODELS) * len(SCALES), figsize=(18, 7), squeeze=False)
    lines = TETRI + (fair.Best(fair.BEST_EDF, fair.edf_fixed(d.DEGREES)),)
    colours = dict(zip(TETRI, ("#d32f2f", "#ef9a9a", "#1b5e20", "#a5d6a7")))
    for col, (model, scale) in enumerate((m, s) for m, *_ in MODELS for s in SCALES):
        top, bottom = axes[0][col], axes[1][col]
        for pol in lines:
            label = pol.label if isinstance(pol, fair.Best) else pol
            errorbar_line(top, loads, [fair.series(res, pol, model=model, scale=scale, load=x) for x in loads],
                          label, colour=colours.get(pol))
        for pol in TETRI[0], TETRI[2]:
            errorbar_line(bottom, loads, [share(res, pol, model=model, scale=scale, load=x) for x in loads],
                          pol, colour=colours[pol])
        top.set_title(f"{model} {RES}², SLO {scale:g}x" + (f" (x{SD3_FACTOR:g})" if model == "sd3" else ""),
                      fontsize=10)
        top.set_ylim(0, 1.02)
        bottom.set_ylim(0, 1.02)
        bottom.set_xlabel("load (x SP = 1 capacity of 4 GPUs)")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("SLO attainment ratio")
    axes[1][0].set_ylabel("share of steps batched")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    axes[1][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    save(fig, outdir, "batching")


def table(res):
    loads = sorted({p.params["load"] for p in res.points})
    text = (f"SAR, mean over seeds (min–max), {RES}² only, 4 GPUs; load = rate / (what 4 GPUs finish "
            f"at SP = 1 without batching); SD3's SLOs x {SD3_FACTOR:g}. \"batched\": share of "
            "request-steps that ran in a batch.\n")
    for model, profile, factor, secs in MODELS:
        cap = scaling.sp1_capacity_per_min(repo_path(profile), RES, d.GPUS)
        for scale in SCALES:
            rows = [[pol] + [cell(res.metric(pol, model=model, scale=scale, load=x)) for x in loads]
                    for pol in POLICIES]
            rows += [[f"batched, {pol}"] + [cell(share(res, pol, model=model, scale=scale, load=x))
                                             for x in loads] for pol in (TETRI[0], TETRI[2])]
            text += (f"\n## {model}, SLO {scale:g}x, {secs} s traces ({profile}; load 1 = {cap:.0f}/min)\n\n"
                     + markdown(["policy"] + [f"load {x:g}" for x in loads], rows))
    return text
