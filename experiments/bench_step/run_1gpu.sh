#!/bin/bash
# run_1gpu.sh: one-GPU figures on whatever card the device call got (used for
# the H100): kernel tests, attention kernels, and our SP 1 step time beside
# the PyTorch reference. Run from the repository root with the build carried:
#   OUT=DIR experiments/bench_step/run_1gpu.sh   [BUILD_DIR (build-exec2)]
export NCCL_NVLS_ENABLE=0
B=${1:-build-exec2}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv | tee $OUT/gpu.txt
TS_REQUIRE_CUDNN=1 timeout 200 $B/tests/gpu/test_kernels > $OUT/test_kernels.log 2>&1; echo "test_kernels rc=$?"; tail -1 $OUT/test_kernels.log
timeout 120 $B/tests/gpu/bench_exec attn > $OUT/bench_attn.log 2>&1; grep -E "2048|1024" $OUT/bench_attn.log
for m in flux-dev sd3-medium; do
	timeout 150 $B/tetriserve profile --model $m --res 256,512,1024,2048 --sp 1 --gpus 1 --warmup 2 --iters 5 --out $OUT/ours_$m.csv 2>&1 | grep -E "sp=|rror"
	timeout 200 torchrun --standalone --nproc_per_node=1 experiments/pytorch_ref/dit_ref.py --model $m --res 256,512,1024,2048 --batch 1 --warmup 2 --iters 5 --out $OUT/ref_$m.csv > $OUT/ref_$m.log 2>&1; echo "ref $m rc=$?"; grep -E "sp1:" $OUT/ref_$m.log
done
