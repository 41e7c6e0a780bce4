"""Parsing the columns of an input file into numbers: times in integer
nanoseconds, sizes, steps and seeds as integers, users as text. A missing
value (null, empty or blank text) becomes <NA> and later drops its row; a
value that is present but unreadable is an InputError naming the file, the
column and the data row (1-based, header not counted), since it means the
file or the options are wrong, not that one request is."""

from dataclasses import dataclass

import pandas as pd

from .errors import InputError

TIME_FORMATS = ("s", "ms", "iso")
_NS_PER = {"s": 1e9, "ms": 1e6}


@dataclass(frozen=True)
class Where:
    """A column of an input file, for messages."""
    path: str
    column: str

    def row_error(self, position: int, raw, cause: str) -> InputError:
        return InputError(f"{self.path}: column '{self.column}', data row {position + 1}: "
                          f"{raw!r} {cause}")


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def _missing(values: pd.Series) -> pd.Series:
    """True where a value is null or blank text."""
    if _is_text(values):
        return values.isna() | (values.astype(str).str.strip() == "")
    return values.isna()


def _fail_at_first(bad: pd.Series, values: pd.Series, where: Where, cause: str) -> None:
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0])
        raise where.row_error(position, values.iloc[position], cause)


def _numbers(values: pd.Series, where: Where) -> pd.Series:
    """float64 of a numeric or text column, NaN where missing."""
    missing = _missing(values)
    if _is_text(values):
        numbers = pd.to_numeric(values.where(~missing).astype(object).str.strip(), errors="coerce")
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.astype("float64")
    else:
        raise InputError(f"{where.path}: column '{where.column}' holds {values.dtype}, not numbers")
    _fail_at_first(~missing & numbers.isna(), values, where, "is not a number")
    _fail_at_first(~missing & ~numbers.abs().lt(float("inf")), values, where, "is not a finite number")
    return numbers.astype("float64")


def integers(values: pd.Series, where: Where) -> pd.Series:
    """Int64 of a column of whole numbers (12, 12.0 or '12'); <NA> where missing."""
    numbers = _numbers(values, where)
    _fail_at_first(numbers.notna() & (numbers % 1 != 0), values, where, "is not a whole number")
    _fail_at_first(numbers.abs() >= 2.0**63, values, where, "is out of the 64-bit integer range")
    return numbers.round().astype("Int64")


def texts(values: pd.Series) -> pd.Series:
    """Stripped text of a column; <NA> where missing."""
    return values.where(~_missing(values)).astype("string").str.strip()


def times_ns(values: pd.Series, time_format: str, where: Where) -> pd.Series:
    """Int64 nanoseconds of a time column: a timestamp column (as Parquet
    stores DiffusionDB's), ISO-8601 text ('iso'; text without an offset is
    UTC), or numbers of seconds ('s') or milliseconds ('ms'), which may be
    Unix epoch times or times since any origin."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _datetimes_ns(values)
    if time_format == "iso":
        if not _is_text(values):
            raise InputError(f"{where.path}: column '{where.column}' holds {values.dtype}, "
                             "not ISO-8601 text or timestamps")
        return _iso_ns(values, where)
    return (_numbers(values, where) * _NS_PER[time_format]).round().astype("Int64")


def _datetimes_ns(values: pd.Series) -> pd.Series:
    """Nanoseconds since the epoch of a datetime column; naive ones are UTC."""
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = values.astype("datetime64[ns]").to_numpy().view("int64")
    return pd.Series(pd.arrays.IntegerArray(ns.copy(), values.isna().to_numpy()), index=values.index)


def _iso_ns(values: pd.Series, where: Where) -> pd.Series:
    missing = _missing(values)
    text = values.where(~missing).astype(object).str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    _fail_at_first(~missing & parsed.isna(), values, where, "is not an ISO-8601 time")
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    _fail_at_first(parsed.notna() & ((parsed < lo) | (parsed > hi)), values, where,
                   f"is outside the years {lo.year + 1}..{hi.year - 1} (is --time-format right?)")
    return _datetimes_ns(parsed)


def option_time_ns(text: str, time_format: str, option: str) -> int:
    """A --start/--end value, in the time format of the input's column."""
    try:
        if time_format == "iso":
            stamp = pd.Timestamp(text)
            return (stamp.tz_localize("UTC") if stamp.tz is None else stamp).value
        return round(float(text) * _NS_PER[time_format])
    except (ValueError, TypeError, OverflowError) as e:
        kind = "an ISO-8601 time" if time_format == "iso" else f"a number of {time_format}"
        raise InputError(f"{option}: {text!r} is not {kind} ({e})") from None


def format_time(ns: int, time_format: str) -> str:
    """A time of the input, readable, in its own format."""
    if time_format == "iso":
        return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()
    return f"{ns / _NS_PER[time_format]:g} {time_format}"
