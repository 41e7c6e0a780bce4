"""`python3 -m experiments.traceimport SOURCE INPUT --out TRACE.csv [options]`:
reads a request log, selects and maps its rows, writes a tetriserve trace
and prints a summary."""

import argparse
import os
import shlex
import sys

from . import build, filters, output, sizes, sources, values
from .errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_PROFILE = os.path.join(REPO, "traces", "profiles", "flux-dev_H200_engine.csv")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return int(text)


def _common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("input", help="the input file")
    p.add_argument("--out", required=True, metavar="FILE", help="trace CSV to write ('-': stdout)")
    w = p.add_argument_group("time window (in the input's time format; [start, end))")
    w.add_argument("--start", metavar="T", help="first time kept (default: the first request's)")
    ends = w.add_mutually_exclusive_group()
    ends.add_argument("--end", metavar="T", help="times before T are kept")
    ends.add_argument("--duration", type=_positive, metavar="S", help="keep S seconds from the start")
    p.add_argument("--speedup", type=_positive, default=1.0, metavar="X",
                   help="divide the gaps between arrivals by X (default 1)")
    p.add_argument("--users", metavar="U,...", help="keep only the requests of these users")
    p.add_argument("--keep-res", metavar="R,...",
                   help="keep only these input sizes: N (NxN) or HxW, e.g. 512,768x512")
    p.add_argument("--resolution-map", choices=("nearest", "exact"), default="nearest",
                   help="nearest (default): each size becomes the profile's resolution nearest in "
                        "token count (H/16)*(W/16), in log space; exact: sizes kept as they are")
    p.add_argument("--profile", metavar="F", help="profile CSV whose resolutions --resolution-map nearest "
                   f"uses (default {os.path.relpath(DEFAULT_PROFILE, REPO)})")
    p.add_argument("--unaligned", choices=("round", "drop"), default="round",
                   help="--resolution-map exact: a side that is not a multiple of 16 is rounded to the "
                        "nearest one (default) or drops the request")
    p.add_argument("--steps", type=_count, metavar="N", help="every request gets N steps (default: the input's)")
    p.add_argument("--slo-scale", type=_positive, default=1.0, metavar="X",
                   help="SLO = X x the paper's base SLO of the trace size (default 1)")
    p.add_argument("--model", metavar="NAME", help="add a model column with this value; the profile's "
                   "resolutions are then those of this model")
    return p


def parse_args(argv):
    common = _common_options()
    ap = argparse.ArgumentParser(
        prog="python3 -m experiments.traceimport",
        description="Writes a tetriserve trace (traces/README.md) from a log of image-generation "
                    "requests; see traces/README.md, 'Importing real traces'.")
    sub = ap.add_subparsers(dest="source", required=True, metavar="SOURCE")
    sub.add_parser("diffusiondb", parents=[common],
                   help="DiffusionDB metadata: metadata.parquet, metadata-large.parquet or a CSV export",
                   description="INPUT: DiffusionDB's metadata.parquet or metadata-large.parquet, or a "
                               "CSV export of them (.csv or .csv.gz; timestamps as ISO-8601 text)")
    generic = sub.add_parser("csv", parents=[common], help="any CSV file, with a column map",
                             description="INPUT: a CSV file with a header row.")
    generic.add_argument("--map", required=True, metavar="FIELD=COLUMN,...",
                         help="the column of each field: arrival, height, width (required), steps "
                              "(unless --steps), user (for --users)")
    generic.add_argument("--time-format", required=True, choices=values.TIME_FORMATS,
                         help="the arrival column: s or ms (numbers: Unix epoch or any origin) or "
                              "iso (ISO-8601 text, UTC unless it has an offset)")
    args = ap.parse_args(argv)
    if args.model is not None and (not args.model or any(c in args.model for c in ", \t#")):
        ap.error(f"--model: {args.model!r}: need a non-empty name without commas, blanks or '#'")
    return args


def needed_columns(args) -> dict:
    """{field: input column} of the fields this import reads."""
    if args.source == "diffusiondb":
        fields = ["arrival", "height", "width", "seed"] + ["steps"] * (args.steps is None)
        fields += ["user"] * (args.users is not None)
        return {f: sources.DIFFUSIONDB_COLUMNS[f] for f in fields}
    mapped = sources.parse_map(args.map)
    required = ["arrival", "height", "width"] + ["steps"] * (args.steps is None)
    required += ["user"] * (args.users is not None)
    for field in required:
        if field not in mapped:
            raise InputError(f"--map: no column for '{field}'" + (" (or give --steps N)" if field == "steps" else ""))
    return {f: c for f, c in mapped.items() if f in required}


def read_input(args, columns: dict) -> sources.Table:
    if args.source == "diffusiondb":
        return sources.read_diffusiondb(args.input, list(columns))
    return sources.read_csv(args.input, columns, args.time_format)


def window_bounds(args, table: sources.Table):
    """(start_ns, end_ns) of the window, None where open."""
    start = values.option_time_ns(args.start, table.time_format, "--start") if args.start else None
    end = values.option_time_ns(args.end, table.time_format, "--end") if args.end else None
    if args.duration is not None:
        times = table.rows["arrival"].dropna()
        origin = start if start is not None else (int(times.min()) if len(times) else 0)
        end = origin + round(args.duration * 1e9)
    if start is not None and end is not None and end <= start:
        raise InputError("the time window is empty: --end is not after --start")
    return start, end


def select_rows(args, table: sources.Table) -> filters.Selection:
    """Applies the filters in the order of their drop reasons."""
    sel = filters.Selection(table.rows)
    filters.drop_missing(sel, table.columns)
    filters.window(sel, *window_bounds(args, table), table.time_format, table.path)
    if args.users is not None:
        filters.users(sel, [u.strip() for u in args.users.split(",")])
    if args.keep_res is not None:
        filters.resolutions(sel, sizes.parse_resolutions(args.keep_res, "--keep-res"))
    filters.valid_values(sel, table.columns)
    return sel


def profile_choices(args):
    """The resolutions --resolution-map nearest maps onto; None for exact."""
    if args.resolution_map == "exact":
        return None
    return sizes.profile_resolutions(args.profile or DEFAULT_PROFILE, args.model)


def map_sizes(args, sel: filters.Selection, choices) -> build.SizeChanges:
    if choices is None:
        return build.map_exact(sel, args.unaligned)
    return build.map_nearest(sel, choices)


def require_rows(sel: filters.Selection, table: sources.Table) -> None:
    if sel.rows.empty:
        reasons = "; ".join(f"{r}: {n}" for r, n in sel.dropped.items()) or "the file has no data rows"
        raise InputError(f"{table.path}: no request left of {sel.read} rows ({reasons})")


def check_output_path(args) -> None:
    """Refuses to write the trace over its own input."""
    if args.out != "-" and os.path.exists(args.out) and os.path.exists(args.input) \
            and os.path.samefile(args.out, args.input):
        raise InputError(f"--out {args.out}: that is the input file")


def run(args, argv) -> int:
    check_output_path(args)
    choices = profile_choices(args)
    table = read_input(args, needed_columns(args))
    sel = select_rows(args, table)
    require_rows(sel, table)
    changes = map_sizes(args, sel, choices)
    require_rows(sel, table)
    trace = build.trace_rows(sel, build.TraceOptions(args.steps, args.slo_scale, args.speedup, args.model))
    comments = ["python3 -m experiments.traceimport " + shlex.join(argv),
                f"{len(trace)} requests from {sel.read} rows of {os.path.basename(table.path)}"]
    output.write_trace(args.out, output.trace_table(trace, args.model), comments)
    report = output.summary(sel, changes, trace, args.speedup)
    print(report, end="", file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        return run(args, argv)
    except InputError as e:
        print(f"traceimport: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"traceimport: {e.filename or args.out}: {e.strerror}", file=sys.stderr)
        return 2
