"""Writing the trace CSV (traces/README.md, "Trace format") and the summary."""

import contextlib
import sys

import pandas as pd

from .build import SizeChanges
from .filters import Selection


def seconds_texts(us: pd.Series) -> pd.Series:
    """Whole microseconds as exact decimal seconds without trailing zeros
    ('12.5', '3'), which the C loader reads back to the same nanoseconds."""
    whole, frac = us // 1_000_000, us % 1_000_000
    text = whole.astype(str) + "." + frac.astype(str).str.zfill(6)
    return text.str.rstrip("0").str.rstrip(".")


def trace_table(trace: pd.DataFrame, model: str) -> pd.DataFrame:
    """The trace's columns as the file holds them: model and seed only
    when there is a model, and seeds in the input."""
    table = pd.DataFrame({"request_id": trace["request_id"], "arrival_s": seconds_texts(trace["arrival_us"]),
                          "height": trace["height"], "width": trace["width"], "steps": trace["steps"],
                          "slo_s": seconds_texts(trace["slo_us"])})
    if model is not None:
        table["model"] = model
    if "seed" in trace:
        table["seed"] = trace["seed"]
    return table


def write_trace(path: str, table: pd.DataFrame, comments: list) -> None:
    """Writes comment lines, then the table as CSV, to path ('-': stdout)."""
    with (open(path, "w") if path != "-" else contextlib.nullcontext(sys.stdout)) as f:
        f.writelines(f"# {c}\n" for c in comments)
        table.to_csv(f, index=False, lineterminator="\n")


def _share(n: int, total: int) -> str:
    return f"{n} ({100 * n / total:.1f}%)"


def summary(sel: Selection, changes: SizeChanges, trace: pd.DataFrame, speedup: float) -> str:
    """Rows read, kept, dropped per reason, size changes, resolution mix,
    arrival span and rate."""
    lines = [f"rows read: {sel.read}", f"kept: {_share(len(trace), sel.read)}",
             f"dropped: {sel.read - len(trace)}"]
    lines += [f"  {reason}: {n}" for reason, n in sel.dropped.items()]
    examples = ", ".join(f"{h}x{w} -> {h2}x{w2}" for (h, w), (h2, w2) in changes.examples.items())
    lines.append(f"size changes: {changes.count} requests {changes.how}" + (f" (e.g. {examples})" if examples else ""))
    lines.append("resolution mix (height x width: requests):")
    mix = trace.groupby(["height", "width"]).size()
    ordered = sorted(mix.items(), key=lambda kv: (kv[0][0] * kv[0][1], kv[0]))
    lines += [f"  {h}x{w}: {_share(int(n), len(trace))}" for (h, w), n in ordered]
    span_s = trace["arrival_us"].iloc[-1] / 1e6
    rate = f"{60 * (len(trace) - 1) / span_s:.3f} requests/min" if span_s > 0 else "- (one arrival time)"
    lines.append(f"arrivals: 0 .. {span_s:.3f} s (speed-up x{speedup:g}), mean rate {rate}")
    return "\n".join(lines) + "\n"
