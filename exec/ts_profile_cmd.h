/* ts_profile_cmd.h: `tetriserve profile`: measures the step latency of the
 * exec/ DiT engine per (resolution, SP degree, batch) on this machine's
 * GPUs and writes a profile CSV (format: traces/README.md). */
#ifndef TS_PROFILE_CMD_H
#define TS_PROFILE_CMD_H

/* argv[0] is "profile". Options:
 *   --model M (flux-dev | sd3-medium), --res 256,512,... (square sizes),
 *   --sp 1,2,4, --gpus N, [--batch 1,2,4], --out F.csv, [--warmup W (2)],
 *   [--iters I (10)], [--seed S], [--db F] (refused: the results store has
 *   no profile table yet).
 * Cells with sp > N are skipped with a note. Returns 0, 2 for a usage error,
 * 1 for a failure (message on stderr). */
int ts_cmd_profile(int argc, char **argv);

#endif
