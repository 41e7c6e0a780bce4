/* test_exec_backend.c: the executor backend's bookkeeping on a fake device
 * (no GPU): completions come back in the order launches end, with ordered
 * wall-clock times; launches on disjoint GPUs run at the same time; wait()
 * honours its deadline; a GPU-set change moves the latent first and reports
 * it (steps_start > start), the same set does not; a batch of requests
 * runs each step of all of them at once, at the batch's step time, after
 * moving the latents that live elsewhere, and is refused by a device
 * without batched steps; a device failure comes back from wait() naming
 * the request (every request of a batch); the stop flag
 * ends a wait; close() stops workers between steps; handles close only on
 * an idle node; --warm-comms keys are the aligned power-of-two sets. */
#include <signal.h>
#include <string.h>

#include "../sim/sim_fixture.h"
#include "exec_fake.h"
#include "test_util.h"

static struct ts_error err;

/* Step tables a twentieth of fx_classes: 1.5 ms (256^2, SP=1) to 47.5 ms
 * (2048^2); batches of 2 and 4 take 1.5 and 2.5 times a single step. */
static void fast_classes(struct ts_classes *cs)
{
	fx_classes(cs);
	for (int c = 0; c < cs->n; c++) {
		for (int d = 0; d < 4; d++) {
			cs->cls[c].step[0][d] /= 20;
			cs->cls[c].step[1][d] = cs->cls[c].step[0][d] * 3 / 2;
			cs->cls[c].step[2][d] = cs->cls[c].step[0][d] * 5 / 2;
		}
	}
}

struct bench {
	struct ts_classes cls;
	struct ts_trace trace;
	struct fake_dev dev;
	void *be;
	volatile sig_atomic_t stop;
};

/* A backend over n requests, all arrived at 0, of class c with `steps` steps. */
static int bench_open(struct bench *b, int gpus, int n, int c, int steps, bool keep)
{
	memset(b, 0, sizeof(*b));
	fast_classes(&b->cls);
	for (int i = 0; i < n; i++)
		fx_add(&b->trace, i, 0.0, c, steps, 10.0);
	fake_init(&b->dev, &b->cls);
	struct ts_exec_config xc = { .dev = &fake_ops, .dev_self = &b->dev, .trace = &b->trace,
				     .gpus = gpus, .stop = &b->stop, .keep_finished = keep };
	int rc = ts_exec_create(&b->be, &xc, &err);
	TS_CHECK_MSG(rc == 0, "create: %s", err.msg);
	return rc;
}

static void bench_close(struct bench *b)
{
	if (b->be)
		ts_exec_backend.close(b->be);
	free(b->trace.req);
	free(b->cls.cls);
}

static int launch1(struct bench *b, int32_t id, int32_t r, uint64_t gpus, int nsteps)
{
	struct ts_launch l = { .nreq = 1, .req = { r }, .gpus = gpus, .nsteps = nsteps };
	int rc = ts_exec_backend.launch(b->be, id, &l, NULL, &err);
	TS_CHECK_MSG(rc == 0, "launch: %s", err.msg);
	return rc;
}

static void test_order_and_concurrency(void)
{
	struct bench b;
	struct ts_completion c1, c2;
	if (bench_open(&b, 2, 2, 2, 10, false)) /* 1024^2: 9.5 ms a step at SP=1 */
		return;
	ts_ns T = ts_class_step(&b.cls, 2, 1, 1), t0 = ts_exec_backend.now(b.be);
	launch1(&b, 7, 0, 0x1, 6);
	launch1(&b, 3, 1, 0x2, 2);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c1, &err) == 1);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c2, &err) == 1);
	TS_CHECK_MSG(c1.launch_id == 3 && c2.launch_id == 7, "order %d, %d", c1.launch_id, c2.launch_id);
	TS_CHECK(c1.start >= t0 && c1.steps_start == c1.start && c1.end >= c1.start + 2 * T);
	TS_CHECK(c2.steps_start == c2.start && c2.end >= c2.start + 6 * T);
	TS_CHECK(c1.end <= c2.end && ts_exec_backend.now(b.be) >= c2.end);
	/* truly concurrent: the two launches overlapped in time and on the device */
	TS_CHECK(c1.start < c2.end && c2.start < c1.end);
	TS_CHECK_MSG(b.dev.max_running == 2, "max concurrent steps %d", b.dev.max_running);
	TS_CHECK(b.dev.overlaps == 0 && b.dev.steps == 8);
	bench_close(&b);
}

static void test_wait_deadline(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 1, 1, 3, 2, false)) /* 2048^2: 47.5 ms a step */
		return;
	ts_ns until = ts_exec_backend.now(b.be) + 15 * TS_NS_PER_MS;
	TS_CHECK(ts_exec_backend.wait(b.be, until, &c, &err) == 0); /* idle: sleeps to `until` */
	TS_CHECK(ts_exec_backend.now(b.be) >= until);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 0); /* idle, no limit: returns */
	launch1(&b, 0, 0, 0x1, 2);
	until = ts_exec_backend.now(b.be) + 5 * TS_NS_PER_MS;
	TS_CHECK(ts_exec_backend.wait(b.be, until, &c, &err) == 0);
	ts_ns t = ts_exec_backend.now(b.be);
	/* woke at `until`, well before the 95 ms launch ended */
	TS_CHECK_MSG(t >= until && t < until + 40 * TS_NS_PER_MS, "woke at %lld, until %lld", (long long)t,
		     (long long)until);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.launch_id == 0);
	bench_close(&b);
}

static void test_moves(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 4, 1, 0, 6, true))
		return;
	launch1(&b, 0, 0, 0x1, 1); /* first launch: nothing to move */
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start == c.start);
	launch1(&b, 1, 0, 0xC, 2); /* new set: move, then steps */
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start > c.start);
	launch1(&b, 2, 0, 0xC, 1); /* same set: no move */
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start == c.start);
	launch1(&b, 3, 0, 0xF, 1); /* superset: the latent still has to reach GPUs 0, 1 */
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start > c.start);
	launch1(&b, 4, 0, 0x3, 1); /* subset of the holders: no move */
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start == c.start);
	struct fake_req *r = ts_exec_request_handle(b.be, 0);
	TS_CHECK(r && r->done == 6 && r->moves == 2 && r->holder == 0x3);
	TS_CHECK(b.dev.wrong_holder == 0 && b.dev.moves == 2);
	bench_close(&b);
	TS_CHECK(b.dev.opens == 1 && b.dev.closes == 1);
}

/* Batches of several requests: each step runs all of them at once (the
 * batch's step time, not one per request); latents that live on other
 * GPUs move first (one move segment), fresh ones do not; every request
 * advances, ends on the launch's GPUs and is closed once finished. */
static void test_batch(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 4, 4, 2, 5, false)) /* 1024^2: 9.5 ms a step, batch of 4 23.75 ms */
		return;
	ts_ns T4 = ts_class_step(&b.cls, 2, 2, 4);
	launch1(&b, 0, 0, 0x1, 1);
	launch1(&b, 1, 1, 0x4, 1);
	for (int i = 0; i < 2; i++)
		TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start == c.start);
	struct ts_launch l = { .nreq = 4, .req = { 2, 0, 3, 1 }, .gpus = 0x3, .nsteps = 3 };
	TS_CHECK_MSG(ts_exec_backend.launch(b.be, 5, &l, NULL, &err) == 0, "%s", err.msg);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1);
	TS_CHECK(c.launch_id == 5 && c.nsteps == 3 && c.steps_start > c.start); /* 0 and 1 moved */
	TS_CHECK_MSG(c.end - c.steps_start >= 3 * T4 && c.end - c.steps_start < 6 * T4,
		     "3 batch steps took %lld ns, one takes %lld", (long long)(c.end - c.steps_start),
		     (long long)T4);
	TS_CHECK(b.dev.batch_steps == 3 && b.dev.max_batch == 4 && b.dev.steps == 2 + 12);
	TS_CHECK(b.dev.moves == 2 && b.dev.wrong_holder == 0 && b.dev.mixed_batch == 0);
	struct fake_req *r2 = ts_exec_request_handle(b.be, 2), *r1 = ts_exec_request_handle(b.be, 1);
	TS_CHECK(r2 && r2->done == 3 && r2->moves == 0 && r2->holder == 0x3);
	TS_CHECK(r1 && r1->done == 4 && r1->moves == 1 && r1->holder == 0x3);
	/* a batch of two on a subset of the GPUs that hold them: no move; both finish */
	l = (struct ts_launch){ .nreq = 2, .req = { 1, 0 }, .gpus = 0x1, .nsteps = 1 };
	TS_CHECK(ts_exec_backend.launch(b.be, 6, &l, NULL, &err) == 0);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start == c.start);
	TS_CHECK(ts_exec_backend.wait(b.be, 0, &c, &err) == 0); /* idle: finished ones closed */
	TS_CHECK(ts_exec_request_handle(b.be, 0) == NULL && ts_exec_request_handle(b.be, 1) == NULL);
	TS_CHECK(ts_exec_request_handle(b.be, 2) != NULL && b.dev.closes == 2);
	bench_close(&b);
	TS_CHECK(b.dev.opens == 4 && b.dev.closes == 4 && b.dev.closed_while_running == 0);
}

/* A failed batch step names every request of the batch with its step. */
static void test_batch_failure(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 1, 2, 0, 4, false))
		return;
	launch1(&b, 0, 1, 0x1, 2);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1);
	b.dev.fail_at_step = 5; /* the second batch step holds request steps 5 and 6 */
	struct ts_launch l = { .nreq = 2, .req = { 0, 1 }, .gpus = 0x1, .nsteps = 2 };
	TS_CHECK(ts_exec_backend.launch(b.be, 1, &l, NULL, &err) == 0);
	int rc = ts_exec_backend.wait(b.be, INT64_MAX, &c, &err);
	TS_CHECK_MSG(rc == TS_EDEVICE && strstr(err.msg, "batch of request 0 step 2, request 1 step 4") &&
			     strstr(err.msg, "injected"), "rc %d: %s", rc, err.msg);
	bench_close(&b);
}

static void test_refusals(void)
{
	struct bench b;
	if (bench_open(&b, 2, 2, 0, 4, false))
		return;
	struct ts_launch l = { .nreq = 1, .req = { 0 }, .gpus = 0x4, .nsteps = 1 };
	TS_CHECK(ts_exec_backend.launch(b.be, 0, &l, NULL, &err) == TS_EINVAL);
	l = (struct ts_launch){ .nreq = 2, .req = { 0, 2 }, .gpus = 0x1, .nsteps = 1 };
	TS_CHECK(ts_exec_backend.launch(b.be, 0, &l, NULL, &err) == TS_EINVAL); /* no request 2 */
	l.nreq = TS_MAX_BATCH + 1;
	TS_CHECK(ts_exec_backend.launch(b.be, 0, &l, NULL, &err) == TS_EINVAL);
	bench_close(&b);
	/* a device without batched steps refuses batches, naming the way out */
	struct ts_exec_device_ops single = fake_ops;
	single.step_batch = NULL;
	memset(&b, 0, sizeof(b));
	fast_classes(&b.cls);
	fx_add(&b.trace, 0, 0.0, 0, 4, 10.0);
	fx_add(&b.trace, 1, 0.0, 0, 4, 10.0);
	fake_init(&b.dev, &b.cls);
	struct ts_exec_config xc = { .dev = &single, .dev_self = &b.dev, .trace = &b.trace, .gpus = 1 };
	TS_CHECK(ts_exec_create(&b.be, &xc, &err) == 0);
	l = (struct ts_launch){ .nreq = 2, .req = { 0, 1 }, .gpus = 0x1, .nsteps = 1 };
	TS_CHECK(b.be && ts_exec_backend.launch(b.be, 0, &l, NULL, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "batch") && strstr(err.msg, "--no-batching"), "%s", err.msg);
	bench_close(&b);
	struct ts_exec_config bad = { .dev = &fake_ops, .trace = &b.trace, .gpus = 0 };
	void *be;
	TS_CHECK(ts_exec_create(&be, &bad, &err) == TS_EINVAL && be == NULL);
}

static void test_failure(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 2, 2, 0, 4, false))
		return;
	b.dev.fail_at_step = 3;
	launch1(&b, 0, 1, 0x1, 4);
	int rc = ts_exec_backend.wait(b.be, INT64_MAX, &c, &err);
	TS_CHECK_MSG(rc == TS_EDEVICE, "rc %d", rc);
	TS_CHECK_MSG(strstr(err.msg, "request 1 step 3") && strstr(err.msg, "injected"), "%s", err.msg);
	TS_CHECK(b.dev.steps == 3); /* the launch stopped at the failed step */
	bench_close(&b);
}

static void test_stop_and_close(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 2, 1, 3, 50, false)) /* 50 steps of 47.5 ms: 2.4 s */
		return;
	launch1(&b, 0, 0, 0x1, 50);
	b.stop = 1;
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == TS_EINTR);
	TS_CHECK(strstr(err.msg, "interrupted") != NULL);
	ts_exec_backend.close(b.be); /* the worker stops after its current step */
	b.be = NULL;
	TS_CHECK_MSG(b.dev.steps < 5, "ran %ld steps after close", b.dev.steps);
	TS_CHECK(b.dev.closes == b.dev.opens && b.dev.closed_while_running == 0);
	bench_close(&b);
}

static void test_reap_when_idle(void)
{
	struct bench b;
	struct ts_completion c;
	if (bench_open(&b, 2, 3, 0, 2, false))
		return;
	launch1(&b, 0, 0, 0x1, 2);                  /* finishes request 0 */
	launch1(&b, 1, 1, 0x2, 1);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1);
	launch1(&b, 2, 1, 0x3, 1);                  /* node idle at launch: request 0 is closed */
	TS_CHECK(b.dev.closes == 1);
	TS_CHECK(ts_exec_backend.wait(b.be, INT64_MAX, &c, &err) == 1 && c.steps_start > c.start);
	TS_CHECK(ts_exec_backend.wait(b.be, 0, &c, &err) == 0); /* idle again: request 1 closed */
	TS_CHECK(b.dev.closes == 2 && ts_exec_request_handle(b.be, 1) == NULL);
	bench_close(&b);
	TS_CHECK(b.dev.closed_while_running == 0 && b.dev.opens == 2 && b.dev.closes == 2);
}

static void test_warm_comms(void)
{
	struct fake_dev d;
	struct ts_classes cls;
	double ms;
	int groups;
	fast_classes(&cls);
	fake_init(&d, &cls);
	TS_CHECK(ts_exec_warm_comms(&fake_ops, &d, 4, &ms, &groups, &err) == 0 && groups == 3);
	TS_CHECK(d.nwarmed == 3 && d.warmed[0] == 0x3 && d.warmed[1] == 0xC && d.warmed[2] == 0xF);
	d.nwarmed = 0;
	TS_CHECK(ts_exec_warm_comms(&fake_ops, &d, 8, &ms, &groups, &err) == 0 && groups == 7);
	TS_CHECK(d.warmed[3] == 0xC0 && d.warmed[4] == 0x0F && d.warmed[6] == 0xFF);
	TS_CHECK(ts_exec_warm_comms(&fake_ops, &d, 1, &ms, &groups, &err) == 0 && groups == 0);
	free(cls.cls);
}

int main(void)
{
	test_order_and_concurrency();
	test_wait_deadline();
	test_moves();
	test_batch();
	test_batch_failure();
	test_refusals();
	test_failure();
	test_stop_and_close();
	test_reap_when_idle();
	test_warm_comms();
	return ts_test_result("exec_backend");
}
