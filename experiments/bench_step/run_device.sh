#!/bin/bash
# Device calls on a multi-GPU machine, each within the tool's 10 minutes:
#   run_device.sh BUILD_DIR tests   the GPU tests (several GPUs: SP cases);
#                                   cuDNN's absence fails them unless
#                                   TS_REQUIRE_CUDNN=0
#   run_device.sh BUILD_DIR bench   the side-by-side step benchmark (run.sh);
#                                   its folder comes back as $OUT/bench.tgz
#                                   (the device tool returns at most 8 files)
# Run from the repository root on the GPU machine, build directory carried.
set -o pipefail
export NCCL_NVLS_ENABLE=0
B=${1:?usage: run_device.sh BUILD_DIR tests|bench}
OUT=${OUT:?set OUT to the output folder}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpus.txt" 2>&1
case ${2:-} in
tests)
	for t in test_kernels test_dit_step test_sp test_graphs test_exec_serve test_profile_cmd; do
		echo "== $t"
		TS_REQUIRE_CUDNN=${TS_REQUIRE_CUDNN:-1} timeout 150 "$B/tests/gpu/$t" 2>&1 | tail -25
		echo "$t rc=${PIPESTATUS[0]}"
	done >"$OUT/gpu_tests.log" 2>&1
	grep -E "rc=|checks" "$OUT/gpu_tests.log"
	;;
bench)
	REF_BUDGET_S=${REF_BUDGET_S:-230} ITERS=${ITERS:-6} timeout 540 \
		experiments/bench_step/run.sh "$B" "$OUT/bench" >"$OUT/bench.log" 2>&1
	echo "bench rc=$?"
	tar -C "$OUT" -czf "$OUT/bench.tgz" bench && rm -rf "$OUT/bench"
	tail -60 "$OUT/bench.log"
	;;
*)
	echo "usage: run_device.sh BUILD_DIR tests|bench" >&2
	exit 2
	;;
esac
