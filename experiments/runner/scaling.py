"""Carrying the paper's SLOs and load from one model to another (here FLUX
to SD3-medium, whose steps are 3-9x shorter, so the paper's SLOs would make
every request trivial). Two stated rules, computed from the profiles:

- SLO factor: the one factor x for every resolution's SLO that brings the
  model's fastest-time/SLO ratios closest to the reference's, in the
  least-squares sense on a log scale: the geometric mean over resolutions of
  fastest_model(r) / fastest_ref(r) (fastest: 50 steps at the fastest
  profiled degree the node allows).
- Rate factor: the reference's mean GPU time per request over the mix's
  resolutions at SP = 1 (the cheapest degree) over the model's, so a rate of
  the model loads the GPUs as the reference rate loads them with the
  reference model."""

import math

from .ceiling import fastest_step_ns, _profile_rows

STEPS = 50
# Base SLO per resolution, seconds (PAPER.md).
BASE_SLO_S = {256: 1.5, 512: 2.0, 1024: 3.0, 2048: 5.0}


def fastest_run_s(profile: str, gpus: int) -> dict:
    """{resolution: seconds for STEPS steps at the fastest degree <= gpus}."""
    return {h: ns * STEPS / 1e9 for (h, w), ns in fastest_step_ns(profile, gpus).items() if h == w}


def slo_factor(ref_profile: str, profile: str, gpus: int, res=tuple(BASE_SLO_S)) -> float:
    """exp(mean over res of log(fastest(profile) / fastest(ref))): the SLO
    factor that matches the fastest-time/SLO ratios of the two profiles best."""
    ref, mine = fastest_run_s(ref_profile, gpus), fastest_run_s(profile, gpus)
    return math.exp(sum(math.log(mine[r] / ref[r]) for r in res) / len(res))


def sp1_step_ms(profile: str) -> dict:
    """{resolution: batch-1 step time at SP = 1, ms}."""
    return {int(r["height"]): float(r["step_ms"]) for r in _profile_rows(profile)
            if int(r.get("batch") or 1) == 1 and int(r["sp"]) == 1 and r["height"] == r["width"]}


def rate_factor(ref_profile: str, profile: str, res=tuple(BASE_SLO_S)) -> float:
    """Mean SP = 1 step time of the reference over the model's, over res
    (equal shares: the Uniform mix)."""
    ref, mine = sp1_step_ms(ref_profile), sp1_step_ms(profile)
    return sum(ref[r] for r in res) / sum(mine[r] for r in res)


def sp1_capacity_per_min(profile: str, res: int, gpus: int) -> float:
    """Requests/min of one resolution that gpus GPUs finish at SP = 1, batch 1."""
    return gpus * 60.0 / (sp1_step_ms(profile)[res] * STEPS / 1000.0)
