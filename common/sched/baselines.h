/* baselines.h: the baseline policies and the tetriserve policy ops tables,
 * and helpers the baselines share. Their options: docs/SCHEDULER.md. */
#ifndef TS_BASELINES_H
#define TS_BASELINES_H

#include "sched/policy.h"

/* fixed-sp:K — every request runs all its steps on K GPUs; the node is cut
 * into N/K aligned groups that serve one queue (order=fcfs, the default, or
 * order=edf: earliest deadline first, ties by arrival); a request keeps its
 * group to the end (xDiT-style serving). Alias: edf-fixed:K. */
extern const struct ts_policy_ops ts_policy_fixed_sp;

/* rssp[:MAP] — resolution-specific static degree, strict FCFS: the oldest
 * waiting request starts as soon as an aligned block of its degree is free,
 * later requests never overtake it. MAP defaults to 256/1+512/1+1024/2+2048/8;
 * degrees are capped at the largest power of two <= the GPU count. */
extern const struct ts_policy_ops ts_policy_rssp;

/* tetriserve — the round-based step-level scheduler (common/sched/tetri/). */
extern const struct ts_policy_ops ts_policy_tetriserve;

/* Appends a launch that runs every remaining step of request r on gpus (how
 * the baselines serve a request: it keeps its GPUs to the end). */
int ts_plan_whole_request(struct ts_plan *out, const struct ts_sched_view *v, int32_t r,
			  uint64_t gpus, struct ts_error *err);

/* Requires a batch-1 profile cell at degree k for every class; the first
 * missing cell is the error (see ts_classes_require()). */
int ts_require_degree_all(const struct ts_classes *cs, int k, struct ts_error *err);

/* The JSON text of a policy's options (ts_spec_options_json) with the
 * members of `extra` (may be NULL; its reference is taken) added; malloc'ed,
 * NULL when out of memory. */
char *ts_policy_describe_json(const struct ts_policy_option *table, const void *options,
			      json_t *extra);

#endif
