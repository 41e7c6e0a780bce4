/* Requests that leave without finishing: a client's cancel time (the
 * trace's cancel_s) on hand-worked schedules, tetriserve:late=drop, and on
 * random traces with cancels and noise under every policy (admit's drops
 * included): no segment after a drop,
 * every request finished, dropped or neither, the driver's counts equal
 * to the rows. */
#include "sim_fixture.h"
#include "test_util.h"

static struct ts_classes cs;

static ts_ns ms(double x)
{
	return ts_ns_from_s(x / 1e3);
}

/* One GPU, 256^2 (30 ms a step). A (10 steps) gives up at 100 ms: it runs
 * alone, so it is cut at its first step boundary at or after 100 ms, 120 ms,
 * after 4 steps, and dropped then. B (waiting) gives up at 50 ms: dropped
 * then, never ran. C starts at 120 ms. */
static void test_cancel_hand(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	struct ts_error err = { 0 };
	fx_add(&t, 0, 0.000, 0, 10, 5);
	fx_add(&t, 1, 0.000, 0, 2, 5);
	fx_add(&t, 2, 0.010, 0, 2, 5);
	t.req[0].cancel_after = ms(100);
	t.req[1].cancel_after = ms(50);
	TS_CHECK_MSG(fx_run("fixed-sp:1", 1, &t, &cs, NULL, &res, &sink, &err) == 0, "%s", err.msg);
	TS_CHECK(res.st[0].dropped == ms(120) && res.st[0].steps_done == 4 && res.st[0].finish < 0);
	TS_CHECK(res.st[1].dropped == ms(50) && res.st[1].start < 0);
	TS_CHECK(res.st[2].start == ms(120) && res.st[2].finish == ms(180));
	TS_CHECK(res.dropped == 2);
	for (size_t i = 0; i < sink.n; i++) {
		const struct ts_segment *s = &sink.seg[i];
		TS_CHECK(s->request_id != 1);
		if (s->request_id == 0)
			TS_CHECK(s->nsteps == 4 && s->end == ms(120));
	}
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
}

/* A cancel that falls on a step boundary: the request that finishes its
 * last step exactly then has finished. */
static void test_cancel_at_finish(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	struct ts_error err = { 0 };
	fx_add(&t, 0, 0.000, 0, 4, 5);
	t.req[0].cancel_after = ms(120);
	TS_CHECK(fx_run("fixed-sp:1", 1, &t, &cs, NULL, &res, &sink, &err) == 0);
	TS_CHECK(res.st[0].finish == ms(120) && res.st[0].dropped < 0 && res.dropped == 0);
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
}

/* tetriserve:late=drop drops a request that cannot make it even at its
 * fastest degree when it is first considered: a 2048^2 request of 2 steps
 * (145 ms at SP 8... but 1 GPU here: 950 ms) with 1 s of SLO on 1 GPU. */
static void test_tetriserve_late_drop(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	struct ts_error err = { 0 };
	fx_add(&t, 0, 0.500, 3, 2, 1.0);
	fx_add(&t, 1, 0.500, 0, 2, 1.0);
	TS_CHECK_MSG(fx_run("tetriserve:late=drop", 1, &t, &cs, NULL, &res, &sink, &err) == 0, "%s", err.msg);
	TS_CHECK(res.st[0].dropped == ms(500) && res.st[0].start < 0);
	TS_CHECK(res.st[1].finish == ms(560));
	ts_run_result_free(&res);
	free(sink.seg);
	TS_CHECK(fx_run("tetriserve", 1, &t, &cs, NULL, &res, &sink, &err) == 0);
	TS_CHECK(res.st[0].dropped < 0 && res.st[0].finish > 0 && res.dropped == 0);
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
}

/* Every request is finished, dropped or (never, here) left; a dropped one
 * has no segment ending after its drop time; the counts agree. */
static int check_outcomes(const struct ts_trace *t, const struct ts_run_result *res,
			  const struct fx_sink *k)
{
	int bad = 0;
	int64_t dropped = 0;
	for (size_t r = 0; r < t->n; r++) {
		const struct ts_req_state *s = &res->st[r];
		bad += (s->finish >= 0) == (s->dropped >= 0);
		dropped += s->dropped >= 0;
		for (size_t i = 0; s->dropped >= 0 && i < k->n; i++)
			bad += k->seg[i].request_id == t->req[r].id && k->seg[i].end > s->dropped;
		const struct ts_request *q = &t->req[r];
		bad += s->finish >= 0 && q->cancel_after > 0 && s->finish > q->arrival + q->cancel_after;
	}
	return bad + (dropped != res->dropped);
}

static void test_random_cancels(void)
{
	static const char *specs[] = {
		"fixed-sp:1", "fixed-sp:2:order=edf:late=defer", "fixed-sp:4:late=drop",
		"rssp:order=edf:late=defer", "tetriserve", "tetriserve:late=drop",
		"admit", "admit:late=defer", "admit:evict=newest:fill=off",
	};
	struct ts_trace t;
	fx_random_trace(&t, 300, 40, 11);
	for (size_t i = 0; i < t.n; i++)
		if (i % 3 == 0)
			t.req[i].cancel_after = ts_ns_from_s(0.2 + (double)(i % 17) * 0.15);
	struct ts_sim_opts so;
	ts_sim_opts_defaults(&so);
	so.noise = true;
	for (size_t p = 0; p < sizeof(specs) / sizeof(specs[0]); p++) {
		struct ts_run_result res;
		struct fx_sink sink;
		struct ts_error err = { 0 };
		int rc = fx_run(specs[p], 8, &t, &cs, &so, &res, &sink, &err);
		TS_CHECK_MSG(rc == 0, "%s: %s", specs[p], err.msg);
		if (!rc) {
			TS_CHECK_MSG(check_outcomes(&t, &res, &sink) == 0, "%s: outcomes", specs[p]);
			TS_CHECK_MSG(fx_check_no_double_booking(&sink, 8) == 0, "%s double-books", specs[p]);
			TS_CHECK_MSG(res.dropped > 0, "%s: no drop", specs[p]);
			printf("%-34s dropped %lld of %zu\n", specs[p], (long long)res.dropped, t.n);
		}
		ts_run_result_free(&res);
		free(sink.seg);
	}
	free(t.req);
}

int main(void)
{
	fx_classes(&cs);
	test_cancel_hand();
	test_cancel_at_finish();
	test_tetriserve_late_drop();
	test_random_cancels();
	free(cs.cls);
	return ts_test_result("drops");
}
