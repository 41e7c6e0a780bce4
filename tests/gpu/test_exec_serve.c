/* test_exec_serve.c: a short trace (10 requests of 256^2 and 512^2, 4-6
 * steps, flux-dev) served end to end by the executor backend on the real
 * engine on 1, 2 and 4 GPUs under fixed-sp:1, fixed-sp:2, rssp and
 * tetriserve without and with selective batching (batched launches step
 * their requests together; the output says how many segments were
 * batched): no GPU runs two segments at once, every request runs exactly
 * its steps in order, the device ran launches on disjoint GPU sets at the
 * same time without harm, and every final latent equals that of a plain
 * SP=1 run of the same request (same seed) within bf16 bounds; the same
 * for tetriserve with every request's memory reserved on every GPU before
 * the run (the executor's preallocation). Exit 77 without a GPU. */
#include <string.h>

#include "../sim/sim_fixture.h"
#include "gpu_test.h"
#include "ts_dit.h"
#include "ts_exec_dit.h"

#define NREQ 10
#define SERVE_TOL 3e-2

static struct ts_error err;

struct reference {
	int64_t n;
	float *x0[NREQ];  /* noise latent */
	float *x[NREQ];   /* after all steps at SP=1 on GPU 0 */
};

static void make_trace(struct ts_trace *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < NREQ; i++) {
		fx_add(t, i, 0.02 * i, i % 2, 4 + i % 3, 0.3);
		t->req[i].seed = 100 + (uint64_t)i;
	}
}

/* Noise and SP=1 result of request q, straight through the engine. */
static int reference_run(struct ts_dit_engine *e, const struct ts_request *q, float *x0, float *x)
{
	struct ts_dit_request *r = NULL;
	double ms;
	int rc = ts_dit_request_open(e, &r, q->height, q->width, 1, q->steps, q->seed, &err);
	if (!rc)
		rc = ts_dit_request_move(e, r, 0x1, &ms, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x0, &err);
	for (int s = 0; !rc && s < q->steps; s++)
		rc = ts_dit_request_step(e, r, 0x1, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x, &err);
	ts_dit_request_close(r);
	TS_CHECK_MSG(rc == 0, "reference: %s", err.msg);
	return rc;
}

static void check_latents(void *be, const struct ts_trace *t, const struct reference *ref, const char *what)
{
	float *x = malloc(sizeof(float) * (size_t)ref->n);
	double worst = 0;
	for (int i = 0; i < NREQ; i++) {
		struct ts_dit_request *r = ts_exec_request_handle(be, i);
		TS_CHECK_MSG(r && ts_dit_request_steps_done(r) == t->req[i].steps, "%s: request %d", what, i);
		if (!r || ts_dit_request_latent(r, x, &err))
			continue;
		int64_t n = (int64_t)16 * (t->req[i].height / 8) * (t->req[i].width / 8);
		double e = gt_rel_update_err(x, ref->x[i], ref->x0[i], n);
		worst = e > worst ? e : worst;
		TS_CHECK_MSG(e < SERVE_TOL, "%s: request %d latent differs from SP=1 by %.3g", what, i, e);
	}
	printf("%s: worst latent update error vs SP=1 %.2e\n", what, worst);
	free(x);
}

static int check_steps(const struct ts_trace *t, const struct ts_run_result *res, struct fx_sink *k)
{
	int bad = 0;
	qsort(k->seg, k->n, sizeof(*k->seg), fx_seg_cmp);
	size_t i = 0;
	for (size_t r = 0; r < t->n; r++) {
		int32_t next = 0;
		ts_ns last = t->req[r].arrival;
		for (; i < k->n && k->seg[i].request_id == t->req[r].id; i++) {
			bad += k->seg[i].start < last;
			if (k->seg[i].kind == TS_SEG_STEPS) {
				bad += k->seg[i].first_step != next;
				next += k->seg[i].nsteps;
			}
			last = k->seg[i].end;
		}
		bad += next != t->req[r].steps || res->st[r].steps_done != t->req[r].steps;
	}
	return bad;
}

static int count_batched(const struct fx_sink *k)
{
	int n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->seg[i].kind == TS_SEG_STEPS && k->seg[i].batch > 1;
	return n;
}

static void serve(struct ts_dit_engine *e, int gpus, const char *spec, bool prealloc,
		  const struct ts_trace *t, const struct ts_classes *cs, const struct reference *ref)
{
	char what[96];
	struct ts_policy_env env = { .gpus = gpus, .trace = t, .cls = cs };
	struct fx_sink sink = { 0 };
	struct ts_run_result res = { 0 };
	struct ts_policy pol = { 0 };
	void *be = NULL;
	snprintf(what, sizeof(what), "%s on %d GPUs%s", spec, gpus, prealloc ? ", preallocated" : "");
	int rc = ts_policy_build(spec, &env, &pol, &err);
	struct ts_exec_config xc = { .dev = &ts_exec_dit_ops, .dev_self = e, .trace = t, .gpus = gpus,
				     .keep_finished = true, .prealloc = prealloc };
	if (!rc)
		rc = ts_exec_create(&be, &xc, &err);
	if (!rc) {
		struct ts_driver_config cfg = { .trace = t, .cls = cs, .gpus = gpus, .policy = pol,
						.backend = { &ts_exec_backend, be },
						.sink = &fx_sink_ops, .sink_self = &sink };
		rc = ts_driver_run(&cfg, &res, &err);
	}
	TS_CHECK_MSG(rc == 0, "%s: %s", what, err.msg);
	if (!rc) {
		TS_CHECK_MSG(fx_check_no_double_booking(&sink, gpus) == 0, "%s double-books", what);
		TS_CHECK_MSG(check_steps(t, &res, &sink) == 0, "%s: steps", what);
		check_latents(be, t, ref, what);
		printf("%s: makespan %.3f s, %lld launches, %lld moves, %d batched segments\n", what,
		       ts_ns_to_s(res.makespan), (long long)res.launches, (long long)res.moves,
		       count_batched(&sink));
	}
	if (be)
		ts_exec_backend.close(be);
	ts_policy_close(&pol);
	ts_run_result_free(&res);
	free(sink.seg);
}

int main(void)
{
	int have = gt_gpus();
	if (have < 1)
		return TS_SKIP;
	int ngpu = have >= 4 ? 4 : have >= 2 ? 2 : 1;
	struct ts_dit_engine *e = NULL;
	struct ts_trace t;
	struct ts_classes cs;
	struct reference ref = { 0 };
	make_trace(&t);
	fx_classes(&cs);
	for (int c = 0; c < cs.n; c++) { /* batches of 2 and 4: 1.25 and 2 single steps */
		for (int d = 0; d < 4; d++) {
			cs.cls[c].step[1][d] = cs.cls[c].step[0][d] * 5 / 4;
			cs.cls[c].step[2][d] = cs.cls[c].step[0][d] * 2;
		}
	}
	int rc = ts_dit_engine_open(&e, "flux-dev", ngpu, 1234, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	for (int i = 0; !rc && i < NREQ; i++) {
		ref.n = (int64_t)16 * (t.req[i].height / 8) * (t.req[i].width / 8);
		ref.x0[i] = malloc(sizeof(float) * (size_t)ref.n);
		ref.x[i] = malloc(sizeof(float) * (size_t)ref.n);
		rc = reference_run(e, &t.req[i], ref.x0[i], ref.x[i]);
	}
	ref.n = (int64_t)16 * 64 * 64; /* the largest (512^2) */
	const char *specs[] = { "fixed-sp:1", "fixed-sp:2", "rssp", "tetriserve:batching=off", "tetriserve" };
	for (int g = 1; !rc && g <= ngpu; g *= 2)
		for (int p = 0; p < 5; p++)
			if (p != 1 || g >= 2)
				serve(e, g, specs[p], false, &t, &cs, &ref);
	/* memory reserved on every GPU before the run (the executor's default):
	 * a request's first step anywhere starts from the same noise */
	for (int g = 1; !rc && g <= ngpu; g *= 2) {
		serve(e, g, specs[3], true, &t, &cs, &ref);
		serve(e, g, specs[4], true, &t, &cs, &ref); /* batched launches, preallocated */
	}
	for (int i = 0; i < NREQ; i++) {
		free(ref.x0[i]);
		free(ref.x[i]);
	}
	ts_dit_engine_close(e);
	free(t.req);
	free(cs.cls);
	return ts_test_result("exec_serve");
}
