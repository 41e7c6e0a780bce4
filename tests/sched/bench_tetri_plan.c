/* bench_tetri_plan.c: host time of one TetriServe round decision (the plan
 * call at a round boundary) for N GPUs and R queued requests. Prints median
 * and p99 over repeated boundaries; exits 1 if N = 8, R = 100 takes more
 * than 100 us at the median. */
#include <stdio.h>
#include <stdlib.h>

#include "sched/tetri/tetri_policy.h"
#include "plan_bench.h"

/* Times `iters` boundary decisions; fills med and p99 in microseconds.
 * Each is the first plan call of a fresh policy that was told of every
 * queued request (construction and arrivals not timed): the policy keeps
 * its queue between calls, so a second call on the same view would find
 * every request already launched and time nothing. */
static int bench_one(void *ctx, int gpus, int r, int iters, double *med, double *p99)
{
	(void)ctx;
	struct ts_classes cs;
	struct ts_trace t;
	struct ts_req_state *st = calloc((size_t)r, sizeof(*st));
	int64_t *ns = calloc((size_t)iters, sizeof(*ns));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct ts_plan plan = { 0 };
	struct ts_error err = { 0 };
	int rc = 0;

	gsl_rng_set(rng, (unsigned long)(gpus * 1000 + r));
	pb_classes(&cs, true);
	pb_queue(&t, st, r, rng);
	struct ts_policy_env env = { .gpus = gpus, .trace = &t, .cls = &cs };
	struct ts_sched_view v = { .gpus = gpus, .req = t.req, .st = st, .cls = &cs, .nreq = t.n };
	for (int it = 0; it < iters && !rc; it++) {
		void *pol = NULL;
		rc = ts_policy_tetriserve.init(&pol, NULL, &env, &err);
		if (rc) {
			fprintf(stderr, "init: %s\n", err.msg);
			break;
		}
		for (int i = 0; i < r; i++)
			ts_policy_tetriserve.on_arrival(pol, &v, i);
		plan.n = 0;
		int64_t t0 = pb_now_ns();
		rc = ts_policy_tetriserve.plan(pol, &v, &plan, &err);
		ns[it] = pb_now_ns() - t0;
		if (rc || !plan.round || plan.n == 0) {
			fprintf(stderr, "plan: rc %d, round %d, %d launches: %s\n", rc, plan.round, plan.n, err.msg);
			rc = rc ? rc : -1;
		}
		ts_policy_tetriserve.close(pol);
	}
	if (!rc)
		pb_summarise(ns, iters, med, p99);
	free(plan.launch);
	free(t.req);
	free(cs.cls);
	free(ns);
	free(st);
	gsl_rng_free(rng);
	return rc;
}

int main(void)
{
	return pb_run_table(bench_one, NULL, 2000, 300);
}
