"""`python3 -m experiments.runner EXP`: run an experiment's points in
parallel, resuming from its results file, then draw its figures."""

import argparse
import dataclasses
import importlib.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed

from . import mapsearch
from .errors import UsageError
from .execute import Setup, run_point
from .plotting import draw
from .point import file_hash, repo_path
from .progress import Progress
from .results import Results, completed_runs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(REPO, "experiments")
# Measured by our own engine (exec/) on 4 x H200: traces/README.md.
DEFAULT_PROFILE = os.path.join(REPO, "traces", "profiles", "flux-dev_H200_engine.csv")
EXE_CANDIDATES = ("build-exp", "build")
FULL_SEEDS, QUICK_SEEDS = 5, 2


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="python3 -m experiments.runner",
        description="Runs an experiment of experiments/ (or an experiment.py given by path): "
                    "generates its traces, replays them with `tetriserve sim` in parallel, "
                    "stores every run in the experiment's SQLite file (skipping points already "
                    "there, so an interrupted experiment resumes) and draws its figures.")
    ap.add_argument("experiment", nargs="?",
                    help="name of a folder of experiments/, or a path to an experiment.py "
                         "(with --list alone: list the experiments)")
    ap.add_argument("--jobs", type=int,
                    help=f"points run at once (default: the CPU count, {os.cpu_count() or 1}; with --ray, "
                         "as many as the cluster has CPUs for)")
    ap.add_argument("--seeds", type=int, help=f"seeds per point (default {FULL_SEEDS}, --quick {QUICK_SEEDS})")
    ap.add_argument("--shard", default="0/1", metavar="I/N",
                    help="run only the points whose index in key order is I modulo N")
    ap.add_argument("--db", help="results file (default: EXPDIR/.cache/results.db, or "
                    "EXPDIR/.cache/quick/results.db with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke test: fewer seeds and points; "
                    "results and figures go under EXPDIR/.cache/quick/")
    ap.add_argument("--plot-only", action="store_true", help="draw figures and tables from the results file")
    ap.add_argument("--no-plot", action="store_true", help="run points only")
    ap.add_argument("--policies", metavar="P,...",
                    help="run only these of each point's policies (e.g. the baselines now, "
                         "tetriserve later); figures still show every run in the file")
    ap.add_argument("--list", action="store_true",
                    help="print the keys of this shard's points (without EXPERIMENT: the experiments) and exit")
    ap.add_argument("--exe", help="tetriserve binary (default: $TETRISERVE, else build-exp/ or build/)")
    ap.add_argument("--profile", help=f"step-latency profile (default: {os.path.relpath(DEFAULT_PROFILE, REPO)})")
    ap.add_argument("--slo-factor", type=float, default=1.0, metavar="X",
                    help="multiply every point's SLO scale by X, for a profile too slow for the "
                         "paper's SLOs (points get new keys; default %(default)s: the paper's SLOs)")
    ap.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                    help="run each point as a Ray task on the cluster at ADDRESS (e.g. auto, HOST:6379, "
                         "ray://HOST:10001), or on a local Ray instance without ADDRESS; workers need "
                         "no checkout (docs/SWEEPS.md)")
    args = ap.parse_args(argv)
    if args.experiment is None and args.ray:
        ap.error(f"--ray took '{args.ray}' as its ADDRESS: name the experiment before --ray")
    if args.experiment is None and not args.list:
        ap.error("the following arguments are required: experiment (or --list to see them)")
    if args.jobs is not None and args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if args.seeds is not None and args.seeds < 1:
        ap.error("--seeds must be at least 1")
    if not args.slo_factor > 0:
        ap.error("--slo-factor must be positive")
    try:
        args.shard_index, args.shard_count = parse_shard(args.shard)
    except ValueError as e:
        ap.error(str(e))
    return args


def parse_shard(text: str):
    """'I/N' to (I, N) with 0 <= I < N."""
    parts = text.split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"--shard: '{text}' is not I/N")
    i, n = int(parts[0]), int(parts[1])
    if n < 1 or i >= n:
        raise ValueError(f"--shard: need 0 <= I < N, got {text}")
    return i, n


def known_experiments() -> list:
    """Names of the folders of experiments/ that hold an experiment.py."""
    return sorted(d for d in os.listdir(EXPERIMENTS)
                  if os.path.isfile(os.path.join(EXPERIMENTS, d, "experiment.py")))


def list_experiments():
    """Prints each experiment of experiments/ with its title."""
    for name in known_experiments():
        exp = load_experiment(os.path.join(EXPERIMENTS, name, "experiment.py"))
        print(f"{name:18} {exp.TITLE}")


def experiment_file(name: str) -> str:
    """The experiment.py of a name or path."""
    if name.endswith(".py"):
        path = name
    elif os.path.isdir(name) and not os.path.isdir(os.path.join(EXPERIMENTS, name)):
        path = os.path.join(name, "experiment.py")
    else:
        path = os.path.join(EXPERIMENTS, name, "experiment.py")
    if not os.path.isfile(path):
        raise UsageError(f"no experiment '{name}' ({path} not found); known: {', '.join(known_experiments())}")
    return os.path.abspath(path)


def load_experiment(path: str):
    """Imports an experiment.py and checks it defines what the runner calls."""
    spec = importlib.util.spec_from_file_location(
        "experiment_" + os.path.basename(os.path.dirname(path)), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for attr in ("TITLE", "points", "plot", "table"):
        if not hasattr(module, attr):
            raise UsageError(f"{path}: defines no '{attr}' (see experiments/runner/__init__.py)")
    return module


def find_exe(given):
    """The tetriserve binary: --exe, $TETRISERVE, or a build folder's."""
    exe = given or os.environ.get("TETRISERVE")
    if not exe:
        found = [os.path.join(REPO, d, "tetriserve") for d in EXE_CANDIDATES]
        exe = next((f for f in found if os.access(f, os.X_OK)), found[0])
    if not os.access(exe, os.X_OK):
        raise UsageError(f"tetriserve binary {exe} not found or not executable; build it "
                         "(meson setup build-exp -Dcuda=disabled && ninja -C build-exp) or pass --exe")
    return os.path.abspath(exe)


def find_profile(given):
    """The profile: --profile, else our engine's FLUX profile."""
    path = given or DEFAULT_PROFILE
    if not os.path.isfile(path):
        raise UsageError(f"profile {path} not found" + ("" if given else "; pass --profile F"))
    return os.path.abspath(path)


def shard_points(points, profile_hash, index, count):
    """The deterministic share of a shard: points sorted by key, every
    count-th from index. Refuses two points with the same key."""
    keyed = sorted(((p.key(profile_hash), p) for p in points), key=lambda kp: kp[0])
    for (a, _), (b, _) in zip(keyed, keyed[1:]):
        if a == b:
            raise UsageError(f"two points share the key {a}: make their options or seeds differ")
    return [p for i, (_, p) in enumerate(keyed) if i % count == index]


def scale_slos(points, factor):
    """The points with every SLO scale (tetriserve sim's default 1.0 where a
    point sets none) multiplied by factor; the points as they are for 1."""
    if factor == 1.0:
        return points
    return [dataclasses.replace(p, sim={**p.sim, "slo-scale": round(factor * p.sim.get("slo-scale", 1.0), 6)})
            for p in points]


def restrict_policies(points, keep):
    """The points with only the policies in keep (a spec, or an alias such
    as rssp-search:..); points left with none are dropped."""
    out = []
    for p in points:
        names = {spec: name for name, spec in p.aliases}
        policies = tuple(pol for pol in p.policies if pol in keep or names.get(pol) in keep)
        if policies:
            out.append(dataclasses.replace(p, policies=policies))
    return out


def missing_policies(point, key, done):
    """The policies of the point without a completed run."""
    return [pol for pol in point.policies if (key, pol) not in done]


def pending(setup, points):
    """(point, policies without a completed run) of each point that misses
    some, seed 1 of every point first (an interrupted experiment still
    covers all points)."""
    done = completed_runs(setup.db)
    todo = []
    for p in points:
        key = p.key(setup.profile_hash)
        policies = missing_policies(p, key, done)
        if policies:
            todo.append((p, policies))
    todo.sort(key=lambda pp: pp[0].seed)
    return todo


def run_on_threads(setup, todo, jobs, finished):
    """Runs the (point, policies) of todo on a pool of jobs threads, each
    point a tetriserve process writing to setup.db; calls finished(Outcome)."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        # tetriserve processes that create a new results file at the same
        # time can fail with "database is locked": one point creates it alone.
        if todo and not os.path.exists(setup.db):
            finished(run_point(setup, *todo.pop(0)))
        futures = [pool.submit(run_point, setup, p, pols) for p, pols in todo]
        for fut in as_completed(futures):
            finished(fut.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def run_points(name, setup, points, jobs, ray_address=None):
    """Runs what is missing of the points, on threads or, with a
    ray_address ('' for a local instance), as Ray tasks; returns the number
    of points that failed."""
    todo = pending(setup, points)
    progress = Progress(name, len(todo), len(points) - len(todo))
    progress.begin()
    errors = []

    def finished(out):
        progress.step(out.ok)
        if not out.ok:
            errors.append(out)

    try:
        if ray_address is None:
            run_on_threads(setup, todo, jobs, finished)
        else:
            from .onray import run_on_ray  # Ray is needed only here
            run_on_ray(setup, todo, jobs, ray_address, finished)
    except KeyboardInterrupt:
        progress.end()
        print(f"[{name}] interrupted: finished points are saved in {setup.db}; rerun to resume",
              file=sys.stderr)
        raise
    progress.end()
    for out in errors[:5]:
        print(f"[{name}] point {out.key} failed: {out.error}", file=sys.stderr)
    if len(errors) > 5:
        print(f"[{name}] ... and {len(errors) - 5} more failed points", file=sys.stderr)
    return len(errors)


def effective_jobs(args, exp):
    """Points run at once: --jobs, else the CPU count (with --ray: None,
    as many as the cluster runs); never more than the experiment's MAX_JOBS
    (an experiment that times host work runs without competition)."""
    jobs = args.jobs or (None if args.ray is not None else os.cpu_count() or 1)
    max_jobs = getattr(exp, "MAX_JOBS", None)
    return jobs if max_jobs is None else min(jobs or max_jobs, max_jobs)


def output_dir(exp_path, quick):
    exp_dir = os.path.dirname(exp_path)
    return os.path.join(exp_dir, ".cache", "quick") if quick else exp_dir


def default_db(exp_path, quick):
    """The results file: under the experiment's .cache/ (ignored by git; it
    is rebuilt from the experiment in minutes), apart for --quick runs."""
    cache = os.path.join(os.path.dirname(exp_path), ".cache")
    return os.path.join(cache, "quick", "results.db") if quick else os.path.join(cache, "results.db")


def own_profiles(points) -> str:
    """'; points with their own profile: P (sha1 H, N cells MODELLED)..'."""
    own = sorted({p.profile for p in points if p.profile})
    if not own:
        return ""
    notes = []
    for path in own:
        with open(repo_path(path)) as f:
            modelled = sum(1 for line in f if line.rstrip().endswith(",modelled"))
        notes.append(f"{path} (sha1 {file_hash(repo_path(path))}"
                     + (f", {modelled} step times MODELLED, not measured)" if modelled else ")"))
    return "; points with a profile of their own: " + ", ".join(notes)


def report(exp, name, setup, points, outdir, slo_factor):
    """Writes the experiment's Markdown table and draws its figures."""
    res = Results(setup.db, points, setup.profile_hash, setup.profile)
    if res.missing():
        print(f"[{name}] note: {res.missing()} (point, policy) runs missing from {setup.db}; "
              "figures show what is there", file=sys.stderr)
    table = exp.table(res)
    path = os.path.join(outdir, "results.md")
    with open(path, "w") as f:
        f.write(f"# {exp.TITLE}\n\nResults file: {os.path.relpath(setup.db, REPO)}; profile: "
                f"{os.path.relpath(setup.profile, REPO)} (sha1 {setup.profile_hash})"
                + own_profiles(points)
                + (f"; every SLO scale x{slo_factor:g} (--slo-factor)" if slo_factor != 1.0 else "")
                + f".\n\n{table}")
    print(table)
    print(f"[{name}] table written to {path}", file=sys.stderr)
    draw(exp, res, outdir, name)


def resolve_searches(args, exp, exp_path, setup, points):
    """The points with their rssp-search entries resolved (mapsearch.py):
    tuned now unless cached (--plot-only: cached tunings only)."""
    seeds = mapsearch.QUICK_TUNE_SEEDS if args.quick else mapsearch.TUNE_SEEDS
    folder = os.path.join(os.path.dirname(exp_path), ".cache", "quick" if args.quick else "", "tune")
    try:
        chosen = mapsearch.search(setup, points, effective_jobs(args, exp) or os.cpu_count() or 1,
                                  os.path.normpath(folder), seeds, run=not args.plot_only)
    except RuntimeError as e:
        raise UsageError(str(e)) from e
    return mapsearch.resolve(points, chosen, setup.profile_hash)


def run(args):
    if args.experiment is None:
        list_experiments()
        return 0
    exp_path = experiment_file(args.experiment)
    exp = load_experiment(exp_path)
    name = os.path.basename(os.path.dirname(exp_path))
    outdir = output_dir(exp_path, args.quick)
    profile = find_profile(args.profile)
    seeds = args.seeds or (QUICK_SEEDS if args.quick else FULL_SEEDS)
    points = scale_slos(exp.points(args.quick, seeds), args.slo_factor)
    setup = Setup(exe=find_exe(args.exe) if not (args.list or args.plot_only) else "",
                  profile=profile, profile_hash=file_hash(profile),
                  db=os.path.abspath(args.db or default_db(exp_path, args.quick)),
                  cache=os.path.join(os.path.dirname(exp_path), ".cache", "traces"))
    if not args.list:
        points = resolve_searches(args, exp, exp_path, setup, points)
    mine = shard_points(points, setup.profile_hash, args.shard_index, args.shard_count)
    if args.policies:
        mine = restrict_policies(mine, args.policies.split(","))
    if args.list:
        for p in mine:
            print(p.key(setup.profile_hash))
        return 0
    os.makedirs(os.path.dirname(setup.db), exist_ok=True)
    failed = 0 if args.plot_only else run_points(name, setup, mine, effective_jobs(args, exp), args.ray)
    if args.no_plot:
        return 1 if failed else 0
    if args.shard_count > 1 and not args.plot_only:
        print(f"[{name}] shard {args.shard}: figures not drawn; run --plot-only once all shards finish",
              file=sys.stderr)
    else:
        report(exp, name, setup, points, outdir, args.slo_factor)
    return 1 if failed else 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except UsageError as e:
        print(f"experiments.runner: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
