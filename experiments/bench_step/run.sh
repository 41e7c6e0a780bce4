#!/usr/bin/env bash
# run.sh: times the tetriserve CUDA engine (exec/) and the PyTorch reference
# step (experiments/pytorch_ref/dit_ref.py) side by side on one machine, in
# one go, with the same cells: 256..2048 square at SP 1, 2, 4 and batch 1;
# batch 2 and 4 at 256 and 512 for SP 1 and 2.
#
# Usage: experiments/bench_step/run.sh BUILD_DIR OUTDIR
#   BUILD_DIR holds a built tree (tetriserve); OUTDIR receives
#   ours_<model>.csv, ref/ (the reference's profiles, details.csv, run.log)
#   and compare.txt (the side-by-side table, also printed).
# Environment (defaults): MODELS ("flux-dev sd3-medium"), GPUS (all, at
#   most 8), WARMUP (2), ITERS (8), REF_BUDGET_S (240: the reference's time
#   budget, see run_profile.sh). NCCL_NVLS_ENABLE stays 0.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR OUTDIR}
outdir=${2:?usage: run.sh BUILD_DIR OUTDIR}
models=${MODELS:-"flux-dev sd3-medium"}
warmup=${WARMUP:-2}
iters=${ITERS:-8}
export NCCL_NVLS_ENABLE=0
ngpu=$(nvidia-smi -L | wc -l)
gpus=${GPUS:-$(( ngpu < 8 ? ngpu : 8 ))}
sps=1
for k in 2 4 8; do (( gpus >= k )) && sps=$sps,$k; done
bsps=1 # batch 2 and 4 rows: SP 1 and 2 only
(( gpus >= 2 )) && bsps=1,2
tetriserve="$build/tetriserve"
mkdir -p "$outdir" || exit 1

for model in $models; do
	out="$outdir/ours_$model.csv"
	"$tetriserve" profile --model "$model" --res 256,512,1024,2048 --sp "$sps" --gpus "$gpus" \
		--warmup "$warmup" --iters "$iters" --out "$out" || exit 1
	"$tetriserve" profile --model "$model" --res 256,512 --sp "$bsps" --gpus "$gpus" \
		--batch 2,4 --warmup "$warmup" --iters "$iters" --out "$out.batch" || exit 1
	grep -v -e '^#' -e '^model,' "$out.batch" >>"$out"
	rm -f "$out.batch"
done

MODELS="$models" SPS="${sps//,/ }" BUDGET_S=${REF_BUDGET_S:-240} ITERS="$iters" \
	WARMUP="$warmup" MAX_SECONDS=2 "$root/experiments/pytorch_ref/run_profile.sh" "$outdir/ref" \
	>/dev/null 2>&1 || echo "# reference run failed: see $outdir/ref/run.log"

python3 "$here/compare.py" "$outdir"/ours_*.csv -- "$outdir"/ref/*_*.csv | tee "$outdir/compare.txt"
