#!/bin/bash
# run_device.sh: the 1-GPU validation suite in one device call on one H200
# (about 8.5 minutes: the overheads benchmark ~1 min, then run.sh's three
# cases within 7 minutes; every command is bounded by timeout, the whole
# by 570 s). Run from the repository root with $OUT set; the build folder
# is carried, nothing is compiled here. It needs only two binaries:
#   BUILD/tetriserve and BUILD/tests/gpu/bench_exec
# e.g. a folder made on the build machine (under the 64 MiB carry limit):
#   mkdir -p build-vs/tests/gpu && cp build-val/tetriserve build-vs/ &&
#   cp build-val/tests/gpu/bench_exec build-vs/tests/gpu/
# where build-val was set up with
#   meson setup build-val -Dstatic_gsl=true -Dstatic_jansson=true && ninja -C build-val
# usage: experiments/validation_suite/run_device.sh [BUILD_DIR (default build-vs)]
# $OUT gets: results.md (the tables), validation.db (every run), profile.csv
# (measured), validation.log, overheads.txt, gpus.txt, run.log.
set -o pipefail
B=${1:-build-vs}
OUT=${OUT:?set OUT to the output folder}
export NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$OUT/gpus.txt" 2>&1
timeout 570 experiments/validation_suite/run.sh --gpus 1 --build "$B" --out "$OUT" --minutes 7 \
	>"$OUT/run.log" 2>&1
echo "run.sh rc=$?"
cat "$OUT/run.log"
cat "$OUT/overheads.txt" 2>/dev/null
cat "$OUT/results.md"
