#!/usr/bin/env python3
"""Install and plug-ins (docs/PLUGINS.md), as a researcher meets them:
`meson install --destdir` of the build; the installed binary, headers, core
library, pkg-config files and bundled inputs; the installed binary's
defaults from a folder outside the tree; tests/plugin/example_policy.c built
out of tree with `cc -shared -fPIC $(pkg-config --cflags --libs tetriserve)`
and run by `tetriserve sim --policy plugin:...` (alone, in a list with
built-in policies, replayed by `regress`); the loader's refusals (another
ABI version, no entry point, no plan, an unresolved symbol, not a library,
a missing file, a spec without PATH.so).

usage: test_plugin.py BUILD_DIR SOURCE_ROOT MESON CC PKG_CONFIG"""
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

BUILD, SRC, MESON, CC, PKG_CONFIG = sys.argv[1:6]
EXAMPLE = os.path.join(SRC, "tests", "plugin", "example_policy.c")
TRACE = os.path.join(SRC, "traces", "small.csv")
PROFILE = os.path.join(SRC, "traces", "profiles", "flux-dev_H200_engine.csv")
HEADERS = ["core/ts_error.h", "core/ts_types.h", "core/gpuset.h", "core/heap.h", "io/trace.h",
           "io/profile.h", "io/classes.h", "sched/spec.h", "sched/policy.h", "sched/plugin.h",
           "sched/baselines.h", "sched/baseline_queue.h"]

# Sources of broken plug-ins, each refused by the loader with its own message.
NO_PLAN_SRC = """#include "sched/plugin.h"
static int init(void **self, const char *params, const struct ts_policy_env *env,
                struct ts_error *err)
{ (void)params; (void)env; (void)err; *self = 0; return 0; }
static const struct ts_policy_ops ops = { .name = "no-plan", .init = init };
TS_POLICY_PLUGIN(ops)
"""
UNDEFINED_SRC = """#include "sched/plugin.h"
void ts_not_in_tetriserve(void);
static int init(void **self, const char *params, const struct ts_policy_env *env,
                struct ts_error *err)
{ (void)params; (void)env; (void)err; ts_not_in_tetriserve(); *self = 0; return 0; }
static const struct ts_policy_ops ops = { .name = "undefined", .init = init };
TS_POLICY_PLUGIN(ops)
"""


class Install:
    """The build installed under a temporary destdir."""

    def __init__(self, root):
        self.root = root
        self.bin = self.find("bin/tetriserve")
        self.pcdir = os.path.dirname(self.find("pkgconfig/tetriserve.pc"))
        self.include = self.find("include/tetriserve")
        self.data = self.find("share/tetriserve")

    def find(self, tail):
        for d, subdirs, names in os.walk(self.root):
            for n in names + subdirs:
                p = os.path.join(d, n)
                if p.endswith("/" + tail):
                    return p
        check(False, f"installed {tail} under {self.root}")
        return os.path.join(self.root, tail)

    def env(self):
        """pkg-config finds the installed .pc files and their paths under the destdir."""
        env = dict(os.environ, PKG_CONFIG_PATH=self.pcdir, PKG_CONFIG_SYSROOT_DIR=self.root)
        env.pop("TETRISERVE_DATA_DIR", None)
        return env

    def pkg_config(self, *args):
        r = subprocess.run([PKG_CONFIG, *args], capture_output=True, text=True, env=self.env())
        check(r.returncode == 0, f"pkg-config {args}: {r.stderr}")
        return shlex.split(r.stdout)

    def run(self, *args, cwd=None):
        return subprocess.run([self.bin, *args], capture_output=True, text=True, cwd=cwd,
                              env=self.env(), timeout=120)


def install(tmp):
    dest = os.path.join(tmp, "destdir")
    r = subprocess.run([MESON, "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"meson install --destdir: {r.stdout}{r.stderr}")
    return Install(dest)


def test_installed_files(inst):
    for h in HEADERS:
        check(os.path.isfile(os.path.join(inst.include, h)), f"installed header {h}")
    check(os.access(inst.bin, os.X_OK), "installed binary")
    check(os.path.isfile(inst.find("libtetriserve_core.a")), "installed core library")
    for f in ("traces/default.csv", "traces/small.csv", "traces/profiles/flux-dev_H200_engine.csv"):
        check(os.path.isfile(os.path.join(inst.data, f)), f"installed data {f}")
    cflags = inst.pkg_config("--cflags", "tetriserve")
    check(f"-I{inst.include}" in cflags, f"tetriserve.pc cflags {cflags}")
    check(not any("tetriserve" in x for x in inst.pkg_config("--libs", "tetriserve")),
          "tetriserve.pc links no tetriserve library (the binary exports its symbols)")
    libs = inst.pkg_config("--libs", "tetriserve-core")
    for lib in ("-ltetriserve_core", "-lgsl", "-lsqlite3", "-ljansson"):
        check(lib in libs, f"tetriserve-core.pc libs have {lib}: {libs}")


def declared_functions(include):
    """Names of the functions (not static inline) declared by the installed headers."""
    names = set()
    decl = re.compile(r"^(?!static|#|typedef|\s)[\w \*]*?\b(ts_\w+)\s*\(")
    for h in HEADERS:
        with open(os.path.join(include, h)) as f:
            names.update(m.group(1) for m in map(decl.match, f) if m)
    return names


def test_exported_symbols(inst):
    """Every function of the installed headers is exported by the installed
    binary, so a plug-in may call any of them."""
    r = subprocess.run(["nm", "-D", "--defined-only", inst.bin], capture_output=True, text=True)
    if r.returncode != 0:
        print("nm not available: exported symbols not checked")
        return
    exported = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
    names = declared_functions(inst.include)
    check(len(names) > 20, f"functions found in the installed headers: {sorted(names)}")
    missing = sorted(names - exported)
    check(not missing, f"functions of the installed headers the binary does not export: {missing}")


def test_installed_defaults(inst, tmp):
    """The installed binary, run from outside the tree, takes the installed
    trace and profile by default; the build tree's binary keeps the source tree's."""
    cwd = os.path.join(tmp, "elsewhere")
    os.makedirs(cwd)
    r = inst.run("sim", "--policy", "fixed-sp:1", "--db", "r.db", cwd=cwd)
    check(r.returncode == 0, f"installed sim with defaults: {r.stderr}")
    data = os.path.realpath(inst.data)
    con = sqlite3.connect(os.path.join(cwd, "r.db"))
    trace, profile = con.execute("SELECT trace_name, profile_name FROM runs").fetchone()
    check(trace == os.path.join(data, "traces", "default.csv"), f"default trace {trace}")
    check(profile == os.path.join(data, "traces", "profiles", "flux-dev_H200_engine.csv"),
          f"default profile {profile}")
    h = subprocess.run([os.path.join(BUILD, "tetriserve"), "sim", "--help"], capture_output=True,
                       text=True, env=inst.env()).stdout
    check(os.path.join(SRC, "traces", "default.csv") in h, "the build tree's binary: source tree data")


def build_plugin(inst, src, out, *defines, strict=False):
    """Builds src into out with the installed headers, as docs/PLUGINS.md says."""
    warn = ["-std=c17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"] if strict else []
    cmd = [*shlex.split(CC), "-shared", "-fPIC", *warn, *defines, "-o", out, src,
           *inst.pkg_config("--cflags", "--libs", "tetriserve")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, f"building {os.path.basename(out)}: {shlex.join(cmd)}\n{r.stderr}")
    return out


def runs_of(db):
    con = sqlite3.connect(db)
    return con.execute("SELECT run_id, policy, policy_params, completed FROM runs ORDER BY run_id").fetchall()


def outcomes(db, run_id):
    con = sqlite3.connect(db)
    return con.execute("SELECT request_id, start_s, finish_s FROM request_results WHERE run_id=? "
                       "ORDER BY request_id", (run_id,)).fetchall()


def test_plugin_run(inst, so, tmp):
    db = os.path.join(tmp, "one.db")
    spec = f"plugin:{so}:defer_late=off"
    r = inst.run("sim", "--policy", spec, "--trace", TRACE, "--profile", PROFILE, "--db", db)
    check(r.returncode == 0 and spec in r.stdout, f"sim --policy {spec}: {r.stdout}{r.stderr}")
    runs = runs_of(db)
    check(len(runs) == 1 and runs[0][1] == spec and runs[0][3] == 1, f"runs.policy: {runs}")
    params = json.loads(runs[0][2]) if runs else None
    check(params == {"defer_late": "off", "gpus_per_request": 1}, f"runs.policy_params: {params}")
    check(len(outcomes(db, runs[0][0])) == 20, "every request of the trace ran")
    return db


def test_policy_list(inst, so, tmp):
    """A list mixing the plug-in with built-in policies, a shorthand flag that
    belongs to tetriserve: each spec runs as written (defer_late=off is EDF
    on one GPU, the same schedule as fixed-sp:1:order=edf)."""
    db = os.path.join(tmp, "list.db")
    plist = f"fixed-sp:1:order=edf,plugin:{so}:defer_late=off,tetriserve,plugin:{so}"
    r = inst.run("sim", "--policy", plist, "--no-elastic", "--slo-scale", "2", "--time-scale", "0.5",
                 "--db", db, cwd=tmp)
    check(r.returncode == 0, f"sim --policy {plist}: {r.stderr}")
    runs = runs_of(db)
    want = ["fixed-sp:1:order=edf", f"plugin:{so}:defer_late=off", "tetriserve:elastic=off",
            f"plugin:{so}"]
    check([x[1] for x in runs] == want, f"the list's runs: {[x[1] for x in runs]}")
    if len(runs) != 4:
        return
    check(json.loads(runs[3][2]) == {"defer_late": "on", "gpus_per_request": 1}, "default option")
    check(outcomes(db, runs[0][0]) == outcomes(db, runs[1][0]), "defer_late=off is EDF on one GPU")
    met = sqlite3.connect(db).execute("SELECT run_id, SUM(met_slo) FROM request_results GROUP BY run_id").fetchall()
    met = dict(met)
    check(met[runs[3][0]] > met[runs[1][0]], f"defer_late=on meets more deadlines here: {met}")


def test_regress(inst, db, tmp):
    """regress replays a plug-in run from the path in its stored spec."""
    base = os.path.join(tmp, "baseline.json")
    r = inst.run("regress", "--db", db, "--baseline", base, "--record")
    check(r.returncode == 0, f"regress --record: {r.stdout}{r.stderr}")
    r = inst.run("regress", "--db", os.path.join(tmp, "replay.db"), "--baseline", base)
    check(r.returncode == 0 and "plugin:" in r.stdout, f"regress of a plug-in run: {r.stdout}{r.stderr}")


def test_paths(inst, so, tmp):
    """A directory with ':' in its name; a bare file name is in the working directory."""
    odd = os.path.join(tmp, "a:b")
    os.makedirs(odd)
    shutil.copy(so, os.path.join(odd, "example.so"))
    for spec, cwd in ((f"plugin:{odd}/example.so:defer_late=off", None), ("plugin:example.so", odd)):
        r = inst.run("sim", "--policy", spec, "--trace", TRACE, "--profile", PROFILE, "--no-db",
                     "--json", "--quiet", cwd=cwd)
        ok = r.returncode == 0 and json.loads(r.stdout)["policy"] == spec
        check(ok, f"sim --policy {spec} (in {cwd}): {r.stdout}{r.stderr}")


def refused(inst, spec, *words):
    r = inst.run("sim", "--policy", f"fixed-sp:1,{spec}", "--trace", TRACE, "--profile", PROFILE,
                 "--no-db")
    check(r.returncode != 0, f"{spec} refused (exit {r.returncode})")
    for w in words:
        check(w in r.stderr, f"{spec}: the error names {w!r}: {r.stderr}")


def abi_version(inst):
    with open(os.path.join(inst.include, "sched", "plugin.h")) as f:
        return int(re.search(r"#define TS_POLICY_ABI_VERSION (\d+)", f.read()).group(1))


def test_refusals(inst, tmp):
    def lib(name, *defines, src=EXAMPLE):
        return build_plugin(inst, src, os.path.join(tmp, name), *defines)

    def source(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    wrong = lib("wrong_abi.so", "-DEXAMPLE_ABI_VERSION=99")
    refused(inst, f"plugin:{wrong}", wrong, "ABI version 99", f"version {abi_version(inst)}", "rebuild")
    no_entry = lib("no_entry.so", "-DEXAMPLE_NO_ENTRY")
    refused(inst, f"plugin:{no_entry}", no_entry, "tetriserve_policy_entry")
    no_plan = lib("no_plan.so", src=source("no_plan.c", NO_PLAN_SRC))
    refused(inst, f"plugin:{no_plan}", no_plan, "lacks a plan function")
    undef = lib("undefined.so", src=source("undefined.c", UNDEFINED_SRC))
    refused(inst, f"plugin:{undef}", undef, "ts_not_in_tetriserve")
    fake = source("fake.so", "not a library\n")
    refused(inst, f"plugin:{fake}", fake, "dynamic loader refused")
    missing = os.path.join(tmp, "missing.so")
    refused(inst, f"plugin:{missing}", missing, "No such file")
    refused(inst, f"plugin:{tmp}/example", "plugin:PATH.so")
    good = os.path.join(tmp, "example.so")
    refused(inst, f"plugin:{good}:bogus=1", "example-edf", "bogus", "defer_late")


def main():
    with tempfile.TemporaryDirectory(prefix="ts-plugin-") as tmp:
        inst = install(tmp)
        test_installed_files(inst)
        test_exported_symbols(inst)
        test_installed_defaults(inst, tmp)
        so = build_plugin(inst, EXAMPLE, os.path.join(tmp, "example.so"), strict=True)
        db = test_plugin_run(inst, so, tmp)
        test_policy_list(inst, so, tmp)
        test_regress(inst, db, tmp)
        test_paths(inst, so, tmp)
        test_refusals(inst, tmp)
    return result("plugin")


if __name__ == "__main__":
    sys.exit(main())
