/* test_exec_driver.c: the driver loop with real policies (fixed-sp:1,
 * fixed-sp:2, rssp, tetriserve without and with selective batching) on the
 * executor backend over a fake device, on 4 GPUs with wall-clock time: no
 * GPU runs two segments at once (checked on the recorded segments and on
 * the device itself), every request runs exactly its steps in order after
 * its arrival, each steps segment lasts at least its steps' profile time
 * (at its batch size), every GPU-set change is a move the device saw and
 * (without batches) one move segment, and steps run only where the latent
 * is. A burst of small requests makes tetriserve batch: batched segments
 * are recorded and the device ran batched steps of one class. */
#include "../sim/sim_fixture.h"
#include "exec_fake.h"
#include "test_util.h"

#define NREQ 14

static struct ts_error err;
static long total_moves; /* over all policies: the move checks must not be vacuous */

/* Step times a twentieth of fx_classes (1.5-47.5 ms); a batch of 2 or 4
 * takes 1.25 or 2 single steps (cheaper per image, so tetriserve batches). */
static void make_classes(struct ts_classes *cs)
{
	fx_classes(cs);
	for (int c = 0; c < cs->n; c++) {
		for (int d = 0; d < 4; d++) {
			cs->cls[c].step[0][d] /= 20;
			cs->cls[c].step[1][d] = cs->cls[c].step[0][d] * 5 / 4;
			cs->cls[c].step[2][d] = cs->cls[c].step[0][d] * 2;
		}
	}
}

/* A short trace: 14 requests over ~0.2 s, steps 3..8, SLOs that some
 * requests miss. */
static void make_trace(struct ts_trace *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < NREQ; i++)
		fx_add(t, i, 0.015 * i, i % 4, 3 + (i * 5) % 6, 0.05 + 0.1 * (i % 4));
}

/* A burst: 32 small requests (256^2, 8-12 steps) within 16 ms, more than 4
 * GPUs serve alone within their SLOs. */
static void make_burst(struct ts_trace *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < 32; i++)
		fx_add(t, i, 0.0005 * i, 0, 8 + i % 5, 0.06);
}

static int count_moves(const struct fx_sink *k)
{
	int n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->seg[i].kind == TS_SEG_MOVE;
	return n;
}

/* Steps in order and complete, after arrival, no faster than the profile. */
static int check_requests(const struct ts_trace *t, const struct ts_classes *cs,
			  const struct ts_run_result *res, struct fx_sink *k)
{
	int bad = 0;
	qsort(k->seg, k->n, sizeof(*k->seg), fx_seg_cmp);
	size_t i = 0;
	for (size_t r = 0; r < t->n; r++) {
		const struct ts_request *q = &t->req[r];
		int32_t next = 0;
		ts_ns last_end = q->arrival;
		for (; i < k->n && k->seg[i].request_id == q->id; i++) {
			const struct ts_segment *s = &k->seg[i];
			bad += s->start < last_end || s->end < s->start;
			if (s->kind == TS_SEG_STEPS) {
				bad += s->first_step != next;
				next += s->nsteps;
				ts_ns T = ts_class_step(cs, q->cls, ts_gpus_count(s->gpus), s->batch);
				bad += s->end - s->start < T * s->nsteps;
			}
			last_end = s->end;
		}
		if (next != q->steps || res->st[r].steps_done != q->steps || res->st[r].finish != last_end) {
			if (bad++ < 5)
				fprintf(stderr, "request %lld: ran %d of %d steps\n", (long long)q->id, next, q->steps);
		}
	}
	return bad;
}

/* Segments of more than one request. */
static int count_batched(const struct fx_sink *k)
{
	int n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->seg[i].kind == TS_SEG_STEPS && k->seg[i].batch > 1;
	return n;
}

/* A batch moves when one of its latents does, and each request of it gets
 * the move segment; without batches move segments are the moves. */
static void check_moves(const char *spec, const struct fake_dev *dev, const struct fx_sink *sink,
			const struct ts_run_result *res)
{
	bool batched = count_batched(sink) > 0;
	TS_CHECK_MSG(dev->moves == res->moves && (batched ? count_moves(sink) >= res->moves
							 : count_moves(sink) == res->moves),
		     "%s: %d move segments, %lld driver moves, %ld device moves", spec, count_moves(sink),
		     (long long)res->moves, dev->moves);
	total_moves += dev->moves;
}

static void check_run(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		      const struct fake_dev *dev, struct fx_sink *sink, const struct ts_run_result *res)
{
	long steps = 0;
	for (size_t i = 0; i < t->n; i++)
		steps += t->req[i].steps;
	TS_CHECK_MSG(fx_check_no_double_booking(sink, 4) == 0, "%s double-books", spec);
	TS_CHECK_MSG(check_requests(t, cs, res, sink) == 0, "%s: bad request segments", spec);
	TS_CHECK_MSG(dev->overlaps == 0 && dev->wrong_holder == 0 && dev->mixed_batch == 0,
		     "%s: device overlaps %d, wrong holder %d, mixed batches %d", spec, dev->overlaps,
		     dev->wrong_holder, dev->mixed_batch);
	TS_CHECK_MSG(dev->steps == steps && sink->done == t->n, "%s: %ld of %ld steps", spec, dev->steps,
		     steps);
	check_moves(spec, dev, sink, res);
	TS_CHECK(dev->opens == (long)t->n && dev->closes == dev->opens && dev->closed_while_running == 0);
}

/* Runs spec over t on 4 fake GPUs; the batched segments it recorded and the
 * device's batched steps into *batched_segs, *batch_steps. */
static void run_policy(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		       int *batched_segs, long *batch_steps)
{
	struct ts_policy_env env = { .gpus = 4, .trace = t, .cls = cs };
	struct fake_dev dev;
	struct fx_sink sink = { 0 };
	struct ts_run_result res = { 0 };
	struct ts_policy pol = { 0 };
	void *be = NULL;
	fake_init(&dev, cs);
	int rc = ts_policy_build(spec, &env, &pol, &err);
	struct ts_exec_config xc = { .dev = &fake_ops, .dev_self = &dev, .trace = t, .gpus = 4 };
	if (!rc)
		rc = ts_exec_create(&be, &xc, &err);
	if (!rc) {
		struct ts_driver_config cfg = { .trace = t, .cls = cs, .gpus = 4, .policy = pol,
						.backend = { &ts_exec_backend, be },
						.sink = &fx_sink_ops, .sink_self = &sink };
		rc = ts_driver_run(&cfg, &res, &err);
		ts_exec_backend.close(be);
	}
	TS_CHECK_MSG(rc == 0, "%s: %s", spec, err.msg);
	if (!rc)
		check_run(spec, t, cs, &dev, &sink, &res);
	*batched_segs = count_batched(&sink);
	*batch_steps = dev.batch_steps;
	ts_policy_close(&pol);
	ts_run_result_free(&res);
	free(sink.seg);
}

int main(void)
{
	struct ts_trace t, burst;
	struct ts_classes cs;
	int segs;
	long bsteps;
	make_classes(&cs);
	make_trace(&t);
	make_burst(&burst);
	const char *specs[] = { "fixed-sp:1", "fixed-sp:2", "rssp", "tetriserve:batching=off" };
	for (int i = 0; i < 4; i++) {
		run_policy(specs[i], &t, &cs, &segs, &bsteps);
		TS_CHECK_MSG(segs == 0 && bsteps == 0, "%s batched", specs[i]);
	}
	TS_CHECK_MSG(total_moves > 0, "no policy moved a latent");
	run_policy("tetriserve", &burst, &cs, &segs, &bsteps);
	TS_CHECK_MSG(segs > 0 && bsteps > 0, "tetriserve on a burst: %d batched segments, %ld batch steps",
		     segs, bsteps);
	printf("tetriserve on a burst of 32: %d batched segments, %ld batched steps\n", segs, bsteps);
	free(t.req);
	free(burst.req);
	free(cs.cls);
	return ts_test_result("exec_driver");
}
