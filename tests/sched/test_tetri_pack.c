/* test_tetri_pack.c: round options, survival, and Algorithm 1 (the packing
 * DP) against exhaustive search over every option assignment. */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "sched/tetri/tetri_round.h"
#include "test_util.h"

#define MAX_R 6

struct best {
	int32_t surv, gpus;
	int32_t pick[MAX_R];
	bool found;
};

/* Is assignment a better than b under the documented order: more survivors,
 * fewer GPUs, then smaller picks scanning from the last item? */
static bool better(int32_t surv, int32_t gpus, const int32_t *pick, int32_t n, const struct best *b)
{
	if (!b->found || surv != b->surv)
		return !b->found || surv > b->surv;
	if (gpus != b->gpus)
		return gpus < b->gpus;
	for (int32_t i = n - 1; i >= 0; i--)
		if (pick[i] != b->pick[i])
			return pick[i] < b->pick[i];
	return false;
}

static void exhaustive(const struct ts_tetri_item *it, int32_t n, int32_t gpus, int32_t i,
		       int32_t *pick, int32_t surv, int32_t used, struct best *b)
{
	if (i == n) {
		if (better(surv, used, pick, n, b)) {
			b->surv = surv;
			b->gpus = used;
			memcpy(b->pick, pick, (size_t)n * sizeof(*pick));
			b->found = true;
		}
		return;
	}
	for (int32_t o = 0; o < it[i].nopt; o++) {
		if (used + it[i].opt[o].width > gpus)
			continue;
		pick[i] = o;
		exhaustive(it, n, gpus, i + 1, pick, surv + it[i].opt[o].survives,
			   used + it[i].opt[o].width, b);
	}
}

static void random_item(gsl_rng *rng, int32_t gpus, struct ts_tetri_item *it)
{
	int32_t w = 1;

	it->nopt = 1;
	it->opt[0] = (struct ts_tetri_opt){ .survives = gsl_rng_uniform(rng) < 0.3 };
	while (w <= gpus && it->nopt < TS_TETRI_MAX_OPT) {
		if (gsl_rng_uniform(rng) < 0.6)
			it->opt[it->nopt++] = (struct ts_tetri_opt){
				.width = w, .q = 1, .survives = gsl_rng_uniform(rng) < 0.6,
			};
		w *= 2;
	}
}

static void test_dp_equals_exhaustive(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct ts_tetri_pack pk;
	struct ts_error err = { 0 };

	gsl_rng_set(rng, 42);
	TS_CHECK(ts_tetri_pack_init(&pk, MAX_R, 8, &err) == 0);
	for (int inst = 0; inst < 20000; inst++) {
		struct ts_tetri_item it[MAX_R];
		int32_t n = 1 + (int32_t)gsl_rng_uniform_int(rng, MAX_R);
		int32_t gpus = 1 + (int32_t)gsl_rng_uniform_int(rng, 8);
		int32_t pick[MAX_R], scratch[MAX_R], used, surv, sum_w = 0, sum_s = 0;
		struct best b = { 0 };
		for (int32_t i = 0; i < n; i++)
			random_item(rng, gpus, &it[i]);
		exhaustive(it, n, gpus, 0, scratch, 0, 0, &b);
		surv = ts_tetri_pack_solve(&pk, it, n, gpus, pick, &used);
		for (int32_t i = 0; i < n; i++) {
			sum_w += it[i].opt[pick[i]].width;
			sum_s += it[i].opt[pick[i]].survives;
		}
		TS_CHECK_MSG(surv == b.surv, "instance %d: DP %d survivors, exhaustive %d", inst, surv, b.surv);
		TS_CHECK_MSG(used == b.gpus, "instance %d: DP %d GPUs, exhaustive %d", inst, used, b.gpus);
		TS_CHECK(sum_w == used && used <= gpus && sum_s == surv);
		TS_CHECK_MSG(memcmp(pick, b.pick, (size_t)n * sizeof(*pick)) == 0,
			     "instance %d: tie-break differs", inst);
	}
	ts_tetri_pack_free(&pk);
	gsl_rng_free(rng);
}

static void test_pack_errors(void)
{
	struct ts_tetri_pack pk;
	struct ts_error err = { 0 };

	TS_CHECK(ts_tetri_pack_init(&pk, 4, 65, &err) == TS_EINVAL);
	TS_CHECK(strstr(err.msg, "65 GPUs") != NULL);
	TS_CHECK(ts_tetri_pack_init(&pk, 0, 8, &err) == TS_EINVAL);
	ts_tetri_pack_free(&pk);
}

static void test_fit_and_survival(void)
{
	struct ts_tetri_frame f = { .now = 1000, .end = 1500, .boundary = true };

	TS_CHECK(ts_tetri_fit_steps(&f, 100) == 5);
	TS_CHECK(ts_tetri_fit_steps(&f, 101) == 4);
	TS_CHECK(ts_tetri_fit_steps(&f, 700) == 1);   /* a step longer than a round */
	f.boundary = false;
	TS_CHECK(ts_tetri_fit_steps(&f, 700) == 0);   /* mid-round: wait for the boundary */
	/* finishing this round: judged by the finish time itself */
	TS_CHECK(ts_tetri_survives(&f, 3, 3, 100, 50, 1300));
	TS_CHECK(!ts_tetri_survives(&f, 3, 3, 100, 50, 1299));
	/* not finishing: next boundary + lower bound */
	TS_CHECK(ts_tetri_survives(&f, 5, 3, 100, 50, 1600));
	TS_CHECK(!ts_tetri_survives(&f, 5, 3, 100, 50, 1599));
	TS_CHECK(ts_tetri_survives(&f, 5, 0, 0, 50, 1750));   /* "none" */
	TS_CHECK(!ts_tetri_survives(&f, 5, 0, 0, 50, 1749));
}

static void test_options(void)
{
	ts_ns step[TS_NDEG] = { 100, 60, 40, 30, -1, -1, -1 };
	struct ts_tetri_degs d;
	struct ts_tetri_plan p = { .n = 2, .seg = { { .steps = 3, .deg = 1 }, { .steps = 10, .deg = 4 } } };
	struct ts_tetri_frame f = { .now = 0, .end = 250, .boundary = true };
	struct ts_tetri_item it;

	ts_tetri_degs_build(&d, step, 8);
	ts_tetri_options(&d, &p, 13, 700, &f, &it);
	TS_CHECK(it.nopt == 3);
	TS_CHECK(it.opt[0].width == 0 && it.opt[0].q == 0);
	/* none: 250 + 13 * 30 = 640 <= 700 */
	TS_CHECK(it.opt[0].survives);
	/* 1 GPU: q = min(3, 250/100 = 2) = 2; 250 + 11 * 30 = 580 */
	TS_CHECK(it.opt[1].width == 1 && it.opt[1].q == 2 && it.opt[1].survives);
	/* 4 GPUs: q = min(10, 250/40 = 6) = 6 */
	TS_CHECK(it.opt[2].width == 4 && it.opt[2].q == 6 && it.opt[2].survives);
	/* a deadline only the 4-GPU option meets: 250 + 7 * 30 = 460 */
	ts_tetri_options(&d, &p, 13, 460, &f, &it);
	TS_CHECK(!it.opt[0].survives && !it.opt[1].survives && it.opt[2].survives);
	/* mid-round with 30 ns left: the 1- and 4-GPU steps do not fit, dropped */
	f = (struct ts_tetri_frame){ .now = 220, .end = 250 };
	ts_tetri_options(&d, &p, 13, 700, &f, &it);
	TS_CHECK(it.nopt == 1);
}

int main(void)
{
	test_dp_equals_exhaustive();
	test_pack_errors();
	test_fit_and_survival();
	test_options();
	return ts_test_result("tetri_pack");
}
