"""Image sizes: the 16-pixel grid the C loader requires (8x VAE
downsampling, 2x2 patches: token count = (H/16)*(W/16)), and mapping a
request's size onto the resolutions a step-latency profile has."""

import math

import pandas as pd

from .errors import InputError

GRID = 16
MAX_SIDE = 65536


def parse_resolutions(text: str, option: str) -> list:
    """'512,768x512' (N is NxN, else HxW, as `trace gen --res`) to
    [(height, width), ...]."""
    out = []
    for item in text.split(","):
        sides = item.strip().lower().split("x")
        if len(sides) == 1:
            sides = sides * 2
        if len(sides) != 2 or not all(s.isdigit() and int(s) > 0 for s in sides):
            raise InputError(f"{option}: {item!r} is not N or HxW (positive pixels)")
        out.append((int(sides[0]), int(sides[1])))
    return out


def _data_lines(path: str):
    """(line number, fields) of a profile CSV's header and rows: '#'
    comments and blank lines skipped, no quoting (traces/README.md)."""
    try:
        with open(path, newline="") as f:
            for number, line in enumerate(f, start=1):
                text = line.strip()
                if text and not text.startswith("#"):
                    yield number, [field.strip() for field in text.split(",")]
    except OSError as e:
        raise InputError(f"{path}: cannot read the profile ({e.strerror})") from None


def profile_resolutions(path: str, model: str = None) -> list:
    """The distinct (height, width) of a profile CSV's rows (of one model
    when given), sorted by token count."""
    lines = _data_lines(path)
    number, header = next(lines, (0, []))
    for column in ("height", "width") + (("model",) if model else ()):
        if column not in header:
            raise InputError(f"{path}:{number}: the profile has no '{column}' column")
    at = {name: header.index(name) for name in header}
    found = set()
    for number, fields in lines:
        if len(fields) != len(header):
            raise InputError(f"{path}:{number}: {len(fields)} fields, the header has {len(header)}")
        if model and fields[at["model"]] != model:
            continue
        try:
            found.add((int(fields[at["height"]]), int(fields[at["width"]])))
        except ValueError:
            raise InputError(f"{path}:{number}: field 'height' or 'width' is not an integer") from None
    if not found:
        raise InputError(f"{path}: no profile rows" + (f" of model '{model}'" if model else ""))
    return sorted(found, key=lambda hw: (tokens(*hw), hw))


def tokens(height: float, width: float) -> float:
    return (height / GRID) * (width / GRID)


def nearest(size: tuple, choices: list) -> tuple:
    """The choice closest to size in log token count; among equal token
    counts, the closest in log aspect ratio, then the smaller."""
    h, w = size
    return min(choices, key=lambda c: (abs(math.log(tokens(h, w) / tokens(*c))),
                                       abs(math.log((h / w) / (c[0] / c[1]))),
                                       tokens(*c), c))


def on_grid(side: int) -> bool:
    return side % GRID == 0


def round_to_grid(side: int) -> int:
    """The nearest multiple of 16 (halves up), at least 16."""
    return max(GRID, (side + GRID // 2) // GRID * GRID)


def valid_side(side: int) -> bool:
    """Within what the C loader takes once on the grid."""
    return 0 < side <= MAX_SIDE


def size_keys(frame: pd.DataFrame) -> pd.MultiIndex:
    """(height, width) of each row, to look sizes up in a table."""
    return pd.MultiIndex.from_arrays([frame["height"].astype("int64"), frame["width"].astype("int64")],
                                     names=["height", "width"])


def lookup(frame: pd.DataFrame, table: dict) -> pd.Series:
    """table[(height, width)] of each row."""
    values = pd.Series(list(table.values()), index=pd.MultiIndex.from_tuples(table.keys()))
    return pd.Series(values.reindex(size_keys(frame)).to_numpy(), index=frame.index)
