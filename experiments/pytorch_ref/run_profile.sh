#!/usr/bin/env bash
# run_profile.sh: measures the step-latency profile of the PyTorch reference
# DiT step (dit_ref.py) for SP degrees 1, 2, 4 on one machine with 4 GPUs and
# writes, per model, OUTDIR/<model>_<gpu>.csv in the project's profile format
# (traces/README.md), plus OUTDIR/details.csv (peak memory, all-to-all share)
# and OUTDIR/run.log. Exits 1 if any measuring run failed (the others still run).
#
# Usage: experiments/pytorch_ref/run_profile.sh OUTDIR
# Environment (defaults): MODELS ("flux-dev sd3-medium"), SPS ("1 2 4"),
#   BUDGET_S (420: no new cell starts after this many seconds), ITERS (20),
#   MAX_SECONDS (3: step time timed per cell, at least 5 steps), WARMUP (3).
# Cells: 256, 512, 1024, 2048 square at batch 1; batch 2 and 4 at 256 and 512
# for SP 1 and 2. NCCL_NVLS_ENABLE stays 0 (NVLink multicast off).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
outdir=${1:?usage: run_profile.sh OUTDIR}
models=${MODELS:-"flux-dev sd3-medium"}
sps=${SPS:-"1 2 4"}
budget=${BUDGET_S:-420}
iters=${ITERS:-20}
max_seconds=${MAX_SECONDS:-3}
warmup=${WARMUP:-3}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
export PYTHONUNBUFFERED=1

mkdir -p "$outdir" || exit 1
parts=$(mktemp -d) || exit 1
trap 'rm -rf "$parts"' EXIT
log="$outdir/run.log"
start=$(date +%s)
failed=0
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ngpu=$(python3 -c 'import torch; print(torch.cuda.device_count())') || exit 1
versions=$(python3 -c 'import torch
nccl = ".".join(map(str, torch.cuda.nccl.version()))
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, NCCL {nccl}")') || exit 1
gpu_full=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)

# run_one MODEL SP: one torchrun over SP GPUs measuring every cell of MODEL.
run_one() {
	local model=$1 sp=$2 batch=1 left
	left=$(( budget - ($(date +%s) - start) ))
	if (( left < 30 )); then
		echo "# budget spent: $model sp=$sp not measured" | tee -a "$log"
		return
	fi
	(( sp <= 2 )) && batch=1,2,4
	local cmd=(torchrun --standalone --nproc_per_node="$sp" "$here/dit_ref.py"
		--model "$model" --res "256,512,1024,2048" --batch "$batch"
		--batch-res-max 512 --warmup "$warmup" --iters "$iters"
		--max-seconds "$max_seconds" --time-budget $(( left - 25 )) --check
		--out "$parts/$model-sp$sp.csv" --details "$parts/$model-sp$sp-details.csv")
	echo "# run: ${cmd[*]}" | sed -e "s#$parts/##g" -e "s#$here/#experiments/pytorch_ref/#" >>"$parts/$model-commands"
	echo "## ${cmd[*]}" >>"$log"
	if ! "${cmd[@]}" 2>&1 | tee -a "$log"; then
		echo "# FAILED: $model sp=$sp" | tee -a "$log"
		failed=1
	fi
}

# data_rows FILE...: the rows of part CSVs, header rows dropped.
data_rows() {
	local f
	for f in "$@"; do
		[[ -s $f ]] && tail -n +2 "$f"
	done
}

# assemble MODEL: one profile CSV for MODEL with a header saying how it was made.
assemble() {
	local model=$1 rows gpu dest
	rows=$(data_rows "$parts/$model"-sp?.csv)
	if [[ -z $rows ]]; then
		echo "# no rows measured for $model" | tee -a "$log"
		return
	fi
	gpu=$(cut -d, -f2 <<<"$rows" | head -1)
	dest="$outdir/${model}_$gpu.csv"
	{
		echo "# $model step-latency profile: PyTorch reference DiT step (random bf16 weights, real shapes)"
		echo "# measured $date_utc on $ngpu x $gpu_full (GPU, driver); $versions"
		echo "# NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE; eager PyTorch, SDPA attention, Ulysses all-to-all SP"
		echo "# command: experiments/pytorch_ref/run_profile.sh OUTDIR (MODELS='$models' SPS='$sps' BUDGET_S=$budget ITERS=$iters MAX_SECONDS=$max_seconds WARMUP=$warmup)"
		cat "$parts/$model-commands"
		echo "# step_ms: mean per-step time over samples (CUDA events around the whole step, slowest rank);"
		echo "# p50_ms/p99_ms: percentiles of those samples; cv: std/mean as a fraction"
		echo "model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch"
		echo "$rows"
	} >"$dest"
	echo "# wrote $dest" | tee -a "$log"
}

echo "# $date_utc: $ngpu x $gpu_full; $versions" | tee "$log"
for model in $models; do
	for sp in $sps; do
		if (( sp > ngpu )); then
			echo "# $model sp=$sp skipped: only $ngpu GPUs" | tee -a "$log"
			continue
		fi
		run_one "$model" "$sp"
	done
	assemble "$model"
done
{
	echo "model,gpu,height,width,sp,batch,step_ms,peak_mem_gib,weights_gib,a2a_share,out_std,check_rel_err"
	data_rows "$parts"/*-details.csv
} >"$outdir/details.csv"
echo "# done in $(( $(date +%s) - start )) s" | tee -a "$log"
exit "$failed"
