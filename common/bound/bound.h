/* bound.h: an upper bound on the SLO attainment any schedule the driver
 * accepts can reach on a trace, by a mixed-integer linear program solved by
 * a real MILP solver (GLPK). The model and why it is a relaxation of every
 * such schedule: docs/BOUND.md. */
#ifndef TS_BOUND_H
#define TS_BOUND_H

#include <stdbool.h>

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/trace.h"

/* How a solve ended. */
enum ts_bound_status {
	TS_BOUND_OPTIMAL = 0,    /* every component solved to proven optimality: bound == met */
	TS_BOUND_TIME_LIMIT = 1, /* the time limit stopped the search: bound >= met, gap reported */
	TS_BOUND_LP = 2,         /* opts.lp_only: the bound is the LP relaxation's, rounded down */
};

struct ts_bound_opts {
	double time_limit_s;    /* wall-clock budget of the whole solve; <= 0: none */
	ts_ns slot_ns;          /* also cut intervals into pieces of at most this (0: none);
				   provably leaves the optimum unchanged (docs/BOUND.md) */
	bool no_cuts;           /* leave out the GPU-block cuts (to measure what they add) */
	bool integer_steps;     /* whole steps per (degree, batch) per request: tighter, much slower */
	bool lp_only;           /* solve the LP relaxation only (fast, weaker) */
	int64_t max_cols;       /* largest component model accepted (columns); 0: 2,000,000 */
	const char *mps_prefix; /* write component k's model to PREFIX-k.mps (free MPS); NULL: no */
};

struct ts_bound_result {
	int status;             /* enum ts_bound_status */
	size_t n;               /* requests in the trace */
	int64_t met;            /* requests meeting their deadline in the best solution found */
	int64_t bound;          /* proven upper bound on the met count of any allowed schedule */
	double gap;             /* (bound - met) / bound, 0 when bound == met */
	double solve_s;         /* wall seconds of the whole call */
	int64_t candidates;     /* requests that could meet their deadline if alone on the node */
	int32_t components;     /* groups of requests with overlapping windows (solved apart) */
	int32_t milp_components;/* of which needed the solver (two or more candidates) */
	int64_t cols, rows, ints; /* largest component model: columns, rows, integer columns */
	int64_t total_cols;     /* columns over all component models */
	bool *meets;            /* per trace request: meets its deadline in the best solution */
	ts_ns *start, *finish;  /* per request when it meets: first and last instants the solution
				   runs it (docs/BOUND.md); -1 otherwise */
	char solver[64];        /* e.g. "GLPK 5.0" */
};

/* Fills the defaults: time limit 300 s, no slotting, cuts on, MILP. */
void ts_bound_opts_defaults(struct ts_bound_opts *o);

/* True when this build links a MILP solver; its name and version go to
 * name (size bytes, may be NULL). */
bool ts_bound_have_solver(char *name, size_t size);

/* Solves the step-level scheduling relaxation of trace t (classes built by
 * ts_classes_build for `gpus` GPUs, 1..64) and fills *r (which the call
 * initialises; free with ts_bound_result_free). Returns r->bound, the
 * proven upper bound on the requests any schedule the driver accepts on
 * `gpus` GPUs can finish by their deadlines (>= 0), or a negative error:
 * TS_ENOTFOUND when this build has no MILP solver (the message says how to
 * get one), TS_ERANGE when a component's model exceeds o->max_cols,
 * TS_EINVAL for a bad argument, TS_ENOMEM, TS_EIO (an MPS file could not be
 * written), TS_EDEVICE when the solver failed. On a time limit the result
 * is still a valid bound (status TS_BOUND_TIME_LIMIT, r->met the incumbent,
 * r->gap > 0 when they differ). On error *r holds nothing to free. */
int ts_bound_solve(const struct ts_trace *t, const struct ts_classes *cs, int gpus,
		   const struct ts_bound_opts *o, struct ts_bound_result *r, struct ts_error *err);

/* Frees what *r owns and zeroes it; safe on a zeroed struct. */
void ts_bound_result_free(struct ts_bound_result *r);

/* Short name of a status: "optimal", "time-limit", "lp". */
const char *ts_bound_status_name(int status);

#endif
