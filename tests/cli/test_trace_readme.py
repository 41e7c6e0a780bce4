#!/usr/bin/env python3
"""traces/README.md's table of the bundled traces says what `tetriserve
trace stats` says of each file (requests, span, rate, inter-arrival CV,
requests per resolution), so the docs cannot drift from the files."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE, SRC = sys.argv[1], sys.argv[2]
RES = ("256x256", "512x512", "1024x1024", "2048x2048")


def stats_row(name):
    """The README row the stats of traces/NAME give."""
    out = subprocess.run([EXE, "trace", "stats", os.path.join(SRC, "traces", name)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"requests: (\d+), arrivals ([\d.]+) \.\. ([\d.]+) s, ([\d.]+) per minute, "
                  r"inter-arrival CV ([\d.]+)", out)
    counts = []
    for res in RES:
        c = re.search(rf"^{res}\s+(\d+)", out, re.M)
        counts.append(c.group(1) if c else "0")
    n, first, last, rate, cv = m.groups()
    return (f"| {name} | {n} | {float(first):.1f} .. {float(last):.1f} | {float(rate):.2f} | "
            f"{float(cv):.2f} | {' / '.join(counts)} |")


def main():
    with open(os.path.join(SRC, "traces", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    rows = re.findall(r"^\| (\w+\.csv) \| \d+ \| [\d.]+ \.\. [\d.]+ \|.*$", readme, re.M)
    check(len(rows) >= 4, f"the table lists the bundled traces: {rows}")
    for name in rows:
        want = stats_row(name)
        check(want in readme, f"traces/README.md row of {name} should read: {want}")
    return result("trace_readme")


if __name__ == "__main__":
    sys.exit(main())
