/* test_sim_moves.c: the simulator charges a latent move only when a launch
 * uses GPUs outside the request's last GPU set (every GPU of that set holds
 * the latent, as in the executor): a narrower launch on a subset moves
 * nothing; a wider one, or one on other GPUs, pays ts_sim_move_ns(), whose
 * values are written out here from the documented formula; the GPU time of
 * such a run (utilisation's numerator) counts the moves, worked by hand. */
#include <stdint.h>
#include <string.h>

#include "report/summary.h"
#include "sim_fixture.h"
#include "test_util.h"

/* A policy running request 0 one step at a time on the GPU sets of `path`. */
struct walker {
	const uint64_t *path;
	int n, next;
};

static int walk_init(void **self, const char *params, const struct ts_policy_env *env,
		     struct ts_error *err)
{
	(void)self, (void)params, (void)env, (void)err;
	return 0;
}

static int walk_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		     struct ts_error *err)
{
	struct walker *w = self;
	out->wake_at = -1;
	if (v->busy || w->next == w->n)
		return 0;
	struct ts_launch l = { .nreq = 1, .req = { 0 }, .gpus = w->path[w->next++], .nsteps = 1 };
	return ts_plan_push(out, &l, err);
}

static void walk_close(void *self)
{
	(void)self;
}

static const struct ts_policy_ops walk_ops = {
	.name = "walker", .init = walk_init, .plan = walk_plan, .close = walk_close,
};

/* The GPU time of the walk below, by hand, moves included: steps of 105,
 * 190, 60, 105, 105 and 105 ms on 2, 1, 4, 2, 2 and 2 GPUs, and moves of
 * 40486 ns on 4 and on 2 GPUs; the summary's utilisation over 4 GPUs. */
static void check_gpu_time(const struct ts_trace *t, const struct ts_run_result *res)
{
	struct ts_summary sum;
	struct ts_error err = { 0 };
	TS_CHECK_MSG(res->busy_gpu_ns == 1270 * TS_NS_PER_MS + 6 * 40486, "busy GPU time %lld ns",
		     (long long)res->busy_gpu_ns);
	TS_CHECK(res->makespan == 670 * TS_NS_PER_MS + 2 * 40486);
	TS_CHECK(ts_summary_compute(&sum, t, res, 4, &err) == 0);
	TS_CHECK_NEAR(sum.gpu_util, 1270.242916 / (4 * 670.080972), 1e-12);
}

static void test_moves_only_to_gpus_lacking_the_latent(void)
{
	/* {0,1} -> {0} subset -> {0..3} wider -> {2,3} subset -> {0,1} other GPUs
	 * -> {0,1} same set */
	static const uint64_t path[] = { 0x3, 0x1, 0xf, 0xc, 0x3, 0x3 };
	static const bool moves[] = { false, false, true, false, true, false };
	const int n = (int)(sizeof(path) / sizeof(path[0]));
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct walker w = { .path = path, .n = n };
	struct fx_sink sink = { 0 };
	struct ts_sim_opts so;
	struct ts_run_result res;
	struct ts_error err = { 0 };
	void *sim = NULL;

	fx_classes(&cs);
	fx_add(&t, 0, 0, 2, n, 100); /* 1024x1024 */
	ts_sim_opts_defaults(&so);
	TS_CHECK(ts_sim_create(&sim, &so, &cs, &err) == 0);
	struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 4, .policy = { &walk_ops, &w },
					.backend = { &ts_sim_backend, sim }, .sink = &fx_sink_ops,
					.sink_self = &sink };
	TS_CHECK_MSG(ts_driver_run(&cfg, &res, &err) == 0, "driver: %s", err.msg);
	ts_ns move = ts_sim_move_ns(&so, 1024, 1024);
	TS_CHECK(move == 40486); /* test_move_formula */
	ts_ns launch_at = 0;
	size_t i = 0;
	for (int k = 0; k < n; k++) {
		ts_ns step = ts_class_step(&cs, 2, ts_gpus_count(path[k]), 1);
		bool moved = i < sink.n && sink.seg[i].kind == TS_SEG_MOVE;
		TS_CHECK_MSG(moved == moves[k], "launch %d on 0x%llx: move segment %d", k,
			     (unsigned long long)path[k], moved);
		if (moved) {
			TS_CHECK(sink.seg[i].start == launch_at && sink.seg[i].end == launch_at + move);
			i++;
		}
		TS_CHECK_MSG(i < sink.n && sink.seg[i].kind == TS_SEG_STEPS && sink.seg[i].gpus == path[k],
			     "launch %d: no steps segment", k);
		if (i >= sink.n)
			break;
		ts_ns steps_at = launch_at + (moves[k] ? move : 0);
		TS_CHECK_MSG(sink.seg[i].start == steps_at && sink.seg[i].end == steps_at + step,
			     "launch %d: steps [%lld, %lld], expected from %lld", k,
			     (long long)sink.seg[i].start, (long long)sink.seg[i].end, (long long)steps_at);
		launch_at = sink.seg[i].end;
		i++;
	}
	TS_CHECK(i == sink.n);
	/* the driver still counts every change of GPU set */
	TS_CHECK(res.moves == 2); /* the driver counts as the backend charges */
	check_gpu_time(&t, &res);
	ts_run_result_free(&res);
	ts_sim_backend.close(sim);
	free(sink.seg);
	free(t.req);
	free(cs.cls);
}

/* The move cost written out: a bf16 latent of (H/8)(W/8) x 16 values,
 * 30 us + bytes / (50 GB/s), rounded to the ns; the options change both. */
static void test_move_formula(void)
{
	struct ts_sim_opts so;
	ts_sim_opts_defaults(&so);
	/* 128 x 128 x 16 x 2 = 524288 bytes: 10485.76 ns at 50 bytes/ns */
	TS_CHECK(ts_sim_move_ns(&so, 1024, 1024) == 30000 + 10486);
	/* 256 x 256 x 32 = 2097152 bytes: 41943.04 ns */
	TS_CHECK(ts_sim_move_ns(&so, 2048, 2048) == 30000 + 41943);
	/* 64 x 128 x 32 = 262144 bytes: 5242.88 ns, either orientation */
	TS_CHECK(ts_sim_move_ns(&so, 512, 1024) == 30000 + 5243);
	TS_CHECK(ts_sim_move_ns(&so, 1024, 512) == 30000 + 5243);
	so.move.fixed_ns = 0;
	so.move.gbps = 100;
	TS_CHECK(ts_sim_move_ns(&so, 1024, 1024) == 5243);
	so.move.on = false;
	TS_CHECK(ts_sim_move_ns(&so, 1024, 1024) == 0);
}

int main(void)
{
	test_move_formula();
	test_moves_only_to_gpus_lacking_the_latent();
	return ts_test_result("sim_moves");
}
