"""The fair comparison (docs/EXPERIMENTS.md): the paper's baselines serve
requests first come, first served and run hopeless ones in full; the fair
baselines serve earliest deadline first and set aside a request that can no
longer make its deadline (`order=edf:late=defer`, docs/SCHEDULER.md):
fixed-sp at every degree, the best degree picked per cell after the fact
(an oracle choice, labelled so), and rssp with a map searched on tuning
seeds (mapsearch.py). TetriServe runs with late requests served (its
default) and dropped."""

import math
from collections import namedtuple

from .defaults import MIXES, duration
from .mapsearch import SEARCH
from .point import expand_seeds
from .results import Spread
from .tables import GAIN_HEADER, by_x_table, gain_rows, markdown

EDF = ":order=edf:late=defer"
RSSP_SEARCH = SEARCH + EDF
TETRI, TETRI_DROP = "tetriserve", "tetriserve:late=drop"
BEST_EDF = "fixed-sp EDF/defer, best K (oracle)"
BEST_FCFS = "fixed-sp FCFS, best K (oracle)"

# A line of a figure whose value at each x is the best of several policies there.
Best = namedtuple("Best", "label policies")


def fcfs_fixed(degrees) -> tuple:
    return tuple(f"fixed-sp:{k}" for k in degrees)


def edf_fixed(degrees) -> tuple:
    return tuple(f"fixed-sp:{k}{EDF}" for k in degrees)


def fair(degrees) -> tuple:
    """The fair policies of a node with these SP degrees: fixed-sp EDF/defer
    at each, the searched rssp map, tetriserve with late requests dropped."""
    return edf_fixed(degrees) + (RSSP_SEARCH, TETRI_DROP)


def best_of(res, policies, /, **params):
    """(policy, Spread) of the policy with the highest mean SAR at params;
    (None, empty Spread) when none has data."""
    found = [(s.mean, p, s) for p in policies for s in [res.metric(p, **params)] if s.n > 0]
    if not found:
        return None, Spread(math.nan, math.nan, math.nan, 0)
    _, pol, s = max(found, key=lambda f: f[0])
    return pol, s


def series(res, entry, /, **params) -> Spread:
    """A figure line's value: a policy's SAR, or a Best's."""
    if isinstance(entry, Best):
        return best_of(res, entry.policies, **params)[1]
    return res.metric(entry, **params)


def _k(policy) -> str:
    return policy.split(":")[1] if policy else "-"


def _sar(s) -> str:
    return f"{s.mean:.3f}" if s.n else "-"


def fair_row(res, label, degrees, params):
    """One row of the fair comparison, and (tetriserve, late=drop, best
    fair) means for the average row."""
    kf, fcfs = best_of(res, fcfs_fixed(degrees), **params)
    ke, edf = best_of(res, edf_fixed(degrees), **params)
    search = res.metric(RSSP_SEARCH, **params)
    tetri, drop = res.metric(TETRI, **params), res.metric(TETRI_DROP, **params)
    fair_best = max((s.mean for s in (edf, search) if s.n), default=math.nan)
    row = [label, f"{_sar(fcfs)} (K={_k(kf)})", f"{_sar(edf)} (K={_k(ke)})", _sar(search),
           _sar(tetri), _sar(drop), f"{tetri.mean - fair_best:+.3f}", f"{drop.mean - fair_best:+.3f}"]
    return row, (tetri.mean, drop.mean, fair_best)


FAIR_HEADER = ["setting", "best FCFS fixed-sp (oracle K)", "best EDF/defer fixed-sp (oracle K)",
               "rssp-search EDF/defer", "tetriserve", "tetriserve:late=drop",
               "tetriserve - best fair", "late=drop - best fair"]


def fair_table(res, settings, degrees) -> str:
    """The fair comparison of each setting (label, params), with an average
    row; "best fair" is the better of the oracle-K EDF/defer fixed-sp and
    rssp-search."""
    rows, gains = [], []
    for label, params in settings:
        row, means = fair_row(res, label, degrees, params)
        if all(math.isfinite(m) for m in means):
            rows.append(row)
            gains.append(means)
    if gains:
        n = len(gains)
        rows.append(["**average**", "", "", "", f"{sum(g[0] for g in gains) / n:.3f}",
                     f"{sum(g[1] for g in gains) / n:.3f}",
                     f"{sum(g[0] - g[2] for g in gains) / n:+.3f}",
                     f"{sum(g[1] - g[2] for g in gains) / n:+.3f}"])
    return markdown(FAIR_HEADER, rows)


def map_table(res, settings) -> str:
    """The map rssp-search chose (on its tuning seeds) for each setting."""
    rows = []
    for label, params in settings:
        specs = sorted({p.spec(RSSP_SEARCH) for p in res.select(**params)} - {RSSP_SEARCH})
        rows.append([label, "; ".join(s.split(":")[1] for s in specs) or "-"])
    return markdown(["setting", "map chosen by rssp-search (tuning seeds)"], rows)


def scale_sweep_tables(res, setup, heading_note="", fair_note="", gain_title="") -> str:
    """The results.md section of one setup of an SLO-scale sweep (its name,
    policies and degrees in `setup`): SAR per mix by scale, the fair
    comparison with rssp-search's maps, and TetriServe against the best FCFS
    fixed-SP baseline. The notes go after the heading's first sentence, inside
    the fair comparison's parenthesis and after its gain table's title."""
    scales = sorted({p.params["scale"] for p in res.select(setup=setup["name"])})
    text = f"\n## {setup['name']}\n\nSAR, mean over seeds (min–max){heading_note}\n"
    for mix in MIXES:
        text += f"\n### {mix}\n\n" + by_x_table(res, setup["policies"], scales, "scale", "{:.1f}x",
                                                 setup=setup["name"], mix=mix)
    settings = [(f"{mix} {x:.1f}x", {"setup": setup["name"], "mix": mix, "scale": x})
                for mix in MIXES for x in scales]
    text += ("\nFair comparison (best fair = the better of the oracle-K EDF/defer fixed-sp and "
             f"rssp-search{fair_note}):\n\n" + fair_table(res, settings, setup["degrees"]))
    text += "\n" + map_table(res, settings)
    text += f"\nTetriServe vs the best FCFS fixed-SP baseline{gain_title}:\n\n"
    return text + markdown(GAIN_HEADER, gain_rows(res, setup["policies"], settings))


def scale_sweep_points(setups, quick, seeds, slo_factor=1.0, gpus_param=True) -> list:
    """The points of an SLO-scale sweep: each setup (name, rate, gpus,
    scales, policies, tag, profile) at every mix and scale (--quick: the
    first and last scale), --slo-scale the scale times slo_factor; the
    point parameters name setup, mix and scale, and gpus when gpus_param
    (kept as each experiment first stored them, so cached points stay)."""
    pts = []
    for s in setups:
        scales = s["scales"] if not quick else (s["scales"][0], s["scales"][-1])
        for mix in MIXES:
            for scale in scales:
                params = {"setup": s["name"], "gpus": s["gpus"], "mix": mix, "scale": scale}
                if not gpus_param:
                    del params["gpus"]
                pts += expand_seeds(
                    seeds, trace={"rate": s["rate"], "mix": mix, "duration": duration(quick)},
                    sim={"gpus": s["gpus"], "slo-scale": round(scale * slo_factor, 6)},
                    policies=s["policies"],
                    tag=f"{s['tag']}{mix}-x{scale}", profile=s["profile"], params=params)
    return pts
