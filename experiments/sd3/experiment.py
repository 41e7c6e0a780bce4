"""SD3-medium (paper: SD3-medium on 4 x A40): SAR vs SLO scale with the
profile our engine measured on 4 x H200 (traces/profiles/sd3-medium_H200_engine.csv)
and on 8 GPUs with its MODELLED SP = 8 cells
(traces/profiles/sd3-medium_H200_engine_sp8_modelled.csv). SD3's steps are
3-9x shorter than FLUX's, so the paper's SLOs and rates would be trivial:
every SLO is multiplied by SLO_FACTOR and the rate by RATE_FACTOR, both
computed from the profiles by the rules of runner/scaling.py (FLUX's
fastest-time/SLO ratios; FLUX's GPU time per request)."""

from experiments.runner import defaults as d
from experiments.runner import fair, scaling
from experiments.runner.plotting import sar_panels
from experiments.runner.point import repo_path
from experiments.runner.tables import markdown

TITLE = "SD3-medium: SAR vs SLO scale, SLOs and rate carried over from FLUX (8-GPU MODELLED)"
FLUX = "traces/profiles/flux-dev_H200_engine.csv"
# The rules on the measured 4-GPU profiles: 0.258 and 5.25 (docs/EXPERIMENTS.md).
SLO_FACTOR = round(scaling.slo_factor(repo_path(FLUX), repo_path(d.SD3), d.GPUS), 2)
RATE_FACTOR = scaling.rate_factor(repo_path(FLUX), repo_path(d.SD3))
RATE4 = round(d.RATE_PER_MIN * RATE_FACTOR, 1)
SCALES4 = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
SCALES8 = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
PAPER_RSSP = "rssp"


def _setup(name, gpus, rate, scales, degrees, profile, tag):
    policies = fair.fcfs_fixed(degrees) + (PAPER_RSSP, "tetriserve") + fair.fair(degrees)
    lines = fair.fcfs_fixed(degrees) + (PAPER_RSSP, fair.Best(fair.BEST_EDF, fair.edf_fixed(degrees)),
                                        fair.RSSP_SEARCH, "tetriserve", fair.TETRI_DROP)
    return {"name": name, "gpus": gpus, "rate": rate, "scales": scales, "degrees": degrees,
            "profile": profile, "tag": tag, "policies": policies, "lines": lines}


SETUPS = (
    _setup(f"SD3, 4 GPUs, {RATE4:g}/min", d.GPUS, RATE4, SCALES4, d.DEGREES, d.SD3, "sd3-"),
    _setup(f"SD3, 8 GPUs, {2 * RATE4:g}/min, SP 8 MODELLED", d.PAPER_GPUS, 2 * RATE4, SCALES8,
           d.PAPER_DEGREES, d.SD3_SP8_MODELLED, "sd3-g8m-"),
)


def points(quick, seeds):
    return fair.scale_sweep_points(SETUPS, quick, seeds, SLO_FACTOR, gpus_param=False)


def plot(res, plt, outdir):
    panels = [(f"{s['name']}: {mix}", {"setup": s["name"], "mix": mix}, s["lines"])
              for s in SETUPS for mix in d.MIXES]
    sar_panels(res, plt, outdir, "sd3", "scale",
               f"SLO scale (paper's SLOs x {SLO_FACTOR:g} for SD3)", panels)


def rule_table() -> str:
    flux, sd3 = scaling.fastest_run_s(repo_path(FLUX), d.GPUS), scaling.fastest_run_s(repo_path(d.SD3), d.GPUS)
    rows = [[f"{r}²", f"{b:g} s", f"{flux[r]:.3f} s ({flux[r] / b:.2f})",
             f"{b * SLO_FACTOR:.3f} s", f"{sd3[r]:.3f} s ({sd3[r] / (b * SLO_FACTOR):.2f})"]
            for r, b in scaling.BASE_SLO_S.items()]
    return (f"SLO factor {SLO_FACTOR:g} (geometric mean of SD3/FLUX fastest 50-step times on 4 GPUs), "
            f"rate factor {RATE_FACTOR:.2f} (FLUX/SD3 mean SP = 1 step time, Uniform): "
            f"{d.RATE_PER_MIN} x {RATE_FACTOR:.2f} = {RATE4:g} requests/min on 4 GPUs, {2 * RATE4:g} on 8.\n\n"
            + markdown(["resolution", "base SLO", "FLUX fastest (/SLO)", "SD3 SLO at 1.0x",
                        "SD3 fastest (/SLO)"], rows))


def setup_table(res, s) -> str:
    note = " Step times of SP = 8 are MODELLED (docs/STEP_MODEL.md)." if "MODELLED" in s["name"] else ""
    return fair.scale_sweep_tables(res, s, f"; profile {s['profile']}.{note}")


def table(res):
    return rule_table() + "".join(setup_table(res, s) for s in SETUPS)

