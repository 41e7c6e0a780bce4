"""Reading an experiment's SQLite results file (schema: docs/SCHEMA.md)."""

import json
import math
import os
import sqlite3
from dataclasses import dataclass

from .ceiling import ceiling, fastest_step_ns

# The latest completed run of each (label, policy); earlier duplicates (a
# point run twice by overlapping shards) and interrupted runs are ignored.
_COMPLETED_RUNS = """
SELECT json_extract(options, '$.label') AS label, policy, MAX(run_id), summary
FROM runs WHERE completed = 1 AND label IS NOT NULL
GROUP BY label, policy
"""


def completed_runs(db_path: str) -> dict:
    """{(label, policy): (run_id, summary dict)} of the completed runs in the
    file; empty when the file does not exist yet."""
    if not os.path.exists(db_path):
        return {}
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(_COMPLETED_RUNS).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return {}
        raise RuntimeError(f"{db_path}: {e}") from e
    finally:
        con.close()
    return {(label, policy): (run_id, json.loads(summary) if summary else {})
            for label, policy, run_id, summary in rows}


@dataclass
class Spread:
    """Mean of a sample with its min, max and size."""
    mean: float
    lo: float
    hi: float
    n: int


def spread(values) -> Spread:
    """Spread of the finite values; all NaN (n = 0) when there are none."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(sum(v) / len(v), min(v), max(v), len(v))


class Results:
    """The completed runs of an experiment's points, looked up by point."""

    def __init__(self, db_path: str, points: list, profile_hash: str, profile: str = None):
        """profile: the profile CSV the points ran on; needed by ceiling() only."""
        self.db_path = db_path
        self.points = points
        self.profile_hash = profile_hash
        self.profile = profile
        self.runs = completed_runs(db_path)
        self._fastest = {}

    def run(self, point, policy):
        """(run_id, summary) of the point's run under policy (a spec or one
        of the point's aliases), or None."""
        return self.runs.get((point.key(self.profile_hash), point.spec(policy)))

    def summary(self, point, policy) -> dict:
        """The run's JSON summary ({} when the point has not run)."""
        found = self.run(point, policy)
        return found[1] if found else {}

    def select(self, **params) -> list:
        """Points whose params include all the given items."""
        return [p for p in self.points
                if all(p.params.get(k) == v for k, v in params.items())]

    def metric(self, policy, field="sar", **params) -> Spread:
        """Spread over the matching points (the seeds) of one summary field,
        e.g. "sar", or a callable of the summary."""
        get = field if callable(field) else (lambda s: s.get(field))
        return spread(get(self.summary(p, policy)) for p in self.select(**params)
                      if self.run(p, policy))

    def ceiling(self, **params) -> Spread:
        """Spread over the matching points of the SAR ceiling of each point's
        trace (ceiling.py): the share of its requests that meet their
        deadline on an idle node of the run's GPUs. Every policy of a point
        replays the same trace, so any completed run of the point serves."""
        values = []
        for p in self.select(**params):
            found = next((self.run(p, pol) for pol in p.policies if self.run(p, pol)), None)
            if found:
                values.append(self._run_ceiling(found[0], p.profile_path(self.profile)))
        return spread(values)

    def _run_ceiling(self, run_id, profile) -> float:
        if profile is None:
            raise ValueError("Results.ceiling needs the profile: Results(..., profile=PATH)")
        gpus = self.query("SELECT gpus FROM runs WHERE run_id = ?", (run_id,))[0][0]
        if (profile, gpus) not in self._fastest:
            self._fastest[(profile, gpus)] = fastest_step_ns(profile, gpus)
        requests = self.query("""SELECT height, width, steps, arrival_ns, deadline_ns
                                 FROM requests WHERE run_id = ?""", (run_id,))
        return ceiling(requests, self._fastest[(profile, gpus)])

    def query(self, sql: str, args=()) -> list:
        """Rows of a read-only query on the results file."""
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def missing(self) -> int:
        """(point, policy) pairs without a completed run."""
        return sum(1 for p in self.points for pol in p.policies if not self.run(p, pol))
