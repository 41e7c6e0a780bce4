"""From the selected rows to the trace: sizes onto the 16-pixel grid or the
profile's resolutions, steps, SLOs, and arrivals from 0 at the first kept
request, divided by the speed-up, in whole microseconds (as `trace gen`)."""

from dataclasses import dataclass, field

import pandas as pd

from . import sizes, slo
from .errors import InputError
from .filters import Selection

MAX_TRACE_US = 10**15     # 1e9 s, the loader's limit on arrivals and SLOs


@dataclass
class SizeChanges:
    """How the sizes of the kept requests changed, for the summary."""
    how: str                                  # 'mapped to the nearest profiled resolution', ...
    count: int = 0
    examples: dict = field(default_factory=dict)   # source (h, w) -> trace (h, w), a few


def map_nearest(sel: Selection, choices: list) -> SizeChanges:
    """Every size onto the choice nearest in log token count (sizes.nearest)."""
    mapping = {hw: sizes.nearest(hw, choices) for hw in _distinct_sizes(sel.rows)}
    return _apply(sel, mapping, "mapped to the nearest profiled resolution")


def map_exact(sel: Selection, unaligned: str) -> SizeChanges:
    """Sizes as they are; a side off the 16-pixel grid is rounded to the
    nearest multiple of 16 (unaligned='round') or drops its row ('drop')."""
    if unaligned == "drop":
        on = sel.rows["height"] % sizes.GRID == 0
        on &= sel.rows["width"] % sizes.GRID == 0
        sel.keep(on, "height or width not a multiple of 16 (--unaligned drop)")
        return SizeChanges("changed (--resolution-map exact; --unaligned drop drops sizes off the 16-pixel grid)")
    mapping = {(h, w): (sizes.round_to_grid(h), sizes.round_to_grid(w)) for h, w in _distinct_sizes(sel.rows)}
    return _apply(sel, mapping, "rounded to a multiple of 16, as the trace format requires (--unaligned round)")


def _distinct_sizes(rows: pd.DataFrame) -> list:
    pairs = rows[["height", "width"]].drop_duplicates()
    return [(int(h), int(w)) for h, w in zip(pairs["height"], pairs["width"])]


def _apply(sel: Selection, mapping: dict, how: str) -> SizeChanges:
    changed = {src: dst for src, dst in mapping.items() if src != dst}
    rows = sel.rows
    count = int(sizes.size_keys(rows).isin(list(changed)).sum()) if changed else 0
    sel.rows = rows.assign(height=sizes.lookup(rows, {k: v[0] for k, v in mapping.items()}).astype("Int64"),
                           width=sizes.lookup(rows, {k: v[1] for k, v in mapping.items()}).astype("Int64"))
    return SizeChanges(how, count, dict(sorted(changed.items())[:3]))


@dataclass(frozen=True)
class TraceOptions:
    steps: int           # fixed steps of every request, or None: the input's
    slo_scale: float
    speedup: float
    model: str           # the model column's value, or None: no column


def trace_rows(sel: Selection, opt: TraceOptions) -> pd.DataFrame:
    """The trace: request_id, arrival_us, height, width, steps, slo_us and
    (when the input has them) seed, sorted by arrival, ties in file order,
    ids 0..n-1 in that order."""
    rows = sel.rows.sort_values("arrival", kind="stable")
    t = rows["arrival"].astype("int64")
    arrival_us = ((t - t.iloc[0]) / opt.speedup / 1000).round().astype("int64")
    if arrival_us.iloc[-1] > MAX_TRACE_US:
        raise InputError(f"the last request would arrive at {arrival_us.iloc[-1] / 1e6:.0f} s, past the "
                         "1e9 s a trace can hold: raise --speedup or narrow the window")
    out = pd.DataFrame({"request_id": range(len(rows)), "arrival_us": arrival_us.to_numpy(),
                        "height": rows["height"].astype("int64").to_numpy(),
                        "width": rows["width"].astype("int64").to_numpy()})
    out["steps"] = opt.steps if opt.steps else rows["steps"].astype("int64").to_numpy()
    out["slo_us"] = _slos_us(out, opt.slo_scale)
    if "seed" in rows:
        out["seed"] = rows["seed"].astype("uint64").to_numpy()
    return out


def _slos_us(out: pd.DataFrame, scale: float) -> pd.Series:
    """SLO per request from its trace size; each distinct size computed once."""
    table = {(h, w): slo.slo_us(h, w, scale) for h, w in _distinct_sizes(out)}
    for (h, w), us in table.items():
        if not 1 <= us <= MAX_TRACE_US:
            raise InputError(f"--slo-scale: {scale:g} gives {h}x{w} an SLO of {us / 1e6:g} s, "
                             "outside 1 us .. 1e9 s")
    return sizes.lookup(out, table).astype("int64")
