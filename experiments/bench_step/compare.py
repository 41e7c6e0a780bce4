#!/usr/bin/env python3
"""compare.py: joins profile CSVs of our engine and of the PyTorch reference
on (model, height, width, sp, batch) and prints step times side by side.

Usage: compare.py OURS.csv... -- REF.csv...
"""
import csv
import sys


def load(paths):
    rows = {}
    gpu = set()
    for path in paths:
        with open(path, newline="") as f:
            lines = [ln for ln in f if not ln.startswith("#")]
        for r in csv.DictReader(lines):
            key = (r["model"], int(r["height"]), int(r["width"]), int(r["sp"]),
                   int(r.get("batch") or 1))
            rows[key] = r
            gpu.add(r["gpu"])
    return rows, gpu


def main(argv):
    if "--" not in argv:
        sys.exit("usage: compare.py OURS.csv... -- REF.csv...")
    cut = argv.index("--")
    ours, gpu_o = load(argv[1:cut])
    ref, gpu_r = load(argv[cut + 1:])
    print(f"# ours on {','.join(sorted(gpu_o))}; reference on {','.join(sorted(gpu_r))}")
    print(f"{'model':<11} {'res':>9} {'sp':>2} {'b':>1} {'ours ms':>9} {'cv':>6} "
          f"{'ref ms':>9} {'cv':>6} {'ref/ours':>8}")
    for key in sorted(ours):
        o = ours[key]
        r = ref.get(key)
        ref_ms = f"{float(r['step_ms']):9.2f}" if r else f"{'-':>9}"
        ref_cv = f"{float(r['cv']):6.3f}" if r else f"{'-':>6}"
        ratio = f"{float(r['step_ms']) / float(o['step_ms']):8.2f}" if r else f"{'-':>8}"
        print(f"{key[0]:<11} {key[1]:>4}x{key[2]:<4} {key[3]:>2} {key[4]:>1} "
              f"{float(o['step_ms']):9.2f} {float(o['cv']):6.3f} {ref_ms} {ref_cv} {ratio}")


if __name__ == "__main__":
    main(sys.argv)
