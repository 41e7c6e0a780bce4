"""Markdown tables of experiment results."""

# What the SAR ceiling of a table is (Results.ceiling).
CEILING = ("the share of requests that could meet their deadline on an idle node at their "
           "fastest profiled degree, which no policy can exceed")


def cell(s, digits=3) -> str:
    """'mean (min-max)' of a Spread, or '-' when it has no data."""
    if s.n == 0:
        return "-"
    if s.n == 1 or s.lo == s.hi:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ({s.lo:.{digits}f}–{s.hi:.{digits}f})"


def markdown(header, rows) -> str:
    """A Markdown table of a header row and rows of cells."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


FIXED = ("fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "fixed-sp:8")


def gain_over_best_fixed(res, policies, **params):
    """(best fixed policy, its mean SAR, tetriserve's mean SAR) at one
    setting: the best fixed-SP baseline is the one with the highest mean SAR
    there. None when tetriserve or every fixed baseline has no data."""
    fixed = [(res.metric(p, **params).mean, p) for p in policies if p in FIXED]
    fixed = [(m, p) for m, p in fixed if m == m]
    tetri = res.metric("tetriserve", **params)
    if not fixed or tetri.n == 0:
        return None
    best_sar, best = max(fixed)
    return best, best_sar, tetri.mean


def gain_rows(res, policies, settings):
    """Table rows (setting, best fixed, its SAR, tetriserve SAR, gain in SAR
    points, relative gain) for each settings entry (label, params dict), and
    a last row averaging the gains."""
    rows, abs_gains, rel_gains = [], [], []
    for label, params in settings:
        g = gain_over_best_fixed(res, policies, **params)
        if g is None:
            continue
        best, best_sar, tetri = g
        rel = (tetri - best_sar) / best_sar if best_sar > 0 else float("nan")
        abs_gains.append(tetri - best_sar)
        rel_gains.append(rel)
        rows.append([label, best, f"{best_sar:.3f}", f"{tetri:.3f}", f"{tetri - best_sar:+.3f}",
                     f"{100 * rel:+.0f}%" if rel == rel else "-"])
    if abs_gains:
        finite = [r for r in rel_gains if r == r]
        rows.append(["**average**", "", "", "", f"{sum(abs_gains) / len(abs_gains):+.3f}",
                     f"{100 * sum(finite) / len(finite):+.0f}%" if finite else "-"])
    return rows


GAIN_HEADER = ["setting", "best fixed", "its SAR", "tetriserve SAR", "gain (SAR points)", "gain (relative)"]


def by_x_table(res, policies, xs, xname, fmt="{:g}", **params) -> str:
    """One row per policy (a name, or a fair.Best), one column per value of
    the param xname: mean SAR over seeds (min-max), and a ceiling row."""
    from .fair import Best, series
    rows = []
    for pol in policies:
        label = pol.label if isinstance(pol, Best) else pol
        rows.append([label] + [cell(series(res, pol, **params, **{xname: x})) for x in xs])
    rows.append(["SAR ceiling"] + [cell(res.ceiling(**params, **{xname: x})) for x in xs])
    return markdown(["policy"] + [fmt.format(x) for x in xs], rows)
