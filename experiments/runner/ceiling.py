"""The SAR ceiling of a trace on a profile: the share of its requests that
could meet their deadline on an idle node, every step at the fastest
profiled degree the node allows. A request above the ceiling misses under
any policy, so showing the ceiling beside the SARs tells what a scheduler
lost from what the profile forbids (e.g. 2048² on 4 GPUs)."""

import csv
import math


def _profile_rows(path):
    """The rows of a profile CSV as dicts, '#' comment lines skipped."""
    with open(path, newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


def fastest_step_ns(profile_path: str, gpus: int) -> dict:
    """{(height, width): the smallest batch-1 step time in ns over the
    profiled degrees <= gpus}. Raises ValueError naming the file and data
    row for a missing column or a bad number, and for a profile of several
    (model, GPU) pairs, where which rows apply would be a guess."""
    fastest, models = {}, set()
    for n, row in enumerate(_profile_rows(profile_path), start=1):
        try:
            if int(row.get("batch") or 1) != 1:
                continue
            res = (int(row["height"]), int(row["width"]))
            sp, ns = int(row["sp"]), round(float(row["step_ms"]) * 1e6)
            models.add((row["model"], row["gpu"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{profile_path}: data row {n}: bad or missing field ({e})") from e
        if sp <= gpus:
            fastest[res] = min(ns, fastest.get(res, ns))
    if len(models) > 1:
        raise ValueError(f"{profile_path}: rows of several (model, GPU) pairs {sorted(models)}; "
                         "the SAR ceiling needs a profile of one")
    return fastest


def ceiling(requests, fastest: dict) -> float:
    """Share of requests, (height, width, steps, arrival_ns, deadline_ns)
    tuples, whose steps at the fastest degree end by the deadline on an idle
    node; NaN when there are no requests or a resolution has no profiled
    time (no bound is known then)."""
    if not requests:
        return math.nan
    feasible = 0
    for height, width, steps, arrival_ns, deadline_ns in requests:
        step = fastest.get((height, width))
        if step is None:
            return math.nan
        feasible += arrival_ns + steps * step <= deadline_ns
    return feasible / len(requests)
