"""Running an experiment's points as Ray tasks (`--ray [ADDRESS]`,
docs/SWEEPS.md).

The driver (this process) makes each point's trace as the thread-pool
runner does (cached under the experiment's .cache/traces/), puts the
tetriserve binary, the profile and each trace into Ray's object store once,
and submits one task per point: `tetriserve sim` in a temporary folder of a
worker (sandbox.run_sim), which returns the SQLite file it wrote. Each file
is merged into the experiment's results file with `tetriserve merge` as it
arrives, so an interrupted sweep keeps every finished point and a rerun
skips them, as with threads.

In the results file, runs made this way name their inputs as the worker
saw them: trace_name `trace-<key>.csv`, profile_name the profile's file
name; the hashes, options, labels and results are those of a thread-pool
run of the same points."""

import dataclasses
import logging
import os
import subprocess
import tempfile

from . import sandbox
from .errors import UsageError
from .execute import Outcome, ensure_trace, sim_command


def import_ray():
    """The ray module, set to ship sandbox by value to the workers."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray (pip install ray) on this machine and on the workers") from None
    ray.cloudpickle.register_pickle_by_value(sandbox)
    return ray


def connect(ray, address: str, jobs) -> None:
    """Joins the cluster at address, or starts a local Ray instance with
    jobs CPUs (every CPU when None) for an empty address."""
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=jobs, include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UsageError(f"--ray: cannot start or reach {where}: {e}") from None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class RaySweep:
    """Submits points as Ray tasks and merges what they return."""

    def __init__(self, ray, setup, spool: str):
        """spool: a folder for returned results files until they are merged."""
        self.ray = ray
        self.setup = setup
        self.spool = spool
        self.profile_name = os.path.basename(setup.profile)
        self.exe = ray.put(_read(setup.exe))
        self.profile = ray.put(_read(setup.profile))
        self.traces = {}
        self.task = ray.remote(sandbox.run_sim)

    def _trace(self, point):
        """(file name, object ref) of the point's trace, generated here and
        put into the object store once. Raises RuntimeError when `trace gen` fails."""
        path = ensure_trace(self.setup, point)
        if path not in self.traces:
            self.traces[path] = self.ray.put(_read(path))
        return os.path.basename(path), self.traces[path]

    def worker_args(self, point, policies: list, trace_name: str) -> list:
        """The `tetriserve sim` arguments as the worker runs them: inputs
        and results file by name in its temporary folder."""
        remote = dataclasses.replace(self.setup, profile=self.profile_name, db=sandbox.DB)
        return sim_command(remote, point, policies, trace_name)[1:]

    def submit(self, point, policies: list):
        """Starts the point's task; returns (object ref, its arguments)."""
        trace_name, trace = self._trace(point)
        args = self.worker_args(point, policies, trace_name)
        return self.task.remote(self.exe, trace_name, trace, self.profile_name, self.profile, args), args

    def collect(self, key: str, ref, args: list) -> Outcome:
        """The finished task's outcome, its results merged into setup.db."""
        try:
            status, stderr, db = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            return Outcome(key, False, f"Ray task failed: {e}")
        merge_error = self.merge(key, db) if db else ""
        if status != 0:
            err = stderr.strip() or "(no output)"
            return Outcome(key, False, f"`tetriserve {' '.join(args)}` exited {status} on a Ray worker: {err}")
        return Outcome(key, not merge_error, merge_error)

    def merge(self, key: str, db: bytes) -> str:
        """Merges a returned results file into setup.db; '' or the error."""
        path = os.path.join(self.spool, f"{key}.db")
        with open(path, "wb") as f:
            f.write(db)
        cmd = [self.setup.exe, "merge", "--out", self.setup.db, path]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        for leftover in (path, path + "-wal", path + "-shm"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        if proc.returncode != 0:
            return f"`{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.strip()}"
        return ""


def _drive(ray, sweep: RaySweep, todo: list, jobs, finished) -> None:
    """Keeps at most jobs tasks in flight (all of them for None), calling
    finished(Outcome) as each ends; cancels the running ones on Ctrl-C."""
    queue = list(todo)
    limit = jobs or len(queue)
    running = {}
    try:
        while queue or running:
            while queue and len(running) < limit:
                point, policies = queue.pop(0)
                key = point.key(sweep.setup.profile_hash)
                try:
                    ref, args = sweep.submit(point, policies)
                except RuntimeError as e:
                    finished(Outcome(key, False, str(e)))
                    continue
                running[ref] = (key, args)
            if running:
                (ref,), _ = ray.wait(list(running), num_returns=1)
                key, args = running.pop(ref)
                finished(sweep.collect(key, ref, args))
    except KeyboardInterrupt:
        for ref in running:
            ray.cancel(ref, force=True)
        raise


def run_on_ray(setup, todo: list, jobs, address: str, finished) -> None:
    """Runs the (point, policies) of todo as Ray tasks on the cluster at
    address ('' for a local instance); see the module's docstring."""
    if not todo:
        return
    own = sorted({p.profile for p, _ in todo if p.profile})
    if own:
        from .errors import UsageError
        raise UsageError(f"--ray runs every point on one profile; these points have their own: {', '.join(own)}")
    ray = import_ray()
    connect(ray, address, jobs)
    try:
        with tempfile.TemporaryDirectory(prefix=".ray-", dir=os.path.dirname(setup.db)) as spool:
            _drive(ray, RaySweep(ray, setup, spool), todo, jobs, finished)
    finally:
        ray.shutdown()
