/* The baselines fixed-sp and rssp on hand-worked schedules: the groups,
 * the queue orders (FCFS, EDF with ties by arrival), RSSP's map and its
 * strict FCFS, and what each describes of itself. */
#include <string.h>

#include "../sim/sim_fixture.h"
#include "test_util.h"

/* Classes of the fixture: 0: 256^2 (30/22/19/18 ms at SP 1/2/4/8),
 * 1: 512^2 (55/35/26/22), 2: 1024^2 (190/105/60/38), 3: 2048^2 (950/500/265/145). */

static struct ts_classes cs;

static int run(const char *spec, int gpus, const struct ts_trace *t, struct ts_run_result *res,
	       struct fx_sink *sink)
{
	struct ts_error err = { 0 };
	int rc = fx_run(spec, gpus, t, &cs, NULL, res, sink, &err);
	TS_CHECK_MSG(rc == 0, "%s: %s", spec, err.msg);
	return rc;
}

static ts_ns ms(double x)
{
	return ts_ns_from_s(x / 1e3);
}

/* fixed-sp:2 on 4 GPUs: two groups; the third request waits for the first
 * group to free, and every request keeps its group to the end. */
static void test_fixed_groups(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 2, 10, 5); /* 10 x 105 ms = 1050 ms on GPUs 0-1 */
	fx_add(&t, 1, 0.000, 2, 4, 5);  /* 4 x 105 = 420 ms on GPUs 2-3 */
	fx_add(&t, 2, 0.100, 0, 10, 5); /* waits for GPUs 2-3: 420 + 10 x 22 */
	if (run("fixed-sp:2", 4, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[0].finish == ms(1050) && res.st[1].finish == ms(420));
		TS_CHECK(res.st[2].start == ms(420) && res.st[2].finish == ms(640));
		for (size_t i = 0; i < sink.n; i++)
			TS_CHECK(sink.seg[i].gpus == (sink.seg[i].request_id == 0 ? 0x3u : 0xCu));
		TS_CHECK(res.launches == 3 && res.moves == 0);
	}
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
}

/* One GPU, four 256^2 requests queued behind a long one: FCFS serves them
 * in arrival order; order=edf by deadline, equal deadlines by arrival. */
static void test_fixed_orders(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 1, 10, 9);    /* 550 ms */
	fx_add(&t, 1, 0.010, 0, 1, 5.00);  /* deadline 5.010 */
	fx_add(&t, 2, 0.020, 0, 1, 0.99);  /* deadline 1.010 */
	fx_add(&t, 3, 0.030, 0, 1, 0.98);  /* deadline 1.010: same as 2, arrived later */
	fx_add(&t, 4, 0.040, 0, 1, 0.70);  /* deadline 0.740 */
	static const int fcfs[] = { 1, 2, 3, 4 }, edf[] = { 4, 2, 3, 1 };
	const char *specs[] = { "fixed-sp:1", "fixed-sp:1:order=edf", "edf-fixed:1" };
	for (int k = 0; k < 3; k++) {
		const int *want = k ? edf : fcfs;
		if (run(specs[k], 1, &t, &res, &sink))
			continue;
		for (int i = 0; i < 4; i++)
			TS_CHECK_MSG(res.st[want[i]].start == ms(550 + 30 * i), "%s: request %d starts %lld",
				     specs[k], want[i], (long long)res.st[want[i]].start);
		ts_run_result_free(&res);
		free(sink.seg);
	}
	free(t.req);
}

/* rssp on 8 GPUs with its default map: 256^2 and 512^2 on 1 GPU, 1024^2 on
 * 2, 2048^2 on 8; strict FCFS: a 256^2 request behind a waiting 2048^2
 * request waits too, although a GPU is free. */
static void test_rssp_default_map(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 2, 10, 9); /* 1024^2 on GPUs 0-1: 10 x 105 = 1050 ms */
	fx_add(&t, 1, 0.000, 3, 2, 9);  /* 2048^2 needs all 8: waits until 1050, then 2 x 145 */
	fx_add(&t, 2, 0.010, 0, 1, 9);  /* 256^2: behind request 1, starts with it at 1050 */
	if (run("rssp", 8, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[0].finish == ms(1050));
		TS_CHECK(res.st[1].start == ms(1050) && res.st[1].finish == ms(1340));
		TS_CHECK_MSG(res.st[2].start == ms(1340) && res.st[2].finish == ms(1370),
			     "256^2 starts at %lld", (long long)res.st[2].start);
		static const int width[] = { 2, 8, 1 };
		for (size_t i = 0; i < sink.n; i++)
			TS_CHECK(ts_gpus_count(sink.seg[i].gpus) == width[sink.seg[i].request_id]);
	}
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
}

/* A map in either spelling, capped at the node: 2048^2 -> 16 runs on 4. */
static void test_rssp_map_and_describe(void)
{
	struct ts_trace t = { 0 };
	struct ts_error err = { 0 };
	fx_add(&t, 0, 0.000, 3, 1, 9);
	fx_add(&t, 1, 0.000, 0, 1, 9);
	struct ts_policy_env env = { .gpus = 4, .trace = &t, .cls = &cs };
	const char *specs[] = { "rssp:256/2+2048/16", "rssp:256=2,2048=16", "rssp:map=256/2+2048/16" };
	for (int k = 0; k < 3; k++) {
		struct ts_policy p;
		TS_CHECK_MSG(ts_policy_build(specs[k], &env, &p, &err) == 0, "%s: %s", specs[k], err.msg);
		const char *d = p.ops->describe(p.self);
		TS_CHECK_MSG(strstr(d, "\"256x256\":2") && strstr(d, "\"2048x2048\":4"), "%s: %s", specs[k], d);
		ts_policy_close(&p);
	}
	struct ts_policy p;
	TS_CHECK(ts_policy_build("fixed-sp:2:order=edf", &env, &p, &err) == 0);
	TS_CHECK_MSG(!strcmp(p.ops->describe(p.self), "{\"degree\":2,\"order\":\"edf\",\"late\":\"serve\",\"groups\":2}"), "%s",
		     p.ops->describe(p.self));
	ts_policy_close(&p);
	free(t.req);
}

/* The steps segments of request id, in order. */
static int segments_of(const struct fx_sink *k, int64_t id, const struct ts_segment **out, int max)
{
	int n = 0;
	for (size_t i = 0; i < k->n && n < max; i++)
		if (k->seg[i].request_id == id && k->seg[i].kind == TS_SEG_STEPS)
			out[n++] = &k->seg[i];
	return n;
}

/* One GPU, 256^2 (30 ms a step). A runs 0-300 ms; B (5 steps, deadline
 * 360 ms) cannot make it when A ends; C (2 steps, deadline 1020 ms) can.
 * serve: B 300-450 (late), C 450-510. drop: B dropped at 300, C 300-360.
 * defer: B set aside at 300, C 300-360, then B one step a launch from
 * 360; D (1 step) arrives at 400 during B's step 390-420 and starts at 420,
 * held up less than one step; B ends 540. */
static void test_late(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 0, 10, 5);
	fx_add(&t, 1, 0.010, 0, 5, 0.35);
	fx_add(&t, 2, 0.020, 0, 2, 1.0);
	fx_add(&t, 3, 0.400, 0, 1, 1.0);
	if (run("fixed-sp:1", 1, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[1].start == ms(300) && res.st[1].finish == ms(450) && res.st[2].finish == ms(510));
		TS_CHECK(res.dropped == 0);
		ts_run_result_free(&res);
		free(sink.seg);
	}
	if (run("fixed-sp:1:late=drop", 1, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[1].dropped == ms(300) && res.st[1].finish < 0 && res.st[1].start < 0);
		TS_CHECK(res.st[2].start == ms(300) && res.st[2].finish == ms(360) && res.dropped == 1);
		const struct ts_segment *seg[8];
		TS_CHECK(segments_of(&sink, 1, seg, 8) == 0);
		ts_run_result_free(&res);
		free(sink.seg);
	}
	if (run("fixed-sp:1:late=defer", 1, &t, &res, &sink) == 0) {
		const struct ts_segment *seg[8];
		int n = segments_of(&sink, 1, seg, 8);
		TS_CHECK_MSG(n == 5, "request B ran in %d launches", n);
		for (int i = 0; i < n; i++)
			TS_CHECK(seg[i]->nsteps == 1 && seg[i]->first_step == i);
		TS_CHECK(res.st[2].start == ms(300) && res.st[2].finish == ms(360));
		TS_CHECK(n == 5 && seg[0]->start == ms(360) && seg[1]->start == ms(390) && seg[2]->start == ms(450));
		TS_CHECK_MSG(res.st[3].start == ms(420) && res.st[3].finish == ms(450), "D starts at %lld",
			     (long long)res.st[3].start);
		TS_CHECK(res.st[1].finish == ms(540) && res.dropped == 0);
		ts_run_result_free(&res);
		free(sink.seg);
	}
	free(t.req);
}

/* The late test at equality: one GPU, 256^2 (30 ms a step); A runs 0-300
 * ms; B (5 steps) can end at 450 ms if it starts when A ends. A deadline
 * of exactly 450 ms is met, so late=drop serves B (300-450); 1 ns less and
 * B is dropped at 300 ms. */
static void test_late_boundary(void)
{
	for (int tighter = 0; tighter < 2; tighter++) {
		struct ts_trace t = { 0 };
		struct ts_run_result res;
		struct fx_sink sink;
		fx_add(&t, 0, 0.000, 0, 10, 5);
		fx_add(&t, 1, 0.010, 0, 5, 0.44);
		t.req[1].deadline -= tighter;
		TS_CHECK(t.req[1].deadline == ms(450) - tighter);
		if (run("fixed-sp:1:late=drop", 1, &t, &res, &sink) == 0) {
			if (tighter)
				TS_CHECK(res.st[1].dropped == ms(300) && res.st[1].finish < 0);
			else
				TS_CHECK_MSG(res.st[1].dropped < 0 && res.st[1].finish == ms(450),
					     "deadline met exactly: dropped at %lld, finish %lld",
					     (long long)res.st[1].dropped, (long long)res.st[1].finish);
			ts_run_result_free(&res);
			free(sink.seg);
		}
		free(t.req);
	}
}

/* rssp's late option at the head of its strict queue: on 2 GPUs, 1024^2
 * (degree 2 by the map, 105 ms a step) A runs 0-1050 ms; B (1024^2, 4
 * steps, deadline 1.2 s) cannot make it by 1050 + 420; it is dropped and C
 * (256^2, on 1 GPU) starts at 1050 in its place. */
static void test_rssp_late(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 2, 10, 5);
	fx_add(&t, 1, 0.010, 2, 4, 1.19);
	fx_add(&t, 2, 0.020, 0, 2, 5);
	if (run("rssp:order=edf:late=drop", 2, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[0].finish == ms(1050) && res.st[1].dropped == ms(1050));
		TS_CHECK(res.st[2].start == ms(1050) && res.st[2].finish == ms(1110));
		ts_run_result_free(&res);
		free(sink.seg);
	}
	free(t.req);
}

int main(void)
{
	fx_classes(&cs);
	test_late();
	test_late_boundary();
	test_rssp_late();
	test_fixed_groups();
	test_fixed_orders();
	test_rssp_default_map();
	test_rssp_map_and_describe();
	free(cs.cls);
	return ts_test_result("baselines");
}
