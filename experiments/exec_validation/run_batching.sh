#!/bin/bash
# One device call (1 x H200 is enough; about 4 minutes, at most 6): batched
# steps of separate requests (ts_dit_batch_step, issue 15 item 4).
#  1. GPU tests touching the step: kernels (per-sample timestep and Euler),
#     test_batch_step (each request of a batch against itself alone, twins,
#     graphs, per-image timing at 256^2 and 512^2, batch 2 and 4), test_graphs,
#     test_dit_step, test_exec_serve (tetriserve with batching among them);
#  2. tetriserve exec of batch256.csv (240 requests of 256^2, sd3-medium,
#     Poisson 70/min, --time-scale 0.33: about 3.5 requests a second for 65 s,
#     near what one GPU serves one at a time) under tetriserve (batching on),
#     with tetriserve sim of the same trace and options into the same file
#     first (run 1; exec is run 2), tetriserve validate of the pair, and the
#     batched segments of each run.
# Usage: experiments/exec_validation/run_batching.sh [BUILD_DIR (build-dev)]
# Writes to $OUT: gpus.txt, tests.log, exec.log, batch.db, validate.log,
# batched.txt. Exit status: non-zero when a test failed, a command failed or
# the exec run stored no batched segment.
export NCCL_NVLS_ENABLE=0
B=${1:-build-dev}
F=experiments/exec_validation
P=traces/profiles/sd3-medium_H200_engine.csv
OUT=${OUT:-out}
mkdir -p "$OUT"
status=0
end=$(($(date +%s) + 340)) # every command's timeout is cut to end the script within ~6 min
limit() { # the smaller of $1 seconds and the time left
	local left=$((end - $(date +%s)))
	[ $left -lt "$1" ] && echo $((left > 1 ? left : 1)) || echo "$1"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpus.txt" 2>&1

for t in test_kernels test_batch_step test_graphs test_dit_step test_exec_serve; do
	t0=$(date +%s)
	timeout "$(limit 90)" "$B/tests/gpu/$t" >>"$OUT/tests.log" 2>&1
	rc=$?
	echo "== $t rc=$rc ($(($(date +%s) - t0)) s)" | tee -a "$OUT/tests.log"
	[ $rc -eq 0 ] || status=1
done

run() { # a command, logged to $OUT/$1 with its exit status
	local log=$1
	shift
	echo "\$ $*" >>"$OUT/$log"
	timeout "$(limit 170)" "$@" >>"$OUT/$log" 2>&1
	local rc=$?
	echo "rc=$rc" >>"$OUT/$log"
	[ $rc -eq 0 ] || status=1
}
common=(--trace $F/batch256.csv --profile $P --model sd3-medium --gpus 1 --policy tetriserve
	--time-scale 0.33 --db "$OUT/batch.db")
run exec.log "$B/tetriserve" sim "${common[@]}" # run 1
t0=$(date +%s)
run exec.log "$B/tetriserve" exec "${common[@]}" --warmup-steps 1 # run 2
echo "== exec ($(($(date +%s) - t0)) s)" | tee -a "$OUT/tests.log"
run validate.log "$B/tetriserve" validate --db "$OUT/batch.db" --sim 1 --exec 2

python3 - "$OUT/batch.db" >"$OUT/batched.txt" 2>&1 <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ok = False
for run, backend in db.execute("select run_id, backend from runs order by run_id"):
    n, batched, steps, top = db.execute(
        "select count(*), coalesce(sum(batch > 1), 0), coalesce(sum(nsteps * (batch > 1)), 0),"
        " coalesce(max(batch), 0) from segments where run_id = ? and kind = 'steps'", (run,)).fetchone()
    print(f"run {run} ({backend}): {n} steps segments, {batched} with batch > 1 "
          f"({steps} request steps), largest batch {top}")
    ok = ok or (backend == "exec" and batched > 0)
sys.exit(0 if ok else 1)
EOF
[ $? -eq 0 ] || status=1
cat "$OUT/batched.txt"
tail -n 25 "$OUT/validate.log"
exit $status
