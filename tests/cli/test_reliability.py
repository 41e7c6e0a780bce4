#!/usr/bin/env python3
"""The reliability guarantees of docs/RELIABILITY.md as a user meets them:
no silent wrong answer (times that cannot be represented are refused with
the row named; noise stays within its clip), no deleted file (trace gen's
--out), bounded input (/dev/zero), read errors reported (a damaged results
file in report, timeline, validate, merge), long labels and policy lists
kept whole, results on storage the user cannot write still readable, and
the small refusals (a blank in --gpus, rssp maps, a directory as a trace).

usage: test_reliability.py TETRISERVE DATA_DIR"""
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
PROFILE = os.path.join(sys.argv[2], "profile_small.csv")
HEADER = "request_id,arrival_s,height,width,steps,slo_s\n"
PROFILE_HEADER = "model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch\n"


def run(*args, **kw):
    return subprocess.run([EXE, *args], capture_output=True, text=True, **kw)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_unrepresentable_times(tmp):
    prof = write(os.path.join(tmp, "p.csv"), PROFILE_HEADER + "m,g,256,256,1,1e9,,,0,0,1\n")
    trace = write(os.path.join(tmp, "t.csv"), HEADER + "7,0,256,256,10000,1\n")
    r = run("sim", "--trace", trace, "--profile", prof, "--gpus", "1", "--no-db",
            "--policy", "fixed-sp:1,tetriserve")
    check(r.returncode == 1 and "request_id 7" in r.stderr and "73 years" in r.stderr,
          f"10,000 steps of 10^9 ms are refused, naming the request: {r.returncode} {r.stderr}")
    prof = write(os.path.join(tmp, "p2.csv"), PROFILE_HEADER + "m,g,256,256,1,1,,,0,0,1\n"
                 "m,g,512,512,1,1e6,,,0,0,1\n")
    trace = write(os.path.join(tmp, "t2.csv"), HEADER + "0,0,1024,1024,50,1\n")
    r = run("sim", "--trace", trace, "--profile", prof, "--gpus", "1", "--no-db",
            "--policy", "fixed-sp:1", "--interpolate")
    check(r.returncode == 1 and "1024x1024 sp 1" in r.stderr and "estimates" in r.stderr,
          f"an extrapolation to 10^12 ms is refused, naming the cell: {r.stderr}")


def test_noise_clip(tmp):
    """50 steps of 10 ms at cv 10: every draw within [0.25, 0.75] s."""
    prof = write(os.path.join(tmp, "cv.csv"), PROFILE_HEADER + "m,g,256,256,1,10,,,10,5,1\n")
    trace = write(os.path.join(tmp, "one.csv"), HEADER + "0,0,256,256,50,100\n")
    spans = []
    for seed in range(1, 31):
        r = run("sim", "--trace", trace, "--profile", prof, "--gpus", "1", "--no-db", "--json",
                "--policy", "fixed-sp:1", "--noise", "--seed", str(seed))
        check(r.returncode == 0, f"noise at cv 10, seed {seed}: {r.stderr}")
        if r.returncode == 0:
            out = json.loads(r.stdout)
            spans.append((out[0] if isinstance(out, list) else out)["makespan_s"])
    check(spans and all(0.25 <= s <= 0.75 for s in spans) and len(set(spans)) > 5,
          f"noisy times within the clip [0.25, 0.75] s: {spans}")
    bad = write(os.path.join(tmp, "cvbig.csv"), PROFILE_HEADER + "m,g,256,256,1,10,,,1e308,5,1\n")
    r = run("sim", "--trace", trace, "--profile", bad, "--gpus", "1", "--no-db", "--noise")
    check(r.returncode == 1 and "cvbig.csv:2" in r.stderr and "cv" in r.stderr,
          f"cv 1e308 is refused, naming the row: {r.stderr}")


def test_out_never_deletes(tmp):
    d = os.path.join(tmp, "out")
    os.makedirs(d)
    link = os.path.join(d, "full")
    os.symlink("/dev/full", link)
    r = run("trace", "gen", "--count", "50", "--out", link)
    check(r.returncode == 1 and "No space left" in r.stderr, f"a write error is reported: {r.stderr}")
    check(os.path.islink(link), "the symlink --out named is still there")
    keep = write(os.path.join(d, "keep.csv"), "old\n")
    os.chmod(keep, 0o640)
    r = run("trace", "gen", "--count", "3", "--out", keep)
    check(r.returncode == 0 and open(keep).read().count("\n") == 5 and
          os.stat(keep).st_mode & 0o777 == 0o640, "an existing file is replaced, its mode kept")
    check(sorted(os.listdir(d)) == ["full", "keep.csv"], f"no temporary left: {os.listdir(d)}")
    with open(os.path.join(d, "so.csv"), "w") as f:
        r = subprocess.run([EXE, "trace", "gen", "--count", "3", "--out", "/dev/stdout"], stdout=f,
                           stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0 and os.path.islink("/dev/stdout") or os.path.exists("/dev/stdout"),
          "--out /dev/stdout writes through the link")


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_unbounded_input(tmp):
    asan = "ASAN_OPTIONS" in os.environ   # AddressSanitizer reserves more than any limit
    r = run("sim", "--trace", "/dev/zero", "--no-db", timeout=60,
            preexec_fn=None if asan else limit_memory)
    check(r.returncode == 1 and "/dev/zero:1:" in r.stderr and "NUL byte" in r.stderr,
          f"/dev/zero is refused at its first bytes: {r.stderr}")
    r = run("sim", "--trace", tmp, "--no-db")
    check(r.returncode == 1 and "is a directory" in r.stderr, f"a directory as a trace: {r.stderr}")


def damaged_copy(tmp):
    """A results file with two runs, then the same with a page overwritten."""
    trace = os.path.join(tmp, "small.csv")
    run("trace", "gen", "--count", "40", "--seed", "2", "--out", trace)
    good = os.path.join(tmp, "good.db")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", "fixed-sp:1,tetriserve",
            "--db", good, "--quiet")
    check(r.returncode == 0, f"sim for the damaged file: {r.stderr}")
    data = bytearray(open(good, "rb").read())
    for i in range(4096 * 3, 4096 * 3 + 2000):
        data[i] = 0x55
    bad = os.path.join(tmp, "damaged.db")
    open(bad, "wb").write(bytes(data))
    return good, bad


def test_damaged_file(tmp):
    good, bad = damaged_copy(tmp)
    for args in (["report", "--db", bad], ["timeline", "--db", bad, "--run", "1"],
                 ["validate", "--db", bad, "--sim", "1", "--exec", "2"]):
        r = run(*args)
        # exactly 1: a leak under LeakSanitizer (validate's error path) exits otherwise
        check(r.returncode == 1 and "malformed" in r.stderr and not r.stdout.strip(),
              f"{args[0]} on a damaged file fails and says so: {r.returncode} {r.stderr[:300]}")
    out = os.path.join(tmp, "merged.db")
    r = run("merge", "--out", out, bad)
    check(r.returncode == 1 and "malformed" in r.stderr and not os.path.exists(out),
          f"merge of a damaged file fails and leaves no output: {r.stderr}")
    r = run("merge", "--out", out, os.path.join(tmp, "missing.db"))
    check(r.returncode == 1 and not os.path.exists(out), "merge of a missing file creates nothing")


def test_long_policy_list(tmp):
    trace = os.path.join(tmp, "p.csv")
    run("trace", "gen", "--count", "10", "--out", trace)
    spec = "tetriserve" + "".join(f":round_ms={50 + i}" for i in range(120))
    specs = [spec] + [f"tetriserve:round_steps={k}" for k in range(1, 60)]
    text = ",".join(specs)
    check(len(spec) > 1100 and len(text) > 2000, "a spec and a list over 1,023 bytes")
    db = os.path.join(tmp, "long.db")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", text, "--db", db, "--quiet")
    check(r.returncode == 0, f"a long --policy list runs: {r.stderr[:300]}")
    con = sqlite3.connect(db)
    stored = [p for (p,) in con.execute("SELECT policy FROM runs ORDER BY run_id")]
    con.close()
    check(stored == specs, f"every spec stored whole: {len(stored)} runs")


def as_other_user():
    """preexec_fn dropping root to nobody, or None when not root."""
    if os.geteuid() != 0:
        return None
    return lambda: (os.setgid(65534), os.setuid(65534))


def test_read_only_folder(tmp):
    good, _ = damaged_copy(tmp)
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro)
    shutil.copy(good, os.path.join(ro, "r.db"))
    os.chmod(os.path.join(ro, "r.db"), 0o644)
    os.chmod(ro, 0o555)
    os.chmod(tmp, 0o755)
    os.chmod(os.path.dirname(tmp), 0o755)
    drop = as_other_user()
    # Copies of the binary and the profile: the checkout may lie in a folder
    # only its owner may enter (CI's does), and user nobody must reach them.
    exe = os.path.join(tmp, "tetriserve")
    shutil.copy(EXE, exe)
    os.chmod(exe, 0o755)
    profile = os.path.join(tmp, "profile.csv")
    shutil.copy(PROFILE, profile)
    os.chmod(profile, 0o644)
    if subprocess.run([exe, "--version"], capture_output=True, preexec_fn=drop).returncode != 0:
        print("test_read_only_folder: skipped: the binary does not run as user nobody")
        return
    db = os.path.join(ro, "r.db")
    out = tempfile.mkdtemp()
    os.chmod(out, 0o777)
    try:
        for args in (["report", "--db", db], ["timeline", "--db", db, "--run", "2"],
                     ["validate", "--db", db, "--sim", "1", "--exec", "2"],
                     ["merge", "--out", os.path.join(out, "m.db"), db]):
            r = subprocess.run([exe, *args], capture_output=True, text=True, preexec_fn=drop)
            check(r.returncode == 0 and r.stdout, f"{args[0]} reads a results file in a folder it "
                  f"cannot write: {r.stderr}")
        r = subprocess.run([exe, "sim", "--trace", os.path.join(tmp, "small.csv"), "--profile",
                            profile, "--policy", "fixed-sp:1", "--db", os.path.join(ro, "new.db")],
                           capture_output=True, text=True, preexec_fn=drop)
        check(r.returncode == 1 and "not writable" in r.stderr and "Permission denied" in r.stderr,
              f"sim --db in a read-only folder names the permission: {r.stderr}")
    finally:
        shutil.rmtree(out)
        os.chmod(ro, 0o755)


def test_small_refusals(tmp):
    trace = os.path.join(tmp, "s.csv")
    run("trace", "gen", "--count", "5", "--res", "256,2048", "--out", trace)
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--gpus", " 4", "--no-db")
    check(r.returncode != 0 and "--gpus" in r.stderr, f"--gpus ' 4' is refused: {r.stderr}")
    for spec, why in (("rssp:256/1+256/2", "appears twice"), ("rssp:256/1+512/2+", "unexpected"),
                      ("rssp:256/1+512/2,", "empty entry")):
        r = run("sim", "--trace", trace, "--profile", PROFILE, "--policy", spec, "--no-db")
        check(r.returncode != 0 and why in r.stderr, f"{spec} refused ({why}): {r.stderr}")
    r = run("sim", "--trace", trace, "--profile", PROFILE, "--gpus", "8", "--no-db")
    check(r.returncode != 0 and "--rssp-map" in r.stderr and "SP 8" in r.stderr,
          f"the default policies on 8 GPUs say what to do: {r.stderr}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for test in (test_unrepresentable_times, test_noise_clip, test_out_never_deletes,
                     test_unbounded_input, test_damaged_file, test_long_policy_list,
                     test_read_only_folder, test_small_refusals):
            sub = os.path.join(tmp, test.__name__)
            os.makedirs(sub)
            test(sub)
    return result("test_reliability")


if __name__ == "__main__":
    sys.exit(main())
