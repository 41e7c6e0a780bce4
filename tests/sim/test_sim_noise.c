/* test_sim_noise.c: the simulator's noisy launch times (--noise), called
 * directly, against the law docs/ARCHITECTURE.md states: n steps of mean T
 * and coefficient of variation cv take N(nT, n (cv T)^2), clipped at half
 * the mean. The expected values are the normal law's, worked out here, not
 * read from the simulator. */
#include <math.h>
#include <stdlib.h>

#include "sim_fixture.h"
#include "test_util.h"

#define DRAWS 4000

/* Runs DRAWS launches of `steps` steps of the fixture's class c on one GPU
 * with the step's CV set to cv, one after another; fills d[] with each
 * launch's duration. */
static void draw(int c, double cv, int steps, uint64_t seed, ts_ns *d)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct ts_sim_opts so;
	struct ts_error err = { 0 };
	void *sim = NULL;

	fx_classes(&cs);
	cs.cls[c].cv[0][0] = cv;
	fx_add(&t, 0, 0, c, steps, 100);
	struct ts_req_state st = { .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 };
	struct ts_sched_view v = { .gpus = 1, .req = t.req, .st = &st, .cls = &cs, .nreq = 1 };
	struct ts_launch l = { .nreq = 1, .req = { 0 }, .gpus = 1, .nsteps = steps };
	ts_sim_opts_defaults(&so);
	so.noise = true;
	so.seed = seed;
	TS_CHECK(ts_sim_create(&sim, &so, &cs, &err) == 0);
	for (int i = 0; sim && i < DRAWS; i++) {
		struct ts_completion done;
		v.now = ts_sim_backend.now(sim);
		d[i] = -1;
		if (ts_sim_backend.launch(sim, 0, &l, &v, &err) ||
		    ts_sim_backend.wait(sim, INT64_MAX, &done, &err) != 1) {
			TS_CHECK_MSG(0, "launch %d: %s", i, err.msg);
			break;
		}
		TS_CHECK(done.steps_start == done.start); /* no move: the request never ran elsewhere */
		d[i] = done.end - done.steps_start;
	}
	ts_sim_backend.close(sim);
	free(t.req);
	free(cs.cls);
}

/* One 30 ms step with cv 2: a draw falls below half the mean (15 ms) with
 * probability Phi(-0.25) = 0.4013, far below it (under 3 ms, a tenth
 * of the mean) with Phi(-0.45) = 0.3264. Every such draw takes exactly 15 ms;
 * draws between half the mean and 0.9 of it (Phi(-0.05) - Phi(-0.25) =
 * 0.0788) keep their value. Tolerances are 4 standard errors of DRAWS. */
static void test_clip_at_half_the_mean(void)
{
	static ts_ns d[DRAWS];
	const ts_ns half = 15 * TS_NS_PER_MS, mean = 30 * TS_NS_PER_MS;
	size_t clipped = 0, between = 0, below = 0;

	draw(0, 2.0, 1, 12345, d);
	for (int i = 0; i < DRAWS; i++) {
		below += d[i] < half;
		clipped += d[i] == half;
		between += d[i] > half && d[i] < mean * 9 / 10;
	}
	printf("cv 2: %zu of %d clipped, %zu in (0.5, 0.9) of the mean\n", clipped, DRAWS, between);
	TS_CHECK_MSG(below == 0, "%zu draws below half the mean", below);
	TS_CHECK_NEAR((double)clipped / DRAWS, 0.4013, 0.031);
	TS_CHECK_NEAR((double)between / DRAWS, 0.0788, 0.017);
}

/* Sixteen 55 ms steps with cv 0.05: the total has mean 880 ms and standard
 * deviation 0.05 x 55 x sqrt(16) = 11 ms (not 16 x 2.75 = 44 ms: the steps
 * are independent); no draw comes near the clip. */
static void test_sum_of_steps(void)
{
	static ts_ns d[DRAWS];
	double sum = 0, sum2 = 0;

	draw(1, 0.05, 16, 7, d);
	for (int i = 0; i < DRAWS; i++) {
		double x = (double)d[i] / 1e6;
		sum += x;
		sum2 += x * x;
	}
	double m = sum / DRAWS, sd = sqrt(sum2 / DRAWS - m * m);
	printf("16 steps, cv 0.05: mean %.3f ms, sd %.3f ms\n", m, sd);
	TS_CHECK_NEAR(m, 880.0, 4 * 11.0 / sqrt(DRAWS));
	TS_CHECK_NEAR(sd / 11.0, 1.0, 0.05);
}

int main(void)
{
	test_clip_at_half_the_mean();
	test_sum_of_steps();
	return ts_test_result("sim_noise");
}
