/* ts_profile_cmd.h: `tetriserve profile`: measures the step latency of the
 * exec/ DiT engine per (resolution, SP degree, batch) on this machine's
 * GPUs and writes a profile CSV (format: traces/README.md) and/or a run of
 * backend "profile" in a results store (docs/SCHEMA.md). */
#ifndef TS_PROFILE_CMD_H
#define TS_PROFILE_CMD_H

/* argv[0] is "profile". Options:
 *   --model M (flux-dev | sd3-medium), --res 256,512,... (square sizes),
 *   --sp 1,2,4, --gpus N, [--batch 1,2,4], [--warmup W (2)], [--iters I (10)],
 *   [--seed S], [--graphs on|off (off): CUDA-graph replay of steps], and at
 *   least one of --out F.csv and --db F.db.
 * Cells with sp > N are skipped with a note. With --db, the store is opened
 * (created or migrated) before anything is measured, a run with backend and
 * policy "profile" begins before the first cell, each cell is committed as
 * soon as it is measured, and the run is marked completed after the last;
 * a failure leaves it incomplete with the cells measured so far. Returns 0,
 * 2 for a usage error, 1 for a failure (message on stderr). */
int ts_cmd_profile(int argc, char **argv);

#endif
