#!/bin/bash
# run_device.sh: the 1-GPU validation suite in one device call on one H200
# (about 8.5 minutes: test_exec_serve (the executor on the real engine,
# preallocation included, latents checked) ~0.5 min, the overheads
# benchmark ~0.5 min, then run.sh's three cases within 6.8 minutes; every
# command is bounded by timeout). Run from the repository root with $OUT
# set; the build folder is carried, nothing is compiled here. It needs
# three binaries: BUILD/tetriserve, BUILD/tests/gpu/bench_exec and
# BUILD/tests/gpu/test_exec_serve
# e.g. a folder made on the build machine (under the 64 MiB carry limit):
#   mkdir -p build-vs/tests/gpu && cp build-val/tetriserve build-vs/ &&
#   cp build-val/tests/gpu/bench_exec build-val/tests/gpu/test_exec_serve build-vs/tests/gpu/
# where build-val was set up with
#   meson setup build-val -Dstatic_gsl=true -Dstatic_jansson=true && ninja -C build-val
# usage: experiments/validation_suite/run_device.sh [BUILD_DIR (default build-vs)]
# $OUT gets: results.md (the tables), validation.db (every run), profile.csv
# (measured), validation.log, overheads.txt, gpus.txt (the GPU and
# test_exec_serve's output), run.log.
set -o pipefail
B=${1:-build-vs}
OUT=${OUT:?set OUT to the output folder}
export NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$OUT/gpus.txt" 2>&1
timeout 90 "$B/tests/gpu/test_exec_serve" >>"$OUT/gpus.txt" 2>&1
echo "test_exec_serve rc=$?" | tee -a "$OUT/gpus.txt"
timeout 480 experiments/validation_suite/run.sh --gpus 1 --build "$B" --out "$OUT" --minutes 6.8 \
	>"$OUT/run.log" 2>&1
echo "run.sh rc=$?"
tail -3 "$OUT/gpus.txt"
cat "$OUT/run.log"
cat "$OUT/overheads.txt" 2>/dev/null
cat "$OUT/results.md"
