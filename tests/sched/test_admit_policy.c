/* test_admit_policy.c: the admit policy on the simulator: hand-worked
 * schedules (least GPU time in chunks, widening onto idle GPUs, the
 * Moore-Hodgson eviction and evict=newest, growing into a block, the width
 * repair, hopeless requests dropped or deferred), its description, and
 * invariants on random traces and random step tables. */
#include <stdio.h>
#include <string.h>

#include "../sim/sim_fixture.h"
#include "test_util.h"

/* Classes of the fixture: 0: 256^2 (30/22/19/18 ms at SP 1/2/4/8),
 * 1: 512^2 (55/35/26/22), 2: 1024^2 (190/105/60/38), 3: 2048^2 (950/500/265/145). */

static struct ts_classes cs;

static ts_ns ms(double x)
{
	return ts_ns_from_s(x / 1e3);
}

/* Runs spec without move costs, so that times are sums of steps. */
static int run(const char *spec, int gpus, const struct ts_trace *t, struct ts_run_result *res,
	       struct fx_sink *sink)
{
	struct ts_sim_opts so;
	struct ts_error err = { 0 };
	ts_sim_opts_defaults(&so);
	so.move.on = false;
	int rc = fx_run(spec, gpus, t, &cs, &so, res, sink, &err);
	TS_CHECK_MSG(rc == 0, "%s: %s", spec, err.msg);
	return rc;
}

static void done(struct ts_run_result *res, struct fx_sink *sink)
{
	ts_run_result_free(res);
	free(sink->seg);
}

/* The steps segments of request id, in time order. */
static int segments_of(const struct fx_sink *k, int64_t id, const struct ts_segment **out, int max)
{
	int n = 0;
	for (size_t i = 0; i < k->n && n < max; i++)
		if (k->seg[i].request_id == id && k->seg[i].kind == TS_SEG_STEPS)
			out[n++] = &k->seg[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && out[j]->start < out[j - 1]->start; j--) {
			const struct ts_segment *x = out[j];
			out[j] = out[j - 1];
			out[j - 1] = x;
		}
	return n;
}

/* One 256^2 request of 10 steps, 1 s to go, 4 GPUs, launches of 100 ms:
 * its least GPU-time plan is 1 GPU (300 ms), run 3 steps a launch: 0-90,
 * 90-180, 180-270, 270-300 on GPU 0. With fill the first launch widens
 * onto the idle GPUs, 1 -> 2 (4 steps of 22 ms fit 100 ms) -> 4 (5 steps
 * of 19 ms): 0-95 and 95-190 on GPUs 0-3. */
static void test_chunks_and_fill(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	const struct ts_segment *seg[16];
	fx_add(&t, 0, 0.000, 0, 10, 1.0);
	if (run("admit:fill=off:chunk_ms=100", 4, &t, &res, &sink) == 0) {
		int n = segments_of(&sink, 0, seg, 16);
		static const int steps[] = { 3, 3, 3, 1 };
		TS_CHECK_MSG(n == 4, "%d launches", n);
		for (int i = 0; i < n && n == 4; i++)
			TS_CHECK(seg[i]->gpus == 0x1 && seg[i]->nsteps == steps[i] && seg[i]->start == ms(90 * i));
		TS_CHECK(res.st[0].finish == ms(300));
		done(&res, &sink);
	}
	if (run("admit:chunk_ms=100", 4, &t, &res, &sink) == 0) {
		int n = segments_of(&sink, 0, seg, 16);
		TS_CHECK_MSG(n == 2 && seg[0]->gpus == 0xF && seg[0]->nsteps == 5 && seg[1]->gpus == 0xF &&
			     seg[1]->start == ms(95), "%d launches", n);
		TS_CHECK(res.st[0].finish == ms(190));
		done(&res, &sink);
	}
	free(t.req);
}

/* 4 GPUs, launches of 100 ms (a 2048^2 step of 265 ms is one launch).
 * A (2048^2, 10 steps, SLO 2.8 s) runs on all 4 from 0; B (256^2, 20
 * steps, deadline 1.0 s) arrives at 300 ms; at 530 ms (A's launch ends)
 * B needs 2 GPUs (20 x 22 ms: 970) and A, 8 steps left, then ends at 970
 * + 8 x 265 = 3090 > 2800. No other width of B helps: largest (the
 * default) evicts A, which has more GPU time left; B runs 530-970 on GPUs
 * 0-1. newest evicts B, the later arrival: A ends at 530 + 2120. */
static void test_eviction(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	fx_add(&t, 0, 0.000, 3, 10, 2.8);
	fx_add(&t, 1, 0.300, 0, 20, 0.7);
	if (run("admit:fill=off:chunk_ms=100", 4, &t, &res, &sink) == 0) {
		TS_CHECK_MSG(res.st[0].dropped == ms(530) && res.st[0].steps_done == 2, "A dropped at %lld",
			     (long long)res.st[0].dropped);
		TS_CHECK(res.st[1].start == ms(530) && res.st[1].finish == ms(970));
		for (size_t i = 0; i < sink.n; i++)
			if (sink.seg[i].request_id == 1)
				TS_CHECK(sink.seg[i].gpus == 0x3 && sink.seg[i].nsteps <= 4);
		done(&res, &sink);
	}
	if (run("admit:fill=off:chunk_ms=100:evict=newest", 4, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[1].dropped == ms(530) && res.st[1].start < 0);
		TS_CHECK(res.st[0].finish == ms(2650) && res.dropped == 1);
		done(&res, &sink);
	}
	free(t.req);
}

/* A (2048^2, 10 steps, SLO 3.5 s) on 4 GPUs; B (256^2, 40 steps, deadline
 * 1.8 s) arrives at 300 ms. At 530 B takes GPU 0 (1 GPU: 1200 ms, to
 * 1730); A alone on all 4 from 1730 would end at 3850, but it grows into
 * them: 2 steps on GPUs 2-3 (500 ms each) 530-1530, then the last 6 on
 * 0-3 from 1730: 3320. Without grow, the width repair decides: at 530
 * and 625 B needs all 4 GPUs (2 would end at 1410 and 1395, A at 3530 and
 * 3515), 5 steps a launch; at 720, 30 steps left, 2 GPUs suffice (to 1380,
 * A from there: 1380 + 8 x 265 = 3500, its deadline). */
static void test_grow_into(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	const struct ts_segment *seg[16];
	fx_add(&t, 0, 0.000, 3, 10, 3.5);
	fx_add(&t, 1, 0.300, 0, 40, 1.5);
	if (run("admit:fill=off:chunk_ms=100", 4, &t, &res, &sink) == 0) {
		int n = segments_of(&sink, 0, seg, 16);
		TS_CHECK_MSG(n == 10, "A ran in %d launches", n);
		for (int i = 0; i < n && n == 10; i++) {
			static const int64_t start[] = { 0, 265, 530, 1030, 1730 };
			uint64_t g = i == 2 || i == 3 ? 0xC : 0xF;
			TS_CHECK(seg[i]->gpus == g && seg[i]->nsteps == 1);
			TS_CHECK(seg[i]->start == ms(i < 5 ? start[i] : 1730 + 265 * (i - 4)));
		}
		TS_CHECK(res.st[0].finish == ms(3320) && res.st[1].finish == ms(1730));
		TS_CHECK(res.dropped == 0);
		done(&res, &sink);
	}
	if (run("admit:fill=off:chunk_ms=100:grow=off", 4, &t, &res, &sink) == 0) {
		TS_CHECK_MSG(res.st[0].finish == ms(3500) && res.st[1].finish == ms(1380), "A ends %lld, B %lld",
			     (long long)res.st[0].finish, (long long)res.st[1].finish);
		int n = segments_of(&sink, 1, seg, 16);
		TS_CHECK(n == 10 && seg[1]->gpus == 0xF && seg[1]->nsteps == 5 && seg[2]->gpus == 0x3 &&
			 seg[2]->start == ms(720) && seg[2]->nsteps == 4);
		n = segments_of(&sink, 0, seg, 16);
		TS_CHECK(n == 10 && seg[2]->start == ms(1380));
		done(&res, &sink);
	}
	free(t.req);
}

/* The width repair. A (2048^2, 10 steps, deadline 3.1 s) on 4 GPUs; B
 * (512^2, 20 steps, deadline 1.7 s) arrives at 300 ms. At 530 B's least
 * GPU-time plan, 1 GPU to 1630, leaves A (8 left) too late: 2 steps on
 * GPUs 2-3, then 6 on all 4 from 1630: 3220. B on 2 GPUs (700 ms, to
 * 1230) lets A make it: 1 step on 2-3 (530-1030), then 7 on 0-3 from 1230:
 * 3085. Each later call repairs again the same way, so A waits on 2-3 from
 * 1030 to 1230. Without the repair (widen=0) A is evicted. */
static void test_width_repair(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	const struct ts_segment *seg[16];
	fx_add(&t, 0, 0.000, 3, 10, 3.1);
	fx_add(&t, 1, 0.300, 1, 20, 1.4);
	if (run("admit:fill=off:chunk_ms=100", 4, &t, &res, &sink) == 0) {
		TS_CHECK_MSG(res.st[0].finish == ms(3085) && res.st[1].finish == ms(1230),
			     "A ends %lld, B %lld", (long long)res.st[0].finish, (long long)res.st[1].finish);
		int n = segments_of(&sink, 0, seg, 16);
		TS_CHECK(n == 10 && seg[2]->gpus == 0xC && seg[2]->start == ms(530) && seg[3]->start == ms(1230));
		n = segments_of(&sink, 1, seg, 16);
		for (int i = 0; i < n; i++)
			TS_CHECK(seg[i]->gpus == 0x3 && seg[i]->nsteps == 2);
		done(&res, &sink);
	}
	if (run("admit:fill=off:chunk_ms=100:widen=0", 4, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[0].dropped == ms(530) && res.st[1].finish == ms(530 + 1100));
		done(&res, &sink);
	}
	free(t.req);
}

/* One GPU. H (256^2, 5 steps, SLO 100 ms) cannot make it even alone: drop
 * drops it on arrival; defer runs it one step a launch on what nobody
 * needs: 0-30, 30-60; C (256^2, 2 steps, SLO 1 s) arrives at 40 and runs
 * 60-120; H then 120-210. With drop, C runs 40-100. */
static void test_hopeless(void)
{
	struct ts_trace t = { 0 };
	struct ts_run_result res;
	struct fx_sink sink;
	const struct ts_segment *seg[16];
	fx_add(&t, 0, 0.000, 0, 5, 0.1);
	fx_add(&t, 1, 0.040, 0, 2, 1.0);
	if (run("admit:chunk_ms=100", 1, &t, &res, &sink) == 0) {
		TS_CHECK(res.st[0].dropped == 0 && res.st[0].start < 0);
		TS_CHECK(res.st[1].start == ms(40) && res.st[1].finish == ms(100));
		done(&res, &sink);
	}
	if (run("admit:chunk_ms=100:late=defer", 1, &t, &res, &sink) == 0) {
		int n = segments_of(&sink, 0, seg, 16);
		TS_CHECK_MSG(n == 5, "H ran in %d launches", n);
		for (int i = 0; i < n; i++)
			TS_CHECK(seg[i]->nsteps == 1);
		TS_CHECK(n == 5 && seg[1]->start == ms(30) && seg[2]->start == ms(120));
		TS_CHECK(res.st[1].start == ms(60) && res.st[1].finish == ms(120));
		TS_CHECK(res.st[0].finish == ms(210) && res.dropped == 0);
		done(&res, &sink);
	}
	free(t.req);
}

static void test_describe(void)
{
	struct ts_trace t = { 0 };
	struct ts_error err = { 0 };
	struct ts_policy p;
	fx_add(&t, 0, 0.000, 3, 1, 9);
	struct ts_policy_env env = { .gpus = 4, .trace = &t, .cls = &cs };
	TS_CHECK_MSG(ts_policy_build("admit", &env, &p, &err) == 0, "%s", err.msg);
	const char *d = p.ops->describe(p.self);
	TS_CHECK_MSG(strstr(d, "\"evict\":\"largest\",\"late\":\"drop\",\"chunk_steps\":5") &&
		     strstr(d, "\"widen\":4,\"budget\":32") && strstr(d, "\"chunk_len_ms\":275.0") &&
		     strstr(d, "\"ref_step_ms\":55.0"), "%s", d);
	ts_policy_close(&p);
	TS_CHECK(ts_policy_build("admit:evict=oldest", &env, &p, &err) == TS_EINVAL &&
		 strstr(err.msg, "evict"));
	TS_CHECK(ts_policy_build("admit:widen=-1", &env, &p, &err) == TS_EINVAL);
	free(t.req);
}

/* Every request finished with exactly its steps or was dropped (then ran
 * nothing after the drop and fewer than its steps); every launch is on an
 * aligned block of GPUs. Returns the number of violations. */
static int check_outcomes(const struct ts_trace *t, const struct ts_run_result *res,
			  const struct fx_sink *k)
{
	int bad = 0;
	int32_t *ran = calloc(t->n + 1, sizeof(*ran));

	for (size_t i = 0; i < k->n; i++) {
		const struct ts_segment *g = &k->seg[i];
		const struct ts_req_state *s = &res->st[g->request_id];
		if (g->kind != TS_SEG_STEPS)
			continue;
		ran[g->request_id] += g->nsteps;
		bad += !ts_gpus_is_aligned_block(g->gpus);
		bad += s->dropped >= 0 && g->end > s->dropped;
		bad += g->start < t->req[g->request_id].arrival;
	}
	for (size_t r = 0; r < t->n; r++) {
		const struct ts_req_state *s = &res->st[r];
		bool ok = s->finish >= 0 ? s->dropped < 0 && ran[r] == t->req[r].steps
					 : s->dropped >= 0 && ran[r] < t->req[r].steps;
		if (!ok && bad++ < 5)
			fprintf(stderr, "request %zu: finish %lld dropped %lld ran %d of %d\n", r,
				(long long)s->finish, (long long)s->dropped, ran[r], t->req[r].steps);
	}
	free(ran);
	return bad;
}

/* Random Poisson traces (steps 5..50, SLO 0.8-2x the paper's) on 1..8
 * GPUs, light and overloaded, with and without noise, under the options:
 * outcomes as above, no GPU double-booked, runs repeat exactly. */
static void test_invariants(void)
{
	static const char *specs[] = { "admit", "admit:late=defer", "admit:evict=newest",
				       "admit:fill=off:grow=off:widen=0", "admit:chunk_steps=1:budget=0" };
	static const int gpus[] = { 8, 6, 4, 2, 1 };
	for (int k = 0; k < 10; k++) {
		struct ts_trace t;
		struct ts_sim_opts so;
		int g = gpus[k % 5];
		fx_random_trace(&t, 150, (k < 5 ? 3.0 : 12.0) * g, 21 + (unsigned long)k);
		ts_sim_opts_defaults(&so);
		so.noise = k % 2 == 1;
		for (size_t p = 0; p < sizeof(specs) / sizeof(specs[0]); p++) {
			struct ts_run_result res, again;
			struct fx_sink sink, sink2;
			struct ts_error err = { 0 };
			int rc = fx_run(specs[p], g, &t, &cs, &so, &res, &sink, &err);
			TS_CHECK_MSG(rc == 0, "%s on %d GPUs: %s", specs[p], g, err.msg);
			if (rc)
				continue;
			TS_CHECK_MSG(check_outcomes(&t, &res, &sink) == 0, "%s, trace %d", specs[p], k);
			TS_CHECK_MSG(fx_check_no_double_booking(&sink, g) == 0, "%s, trace %d", specs[p], k);
			TS_CHECK(fx_run(specs[p], g, &t, &cs, &so, &again, &sink2, &err) == 0);
			TS_CHECK(again.makespan == res.makespan && again.launches == res.launches &&
				 again.dropped == res.dropped && sink2.n == sink.n);
			done(&again, &sink2);
			done(&res, &sink);
		}
		free(t.req);
	}
}

/* Random step tables (holes, odd shapes) and node sizes 1..16: every run
 * ends with each request finished or dropped, or init refuses a class the
 * node cannot run, naming it. */
static void test_random_profiles(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	int runs = 0;

	gsl_rng_set(rng, 77);
	for (int it = 0; it < 200; it++) {
		struct ts_classes rc_cs;
		struct ts_trace t = { 0 };
		int g = 1 + (int)gsl_rng_uniform_int(rng, 16);
		fx_classes(&rc_cs);
		for (int c = 0; c < rc_cs.n; c++)
			for (int d = 0; d < 5; d++)
				rc_cs.cls[c].step[0][d] = gsl_rng_uniform(rng) < 0.7
					? (ts_ns)((5 + gsl_rng_uniform(rng) * 400) * TS_NS_PER_MS) : -1;
		double now = 0;
		for (int i = 0; i < 40; i++) {
			now += gsl_rng_uniform(rng) * 2.0;
			fx_add(&t, i, now, (int)gsl_rng_uniform_int(rng, 4), 1 + (int)gsl_rng_uniform_int(rng, 60),
			       0.2 + gsl_rng_uniform(rng) * 8);
		}
		struct ts_run_result res;
		struct fx_sink sink;
		struct ts_error err = { 0 };
		const char *spec = it % 2 ? "admit:late=defer" : "admit";
		int rc = fx_run(spec, g, &t, &rc_cs, NULL, &res, &sink, &err);
		if (rc == TS_ENOTFOUND) {
			TS_CHECK(strstr(err.msg, "at any SP degree") != NULL);
		} else {
			TS_CHECK_MSG(rc == 0, "run %d (%d GPUs): %s", it, g, err.msg);
			TS_CHECK(rc != 0 || check_outcomes(&t, &res, &sink) == 0);
			TS_CHECK(rc != 0 || fx_check_no_double_booking(&sink, g) == 0);
			runs += rc == 0;
			done(&res, &sink);
		}
		free(t.req);
		free(rc_cs.cls);
	}
	TS_CHECK(runs > 100);
	gsl_rng_free(rng);
}

int main(void)
{
	fx_classes(&cs);
	test_chunks_and_fill();
	test_eviction();
	test_grow_into();
	test_width_repair();
	test_hopeless();
	test_describe();
	test_invariants();
	test_random_profiles();
	free(cs.cls);
	return ts_test_result("admit_policy");
}
