/* test_sim_moves.c: the simulator charges a latent move only when a launch
 * uses GPUs outside the request's last GPU set (every GPU of that set holds
 * the latent, as in the executor): a narrower launch on a subset moves
 * nothing; a wider one, or one on other GPUs, pays ts_sim_move_ns(). */
#include <stdint.h>
#include <string.h>

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
	TS_CHECK(move > 0);
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
	ts_run_result_free(&res);
	ts_sim_backend.close(sim);
	free(sink.seg);
	free(t.req);
	free(cs.cls);
}

int main(void)
{
	test_moves_only_to_gpus_lacking_the_latent();
	return ts_test_result("sim_moves");
}
