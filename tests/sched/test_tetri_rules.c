/* test_tetri_rules.c: the "tetriserve" policy's rules at their exact
 * boundaries, each expected value worked out here by hand rather than taken
 * from the code under test: a request is late only when even its fastest
 * steps end after its deadline (equality is on time), a batch forms only
 * when it is cheaper than its requests run apart (equality is not), a due
 * round waits for a launch ending within 5% of a round, and elastic
 * scale-up breaks a tie of gains in favour of the earlier launch. */
#include "core/gpuset.h"
#include "sched/tetri/tetri_state.h"
#include "test_util.h"
#include "tetri_world.h"

static const ts_ns ms = TS_NS_PER_MS;

/* One GPU, 256^2 (30 ms a step, the fastest there is on one GPU): 25 steps
 * from t = 0 end at 750 ms. A deadline of exactly 750 ms is on time: with
 * late=drop the request runs; 1 ns less and it is dropped. With
 * late=serve an on-time request goes before a later-deadline one, a late
 * one after it. */
static void test_late_boundary(void)
{
	for (int tighter = 0; tighter < 2; tighter++) {
		struct world w;
		world_begin(&w, false);
		tf_add(&w.t, 0, 0, 25, 0.75);
		w.t.req[0].deadline -= tighter;
		TS_CHECK(w.t.req[0].deadline == 750 * ms - tighter);
		TS_CHECK(world_start(&w, 1, 0, "late=drop", NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0);
		if (tighter)
			TS_CHECK_MSG(w.plan.ndrop == 1 && w.plan.n == 0, "1 ns short: %d drops, %d launches",
				     w.plan.ndrop, w.plan.n);
		else
			TS_CHECK_MSG(w.plan.ndrop == 0 && w.plan.n == 1 && w.plan.launch[0].req[0] == 0,
				     "deadline = now + 25 x 30 ms: %d drops, %d launches", w.plan.ndrop, w.plan.n);
		world_end(&w);
	}
	for (int tighter = 0; tighter < 2; tighter++) {
		struct world w;
		world_begin(&w, false);
		tf_add(&w.t, 0, 0, 25, 0.75);
		tf_add(&w.t, 0, 0, 10, 5.0);
		w.t.req[0].deadline -= tighter;
		TS_CHECK(world_start(&w, 1, 0, NULL, NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0);
		TS_CHECK_MSG(w.plan.n == 1 && w.plan.launch[0].req[0] == (tighter ? 1 : 0),
			     "late=serve, %s: first launch is request %d", tighter ? "late" : "on time",
			     w.plan.n ? w.plan.launch[0].req[0] : -1);
		world_end(&w);
	}
}

/* One GPU, two 256^2 requests with time to spare, a batch-2 cell only.
 * At exactly twice the single step (60 ms) the batch saves nothing and
 * does not form; at 60 ms - 1 ns it forms, for the 4 steps that fit the
 * 275 ms round (4 x 59.999999 ms). */
static void test_batch_cost_boundary(void)
{
	for (int cheaper = 0; cheaper < 2; cheaper++) {
		struct world w;
		world_begin(&w, false);
		w.cs.cls[0].step[1][0] = 60 * ms - cheaper;
		tf_add(&w.t, 0, 0, 10, 3.0);
		tf_add(&w.t, 0, 0, 10, 3.0);
		TS_CHECK(world_start(&w, 1, 0, NULL, NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0);
		TS_CHECK(w.plan.n == 1 && w.plan.round);
		const struct ts_launch *l = w.plan.n == 1 ? &w.plan.launch[0] : &(struct ts_launch){ 0 };
		if (cheaper)
			TS_CHECK_MSG(l->nreq == 2 && l->nsteps == 4, "batch cell 1 ns cheaper: nreq %d, %d steps",
				     l->nreq, l->nsteps);
		else   /* solo: 9 steps of 30 ms fit the round */
			TS_CHECK_MSG(l->nreq == 1 && l->nsteps == 9, "batch cell = 2 steps: nreq %d, %d steps",
				     l->nreq, l->nsteps);
		world_end(&w);
	}
}

/* At a due boundary (tau = 5 x 55 ms = 275 ms) a launch still running on
 * 7 of 8 GPUs ends 4.9% of a round later (13.475 ms): the round waits for
 * it. Ending 5.1% later (14.025 ms) it does not: the round goes ahead. */
static void test_drain_slack(void)
{
	const ts_ns tau = 275 * ms;
	static const struct {
		ts_ns after;
		bool waits;
	} cases[] = { { 13475000, true }, { 14025000, false } };

	for (int k = 0; k < 2; k++) {
		struct world w;
		world_begin(&w, false);
		tf_add(&w.t, 0, 2, 50, 30.0);
		TS_CHECK(world_start(&w, 8, 0, "solo=off", NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0 && w.plan.round && w.plan.wake_at == tau);
		w.v.busy = 0xFE;
		w.st[0] = (struct ts_req_state){ .steps_inflight = 7, .gpus = 0xFE, .start = 0, .finish = -1,
						 .inflight_end = tau + cases[k].after, .dropped = -1 };
		TS_CHECK(world_plan(&w, tau) == 0);
		TS_CHECK_MSG(w.plan.round == !cases[k].waits, "launch ending %.3f ms after the boundary: round %d",
			     (double)cases[k].after / 1e6, w.plan.round);
		if (cases[k].waits)
			TS_CHECK(w.plan.n == 0 && w.plan.wake_at == -1);
		else
			TS_CHECK(w.plan.wake_at == 2 * tau);
		world_end(&w);
	}
}

/* Elastic scale-up with a tie: on 6 GPUs, two solo 1024^2 launches (190 ms
 * a step, 105 ms on two GPUs, 10 steps left each) on GPU 4 and on GPU 2,
 * GPUs 3 and 5 busy elsewhere, GPUs 0-1 idle. Either launch gains
 * (190 - 105) x 10 ms by moving to GPUs 0-1, and only one can; the earlier
 * launch (index 0) takes them, for the 2 steps of 105 ms that fit the
 * round, and the GPU it leaves is idle. */
static void test_scale_up_tie(void)
{
	struct ts_classes cs;
	struct tetri tp;
	struct ts_tetri_frame f = { .now = 0, .end = 275 * ms, .boundary = true };
	uint64_t idle = 0x03;

	tf_classes(&cs, false);
	memset(&tp, 0, sizeof(tp));
	tp.gpus = 6;
	tp.all = ts_gpus_all(6);
	tp.cs = &cs;
	tp.njob = 2;
	for (int i = 0; i < 2; i++)
		tp.job[i] = (struct tetri_job){ .l = { .nreq = 1, .req = { i }, .gpus = i ? 0x04 : 0x10, .nsteps = 1 },
						.cls = 2, .left = 10, .t_step = 190 * ms };
	ts_tetri_scale_up(&tp, &f, &idle, false);
	TS_CHECK_MSG(tp.job[0].l.gpus == 0x03 && tp.job[1].l.gpus == 0x04,
		     "tie went to launch %d: GPU sets %#llx and %#llx", tp.job[0].l.gpus == 0x03 ? 0 : 1,
		     (unsigned long long)tp.job[0].l.gpus, (unsigned long long)tp.job[1].l.gpus);
	TS_CHECK(tp.job[0].t_step == 105 * ms && tp.job[0].l.nsteps == 2);
	TS_CHECK(tp.job[1].t_step == 190 * ms && tp.job[1].l.nsteps == 1);
	TS_CHECK_MSG(idle == 0x10, "idle %#llx", (unsigned long long)idle);
	free(cs.cls);
}

int main(void)
{
	test_late_boundary();
	test_batch_cost_boundary();
	test_drain_slack();
	test_scale_up_tie();
	return ts_test_result("tetri_rules");
}
