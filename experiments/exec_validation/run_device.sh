#!/bin/bash
# One device call: GPU tests of the executor, then tetriserve exec on a short trace.
set -o pipefail
export NCCL_NVLS_ENABLE=0
B=build-exec2; F=experiments/exec_validation; T=$B/tetriserve; P=traces/profiles/flux-dev_H200_engine.csv
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $OUT/gpus.txt 2>&1
nvidia-smi topo -m >> $OUT/gpus.txt 2>&1
{ $B/tests/exec/test_exec_backend; $B/tests/exec/test_exec_driver;
  timeout 180 $B/tests/gpu/test_exec_serve; echo "test_exec_serve rc=$?"; } 2>&1 | tee $OUT/tests.log
timeout 270 $T exec --trace $F/trace14.csv --profile $P --model flux-dev --gpus 4 \
  --policy fixed-sp:1,rssp,tetriserve --time-scale 0.25 --warmup-steps 1 --warm-comms \
  --db $OUT/exec.db 2>&1 | tee $OUT/exec.log
echo "exec rc=$?" | tee -a $OUT/exec.log
