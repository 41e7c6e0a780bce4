#!/usr/bin/env python3
"""experiments/bench_step/kernel_breakdown.py without a GPU: kernel names
fall in the right class, a step's FLOPs match a count written out by hand,
and the table's floor, rates and idle time follow from a hand-made trace."""
import json
import os
import subprocess
import sys
import tempfile

SRC = sys.argv[1]
sys.path.insert(0, os.path.join(SRC, "tests", "common"))
sys.path.insert(0, os.path.join(SRC, "experiments", "bench_step"))
from pycheck import check, result  # noqa: E402
import kernel_breakdown as kb  # noqa: E402


def main():
    for name, cls in (("nvjet_sm90_tst_192x192_64x4_2x1_v_bz_coopB_bias_TNN", "gemm"),
                      ("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16", "attention"),
                      ("ncclDevKernel_AllToAll", "communication"),
                      ("_Z13k_qkv_prepare11ts_qkv_prep", "element-wise")):
        check(kb.kernel_class(name) == cls, f"{name} -> {kb.kernel_class(name)}, want {cls}")
    # FLUX 2048^2: 16384 image + 512 text tokens, d = 3072, 57 blocks of 24 d^2 FLOPs a token
    seq, d = 16384 + 512, 3072
    gemm, attn = kb.step_flops("flux-dev", 2048)
    check(gemm == 57 * 24 * d * d * seq and attn == 57 * 4 * seq * seq * d, f"FLOPs {gemm} {attn}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernels_x.json")
        with open(path, "w") as f:
            json.dump({"model": "m", "res": 64, "step_ms": 10.0, "step_ms_short_run": 10.0,
                       "class_ms": {"gemm": 4.0, "attention": 3.0, "element-wise": 2.0},
                       "top_kernels": [], "gemm_tflop": 3.12, "attention_tflop": 1.4}, f)
        out = subprocess.run([sys.executable, os.path.join(SRC, "experiments", "bench_step", "kernel_breakdown.py"),
                              "table", path], capture_output=True, text=True, check=True).stdout
        # floor 3.12/780 + 1.4/700 s = 4 + 2 ms; idle 10 - 9 = 1 ms; rates 780 and 467 TFLOP/s
        check("| m 64² | 10.0 | 4.0 (780) | 3.0 (467) | 0.0 | 2.0 | 1.0 | 6.0 | 1.667 |" in out, out)
    return result("kernel_breakdown")


if __name__ == "__main__":
    sys.exit(main())
