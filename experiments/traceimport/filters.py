"""Which rows of the input become requests. Each filter keeps some rows and
counts the others under its reason; a row is counted under the first
reason that drops it, in the order the filters run (cli.select_rows)."""

import pandas as pd

from . import sizes, values
from .errors import InputError


class Selection:
    """The rows still kept, and how many each reason dropped."""

    def __init__(self, rows: pd.DataFrame):
        self.rows = rows
        self.read = len(rows)
        self.dropped = {}

    def keep(self, mask: pd.Series, reason: str) -> None:
        """Keeps the rows where mask is true; counts the others under reason."""
        mask = mask.fillna(False).astype(bool)
        gone = int((~mask).sum())
        if gone:
            self.dropped[reason] = self.dropped.get(reason, 0) + gone
            self.rows = self.rows[mask]


def drop_missing(sel: Selection, columns: dict) -> None:
    """Rows with no value in a needed column (null or blank)."""
    for field, column in columns.items():
        if field != "user":     # a row without a user is only dropped by --users
            sel.keep(sel.rows[field].notna(), f"no value in column '{column}'")


def window(sel: Selection, start_ns, end_ns, time_format: str, path: str) -> None:
    """Rows with start <= time < end (either bound may be None). An empty
    window is an error giving the span of the file's times."""
    t = sel.rows["arrival"]
    if not len(t):
        return
    first, last = int(t.min()), int(t.max())
    inside = pd.Series(True, index=t.index)
    if start_ns is not None:
        inside &= t >= start_ns
    if end_ns is not None:
        inside &= t < end_ns
    if not inside.any():
        def fmt(ns):
            return "-" if ns is None else values.format_time(ns, time_format)
        raise InputError(f"{path}: the time window [{fmt(start_ns)}, {fmt(end_ns)}) holds none of its "
                         f"{len(t)} requests; their times span {fmt(first)} .. {fmt(last)}")
    sel.keep(inside, "outside the time window (--start/--end/--duration)")


def users(sel: Selection, names: list) -> None:
    sel.keep(sel.rows["user"].isin(names), "user not selected (--users)")


def resolutions(sel: Selection, keep: list) -> None:
    """Rows whose source size (height, width) is one of keep."""
    inside = sizes.size_keys(sel.rows).isin(keep)
    sel.keep(pd.Series(inside, index=sel.rows.index), "size not selected (--keep-res)")


def valid_values(sel: Selection, columns: dict) -> None:
    """Rows whose values the trace format cannot hold."""
    rows = sel.rows
    sel.keep(rows["height"].between(1, sizes.MAX_SIDE) & rows["width"].between(1, sizes.MAX_SIDE),
             f"height or width not in 1..{sizes.MAX_SIDE} pixels")
    if "steps" in columns:
        sel.keep(sel.rows["steps"] >= 1, f"'{columns['steps']}' below 1 step")
    if "seed" in columns:
        sel.keep(sel.rows["seed"] >= 0, f"negative '{columns['seed']}'")
