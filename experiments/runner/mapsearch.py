"""RSSP with a searched map: a point's policy entry `rssp-search[:OPT=V..]`
(e.g. `rssp-search:order=edf:late=defer`) stands for the rssp map, each
resolution of the point's trace at one of the profiled degrees the node
allows, with the highest mean SAR on tuning traces: the same trace and
simulator options as the point, seeds TUNE_SEEDS (never evaluation seeds).
Every setting (trace options, simulator options, profile, entry) is tuned
on its own, so the map may differ from cell to cell of an experiment; ties
go to the map with the fewest GPUs in total, then to the first in spec order.

Tuning runs `tetriserve sim --no-db --json` once per (setting, tuning
seed) with every candidate map, and caches the SARs in
EXPDIR/.cache/tune/KEY.json, so a rerun tunes nothing. Resolved points run
the chosen spec and keep the entry as an alias (Point.aliases), so tables
look the search up by its entry."""

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from .ceiling import _profile_rows
from .errors import UsageError
from .execute import ensure_trace
from .point import Point, option_args

SEARCH = "rssp-search"
TUNE_SEEDS = (101, 102, 103)
QUICK_TUNE_SEEDS = TUNE_SEEDS[:1]
ALL_RESOLUTIONS = (256, 512, 1024, 2048)


def is_search(policy: str) -> bool:
    return policy == SEARCH or policy.startswith(SEARCH + ":")


def resolutions(trace: dict) -> tuple:
    """The square resolutions a trace of these `trace gen` options holds:
    its `res` option (N or N1,N2,..), else the generator's default four."""
    res = trace.get("res")
    if res is None:
        return ALL_RESOLUTIONS
    return tuple(int(r) for r in str(res).split(","))


def profile_degrees(profile: str, gpus: int) -> tuple:
    """The batch-1 SP degrees of the profile that fit a node of gpus GPUs."""
    degs = {int(r["sp"]) for r in _profile_rows(profile) if int(r.get("batch") or 1) == 1}
    return tuple(sorted(k for k in degs if k <= gpus))


def candidate_maps(res: tuple, degrees: tuple) -> list:
    """Every rssp map giving each resolution one of the degrees, as specs
    `rssp:256=1,512=2,..` in a fixed order (len(degrees) ** len(res) maps)."""
    return ["rssp:" + ",".join(f"{r}={k}" for r, k in zip(res, combo))
            for combo in itertools.product(degrees, repeat=len(res))]


def map_gpus(spec: str) -> int:
    """Sum of the degrees of a map spec `rssp:256=1,512=2..[:OPT..]`."""
    items = spec.split(":")[1].split(",")
    return sum(int(item.split("=")[1]) for item in items)


def choose(sars: dict) -> str:
    """The spec with the highest mean SAR ({spec: [sar per tuning seed]});
    ties to the fewest GPUs in total, then to the first spec in order."""
    order = {spec: i for i, spec in enumerate(sars)}
    return min(sars, key=lambda s: (-sum(sars[s]) / len(sars[s]), map_gpus(s), order[s]))


@dataclasses.dataclass(frozen=True)
class Tuning:
    """One tuning run: a setting's trace at one tuning seed, every candidate."""
    point: Point       # tuning seed, the candidates as policies
    setting: str       # key of the setting (tuning seed left out)

    def cache(self, folder: str, profile_hash: str) -> str:
        return os.path.join(folder, f"{self.point.key(profile_hash)}.json")


def _setting(point, entry, profile_hash):
    base = dataclasses.replace(point, seed=0, policies=(entry,), tag="tune-" + point.tag)
    return f"{base.key(profile_hash)}|{entry}"


def tunings(points, setup, seeds) -> list:
    """The tuning runs the search entries of the points need (deduplicated)."""
    out = {}
    for p in points:
        for entry in filter(is_search, p.policies):
            setting = _setting(p, entry, setup.profile_hash)
            degrees = profile_degrees(p.profile_path(setup.profile), p.sim.get("gpus", 4))
            specs = tuple(m + entry[len(SEARCH):] for m in candidate_maps(resolutions(p.trace), degrees))
            for s in seeds:
                tp = dataclasses.replace(p, seed=s, policies=specs, tag="tune-" + p.tag, aliases=())
                out[(setting, s)] = Tuning(tp, setting)
    return list(out.values())


def run_tuning(setup, t: Tuning, folder: str) -> dict:
    """{spec: SAR} of one tuning run, from its cache or by running it."""
    path = t.cache(folder, setup.profile_hash)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    trace = ensure_trace(setup, t.point)
    cmd = [setup.exe, "sim", "--trace", trace, "--profile", t.point.profile_path(setup.profile),
           *option_args(t.point.sim), "--seed", str(t.point.seed), "--policy", ",".join(t.point.policies),
           "--no-db", "--json", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"map search: `{' '.join(cmd[:4])} ...` exited {proc.returncode}: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    out = out if isinstance(out, list) else [out]
    sars = {spec: s["sar"] for spec, s in zip(t.point.policies, out)}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(sars, f)
    os.replace(tmp, path)
    return sars


def search(setup, points, jobs, folder, seeds, run=True) -> dict:
    """{setting: chosen spec} for every search entry of the points. With
    run False only cached tunings count (a setting missing one is left out)."""
    todo = tunings(points, setup, seeds)
    if not todo:
        return {}
    os.makedirs(folder, exist_ok=True)
    cached = [t for t in todo if os.path.exists(t.cache(folder, setup.profile_hash))]
    if run and len(cached) < len(todo):
        print(f"map search: {len(todo) - len(cached)} tuning runs ({len(cached)} cached), seeds {seeds}",
              file=sys.stderr)
    if not run:
        todo = cached
    with ThreadPoolExecutor(max_workers=jobs or 1) as pool:
        results = list(pool.map(lambda t: (t, run_tuning(setup, t, folder)), todo))
    per_setting, runs = {}, {}
    for t, sars in results:
        runs[t.setting] = runs.get(t.setting, 0) + 1
        acc = per_setting.setdefault(t.setting, {})
        for spec, sar in sars.items():
            acc.setdefault(spec, []).append(sar)
    return {s: choose(v) for s, v in per_setting.items() if runs[s] == len(seeds)}


def resolve(points, chosen, profile_hash) -> list:
    """The points with each search entry replaced by its setting's chosen
    spec and kept as an alias of it; an entry without a choice is left out."""
    out = []
    for p in points:
        if not any(map(is_search, p.policies)):
            out.append(p)
            continue
        if p.seed in TUNE_SEEDS:
            raise UsageError(f"point {p.tag} seed {p.seed} is a tuning seed of the map search {TUNE_SEEDS}")
        policies, aliases = [], list(p.aliases)
        for pol in p.policies:
            if not is_search(pol):
                policies.append(pol)
                continue
            spec = chosen.get(_setting(p, pol, profile_hash))
            if spec is None:
                continue
            aliases.append((pol, spec))
            if spec not in policies and spec not in p.policies:
                policies.append(spec)
        out.append(dataclasses.replace(p, policies=tuple(policies), aliases=tuple(aliases)))
    return out
