#!/bin/bash
# One device call (4 GPUs): tetriserve exec of default14.csv (the first 14
# requests of traces/default.csv, all four resolutions) at --time-scale 0.5
# under fixed-sp:1, rssp and tetriserve, one process per policy so that a
# timeout loses only its own run. Results in $OUT/exec.db; then, on any
# machine: tetriserve sim of default14_x05.csv into the same file and
# tetriserve validate of each pair (see README.md).
export NCCL_NVLS_ENABLE=0
B=${1:-build-exec2}; F=experiments/exec_validation
P=traces/profiles/flux-dev_H200_engine.csv
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpus.txt" 2>&1
for pol in fixed-sp:1 rssp tetriserve; do
	timeout 170 "$B/tetriserve" exec --trace $F/default14.csv --profile $P \
		--model flux-dev --gpus 4 --policy $pol --time-scale 0.5 --warmup-steps 1 \
		--warm-comms --db "$OUT/exec.db" >>"$OUT/exec.log" 2>&1
	echo "$pol rc=$?" | tee -a "$OUT/exec.log"
done
