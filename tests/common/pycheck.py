"""pycheck: the check counter of the Python test scripts, the counterpart of
test_util.h's TS_CHECK: check(cond, what) counts a check and reports a
failure on stderr; result(name) prints "name: N checks, M failed" and
returns the exit status (1 if any check failed)."""
import sys

checks = 0
failures = 0


def check(cond, what):
    """Counts one check; prints `what` to stderr when cond is false."""
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"check failed: {what}", file=sys.stderr)


def result(name, extra=""):
    """Prints the summary line and returns the exit status."""
    print(f"{name}: {checks} checks, {failures} failed{extra}")
    return 1 if failures else 0
