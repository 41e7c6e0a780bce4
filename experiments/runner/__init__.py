"""The experiment runner: runs the points of an experiment (trace generation
plus `tetriserve sim`) in parallel, resumes interrupted experiments from the
SQLite results file and draws each experiment's figures from it.

Usage: python3 -m experiments.runner EXP [options]  (see --help and
docs/EXPERIMENTS.md). An experiment is experiments/EXP/experiment.py, or any
path to such a file, defining:

    TITLE: str
    def points(quick: bool, seeds: int) -> list[Point]
    def plot(res: Results, plt, outdir: str) -> None   # plt: matplotlib.pyplot
    def table(res: Results) -> str                     # Markdown
    MAX_JOBS: int  (optional) the most points run at once, e.g. 1 when the
                   experiment measures host time
"""

from .point import Point, expand_seeds
from .results import Results, Spread, spread

__all__ = ["Point", "expand_seeds", "Results", "Spread", "spread"]
