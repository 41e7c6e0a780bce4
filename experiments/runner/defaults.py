"""The evaluation setup shared by the reproduced experiments (PAPER.md,
"Evaluation setup"), adapted to our measured profile: see
docs/EXPERIMENTS.md for why each value differs from the paper's. SLO scales
are the paper's as they are (deadline = arrival + scale x base SLO)."""

# The measured profile has SP degrees 1, 2 and 4 only, so the node has 4 GPUs
# (the paper: 8) and there is no fixed-sp:8 baseline; rssp's 2048^2 -> 8 entry
# is capped at 4 by the policy.
GPUS = 4
PAPER_GPUS = 8
BASELINES = ("fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "rssp")
POLICIES = BASELINES + ("tetriserve",)
# RSSP with each resolution at the smallest degree that meets its 1.0x SLO
# on an idle node with the engine profile (flux-dev_H200_engine.csv: 512^2
# needs 2, 1024^2 needs 4); the paper's map (512^2 -> 1, 1024^2 -> 2) was
# fitted to xDiT on H100.
RSSP_FIT = "rssp:256=1,512=2,1024=4,2048=4"
# Half the node, half the load: 6 requests/min on 4 GPUs puts the per-GPU
# load of the paper's default, 12 requests/min on 8 GPUs.
RATE_PER_MIN = 6
# Each trace covers an hour of arrivals (~360 requests at 6/min); --quick
# traces cover 10 minutes.
DURATION_S = 3600
QUICK_DURATION_S = 600
MIXES = ("uniform", "skewed")


def paper_rate(rate_per_min: float) -> float:
    """The paper's rate (8 GPUs) with the same per-GPU load as our rate."""
    return rate_per_min * PAPER_GPUS / GPUS


def duration(quick: bool) -> int:
    """Trace length in seconds for a full or a --quick run."""
    return QUICK_DURATION_S if quick else DURATION_S


# The fair comparison (runner/fair.py): fixed-sp at every degree and rssp
# with a searched map, both earliest deadline first with late requests set
# aside, and tetriserve with late requests dropped; beside, not instead of,
# the paper's FCFS baselines above (new policies give new rows; the points'
# keys are unchanged).
DEGREES = (1, 2, 4)
PAPER_DEGREES = (1, 2, 4, 8)
# The modelled 8-GPU profiles: measured cells of the engine profiles plus
# SP = 8 cells predicted by the step-time model (docs/STEP_MODEL.md).
FLUX_SP8_MODELLED = "traces/profiles/flux-dev_H200_engine_sp8_modelled.csv"
SD3 = "traces/profiles/sd3-medium_H200_engine.csv"
SD3_SP8_MODELLED = "traces/profiles/sd3-medium_H200_engine_sp8_modelled.csv"
