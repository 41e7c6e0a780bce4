/* plan_bench.c: see plan_bench.h. */
#include "plan_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tetri_fixture.h"

void pb_classes(struct ts_classes *cs, bool batch)
{
	tf_classes(cs, batch);
	for (int c = 0; c < cs->n; c++)
		for (int d = 4; d < TS_NDEG; d++)
			cs->cls[c].step[0][d] = cs->cls[c].step[0][d - 1] * 9 / 10;
}

void pb_queue(struct ts_trace *t, struct ts_req_state *st, int r, gsl_rng *rng)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < r; i++) {
		int c = (int)gsl_rng_uniform_int(rng, 4);
		tf_add(t, 0, c, 50, tf_slo[c] * (0.6 + 1.4 * gsl_rng_uniform(rng)));
		st[i] = (struct ts_req_state){ .steps_done = (int32_t)gsl_rng_uniform_int(rng, 30),
					       .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 };
	}
}

int64_t pb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void pb_summarise(int64_t *ns, int n, double *med_us, double *p99_us)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
	*med_us = (double)ns[n / 2] / 1e3;
	*p99_us = (double)ns[n * 99 / 100] / 1e3;
}

int pb_run_table(pb_bench_fn fn, void *ctx, int iters_small, int iters_large)
{
	static const int gpus[3] = { 4, 8, 64 };
	static const int queued[3] = { 10, 100, 1000 };
	double target = 0;

	printf("%-6s %-8s %12s %12s\n", "gpus", "queued", "median_us", "p99_us");
	for (int g = 0; g < 3; g++) {
		for (int q = 0; q < 3; q++) {
			double med, p99;
			if (fn(ctx, gpus[g], queued[q], queued[q] >= 1000 ? iters_large : iters_small, &med, &p99))
				return 1;
			printf("%-6d %-8d %12.1f %12.1f\n", gpus[g], queued[q], med, p99);
			if (gpus[g] == 8 && queued[q] == 100)
				target = med;
		}
	}
	printf("target: N=8, 100 queued: median %.1f us (limit 100 us)\n", target);
	return target <= 100.0 ? 0 : 1;
}
