/* bench_admit_plan.c: host time of one admit plan call (a full decision:
 * the virtual schedule of every queued request with admission, repairs and
 * evictions, then the launches) for N GPUs and R queued requests, on idle
 * GPUs. Prints median and p99 over repeated calls; exits 1 if N = 8,
 * R = 100 takes more than 100 us at the median. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/admit/admit_policy.h"
#include "tetri_fixture.h"

/* The fixture's classes extended to SP 16..64 (each doubling 10% faster). */
static void bench_classes(struct ts_classes *cs)
{
	tf_classes(cs, false);
	for (int c = 0; c < cs->n; c++)
		for (int d = 4; d < TS_NDEG; d++)
			cs->cls[c].step[0][d] = cs->cls[c].step[0][d - 1] * 9 / 10;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* R requests queued at time 0 with some progress and mixed slack: some can
 * still make their deadline at 1 GPU, some need more, some cannot. */
static void bench_queue(struct ts_trace *t, struct ts_req_state *st, int r, gsl_rng *rng)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < r; i++) {
		int c = (int)gsl_rng_uniform_int(rng, 4);
		tf_add(t, 0, c, 50, tf_slo[c] * (0.6 + 1.4 * gsl_rng_uniform(rng)));
		st[i] = (struct ts_req_state){ .steps_done = (int32_t)gsl_rng_uniform_int(rng, 30),
					       .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 };
	}
}

/* Times `iters` decisions; fills med and p99 in microseconds. Each is the
 * first call of a fresh policy on the queue (construction not timed), so
 * each makes the whole decision: no eviction is remembered. */
static int bench_one(const char *spec, int gpus, int r, int iters, double *med, double *p99)
{
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
	bench_classes(&cs);
	bench_queue(&t, st, r, rng);
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
		int64_t t0 = mono_ns();
		rc = pol.ops->plan(pol.self, &v, &plan, &err);
		ns[it] = mono_ns() - t0;
		if (rc || plan.n == 0) {
			fprintf(stderr, "plan: rc %d, %d launches: %s\n", rc, plan.n, err.msg);
			rc = rc ? rc : -1;
			goto out_close;
		}
		ts_policy_close(&pol);
	}
	qsort(ns, (size_t)iters, sizeof(*ns), cmp_i64);
	*med = (double)ns[iters / 2] / 1e3;
	*p99 = (double)ns[iters * 99 / 100] / 1e3;
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
	static const int gpus[3] = { 4, 8, 64 };
	static const int queued[3] = { 10, 100, 1000 };
	const char *spec = argc > 1 ? argv[1] : "admit";
	double target = 0;

	printf("%s\n%-6s %-8s %12s %12s\n", spec, "gpus", "queued", "median_us", "p99_us");
	for (int g = 0; g < 3; g++) {
		for (int q = 0; q < 3; q++) {
			double med, p99;
			int iters = queued[q] >= 1000 ? 50 : 500;
			if (bench_one(spec, gpus[g], queued[q], iters, &med, &p99))
				return 1;
			printf("%-6d %-8d %12.1f %12.1f\n", gpus[g], queued[q], med, p99);
			if (gpus[g] == 8 && queued[q] == 100)
				target = med;
		}
	}
	printf("target: N=8, 100 queued: median %.1f us (limit 100 us)\n", target);
	return target <= 100.0 ? 0 : 1;
}
