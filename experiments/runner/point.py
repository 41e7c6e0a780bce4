"""A point of an experiment: one generated trace replayed under a list of
policies with one set of simulator options."""

import hashlib
import json
import re
from dataclasses import dataclass, field

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


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
    the key; params: what the plot groups by (not part of the key)."""
    trace: dict
    sim: dict
    policies: tuple
    seed: int
    tag: str = ""
    params: dict = field(default_factory=dict, compare=False)

    def trace_key(self) -> str:
        """Names the cached trace file: the generation options and the seed."""
        return _short_hash({"trace": self.trace, "seed": self.seed})

    def key(self, profile_hash: str) -> str:
        """The --label of this point's runs: a readable prefix plus a hash of
        the trace options, simulator options, seed and profile contents. The
        policies are not part of it, so a policy added to an experiment later
        runs alone on the existing points."""
        digest = _short_hash({"trace": self.trace, "sim": self.sim, "seed": self.seed,
                              "profile": profile_hash})
        tag = _TAG_UNSAFE.sub("_", self.tag)
        return f"{tag}-s{self.seed}-{digest}" if tag else f"s{self.seed}-{digest}"


def expand_seeds(seeds: int, **fields) -> list:
    """The same point for seeds 1..seeds."""
    return [Point(seed=s, **fields) for s in range(1, seeds + 1)]
