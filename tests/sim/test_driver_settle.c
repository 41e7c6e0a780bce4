/* test_driver_settle.c: the driver plans once for launches the profile says
 * end together, although on hardware they finish a little apart and in
 * either order; it waits for such a launch at most one of its steps past
 * its predicted end, and never for a launch predicted to end later.
 *
 * The backend here is scripted: launch k takes factor[k] x its profile
 * time, the way real steps run a little slower or faster than the profile. */
#include <stdint.h>
#include <string.h>

#include "sim_fixture.h"
#include "test_util.h"

#define MAX_EVENTS 8

struct scripted {
	const double *factor;  /* duration multiplier of launch k, by launch order */
	int nlaunch;
	const struct ts_classes *cls;
	struct ts_completion ev[MAX_EVENTS];
	int nev;
	ts_ns now;
};

static ts_ns scripted_now(void *self)
{
	return ((struct scripted *)self)->now;
}

static int scripted_launch(void *self, int32_t id, const struct ts_launch *l,
			   const struct ts_sched_view *v, struct ts_error *err)
{
	struct scripted *b = self;
	const struct ts_request *q = &v->req[l->req[0]];
	ts_ns t = ts_class_step(b->cls, q->cls, ts_gpus_count(l->gpus), l->nreq) * l->nsteps;
	if (b->nev == MAX_EVENTS)
		return ts_err_set(err, TS_ENOMEM, "scripted backend: too many launches");
	b->ev[b->nev++] = (struct ts_completion){
		.launch_id = id, .nsteps = l->nsteps, .start = b->now, .steps_start = b->now,
		.end = b->now + (ts_ns)(b->factor[b->nlaunch++] * (double)t),
	};
	return 0;
}

/* The earliest pending completion up to `until`, like the simulator. */
static int scripted_wait(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err)
{
	struct scripted *b = self;
	int best = -1;
	(void)err;
	for (int i = 0; i < b->nev; i++)
		if (best < 0 || b->ev[i].end < b->ev[best].end)
			best = i;
	if (best >= 0 && b->ev[best].end <= until) {
		*c = b->ev[best];
		b->ev[best] = b->ev[--b->nev];
		b->now = c->end;
		return 1;
	}
	if (until != INT64_MAX && until > b->now)
		b->now = until;
	return 0;
}

static void scripted_close(void *self)
{
	(void)self;
}

static const struct ts_backend_ops scripted_ops = {
	.name = "scripted", .now = scripted_now, .launch = scripted_launch,
	.wait = scripted_wait, .close = scripted_close,
};

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

/* Runs two 256x256 requests (30 ms steps at SP 1), started together on
 * GPUs 0 and 1 for steps[0] and steps[1] steps, with duration factors f
 * (one per launch, in launch order); a third request arrives at third_s
 * when that is >= 0. */
static int run_pair_and(const int steps[2], const double *f, double third_s,
			struct recorder *rec)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct scripted b = { .factor = f };
	struct ts_run_result res;
	struct ts_error err = { 0 };

	fx_classes(&cs);
	fx_add(&t, 0, 0, 0, steps[0], 10);
	fx_add(&t, 1, 0, 0, steps[1], 10);
	if (third_s >= 0)
		fx_add(&t, 2, third_s, 0, 1, 10);
	b.cls = &cs;
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

/* Equal predictions, the second launch finishes first: one plan call, at
 * the later end, with both GPUs free (whichever order they end in). */
static void test_tied_launches_planned_together(void)
{
	static const int steps[2] = { 4, 4 };
	static const double f[][2] = { { 1.001, 0.998 }, { 0.998, 1.001 }, { 0.97, 0.99 } };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct recorder rec;
		run_pair(steps, f[i], &rec);
		ts_ns later = (ts_ns)((f[i][0] > f[i][1] ? f[i][0] : f[i][1]) * (double)(4 * T));
		TS_CHECK_MSG(rec.n >= 1 && rec.busy[0] == 0, "case %zu: first plan with busy 0x%llx", i,
			     rec.n ? (unsigned long long)rec.busy[0] : 0ULL);
		TS_CHECK_MSG(rec.n >= 1 && rec.t[0] == later, "case %zu: first plan at %lld, expected %lld", i,
			     rec.n ? (long long)rec.t[0] : -1LL, (long long)later);
	}
}

/* A tied launch that runs more than one step late is not waited for: the
 * driver plans one step past its predicted end with its GPU still busy. */
static void test_straggler_wait_bounded(void)
{
	static const int steps[2] = { 2, 2 };
	static const double f[2] = { 3.0, 1.0 };
	struct recorder rec;
	run_pair(steps, f, &rec);
	TS_CHECK_MSG(rec.n >= 2, "%d plan calls", rec.n);
	TS_CHECK_MSG(rec.t[0] == 3 * T && rec.busy[0] == 1, "first plan at %lld busy 0x%llx",
		     (long long)rec.t[0], (unsigned long long)rec.busy[0]);
	TS_CHECK(rec.t[1] == 6 * T && rec.busy[1] == 0);
}

/* A launch predicted to end later is not waited for, even when it ends
 * within a fraction of a millisecond. */
static void test_later_prediction_not_waited(void)
{
	static const int steps[2] = { 4, 8 };
	static const double f[2] = { 1.0, 0.5 };   /* both end at 4 T */
	static const double g[2] = { 1.0, 0.501 }; /* 0.24 ms apart */
	struct recorder rec;
	run_pair(steps, g, &rec);
	TS_CHECK_MSG(rec.n == 2 && rec.t[0] == 4 * T && rec.busy[0] == 2,
		     "first plan at %lld busy 0x%llx (%d calls)", (long long)rec.t[0],
		     (unsigned long long)rec.busy[0], rec.n);
	/* ending at the same instant is still one event */
	run_pair(steps, f, &rec);
	TS_CHECK(rec.n == 1 && rec.t[0] == 4 * T && rec.busy[0] == 0);
}

/* An arrival while the driver waits for a tied launch ends the wait: the
 * policy sees the new request at its arrival, with the GPU already free. */
static void test_arrival_ends_settling(void)
{
	static const int steps[2] = { 4, 4 };
	/* GPU 0 free at 4 T, GPU 1 at 4.12 T; the third launch's factor last */
	static const double f[3] = { 1.0, 1.03, 1.0 };
	const double arrive_s = 4.05 * (double)T / 1e9;
	struct recorder rec;
	run_pair_and(steps, f, arrive_s, &rec);
	TS_CHECK_MSG(rec.n >= 1 && rec.t[0] == (ts_ns)(arrive_s * 1e9 + 0.5) && rec.busy[0] == 2,
		     "first plan at %lld busy 0x%llx, expected at the arrival %lld with GPU 1 busy",
		     rec.n ? (long long)rec.t[0] : -1LL, rec.n ? (unsigned long long)rec.busy[0] : 0ULL,
		     (long long)(arrive_s * 1e9 + 0.5));
}

int main(void)
{
	test_tied_launches_planned_together();
	test_straggler_wait_bounded();
	test_later_prediction_not_waited();
	test_arrival_ends_settling();
	return ts_test_result("driver_settle");
}
