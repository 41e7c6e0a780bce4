/* ts_validate_internal.h: the state of one validation, shared by
 * ts_validate_flow.c (measure, plan, serve, simulate) and
 * ts_validate_report.c (comparisons and the markdown table). Private to
 * exec/'s validate. */
#ifndef TS_VALIDATE_INTERNAL_H
#define TS_VALIDATE_INTERNAL_H

#include "cli/cmd_validate.h"
#include "ts_validate.h"
#include "ts_validate_plan.h"

/* One policy's pair of runs. */
struct pair {
	const char *spec;
	int64_t exec_id, sim_id;   /* 0: not (or not completely) run */
	double wall_s, prealloc_ms;
	bool cut;                  /* the budget or Ctrl-C ended the executor's run */
	bool compared;
	struct ts_validate_result res;
};

struct flow {
	struct ts_validate_opts *o;
	const struct ts_validate_device *dev;
	const struct ts_backend_entry *sim;
	FILE *f;
	int64_t t0;                /* ts_clock_ns() at the start */
	struct ts_validate_plan plan;
	struct ts_run_inputs in;
	struct ts_exec_factory_ctx x;
	struct pair pair[TS_VALIDATE_MAX_POLICIES];
	int npairs;
	char profile_out[4096];
};

/* Prints the comparison of every pair that ran to fl->f and appends the
 * results table to fl->o->markdown (when set). */
int ts_validate_report_all(struct flow *fl, struct ts_error *err);

#endif
