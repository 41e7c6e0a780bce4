/* admit_vsched.h: the virtual schedule of the admit policy: when each GPU
 * of the node becomes free (an availability time per GPU), and the plan of
 * one request laid on top of it.
 *
 * GPU sets are aligned power-of-two blocks (width k on GPUs [j*k, (j+1)*k)).
 * A request's plan ends on one block B; it may start earlier on a smaller
 * block inside B that is free sooner and double onto the enclosing block
 * as soon as all of that block is free ("grow into B"), so a large image can
 * use half of the node while a small one finishes on the other half. The
 * plan chosen is the one of least GPU time that meets the deadline (ties:
 * earlier finish, then more GPUs it used last, then the lower block). */
#ifndef TS_ADMIT_VSCHED_H
#define TS_ADMIT_VSCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_types.h"

/* Aligned blocks of a node of up to 64 GPUs: 64 + 32 + ... + 1. */
#define TS_ADMIT_MAX_BLOCKS 127

/* The aligned blocks of a node of `gpus` GPUs, level by level (width 1, 2,
 * 4, ...), lowest first within a level. */
struct ts_admit_blocks {
	int32_t gpus;
	int32_t n;                           /* blocks */
	int32_t nlevel;                      /* levels: widths 1 .. 1 << (nlevel - 1) */
	int32_t off[TS_NDEG + 1];            /* first block of each level */
	uint64_t mask[TS_ADMIT_MAX_BLOCKS];
	int8_t level[TS_ADMIT_MAX_BLOCKS];
	int16_t parent[TS_ADMIT_MAX_BLOCKS]; /* -1 when the enclosing block passes the node */
};

/* Fills *b for a node of gpus (1..64) GPUs. */
void ts_admit_blocks_init(struct ts_admit_blocks *b, int32_t gpus);

/* One piece of a plan: `steps` steps on GPU set `gpus` from `start`. */
struct ts_admit_phase {
	uint64_t gpus;
	int32_t steps;
	ts_ns start;
	ts_ns t_step;
};

/* A request's plan on the virtual schedule: phases in time order, each on a
 * block twice (or more) as wide as the one before, all inside `block`. */
struct ts_admit_plan {
	int32_t n;
	struct ts_admit_phase ph[TS_NDEG];
	uint64_t block;    /* the last (widest) block */
	ts_ns finish;
	int64_t gpu_ns;    /* sum of steps x width x step time */
};

/* What is planned: `left` steps of a class with step time step[d] at
 * degree 1 << d (-1: no cell), ready at `ready` (>= the schedule's now),
 * due at `deadline`, last run on `prev` (0: never); without `grow` only
 * plans on one block throughout. */
struct ts_admit_job {
	const ts_ns *step;
	int32_t left;
	ts_ns ready;
	ts_ns deadline;
	uint64_t prev;
	bool grow;       /* may start on part of a block and grow into it */
	int32_t width;   /* > 0: only plans whose last block has this width */
};

/* The best plan of job j on availability avail[0..gpus) (avail[g]: when GPU
 * g is free): of all blocks and the grow-into plans on them, the least GPU
 * time among those finishing by the deadline (ties: earlier finish, more
 * GPUs of prev, lower block). Returns true and fills *out when one
 * finishes in time; else false, and *out holds the earliest-finishing plan
 * (out->n == 0 when the class has no cell on this node). */
bool ts_admit_best_plan(const struct ts_admit_blocks *b, const ts_ns *avail,
			const struct ts_admit_job *j, struct ts_admit_plan *out);

/* Marks the GPUs of p's last block busy until p->finish. */
void ts_admit_commit(ts_ns *avail, const struct ts_admit_plan *p);

#endif
