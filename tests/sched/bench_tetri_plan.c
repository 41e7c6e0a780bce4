/* bench_tetri_plan.c: host time of one TetriServe round decision (the plan
 * call at a round boundary) for N GPUs and R queued requests. Prints median
 * and p99 over repeated boundaries; exits 1 if N = 8, R = 100 takes more
 * than 100 us at the median. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/tetri/tetri_policy.h"
#include "tetri_fixture.h"

/* The fixture's classes extended to SP 16..64 (each doubling 10% faster). */
static void bench_classes(struct ts_classes *cs)
{
	tf_classes(cs, true);
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
 * still make their deadline at 1 GPU, some need more, some are late. */
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

/* Times `iters` boundary decisions; fills med and p99 in microseconds. */
static int bench_one(int gpus, int r, int iters, double *med, double *p99)
{
	struct ts_classes cs;
	struct ts_trace t;
	struct ts_req_state *st = calloc((size_t)r, sizeof(*st));
	int64_t *ns = calloc((size_t)iters, sizeof(*ns));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct ts_plan plan = { 0 };
	struct ts_error err = { 0 };
	void *pol = NULL;
	int rc;

	gsl_rng_set(rng, (unsigned long)(gpus * 1000 + r));
	bench_classes(&cs);
	bench_queue(&t, st, r, rng);
	struct ts_policy_env env = { .gpus = gpus, .trace = &t, .cls = &cs };
	struct ts_sched_view v = { .gpus = gpus, .req = t.req, .st = st, .cls = &cs, .nreq = t.n };
	rc = ts_policy_tetriserve.init(&pol, NULL, &env, &err);
	if (rc) {
		fprintf(stderr, "init: %s\n", err.msg);
		goto out_free;
	}
	for (int i = 0; i < r; i++)
		ts_policy_tetriserve.on_arrival(pol, &v, i);
	/* each call is a boundary: time jumps by a round while deadlines move
	 * with it, so every call sees the same queue */
	for (int it = 0; it < iters; it++) {
		ts_ns shift = (ts_ns)it * 10 * TS_NS_PER_S;
		for (size_t i = 0; i < t.n; i++)
			t.req[i].deadline = t.req[i].slo + shift;
		v.now = shift;
		plan.n = 0;
		int64_t t0 = mono_ns();
		rc = ts_policy_tetriserve.plan(pol, &v, &plan, &err);
		ns[it] = mono_ns() - t0;
		if (rc || !plan.round) {
			fprintf(stderr, "plan: rc %d round %d %s\n", rc, plan.round, err.msg);
			rc = rc ? rc : -1;
			goto out_close;
		}
	}
	qsort(ns, (size_t)iters, sizeof(*ns), cmp_i64);
	*med = (double)ns[iters / 2] / 1e3;
	*p99 = (double)ns[iters * 99 / 100] / 1e3;
out_close:
	ts_policy_tetriserve.close(pol);
out_free:
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
	static const int gpus[3] = { 4, 8, 64 };
	static const int queued[3] = { 10, 100, 1000 };
	double target = 0;

	printf("%-6s %-8s %12s %12s\n", "gpus", "queued", "median_us", "p99_us");
	for (int g = 0; g < 3; g++) {
		for (int q = 0; q < 3; q++) {
			double med, p99;
			int iters = queued[q] >= 1000 ? 300 : 2000;
			if (bench_one(gpus[g], queued[q], iters, &med, &p99))
				return 1;
			printf("%-6d %-8d %12.1f %12.1f\n", gpus[g], queued[q], med, p99);
			if (gpus[g] == 8 && queued[q] == 100)
				target = med;
		}
	}
	printf("target: N=8, 100 queued: median %.1f us (limit 100 us)\n", target);
	return target <= 100.0 ? 0 : 1;
}
