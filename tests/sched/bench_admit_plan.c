/* bench_admit_plan.c: host time of one admit plan call (a full decision:
 * the virtual schedule of every queued request with admission, repairs and
 * evictions, then the launches) for N GPUs and R queued requests, on idle
 * GPUs. Prints median and p99 over repeated calls; exits 1 if N = 8,
 * R = 100 takes more than 100 us at the median. */
#include <stdio.h>
#include <stdlib.h>

#include "sched/admit/admit_policy.h"
#include "plan_bench.h"

/* Times `iters` decisions; fills med and p99 in microseconds. Each is the
 * first call of a fresh policy on the queue (construction not timed), so
 * each makes the whole decision: no eviction is remembered. */
static int bench_one(void *ctx, int gpus, int r, int iters, double *med, double *p99)
{
	const char *spec = ctx;
	struct ts_classes cs;
	struct ts_trace t;
	struct ts_req_state *st = calloc((size_t)r, sizeof(*st));
	int64_t *ns = calloc((size_t)iters, sizeof(*ns));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct ts_plan plan = { 0 };
	struct ts_error err = { 0 };
	struct ts_policy pol = { 0 };
	int rc;

	gsl_rng_set(rng, (unsigned long)(gpus * 1000 + r));
	pb_classes(&cs, false);
	pb_queue(&t, st, r, rng);
	struct ts_policy_env env = { .gpus = gpus, .trace = &t, .cls = &cs };
	struct ts_sched_view v = { .gpus = gpus, .req = t.req, .st = st, .cls = &cs, .nreq = t.n };
	for (int it = 0; it < iters; it++) {
		rc = ts_policy_build(spec, &env, &pol, &err);
		if (rc) {
			fprintf(stderr, "init: %s\n", err.msg);
			goto out_free;
		}
		for (int i = 0; i < r; i++)
			pol.ops->on_arrival(pol.self, &v, i);
		plan.n = plan.ndrop = 0;
		int64_t t0 = pb_now_ns();
		rc = pol.ops->plan(pol.self, &v, &plan, &err);
		ns[it] = pb_now_ns() - t0;
		if (rc || plan.n == 0) {
			fprintf(stderr, "plan: rc %d, %d launches: %s\n", rc, plan.n, err.msg);
			rc = rc ? rc : -1;
			goto out_close;
		}
		ts_policy_close(&pol);
	}
	pb_summarise(ns, iters, med, p99);
out_close:
	ts_policy_close(&pol);
out_free:
	free(plan.launch);
	free(plan.drop);
	free(t.req);
	free(cs.cls);
	free(ns);
	free(st);
	gsl_rng_free(rng);
	return rc;
}

int main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : "admit";

	printf("%s\n", spec);
	return pb_run_table(bench_one, (void *)spec, 500, 50);
}
