"""Reading the input files into a table of parsed columns, one row per
request, in file order: `arrival` (Int64 ns), `height`, `width`, `steps`,
`seed` (Int64) and `user` (text), each only when needed.

DiffusionDB (huggingface.co/datasets/poloclub/diffusiondb) publishes its
metadata as metadata.parquet (2M images) and metadata-large.parquet (14M),
columns image_name, prompt, part_id, seed, step, cfg, sampler, width,
height, user_name, timestamp, image_nsfw, prompt_nsfw; `timestamp` is a
UTC timestamp there and ISO-8601 text in CSV exports. Parquet is read with
pyarrow.parquet, CSV with pyarrow.csv; only the needed columns are loaded."""

import csv
import gzip
import os
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import values
from .errors import InputError

# Trace field -> DiffusionDB column.
DIFFUSIONDB_COLUMNS = {"arrival": "timestamp", "height": "height", "width": "width",
                       "steps": "step", "seed": "seed", "user": "user_name"}
# Fields a --map of the generic CSV source may name.
MAP_FIELDS = ("arrival", "height", "width", "steps", "user")


@dataclass
class Table:
    """The parsed columns of an input file."""
    path: str
    rows: pd.DataFrame
    columns: dict       # field -> the file's column name, for messages
    time_format: str    # how its times and --start/--end read: 's', 'ms' or 'iso'


def read_diffusiondb(path: str, fields: list) -> Table:
    """The fields of a DiffusionDB metadata file, Parquet or a CSV export
    (by the name's ending: .parquet, else CSV; .csv.gz is decompressed)."""
    columns = {f: DIFFUSIONDB_COLUMNS[f] for f in fields}
    raw = _read_parquet(path, columns) if path.endswith(".parquet") else _read_csv(path, columns)
    return Table(path, _parse(path, raw, columns, "iso"), columns, "iso")


def read_csv(path: str, columns: dict, time_format: str) -> Table:
    """The fields of a generic CSV file; columns maps each field to a column."""
    return Table(path, _parse(path, _read_csv(path, columns), columns, time_format), columns, time_format)


def parse_map(text: str) -> dict:
    """'arrival=ts,height=h' to {'arrival': 'ts', 'height': 'h'}."""
    out = {}
    for item in text.split(","):
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column or field not in MAP_FIELDS:
            raise InputError(f"--map: {item!r} is not FIELD=COLUMN with FIELD one of {', '.join(MAP_FIELDS)}")
        if field in out:
            raise InputError(f"--map: field '{field}' given twice")
        out[field] = column
    return out


def _require(path: str, present: list, columns: dict) -> None:
    for field, column in columns.items():
        if column not in present:
            raise InputError(f"{path}: no column '{column}' (needed for {field}); "
                             f"the file has: {', '.join(present)}")


def _read_parquet(path: str, columns: dict) -> pd.DataFrame:
    try:
        schema = pq.read_schema(path)
        _require(path, schema.names, columns)
        table = pq.read_table(path, columns=sorted(set(columns.values())))
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read as Parquet ({e})") from None
    return table.to_pandas()


def _csv_header(path: str) -> list:
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", newline="") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read the CSV header ({e})") from None


def _read_csv(path: str, columns: dict) -> pd.DataFrame:
    """The needed columns as text (each parsed by values.*, which can name
    a bad row); quoted fields may hold commas and line breaks (prompts)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    _require(path, _csv_header(path), columns)
    needed = sorted(set(columns.values()))
    try:
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                               convert_options=pacsv.ConvertOptions(
                                   include_columns=needed, column_types={c: pa.string() for c in needed},
                                   strings_can_be_null=True))
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read as CSV ({e})") from None
    return table.to_pandas()


def _parse(path: str, raw: pd.DataFrame, columns: dict, time_format: str) -> pd.DataFrame:
    parsed = {}
    for field, column in columns.items():
        where = values.Where(path, column)
        if field == "arrival":
            parsed[field] = values.times_ns(raw[column], time_format, where)
        elif field == "user":
            parsed[field] = values.texts(raw[column])
        else:
            parsed[field] = values.integers(raw[column], where)
    return pd.DataFrame(parsed, index=raw.index)
