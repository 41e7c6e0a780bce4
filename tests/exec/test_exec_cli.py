#!/usr/bin/env python3
"""`tetriserve exec` refuses bad usage and bad inputs before it touches a GPU,
with the exit status and a message naming the cause. In a build without the
CUDA executor the command still exists and says how to get a build with it."""
import os
import subprocess
import sys
import tempfile

EXE = sys.argv[1]
failures = checks = 0


def check(args, status, needle):
    global failures, checks
    checks += 1
    r = subprocess.run([EXE, "exec", *args], capture_output=True, text=True)
    if r.returncode != status or needle not in r.stdout + r.stderr:
        failures += 1
        print(f"exec {args}: exit {r.returncode} (want {status}), output lacks {needle!r}:\n"
              f"{r.stdout}{r.stderr}", file=sys.stderr)


r = subprocess.run([EXE, "exec", "--help"], capture_output=True, text=True)
if "no CUDA executor" in r.stdout:
    check(["--help"], 0, "-Dcuda=enabled")
    check(["--trace", "x.csv", "--profile", "p.csv"], 1, "this build has no CUDA executor")
    r = subprocess.run([EXE, "--help"], capture_output=True, text=True)
    checks += 1
    if "exec" not in r.stdout or "not in this build" not in r.stdout:
        failures += 1
        print(f"the usage lists exec as not in this build:\n{r.stdout}", file=sys.stderr)
    print(f"exec_cli (no CUDA executor in this build): {checks} checks, {failures} failed")
    sys.exit(1 if failures else 0)

check(["--help"], 0, "usage")
check(["--profile", "p.csv"], 2, "--trace and --profile are required")
check(["--trace", "x.csv", "--profile", "p.csv", "--time-scale", "0"], 2, "--time-scale")
check(["--trace", "x.csv", "--profile", "p.csv", "--bogus"], 2, "'--bogus'")
check(["--trace", "x.csv", "--profile", "p.csv", "--time-scale", "2"], 2, "--time-scale")
check(["--trace", "x.csv", "--profile", "p.csv", "--policy", ""], 2, "--policy is empty")
check(["--trace", "/nonexistent/trace.csv", "--profile", "p.csv", "--no-db"], 1, "/nonexistent/trace.csv")
# A trace of another model is refused before the results file is created.
with tempfile.TemporaryDirectory() as tmp:
    trace, db = os.path.join(tmp, "sd3.csv"), os.path.join(tmp, "new.db")
    with open(trace, "w") as f:
        f.write("request_id,arrival_s,height,width,steps,slo_s,model\n0,1,256,256,50,1.5,sd3-medium\n")
    profile = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "traces", "profiles",
                           "sd3-medium_H200_engine.csv")
    check(["--trace", trace, "--profile", profile, "--db", db], 1, "sd3-medium")
    checks += 1
    if os.path.exists(db):
        failures += 1
        print("exec created the results file before refusing the trace's model", file=sys.stderr)

print(f"exec_cli: {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
