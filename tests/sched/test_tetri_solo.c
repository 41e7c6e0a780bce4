/* test_tetri_solo.c: tetriserve's queues and its solo launch.
 *  - the indexed heap of idle requests against a plain sorted model;
 *  - solo launches change only the number of launches: on random traces,
 *    profiles (step times that do not fall with the degree among them),
 *    node sizes, switches and client cancels, every request runs the same
 *    steps on the same GPUs at the same times with solo=on and solo=off
 *    (contiguous pieces on one GPU set merged), and finishes or is dropped
 *    at the same time;
 *  - a lone request of a million steps is one launch, one that a later
 *    arrival would meet is not. */
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "sched/tetri/tetri_queue.h"
#include "sim_backend.h"
#include "sim_run.h"
#include "test_util.h"
#include "tetri_fixture.h"

static void test_iheap(void)
{
	enum { N = 200 };
	ts_ns key[N];
	bool in[N] = { false };
	struct tetri_iheap h;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

	TS_CHECK(tetri_iheap_init(&h, N, key) == 0);
	for (int i = 0; i < N; i++)
		key[i] = (ts_ns)gsl_rng_uniform_int(rng, 20);   /* many ties: broken by index */
	for (int op = 0; op < 20000; op++) {
		int32_t r = (int32_t)gsl_rng_uniform_int(rng, N), best = -1;
		if (in[r]) {
			tetri_iheap_remove(&h, r);
		} else {
			key[r] = (ts_ns)gsl_rng_uniform_int(rng, 20);
			tetri_iheap_push(&h, r);
		}
		in[r] = !in[r];
		for (int32_t i = 0; i < N; i++)
			if (in[i] && (best < 0 || key[i] < key[best]))
				best = i;
		TS_CHECK_MSG(tetri_iheap_top(&h) == best, "op %d: top %d, expected %d", op,
			     tetri_iheap_top(&h), best);
		TS_CHECK(tetri_iheap_has(&h, r) == in[r]);
	}
	while (tetri_iheap_top(&h) >= 0)
		in[tetri_iheap_pop(&h)] = false;
	for (int i = 0; i < N; i++)
		TS_CHECK(!in[i]);
	tetri_iheap_free(&h);
	gsl_rng_free(rng);
}

/* Keeps steps segments, merging one that continues the last of its
 * request on the same GPUs without a gap; moves as they come. */
static int sink_segment(void *self, const struct ts_segment *s, struct ts_error *err)
{
	struct fx_sink *k = self;

	for (size_t i = k->n; s->kind == TS_SEG_STEPS && i-- > 0;) {
		struct ts_segment *p = &k->seg[i];
		if (p->request_id != s->request_id)
			continue;
		if (p->kind == TS_SEG_STEPS && p->gpus == s->gpus && p->batch == s->batch &&
		    p->end == s->start && p->first_step + p->nsteps == s->first_step) {
			p->end = s->end;
			p->nsteps += s->nsteps;
			return 0;
		}
		break;
	}
	return fx_sink_segment(self, s, err);
}

static const struct ts_sink_ops sink_ops = { .segment = sink_segment };

static int sim_run(const char *spec, int gpus, const struct ts_trace *t, const struct ts_classes *cs,
		   struct ts_run_result *res, struct fx_sink *sink, struct ts_error *err)
{
	memset(sink, 0, sizeof(*sink));
	return ts_test_sim_run(spec, gpus, t, cs, NULL, &sink_ops, sink, res, err);
}

/* Random step table: mostly falling with the degree, sometimes not. */
static void random_classes(struct ts_classes *cs, gsl_rng *rng)
{
	tf_classes(cs, gsl_rng_uniform(rng) < 0.5);
	for (int c = 0; c < cs->n; c++)
		for (int d = 0; d < 5; d++) {
			ts_ns t = (ts_ns)((10 + gsl_rng_uniform(rng) * 300) * TS_NS_PER_MS) >> d;
			if (gsl_rng_uniform(rng) < 0.2)
				t = d ? -1 : t;               /* a hole */
			else if (gsl_rng_uniform(rng) < 0.2 && d)
				t = cs->cls[c].step[0][d - 1] + TS_NS_PER_MS;  /* slower than half */
			cs->cls[c].step[0][d] = d && cs->cls[c].step[0][d - 1] < 0 && t < 0 ? -1 : t;
		}
}

/* One random configuration: solo on and off agree; returns the launches
 * saved. */
static int64_t compare_once(gsl_rng *rng, int it)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct ts_run_result a, b;
	struct fx_sink sa, sb;
	struct ts_error err = { 0 };
	int gpus = 1 + (int)gsl_rng_uniform_int(rng, 8);
	double now = 0, rate = 0.5 + gsl_rng_uniform(rng) * 6;   /* seconds between arrivals */
	char on[128], off[128];
	int64_t saved = 0;

	random_classes(&cs, rng);
	for (int i = 0; i < 60; i++) {
		now += gsl_rng_uniform(rng) * rate;
		tf_add(&t, now, (int)gsl_rng_uniform_int(rng, 4), 1 + (int)gsl_rng_uniform_int(rng, 80),
		       0.2 + gsl_rng_uniform(rng) * 10);
		if (gsl_rng_uniform(rng) < 0.1)
			t.req[t.n - 1].cancel_after = ts_ns_from_s(gsl_rng_uniform(rng) * 4);
	}
	snprintf(off, sizeof(off), "tetriserve:placement=%s:batching=%s:late=%s:round_steps=%d:solo=off",
		 gsl_rng_uniform(rng) < 0.5 ? "off" : "on", gsl_rng_uniform(rng) < 0.5 ? "off" : "on",
		 gsl_rng_uniform(rng) < 0.3 ? "drop" : "serve", 1 + (int)gsl_rng_uniform_int(rng, 10));
	snprintf(on, sizeof(on), "%.*s=on", (int)strlen(off) - 4, off);
	int rc = sim_run(off, gpus, &t, &cs, &a, &sa, &err);
	if (rc == TS_ENOTFOUND)
		goto out;   /* a class the node cannot run */
	TS_CHECK_MSG(rc == 0, "run %d: %s", it, err.msg);
	TS_CHECK_MSG(sim_run(on, gpus, &t, &cs, &b, &sb, &err) == 0, "run %d: %s", it, err.msg);
	TS_CHECK_MSG(sa.n == sb.n, "run %d (%s, %d GPUs): %zu merged segments with solo off, %zu on",
		     it, on, gpus, sa.n, sb.n);
	for (size_t i = 0; i < sa.n && i < sb.n; i++)
		TS_CHECK_MSG(memcmp(&sa.seg[i], &sb.seg[i], sizeof(sa.seg[i])) == 0,
			     "run %d (%s, %d GPUs): segment %zu of request %lld differs", it, on, gpus, i,
			     (long long)sa.seg[i].request_id);
	for (size_t i = 0; i < t.n; i++)
		TS_CHECK_MSG(a.st[i].finish == b.st[i].finish && a.st[i].dropped == b.st[i].dropped &&
			     a.st[i].start == b.st[i].start, "run %d: request %zu", it, i);
	saved = a.launches - b.launches;
	TS_CHECK(saved >= 0);
	ts_run_result_free(&a);
	ts_run_result_free(&b);
	free(sb.seg);
out:
	free(sa.seg);
	free(t.req);
	free(cs.cls);
	return saved;
}

static void test_solo_same_schedule(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	int64_t saved = 0;

	gsl_rng_set(rng, 5);
	for (int it = 0; it < 200; it++)
		saved += compare_once(rng, it);
	printf("solo launches saved %lld launches over 200 runs\n", (long long)saved);
	TS_CHECK(saved > 1000);
	gsl_rng_free(rng);
}

/* A lone request of 10^6 steps is one launch; a second request arriving
 * before it would end makes it run round by round until then. */
static void test_solo_long(void)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	struct ts_error err = { 0 };

	tf_classes(&cs, false);
	tf_add(&t, 0, 0, 1000000, 1e6);
	TS_CHECK(sim_run("tetriserve", 8, &t, &cs, &res, &sink, &err) == 0);
	TS_CHECK_MSG(res.launches == 1 && res.rounds == 1 && sink.n == 1, "%lld launches",
		     (long long)res.launches);
	TS_CHECK(res.st[0].finish == 1000000 * (ts_ns)(18 * TS_NS_PER_MS));
	ts_run_result_free(&res);
	free(sink.seg);
	tf_add(&t, 100.0, 0, 50, 1.5);
	TS_CHECK(sim_run("tetriserve", 8, &t, &cs, &res, &sink, &err) == 0);
	TS_CHECK_MSG(res.launches > 100, "%lld launches", (long long)res.launches);
	TS_CHECK(res.st[1].finish > 0 && res.st[1].finish <= t.req[1].deadline);
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
	free(cs.cls);
}

int main(void)
{
	test_iheap();
	test_solo_same_schedule();
	test_solo_long();
	return ts_test_result("tetri_solo");
}
