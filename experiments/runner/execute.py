"""Running one point: generate its trace (cached) and replay it under the
policies that have no completed run yet."""

import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass

from .point import option_args
from .results import completed_runs

LOCKED_RETRIES = 5


@dataclass(frozen=True)
class Setup:
    """What every point of one runner invocation shares."""
    exe: str          # the tetriserve binary
    profile: str      # step-latency profile CSV
    profile_hash: str
    db: str           # the experiment's SQLite results file
    cache: str        # folder of generated traces


@dataclass
class Outcome:
    """The result of running one point."""
    key: str
    ok: bool
    error: str = ""


def trace_path(setup: Setup, point) -> str:
    """Where the point's generated trace is cached."""
    return os.path.join(setup.cache, f"trace-{point.trace_key()}.csv")


def _run(cmd: list) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _command_error(cmd: list, proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip() or proc.stdout.strip() or "(no output)"
    return f"`{' '.join(cmd)}` exited {proc.returncode}: {err}"


def ensure_trace(setup: Setup, point) -> str:
    """Generates the point's trace unless cached; returns its path. The file
    appears under its final name only once complete (written to a temporary
    name, then renamed), so a killed runner never leaves half a trace.
    Raises RuntimeError with the command's message on failure."""
    path = trace_path(setup, point)
    if os.path.exists(path):
        return path
    os.makedirs(setup.cache, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=setup.cache, prefix=".gen-", suffix=".csv")
    os.close(fd)
    cmd = [setup.exe, "trace", "gen", *option_args(point.trace),
           "--seed", str(point.seed), "--out", tmp]
    proc = _run(cmd)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError(_command_error(cmd, proc))
    os.replace(tmp, path)
    return path


def sim_command(setup: Setup, point, policies: list, trace: str) -> list:
    """The `tetriserve sim` command of the point for the given policies."""
    return [setup.exe, "sim", "--trace", trace, "--profile", point.profile_path(setup.profile),
            *option_args(point.sim), "--seed", str(point.seed),
            "--policy", ",".join(policies), "--db", setup.db,
            "--label", point.key(setup.profile_hash), "--quiet"]


def _missing(setup: Setup, key: str, policies: list) -> list:
    done = completed_runs(setup.db)
    return [pol for pol in policies if (key, pol) not in done]


def run_point(setup: Setup, point, policies: list) -> Outcome:
    """Runs the given policies of the point; each finished policy is a
    completed row of runs in setup.db, written by tetriserve itself.
    tetriserve opening the results file while another process checkpoints
    it can fail with "database is locked": the policies still missing then
    run again, up to LOCKED_RETRIES times."""
    key = point.key(setup.profile_hash)
    try:
        trace = ensure_trace(setup, point)
    except RuntimeError as e:
        return Outcome(key, False, str(e))
    for attempt in range(LOCKED_RETRIES + 1):
        cmd = sim_command(setup, point, policies, trace)
        proc = _run(cmd)
        if proc.returncode == 0:
            return Outcome(key, True)
        if "database is locked" not in proc.stderr or attempt == LOCKED_RETRIES:
            break
        time.sleep(random.uniform(0.05, 0.5))
        policies = _missing(setup, key, policies)
        if not policies:
            return Outcome(key, True)
    return Outcome(key, False, _command_error(cmd, proc))
