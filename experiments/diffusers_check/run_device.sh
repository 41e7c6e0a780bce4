#!/bin/bash
# run_device.sh: the diffusers checks of issue 15 on one GPU machine (the
# device tool), from the repository root. Built elsewhere (nothing is
# compiled here): meson setup build-dev -Dstatic_gsl=true -Dstatic_jansson=true
# && ninja -C build-dev; carry build-dev/tetriserve, build-dev/tests/gpu
# (the whole build folder is over the tool's 64 MiB) and .whl (the
# diffusers wheel). Two calls, each well inside the tool's 10 minutes:
#
#   experiments/diffusers_check/run_device.sh BUILD_DIR equality   (~6 min)
#     1. test_diffusers on the tiny checkpoints of tests/data (SP 1; SP 2
#        where 2 GPUs exist);
#     2. full size: make_cases.py makes FLUX.1-dev- and SD3-medium-shaped
#        transformers with random weights in /tmp (diffusers folders), runs
#        diffusers on fixed inputs at 1024x1024 (bf16 and fp32), and
#        test_diffusers loads each folder with our engine and compares;
#     3. the GPU tests the change touches (kernels, the presets' step,
#        graphs, SP).
#     Log: $OUT/equality.log (each test's PASS/FAIL lines, the errors).
#
#   experiments/diffusers_check/run_device.sh BUILD_DIR bench      (~6 min)
#     our step (tetriserve profile, graphs off; on at 256 and 512) and
#     diffusers' (eager, torch.compile default and reduce-overhead, within a
#     time budget: bench_diffusers.py) at 256..2048 square (SD3: 256, 1024,
#     2048), SP 1, batch 1, on this GPU; $OUT/bench_table.md is
#     the markdown table for docs/PERFORMANCE.md, $OUT/bench.log the log,
#     the CSVs beside them.
set -uo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
B=${1:?usage: run_device.sh BUILD_DIR equality|bench}
WHAT=${2:?usage: run_device.sh BUILD_DIR equality|bench}
OUT=${OUT:?set OUT to the output folder}
T0=$(date +%s)
stamp() { echo "== [$(($(date +%s) - T0)) s] $*"; }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
	--target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpus.txt" 2>&1
python3 -c 'import torch, diffusers; print("torch", torch.__version__, "diffusers", diffusers.__version__)' \
	>>"$OUT/gpus.txt" 2>&1

# A full-size model ($1: flux|sd3): diffusers folder and case in /tmp, our
# engine against it, the folder removed (FLUX's is 24 GB).
full_size() {
	local dir=/tmp/${1}_full
	stamp "full-size $1: diffusers model, forwards, save"
	timeout "$2" python3 experiments/diffusers_check/make_cases.py full "$1" "$dir" --res 1024
	echo "make_cases $1 rc=$?"
	ls -la "$dir" 2>&1 | head -12
	stamp "full-size $1: our engine"
	timeout "$3" "$B/tests/gpu/test_diffusers" --full "$dir"
	echo "test_diffusers $1 rc=$?"
	rm -rf "$dir"
}

# The regression tests come last: if time runs short, they are what is cut.
equality() {
	stamp "tiny checkpoints"
	timeout 120 "$B/tests/gpu/test_diffusers" tests/data/tiny_flux tests/data/tiny_sd3
	echo "test_diffusers tiny rc=$?"
	full_size sd3 120 90
	full_size flux 240 150
	for t in test_kernels test_dit_step test_graphs test_sp; do
		stamp "$t"
		timeout 100 "$B/tests/gpu/$t" 2>&1 | tail -12
		echo "$t rc=${PIPESTATUS[0]}"
	done
	stamp "done"
}

bench() {
	local o="$OUT/bench"
	mkdir -p "$o"
	# ours: every cell with graphs off; graphs on where launches matter (small images)
	for m in sd3-medium flux-dev; do
		stamp "ours $m"
		timeout 90 "$B/tetriserve" profile --model "$m" --res 256,512,1024,2048 --sp 1 --gpus 1 \
			--warmup 2 --iters 8 --out "$o/ours_$m.csv" 2>&1 | grep -E "sp=|rror"
		timeout 60 "$B/tetriserve" profile --model "$m" --res 256,512 --sp 1 --gpus 1 \
			--warmup 3 --iters 8 --graphs on --out "$o/ours_graphs_$m.csv" 2>&1 | grep -E "sp=|rror"
	done
	stamp "diffusers"
	local left=$((340 - ($(date +%s) - T0)))
	[ "$left" -ge 120 ] || left=120
	timeout $((left + 60)) python3 experiments/bench_step/bench_diffusers.py measure \
		--out "$o/diffusers.csv" --budget-s "$left"
	echo "bench_diffusers rc=$?"
	python3 experiments/bench_step/bench_diffusers.py table --ours "$o"/ours_sd3-medium.csv \
		"$o"/ours_flux-dev.csv --ours-graphs "$o"/ours_graphs_*.csv --diffusers "$o/diffusers.csv" \
		>"$OUT/bench_table.md"
	cat "$OUT/bench_table.md"
	cp "$o"/*.csv "$OUT"/ 2>/dev/null
	rm -rf "$o"
	stamp "done"
}

case $WHAT in
equality) equality 2>&1 | tee "$OUT/equality.log" ;;
bench) bench 2>&1 | tee "$OUT/bench.log" ;;
*) echo "usage: run_device.sh BUILD_DIR equality|bench" >&2; exit 2 ;;
esac
