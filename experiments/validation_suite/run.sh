#!/usr/bin/env bash
# run.sh: the simulator-against-hardware validation suite on this node, in
# one command per node size (README.md). Three cases, each one
# `tetriserve validate` (profile on this machine, plan within its share of
# the budget, serve every policy, simulate the same, compare):
#   mix    all four resolutions, every policy for this GPU count
#   batch  many small requests under tetriserve (batching on: the engine
#          steps separate requests together; --dry-run's sleeping device
#          does not, so there it is off)
#   burst  20 requests within 0.7 s, the deadline-aware policies
# and, first, the costs the simulator does not model (bench_exec alloc, move).
# Writes OUT/results.md (the tables), OUT/validation.db (every run),
# OUT/profile.csv (the measured profile), OUT/validation.log and
# OUT/overheads.txt.
#
# usage: experiments/validation_suite/run.sh --gpus N [--build DIR] [--out DIR]
#          [--minutes M] [--dry-run]
#   --gpus N     GPUs of this node: 1, 2, 4 or 8
#   --build DIR  the build folder (default build)
#   --out DIR    where results go (default validation_out)
#   --minutes M  budget of the three cases together (default 9 for 1 GPU;
#                more GPUs run more policies: 9 + 2 per extra fixed-sp degree)
#   --dry-run    no GPU: the executor's steps sleep their profile time, the
#                bundled engine profile stands in for a measured one
set -uo pipefail
cd "$(dirname "$0")/../.."
gpus=1 build=build out=validation_out minutes="" dry=0
while [ $# -gt 0 ]; do
	case $1 in
	--gpus) gpus=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--minutes) minutes=$2; shift 2 ;;
	--dry-run) dry=1; shift ;;
	*) echo "run.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
	esac
done
case $gpus in 1|2|4|8) ;; *) echo "run.sh: --gpus must be 1, 2, 4 or 8" >&2; exit 2 ;; esac
exe=$build/tetriserve
[ -x "$exe" ] || { echo "run.sh: no $exe (build first, or give --build)" >&2; exit 2; }
mkdir -p "$out" || exit 2
export NCCL_NVLS_ENABLE=0
S=experiments/validation_suite

# Policies for this GPU count: every fixed-sp degree, rssp, the EDF variants
# that set late requests aside, tetriserve and its late=drop variant.
fixed="fixed-sp:1" degrees=0
for ((k = 2; k <= gpus; k *= 2)); do fixed+=",fixed-sp:$k"; degrees=$((degrees + 1)); done
edf="fixed-sp:1:order=edf:late=defer"
[ "$gpus" -gt 1 ] && edf+=",fixed-sp:$gpus:order=edf:late=defer"
mix_policies="$fixed,rssp,$edf,tetriserve,tetriserve:late=drop"
batch_policies="tetriserve"
burst_policies="fixed-sp:$gpus:order=edf:late=defer,tetriserve,tetriserve:late=drop"
# The same load per GPU on every node size: arrivals N times as fast.
scale=$(awk -v n="$gpus" 'BEGIN { printf "%g", 1 / n }')
minutes=${minutes:-$((9 + 2 * degrees))}
share() { awk -v m="$minutes" -v f="$1" 'BEGIN { printf "%.2f", m * f }'; }

log=$out/validation.log
md=$out/results.md
db=$out/validation.db
rm -f "$db" "$md" "$log"
{
	echo "# Validation suite: $gpus GPU(s), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "Command: \`experiments/validation_suite/run.sh --gpus $gpus --minutes $minutes$([ $dry = 1 ] && echo ' --dry-run')\`;"
	if [ $dry = 1 ]; then
		echo "DRY RUN: no GPU, the executor's steps slept their profile time."
	else
		nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/GPU: /'
	fi
	echo "Targets: median per-request latency error <= 2%, p95 <= 5%, SAR within 1 point, the same launches."
} >"$md"

# The first case profiles this machine (or, in a dry run, takes the bundled
# profile); the others plan and simulate with that profile.
if [ $dry = 1 ]; then
	first=(--profile traces/profiles/flux-dev_H200_engine.csv --dry-run)
	rest=(--profile traces/profiles/flux-dev_H200_engine.csv --dry-run)
else
	first=(--measure --profile-out "$out/profile.csv")
	rest=(--profile "$out/profile.csv")
fi

# First the costs the simulator does not model, measured on this node: a
# request's first launch allocating (and what preallocation costs),
# communicators, latent moves (two GPUs or more).
bench=$build/tests/gpu/bench_exec
if [ $dry = 0 ] && [ -x "$bench" ]; then
	timeout 240 "$bench" alloc move >"$out/overheads.txt" 2>&1
	echo "overheads rc=$?" | tee -a "$log"
elif [ $dry = 0 ]; then
	echo "no $bench: the costs the simulator does not model are not measured" | tee -a "$log"
fi

status=0
run_case() { # name trace policies time-scale budget-fraction profile-args...
	local name=$1 trace=$2 policies=$3 ts=$4 budget
	budget=$(share "$5")
	shift 5
	echo "== $name: $trace, --policy $policies, --time-scale $ts, --max-minutes $budget" | tee -a "$log"
	timeout $(awk -v b="$budget" 'BEGIN { printf "%d", b * 60 + 90 }') \
		"$exe" validate --trace "$trace" --gpus "$gpus" --policy "$policies" --time-scale "$ts" \
		--max-minutes "$budget" --db "$db" --markdown "$md" --label "$name" "$@" >>"$log" 2>&1
	local rc=$?
	echo "$name rc=$rc" | tee -a "$log"
	[ $rc = 0 ] || status=1
}
run_case mix $S/traces/mix.csv "$mix_policies" "$scale" 0.56 "${first[@]}"
if [ $dry = 0 ] && [ ! -s "$out/profile.csv" ]; then
	echo "no measured profile (see the mix case): the other cases use the bundled engine profile" |
		tee -a "$log" "$md"
	rest=(--profile traces/profiles/flux-dev_H200_engine.csv)
fi
run_case batch $S/traces/batch.csv "$batch_policies" "$scale" 0.17 "${rest[@]}"
run_case burst $S/traces/burst.csv "$burst_policies" 1 0.27 "${rest[@]}"

# Readers leave SQLite's -wal and -shm files beside the results file; one
# read-write connection closing last folds them back in.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()' \
	"$db" 2>/dev/null
echo "results: $md"
exit $status
