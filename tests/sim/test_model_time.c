/* test_model_time.c: the driver decides on model time (driver.h). Launches
 * the model says end together are planned on together although they end a
 * little apart, in either order; a launch that runs past its window is not
 * waited for, and the policy then sees its observed end; an arrival comes
 * after the launches modelled to end before it. And the property that
 * matters: every policy makes the same decisions, at the same model
 * times, whether launches take exactly their modelled time or deviate
 * within the window and start late by host overhead.
 *
 * The backend is scripted (scripted_backend.h): launch k takes factor(k)
 * times its modelled time and starts delay(k) after the call. */
#include <gsl/gsl_rng.h>
#include <stdint.h>
#include <string.h>

#include "scripted_backend.h"
#include "sim_fixture.h"
#include "test_util.h"

/* A policy that, at its first call, starts request i on GPU i for steps[i]
 * steps, then records the time and busy GPUs of every later call. */
struct recorder {
	const int *steps;
	int nreq;
	bool started;
	bool third, third_started; /* request 2 arrives later: launch it on a free GPU */
	ts_ns t[16];
	uint64_t busy[16];
	int n;
};

static int rec_init(void **self, const char *params, const struct ts_policy_env *env,
		    struct ts_error *err)
{
	(void)self, (void)params, (void)env, (void)err;
	return 0;
}

static int rec_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		    struct ts_error *err)
{
	struct recorder *r = self;
	out->wake_at = -1;
	if (r->started) {
		if (r->n < 16) {
			r->t[r->n] = v->now;
			r->busy[r->n++] = v->busy;
		}
		if (r->third && !r->third_started && v->req[2].arrival <= v->now && v->busy != 3) {
			struct ts_launch l = { .nreq = 1, .req = { 2 }, .gpus = (v->busy & 1) ? 2 : 1,
					       .nsteps = 1 };
			r->third_started = true;
			return ts_plan_push(out, &l, err);
		}
		return 0;
	}
	r->started = true;
	for (int i = 0; i < r->nreq; i++) {
		struct ts_launch l = { .nreq = 1, .req = { i }, .gpus = 1ULL << i, .nsteps = r->steps[i] };
		int rc = ts_plan_push(out, &l, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void rec_close(void *self)
{
	(void)self;
}

static const struct ts_policy_ops rec_ops = {
	.name = "recorder", .init = rec_init, .plan = rec_plan, .close = rec_close,
};

static double factor_of(void *user, int k)
{
	return ((const double *)user)[k];
}

/* Runs two 256x256 requests (30 ms steps at SP 1), started together on
 * GPUs 0 and 1 for steps[0] and steps[1] steps, with duration factors f
 * (one per launch, in launch order); a third request arrives at third_s
 * when that is >= 0. */
static int run_pair_and(const int steps[2], const double *f, double third_s,
			struct recorder *rec)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct scripted b;
	struct ts_run_result res;
	struct ts_error err = { 0 };

	fx_classes(&cs);
	fx_add(&t, 0, 0, 0, steps[0], 10);
	fx_add(&t, 1, 0, 0, steps[1], 10);
	if (third_s >= 0)
		fx_add(&t, 2, third_s, 0, 1, 10);
	scripted_init(&b, &cs);
	b.factor = factor_of;
	b.user = (void *)f;
	memset(rec, 0, sizeof(*rec));
	rec->steps = steps;
	rec->nreq = 2;
	rec->third = third_s >= 0;
	struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 2, .policy = { &rec_ops, rec },
					.backend = { &scripted_ops, &b } };
	int rc = ts_driver_run(&cfg, &res, &err);
	TS_CHECK_MSG(rc == 0, "driver: %s", err.msg);
	ts_run_result_free(&res);
	free(t.req);
	free(cs.cls);
	return rc;
}

static int run_pair(const int steps[2], const double *f, struct recorder *rec)
{
	return run_pair_and(steps, f, -1, rec);
}

static const ts_ns T = 30 * TS_NS_PER_MS;

/* Equal models, the launches end apart within the window, in either
 * order: one plan call, at the modelled end, with both GPUs free. */
static void test_tied_launches_planned_together(void)
{
	static const int steps[2] = { 4, 4 };
	static const double f[][2] = { { 1.001, 0.998 }, { 0.998, 1.001 }, { 0.97, 0.99 }, { 1.04, 1.0 } };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct recorder rec;
		run_pair(steps, f[i], &rec);
		TS_CHECK_MSG(rec.n == 1 && rec.busy[0] == 0 && rec.t[0] == 4 * T,
			     "case %zu: %d calls, first at %lld with busy 0x%llx", i, rec.n,
			     rec.n ? (long long)rec.t[0] : -1LL, rec.n ? (unsigned long long)rec.busy[0] : 0ULL);
	}
}

/* A launch past its window is not waited for beyond it: the driver plans
 * at the other's end with its GPU still busy, and its own end comes at
 * its observed time. */
static void test_straggler_not_waited(void)
{
	static const int steps[2] = { 2, 2 };
	static const double f[2] = { 3.0, 1.0 };
	struct recorder rec;
	run_pair(steps, f, &rec);
	TS_CHECK_MSG(rec.n == 2, "%d plan calls", rec.n);
	TS_CHECK_MSG(rec.t[0] == 2 * T && rec.busy[0] == 1, "first plan at %lld busy 0x%llx",
		     (long long)rec.t[0], (unsigned long long)rec.busy[0]);
	TS_CHECK(rec.t[1] == 6 * T && rec.busy[1] == 0);
}

/* A launch modelled to end later is not waited for, even when it ends
 * within a fraction of a millisecond: its deviation is far outside its
 * window, so its end is its observed time. */
static void test_later_model_not_waited(void)
{
	static const int steps[2] = { 4, 8 };
	static const double f[2] = { 1.0, 0.5 };   /* both end at 4 T */
	static const double g[2] = { 1.0, 0.501 }; /* 0.24 ms apart */
	struct recorder rec;
	run_pair(steps, g, &rec);
	TS_CHECK_MSG(rec.n == 2 && rec.t[0] == 4 * T && rec.busy[0] == 2,
		     "first plan at %lld busy 0x%llx (%d calls)", (long long)rec.t[0],
		     (unsigned long long)rec.busy[0], rec.n);
	TS_CHECK(rec.n == 2 && rec.t[1] == (ts_ns)(0.501 * (double)(8 * T)));
	/* ending at the same instant is still one event */
	run_pair(steps, f, &rec);
	TS_CHECK(rec.n == 1 && rec.t[0] == 4 * T && rec.busy[0] == 0);
}

/* An arrival after the modelled end of both launches comes after them,
 * although one of them ends (within its window) after the arrival: the
 * policy plans at 4 T with both GPUs free, then at the arrival. */
static void test_arrival_after_modelled_ends(void)
{
	static const int steps[2] = { 4, 4 };
	/* GPU 0 free at 4 T, GPU 1 at 4.03 x 4 T = 4.12 T; the third launch's factor last */
	static const double f[3] = { 1.0, 1.03, 1.0 };
	const double arrive_s = 4.05 * (double)T / 1e9;
	const ts_ns arrive = (ts_ns)(arrive_s * 1e9 + 0.5);
	struct recorder rec;
	run_pair_and(steps, f, arrive_s, &rec);
	TS_CHECK_MSG(rec.n >= 2 && rec.t[0] == 4 * T && rec.busy[0] == 0 && rec.t[1] == arrive,
		     "plans at %lld (busy 0x%llx) and %lld, expected at 4 T with both free, then at %lld",
		     rec.n ? (long long)rec.t[0] : -1LL, rec.n ? (unsigned long long)rec.busy[0] : 0ULL,
		     rec.n > 1 ? (long long)rec.t[1] : -1LL, (long long)arrive);
}

/* ---- the same decisions under jitter, for every policy ---- */

struct jitter {
	gsl_rng *rng;
	double spread;   /* factor in [1 - spread, 1 + spread] */
	ts_ns max_delay; /* start delay in [0, max_delay] */
};

static double jitter_factor(void *user, int k)
{
	const struct jitter *j = user;
	(void)k;
	return 1.0 + j->spread * (2 * gsl_rng_uniform(j->rng) - 1);
}

static ts_ns jitter_delay(void *user, int k)
{
	const struct jitter *j = user;
	(void)k;
	return (ts_ns)(gsl_rng_uniform(j->rng) * (double)j->max_delay);
}

/* Runs spec on 4 GPUs over the scripted backend with jitter j (NULL: none)
 * and returns its decision log in *b. */
static void run_logged(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		       struct jitter *j, struct scripted *b)
{
	struct ts_policy_env env = { .gpus = 4, .trace = t, .cls = cs };
	struct ts_policy pol;
	struct ts_run_result res;
	struct ts_error err = { 0 };
	scripted_init(b, cs);
	if (j) {
		b->factor = jitter_factor;
		b->delay = jitter_delay;
		b->user = j;
	}
	int rc = ts_policy_build(spec, &env, &pol, &err);
	if (!rc) {
		struct ts_driver_config cfg = { .trace = t, .cls = cs, .gpus = 4, .policy = pol,
						.backend = { &scripted_ops, b } };
		rc = ts_driver_run(&cfg, &res, &err);
		ts_run_result_free(&res);
		ts_policy_close(&pol);
	}
	TS_CHECK_MSG(rc == 0, "%s: %s", spec, err.msg);
}

/* Every launch within the window (factor within 3%, start up to 0.5 ms
 * late: under max(2 ms, 5%) for any duration): the same decisions at the
 * same model times, for every policy, over three jitter seeds. */
static void test_same_decisions_under_jitter(void)
{
	static const char *specs[] = {
		"fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "rssp", "fixed-sp:4:order=edf:late=defer",
		"fixed-sp:1:order=edf:late=drop", "rssp:order=edf:late=defer", "tetriserve",
		"tetriserve:late=drop", "tetriserve:batching=off",
	};
	struct ts_trace t;
	struct ts_classes cs;
	static struct scripted base, jit;
	fx_classes(&cs);
	fx_random_trace(&t, 80, 16, 11);
	for (size_t i = 0; i < t.n; i += 7)
		t.req[i].cancel_after = t.req[i].slo * 2; /* some clients give up */
	struct jitter j = { .rng = gsl_rng_alloc(gsl_rng_mt19937), .spread = 0.03,
			    .max_delay = TS_NS_PER_MS / 2 };
	for (size_t p = 0; p < sizeof(specs) / sizeof(specs[0]); p++) {
		run_logged(specs[p], &t, &cs, NULL, &base);
		TS_CHECK_MSG(base.nlog >= (int)t.n / 2, "%s: only %d launches", specs[p], base.nlog);
		for (unsigned long seed = 1; seed <= 3; seed++) {
			gsl_rng_set(j.rng, seed);
			run_logged(specs[p], &t, &cs, &j, &jit);
			TS_CHECK_MSG(scripted_same_log(&base, &jit, specs[p]), "%s, jitter seed %lu", specs[p], seed);
		}
	}
	gsl_rng_free(j.rng);
	free(t.req);
	free(cs.cls);
}

/* The check above can fail: outside the window (a launch 20% slow) the
 * decisions of tetriserve change on this trace. */
static void test_decisions_follow_large_deviations(void)
{
	struct ts_trace t;
	struct ts_classes cs;
	static struct scripted base, slow;
	fx_classes(&cs);
	fx_random_trace(&t, 80, 16, 11);
	struct jitter j = { .rng = gsl_rng_alloc(gsl_rng_mt19937), .spread = 0.2 };
	gsl_rng_set(j.rng, 1);
	run_logged("tetriserve", &t, &cs, NULL, &base);
	run_logged("tetriserve", &t, &cs, &j, &slow);
	TS_CHECK_MSG(!scripted_same_log(&base, &slow, "expected to differ"),
		     "decisions did not follow 20%% deviations");
	gsl_rng_free(j.rng);
	free(t.req);
	free(cs.cls);
}

static ts_ns delay_of(void *user, int k)
{
	return ((const ts_ns *)user)[k];
}

/* The driver records the launches whose time from issue to report left the
 * window, a late start included (a loaded host), and keeps the first: two
 * requests of 2 and 3 steps (30 ms each) on GPUs 0 and 1, the second
 * started 5 ms late (its window: 5% of 90 ms, 4.5 ms); then the same with
 * 1 ms, inside. */
static void test_window_misses_recorded(void)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct scripted b;
	struct ts_run_result res;
	struct ts_error err = { 0 };
	static const int steps[2] = { 2, 3 };
	struct recorder rec = { .steps = steps, .nreq = 2 };
	fx_classes(&cs);
	fx_add(&t, 0, 0, 0, steps[0], 10);
	fx_add(&t, 1, 0, 0, steps[1], 10);
	for (int late = 0; late < 2; late++) {
		ts_ns delays[2] = { 0, late ? 5 * TS_NS_PER_MS : TS_NS_PER_MS };
		scripted_init(&b, &cs);
		b.delay = delay_of;
		b.user = delays;
		memset(&rec, 0, sizeof(rec));
		rec.steps = steps;
		rec.nreq = 2;
		struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 2,
						.policy = { &rec_ops, &rec }, .backend = { &scripted_ops, &b } };
		TS_CHECK_MSG(ts_driver_run(&cfg, &res, &err) == 0, "driver: %s", err.msg);
		if (!late) {
			TS_CHECK_MSG(res.window_misses == 0, "1 ms late: %lld misses", (long long)res.window_misses);
		} else {
			const struct ts_window_miss *m = &res.first_miss;
			TS_CHECK_MSG(res.window_misses == 1, "5 ms late: %lld misses", (long long)res.window_misses);
			TS_CHECK_MSG(m->request_id == 1 && m->first_step == 0 && m->nsteps == 3 && m->gpus == 2 &&
					     m->start == 0 && m->issued == 0 && m->modelled == 3 * T &&
					     m->observed == 3 * T + 5 * TS_NS_PER_MS,
				     "first miss: request %lld steps %d gpus 0x%llx start %lld observed %lld modelled %lld",
				     (long long)m->request_id, m->nsteps, (unsigned long long)m->gpus,
				     (long long)m->start, (long long)m->observed, (long long)m->modelled);
		}
		ts_run_result_free(&res);
	}
	free(t.req);
	free(cs.cls);
}

int main(void)
{
	test_tied_launches_planned_together();
	test_straggler_not_waited();
	test_later_model_not_waited();
	test_arrival_after_modelled_ends();
	test_same_decisions_under_jitter();
	test_decisions_follow_large_deviations();
	test_window_misses_recorded();
	return ts_test_result("model_time");
}
