/* baselines.h: the baseline policies and the tetriserve policy ops tables. */
#ifndef TS_BASELINES_H
#define TS_BASELINES_H

#include "io/profile.h"
#include "sched/policy.h"

/* fixed-sp:K — every request runs all its steps on K GPUs; the node is cut
 * into N/K aligned groups that serve one FCFS queue; a request keeps its
 * group to the end (xDiT-style serving). */
extern const struct ts_policy_ops ts_policy_fixed_sp;

/* edf-fixed:K — as fixed-sp:K but the queue is earliest-deadline-first
 * (ties: earlier arrival). */
extern const struct ts_policy_ops ts_policy_edf_fixed;

/* rssp[:MAP] — resolution-specific static degree, strict FCFS: the oldest
 * waiting request starts as soon as an aligned block of its degree is free,
 * later requests never overtake it. MAP defaults to 256=1,512=1,1024=2,2048=8;
 * degrees are capped at the largest power of two <= the GPU count. */
extern const struct ts_policy_ops ts_policy_rssp;

/* tetriserve — the round-based step-level scheduler (common/sched/tetri/). */
extern const struct ts_policy_ops ts_policy_tetriserve;

/* Parses a positive power-of-two degree no larger than gpus from text;
 * returns it or a negative error code with a message naming `what`. */
int ts_parse_degree(const char *text, int gpus, const char *what, struct ts_error *err);

/* Appends a launch that runs every remaining step of request r on gpus (how
 * the baselines serve a request: it keeps its GPUs to the end). */
int ts_plan_whole_request(struct ts_plan *out, const struct ts_sched_view *v, int32_t r,
			  uint64_t gpus, struct ts_error *err);

/* Requires a batch-1 profile cell at degree k for every class; the first
 * missing cell is the error (see ts_classes_require()). */
int ts_require_degree_all(const struct ts_classes *cs, int k, struct ts_error *err);

#endif
