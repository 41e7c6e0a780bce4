"""A point of an experiment: one generated trace replayed under a list of
policies with one set of simulator options."""

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=None)
def file_hash(path: str) -> str:
    """First 12 hex digits of the SHA-1 of a file's contents."""
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def repo_path(path: str) -> str:
    """A path relative to the repository root made absolute."""
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def _short_hash(obj) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def option_args(options: dict) -> list:
    """Command-line flags of an options dict: True gives `--name`, False or
    None leaves the flag out, any other value gives `--name value`. Keys are
    sorted so the same dict always gives the same command."""
    args = []
    for name in sorted(options):
        value = options[name]
        if value is True:
            args.append(f"--{name}")
        elif value is not False and value is not None:
            args += [f"--{name}", str(value)]
    return args


@dataclass(frozen=True)
class Point:
    """trace: `tetriserve trace gen` options without --seed and --out, e.g.
    {"rate": 12, "mix": "skewed", "duration": 1800}; sim: `tetriserve sim`
    options without --trace, --profile, --db and --label, e.g. {"gpus": 4,
    "slo-scale": 1.2, "no-elastic": True}; policies: the --policy entries;
    seed: seeds both the trace and the simulator; tag: a readable prefix of
    the key; params: what the plot groups by (not part of the key);
    profile: a step-latency profile of the point's own (path relative to the
    repository root) instead of the runner's (--profile or the default);
    aliases: (name, spec) pairs, a name the tables use for the spec that
    ran, e.g. a searched map (mapsearch.py)."""
    trace: dict
    sim: dict
    policies: tuple
    seed: int
    tag: str = ""
    params: dict = field(default_factory=dict, compare=False)
    profile: str = ""
    aliases: tuple = field(default=(), compare=False)

    def profile_path(self, default: str) -> str:
        """The profile the point runs on: its own, else default."""
        return repo_path(self.profile) if self.profile else default

    def spec(self, policy: str) -> str:
        """The policy spec that ran for a policy name or alias."""
        return dict(self.aliases).get(policy, policy)

    def trace_key(self) -> str:
        """Names the cached trace file: the generation options and the seed."""
        return _short_hash({"trace": self.trace, "seed": self.seed})

    def key(self, profile_hash: str) -> str:
        """The --label of this point's runs: a readable prefix plus a hash of
        the trace options, simulator options, seed and profile contents. The
        policies are not part of it, so a policy added to an experiment later
        runs alone on the existing points. A point with a profile of its own
        hashes that profile's contents instead of profile_hash."""
        if self.profile:
            profile_hash = file_hash(repo_path(self.profile))
        digest = _short_hash({"trace": self.trace, "sim": self.sim, "seed": self.seed,
                              "profile": profile_hash})
        tag = _TAG_UNSAFE.sub("_", self.tag)
        return f"{tag}-s{self.seed}-{digest}" if tag else f"s{self.seed}-{digest}"


def expand_seeds(seeds: int, **fields) -> list:
    """The same point for seeds 1..seeds."""
    return [Point(seed=s, **fields) for s in range(1, seeds + 1)]
