#!/usr/bin/env python3
"""Every JSON document tetriserve writes is valid JSON whatever the text in
it: a label, a policy spec or a file path holding quotes, backslashes,
control characters and 100 kB of text goes through `sim --json`, the stored
options and summary, `report --format json` and `timeline`, and comes back
intact.

usage: test_json_outputs.py TETRISERVE DATA_DIR"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

EXE = sys.argv[1]
PROFILE = os.path.join(sys.argv[2], "profile_small.csv")
NASTY = 'quote " backslash \\ tab \t newline \n bell \x07 unicode \u00e9 end'


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True)


def parse(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        check(False, f"{what} is not JSON ({e}): {text[:300]!r}")
        return None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        odd_dir = os.path.join(tmp, 'a "dir" \\ with\ttab')
        os.makedirs(odd_dir)
        trace = os.path.join(odd_dir, "t.csv")
        profile = shutil.copy(PROFILE, os.path.join(odd_dir, 'p"rofile.csv'))
        db = os.path.join(tmp, "r.db")
        r = run("trace", "gen", "--count", "30", "--seed", "3", "--out", trace)
        check(r.returncode == 0, f"trace gen: {r.stderr}")
        label = NASTY + "x" * 100_000
        # a long but valid spec: a map of many items
        rssp = "rssp:map=" + "+".join(f"{16 * i}/1" for i in range(1, 33))
        r = run("sim", "--trace", trace, "--profile", profile, "--policy", f"tetriserve,{rssp}",
                "--label", label, "--db", db, "--json")
        check(r.returncode == 0, f"sim with odd label, paths and a long spec: {r.stderr[:500]}")
        out = parse(r.stdout, "sim --json")
        check(isinstance(out, list) and [x["policy"] for x in out] == ["tetriserve", rssp],
              "sim --json names both policies")
        con = sqlite3.connect(db)
        rows = con.execute("SELECT json_valid(options), json_extract(options, '$.label'),"
                           " json_valid(policy_params), json_valid(summary), trace_name, profile_name"
                           " FROM runs ORDER BY run_id").fetchall()
        con.close()
        check(len(rows) == 2, f"two runs stored: {len(rows)}")
        for valid_opts, stored_label, valid_params, valid_sum, tname, pname in rows:
            check(valid_opts == 1 and stored_label == label, "the stored options hold the label intact")
            check(valid_params == 1 and valid_sum == 1, "the stored parameters and summary are JSON")
            check(tname == trace and pname == profile, "the stored paths are the paths given")
        r = run("report", "--db", db, "--format", "json")
        rep = parse(r.stdout, "report --format json")
        check(r.returncode == 0 and rep and rep[1]["policy"] == rssp, "report --format json")
        for run_id in (1, 2):
            r = run("timeline", "--db", db, "--run", str(run_id))
            tl = parse(r.stdout, f"timeline of run {run_id}")
            check(r.returncode == 0 and tl and tl["otherData"]["policy"] in ("tetriserve", rssp),
                  f"timeline of run {run_id} names its policy")
    return result("test_json_outputs")


if __name__ == "__main__":
    sys.exit(main())
