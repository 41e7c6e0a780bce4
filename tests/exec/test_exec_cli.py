#!/usr/bin/env python3
"""`tetriserve exec` refuses bad usage and bad inputs before it touches a GPU,
with the exit status and a message naming the cause."""
import subprocess
import sys

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


check(["--help"], 0, "usage")
check(["--profile", "p.csv"], 2, "--trace and --profile are required")
check(["--trace", "x.csv", "--profile", "p.csv", "--time-scale", "0"], 2, "--time-scale")
check(["--trace", "x.csv", "--profile", "p.csv", "--bogus"], 2, "'--bogus'")
check(["--trace", "x.csv", "--profile", "p.csv", "--time-scale", "2"], 2, "--time-scale")
check(["--trace", "x.csv", "--profile", "p.csv", "--policy", ""], 2, "--policy is empty")
check(["--trace", "/nonexistent/trace.csv", "--profile", "p.csv", "--no-db"], 1, "/nonexistent/trace.csv")
print(f"exec_cli: {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
