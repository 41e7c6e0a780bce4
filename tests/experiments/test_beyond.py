#!/usr/bin/env python3
"""experiments/beyond/run.py: the upper bound of docs/BEYOND.md on
hand-worked cases (least GPU time of a split of steps over degrees, the most
equal jobs one machine finishes in their windows), the bound of a small
trace file, and RSSP's map list.

Usage: test_beyond.py SOURCE_ROOT"""
import os
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, os.path.join(ROOT, "experiments", "beyond"))
from pycheck import check, result  # noqa: E402
import run  # noqa: E402


def test_least_gpu_seconds():
    t = {1: 1.0, 2: 0.6}
    # 2 steps: 1+1 at SP 1 (time 2, GPU 2), one each (1.6, 2.2), 2 at SP 2 (1.2, 2.4)
    check(run.least_gpu_seconds(t, 2.0, steps=2) == 2.0, "both on 1 GPU")
    check(abs(run.least_gpu_seconds(t, 1.7, steps=2) - 2.2) < 1e-9, "one step each")
    check(abs(run.least_gpu_seconds(t, 1.2, steps=2) - 2.4) < 1e-9, "both on 2 GPUs")
    check(run.least_gpu_seconds(t, 1.1, steps=2) is None, "none fits")
    # the 8-GPU profile at 1.2x: 7 steps at SP 4, 43 at SP 8 (docs/BEYOND.md: 42.3 GPU-s)
    g = run.least_gpu_seconds_of("8gpu", 6.0)
    check(abs(g - 42.27) < 0.01, f"2048^2 at 8 GPUs, 6 s: {g}")


def test_most_in_time():
    check(run.most_in_time([], 3.0, 2.0) == 0, "no jobs")
    # 0 -> 2, 1 -> 4 (due 4), 2 would end 6 > 5, 10 -> 12: three
    check(run.most_in_time([10.0, 0.0, 2.0, 1.0], 3.0, 2.0) == 3, "three of four")
    # any one of them blocks the other two
    check(run.most_in_time([0.0, 0.5, 0.6], 2.0, 1.5) == 1, "one at a time")
    check(run.most_in_time([0.0, 1.0, 1.1], 2.0, 1.0) == 3, "back to back: 1, 2, 3")
    check(run.most_in_time([0.0, 0.0], 1.0, 1.0) == 1, "equal arrivals")


def test_bound_of_trace():
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("# comment\nrequest_id,arrival_s,height,width,steps,slo_s\n"
                "0,0,256,256,50,1.5\n1,0,2048,2048,50,5\n2,1,2048,2048,50,5\n3,20,2048,2048,50,5\n")
    try:
        # 8 GPUs at 1.2x: a 2048^2 request needs 42.3 / 8 = 5.28 s of the node in 6 s:
        # the first and the third fit, not the second -> (1 + 2) / 4
        check(abs(run.upper_bound("8gpu", f.name, 1.2) - 0.75) < 1e-9, "bound of the small trace")
        # at 1.0x none can make it: only the 256^2 request
        check(abs(run.upper_bound("8gpu", f.name, 1.0) - 0.25) < 1e-9, "1.0x: 2048^2 infeasible")
    finally:
        os.unlink(f.name)


def test_maps():
    maps = run.rssp_maps((1, 2, 4))
    check(len(maps) == 81 and len(set(maps)) == 81, "81 distinct maps")
    check("rssp:map=256/1+512/2+1024/4+2048/4:order=edf:late=defer" in maps, "a map's spelling")


test_least_gpu_seconds()
test_most_in_time()
test_bound_of_trace()
test_maps()
sys.exit(result("beyond"))
