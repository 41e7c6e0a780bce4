/* test_tetri_gpuplan.c: the GPU-time-minimal plan equals brute force, meets
 * every deadline that can be met, and handles the cases where "two adjacent
 * hull degrees" is not enough. */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "sched/tetri/tetri_gpuplan.h"
#include "test_util.h"

/* Exhaustive search over every assignment of degrees to steps (as
 * multisets): the least (gpu time, time) within budget. */
struct brute {
	const struct ts_tetri_degs *d;
	int64_t best_cost;
	ts_ns best_time;
	bool found;
};

static void brute_rec(struct brute *b, int32_t i, int32_t left, ts_ns budget, int64_t cost, ts_ns time)
{
	const struct ts_tetri_degs *d = b->d;

	if (i == d->nall - 1) {
		cost += (int64_t)left * d->all_deg[i] * d->all_t[i];
		time += (int64_t)left * d->all_t[i];
		if (time > budget)
			return;
		if (!b->found || cost < b->best_cost || (cost == b->best_cost && time < b->best_time)) {
			b->best_cost = cost;
			b->best_time = time;
			b->found = true;
		}
		return;
	}
	for (int32_t n = 0; n <= left; n++)
		brute_rec(b, i + 1, left - n, budget, cost + (int64_t)n * d->all_deg[i] * d->all_t[i],
			  time + (int64_t)n * d->all_t[i]);
}

static void check_plan_shape(const struct ts_tetri_degs *d, const struct ts_tetri_plan *p,
			     int32_t steps, ts_ns budget)
{
	int32_t sum = 0;
	int64_t cost = 0;
	ts_ns time = 0;

	for (int32_t m = 0; m < p->n; m++) {
		ts_ns t = ts_tetri_degs_step(d, p->seg[m].deg);
		TS_CHECK(t > 0);
		TS_CHECK(p->seg[m].steps > 0);
		TS_CHECK(m == 0 || p->seg[m - 1].deg < p->seg[m].deg);
		sum += p->seg[m].steps;
		cost += (int64_t)p->seg[m].steps * p->seg[m].deg * t;
		time += (int64_t)p->seg[m].steps * t;
	}
	TS_CHECK_MSG(sum == steps, "plan has %d steps, want %d", sum, steps);
	TS_CHECK(cost == p->gpu_ns);
	TS_CHECK(time == p->time);
	TS_CHECK_MSG(time <= budget, "plan takes %lld > budget %lld", (long long)time, (long long)budget);
}

/* A random step table: `shaped` gives the usual profile (time falls,
 * GPU time rises with the degree); otherwise anything, holes included. */
static void random_table(gsl_rng *rng, bool shaped, ts_ns step[TS_NDEG], int32_t *max_deg)
{
	int32_t ndeg = 1 + (int32_t)gsl_rng_uniform_int(rng, 5);

	for (int32_t i = 0; i < TS_NDEG; i++)
		step[i] = -1;
	*max_deg = 1 << (ndeg - 1);
	for (int32_t i = 0; i < ndeg; i++) {
		if (shaped)
			step[i] = i == 0 ? 20 + (ts_ns)gsl_rng_uniform_int(rng, 200)
					 : step[i - 1] / 2 + 1 + (ts_ns)gsl_rng_uniform_int(rng, (unsigned long)step[i - 1] / 2 + 1);
		else if (gsl_rng_uniform(rng) < 0.8)
			step[i] = 1 + (ts_ns)gsl_rng_uniform_int(rng, 60);
	}
	if (!shaped && step[0] < 0 && step[ndeg - 1] < 0)
		step[0] = 7;
}

static void test_against_brute_force(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	int32_t compared = 0;

	gsl_rng_set(rng, 11);
	for (int it = 0; it < 6000; it++) {
		ts_ns step[TS_NDEG];
		int32_t max_deg, steps = 1 + (int32_t)gsl_rng_uniform_int(rng, 12);
		struct ts_tetri_degs d;
		struct ts_tetri_plan p;
		random_table(rng, it % 2 == 0, step, &max_deg);
		if (ts_tetri_degs_build(&d, step, max_deg) == 0)
			continue;
		ts_ns slow = 0;
		for (int32_t i = 0; i < d.nall; i++)
			slow = d.all_t[i] > slow ? d.all_t[i] : slow;
		ts_ns budget = (ts_ns)((double)steps * (double)d.tmin * 0.9 +
				       gsl_rng_uniform(rng) * (double)steps * (double)(slow - d.tmin) * 1.2);
		struct brute b = { .d = &d };
		brute_rec(&b, 0, steps, budget, 0, 0);
		bool ok = ts_tetri_min_gpu_plan(&d, steps, budget, &p);
		TS_CHECK_MSG(ok == b.found, "it %d: plan %d brute %d", it, ok, b.found);
		/* a plan exists exactly when the fastest degree meets the budget */
		TS_CHECK(ok == ((int64_t)steps * d.tmin <= budget));
		if (!ok || !b.found) {
			TS_CHECK(p.n == 0);
			continue;
		}
		check_plan_shape(&d, &p, steps, budget);
		TS_CHECK_MSG(p.gpu_ns == b.best_cost && p.time == b.best_time,
			     "it %d steps %d budget %lld: plan (%lld, %lld) brute (%lld, %lld)", it, steps,
			     (long long)budget, (long long)p.gpu_ns, (long long)p.time,
			     (long long)b.best_cost, (long long)b.best_time);
		compared++;
	}
	TS_CHECK(compared > 3000);
	gsl_rng_free(rng);
}

static void table(ts_ns step[TS_NDEG], ts_ns t1, ts_ns t2, ts_ns t4, ts_ns t8)
{
	for (int i = 0; i < TS_NDEG; i++)
		step[i] = -1;
	step[0] = t1, step[1] = t2, step[2] = t4, step[3] = t8;
}

static int32_t steps_at(const struct ts_tetri_plan *p, int32_t deg)
{
	for (int32_t m = 0; m < p->n; m++)
		if (p->seg[m].deg == deg)
			return p->seg[m].steps;
	return 0;
}

/* The cases of docs/SCHEDULER.md where the integer optimum is not made of
 * two adjacent convex-hull degrees. */
static void test_hull_counterexamples(void)
{
	ts_ns step[TS_NDEG];
	struct ts_tetri_degs d;
	struct ts_tetri_plan p;

	/* three distinct degrees: 1 + 2 + 4, cost 215, time 122 */
	table(step, 67, 36, 19, 15);
	ts_tetri_degs_build(&d, step, 8);
	TS_CHECK(ts_tetri_min_gpu_plan(&d, 3, 126, &p));
	TS_CHECK(p.n == 3 && steps_at(&p, 1) == 1 && steps_at(&p, 2) == 1 && steps_at(&p, 4) == 1);
	TS_CHECK(p.gpu_ns == 215 && p.time == 122);
	/* a degree off the hull (2) is optimal: 2 + 4, cost 302 */
	table(step, 74, 65, 43, 39);
	ts_tetri_degs_build(&d, step, 8);
	TS_CHECK(ts_tetri_min_gpu_plan(&d, 2, 108, &p));
	TS_CHECK(steps_at(&p, 2) == 1 && steps_at(&p, 4) == 1 && p.gpu_ns == 302);
}

static void test_paper_example_and_edges(void)
{
	ts_ns step[TS_NDEG];
	struct ts_tetri_degs d;
	struct ts_tetri_plan p;

	/* 1024^2-like: 190/105/60/38 ms. A loose budget keeps every step on 1 GPU. */
	table(step, 190, 105, 60, 38);
	TS_CHECK(ts_tetri_degs_build(&d, step, 8) == 4);
	TS_CHECK(d.tmin == 38 && d.np == 4);
	TS_CHECK(ts_tetri_min_gpu_plan(&d, 20, 20 * 190, &p));
	TS_CHECK(p.n == 1 && p.seg[0].deg == 1 && p.seg[0].steps == 20);
	/* a tighter one mixes degrees and never exceeds the budget */
	TS_CHECK(ts_tetri_min_gpu_plan(&d, 20, 1500, &p));
	TS_CHECK(p.time <= 1500 && p.n >= 2);
	/* exactly the fastest plan fits; one ns less does not */
	TS_CHECK(ts_tetri_min_gpu_plan(&d, 20, 20 * 38, &p));
	TS_CHECK(p.n == 1 && p.seg[0].deg == 8);
	TS_CHECK(!ts_tetri_min_gpu_plan(&d, 20, 20 * 38 - 1, &p));
	TS_CHECK(p.n == 0);
	/* degrees above the node are ignored */
	TS_CHECK(ts_tetri_degs_build(&d, step, 2) == 2);
	TS_CHECK(d.tmin == 105);
	/* a degree that is slower and costlier than another is never used */
	table(step, 50, 60, 30, -1);
	ts_tetri_degs_build(&d, step, 8);
	TS_CHECK(d.np == 2 && d.deg[0] == 4 && d.deg[1] == 1);
	TS_CHECK(ts_tetri_degs_step(&d, 2) == 60 && ts_tetri_degs_step(&d, 8) == -1);
	/* no cell at all */
	table(step, -1, -1, -1, -1);
	TS_CHECK(ts_tetri_degs_build(&d, step, 8) == 0);
	TS_CHECK(!ts_tetri_min_gpu_plan(&d, 5, 1000000, &p));
}

/* Realistic sizes (7 degrees, up to 300 steps, any budget that can be met)
 * always get a valid plan within the budget. */
static void test_large_instances(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

	gsl_rng_set(rng, 5);
	for (int it = 0; it < 2000; it++) {
		ts_ns step[TS_NDEG];
		struct ts_tetri_degs d;
		struct ts_tetri_plan p;
		int32_t steps = 1 + (int32_t)gsl_rng_uniform_int(rng, 300);
		step[0] = 10000000 + (ts_ns)gsl_rng_uniform_int(rng, 1000000000);
		for (int i = 1; i < TS_NDEG; i++)
			step[i] = (ts_ns)((double)step[i - 1] * (0.5 + 0.5 * gsl_rng_uniform(rng)));
		ts_tetri_degs_build(&d, step, 64);
		ts_ns budget = (ts_ns)((double)steps * (double)d.tmin *
				       (1.0 + 8.0 * gsl_rng_uniform(rng)));
		TS_CHECK(ts_tetri_min_gpu_plan(&d, steps, budget, &p));
		check_plan_shape(&d, &p, steps, budget);
	}
	gsl_rng_free(rng);
}

int main(void)
{
	test_against_brute_force();
	test_hull_counterexamples();
	test_paper_example_and_edges();
	test_large_instances();
	return ts_test_result("tetri_gpuplan");
}
