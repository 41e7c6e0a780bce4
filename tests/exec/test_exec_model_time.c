/* test_exec_model_time.c: the simulator and the executor make the same
 * decisions when steps take their profile time. For every policy, a trace
 * runs on the simulator and on the executor backend over a fake device
 * whose steps sleep for exactly their profile time (wall clock, threads,
 * host overhead and sleep jitter included): both runs must make the same
 * launches (request, first step, steps, GPU set) and end every request the
 * same way (finished or dropped). */
#include "../sim/sim_fixture.h"
#include "exec_fake.h"
#include "test_util.h"

#define NREQ 16
#define GPUS 4

static struct ts_error err;

/* 16 requests over ~0.5 s, steps 3..8, step times a quarter of fx_classes
 * (4.5-237 ms), SLOs some requests miss, two clients that give up. */
static void make_inputs(struct ts_trace *t, struct ts_classes *cs)
{
	fx_classes(cs);
	for (int c = 0; c < cs->n; c++)
		for (int d = 0; d < 4; d++)
			cs->cls[c].step[0][d] /= 4;
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < NREQ; i++)
		fx_add(t, i, 0.03 * i, i % 4, 3 + (i * 5) % 6, 0.15 + 0.25 * (i % 4));
	t->req[5].cancel_after = ts_ns_from_s(0.2);
	t->req[11].cancel_after = ts_ns_from_s(0.3);
}

struct outcome {
	struct fx_sink sink;
	struct ts_run_result res;
};

/* The scheduling delays of a loaded CI machine (two cores shared with
 * builds) reach tens of ms; the window here is far wider than the default
 * so that the test checks the rule, not the machine. */
static const struct ts_window test_window = { .abs_ns = 80 * TS_NS_PER_MS, .rel = 0.25 };

static int run_on(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		  struct ts_backend be, struct outcome *o)
{
	struct ts_policy_env env = { .gpus = GPUS, .trace = t, .cls = cs };
	struct ts_policy pol;
	memset(o, 0, sizeof(*o));
	int rc = ts_policy_build(spec, &env, &pol, &err);
	if (rc)
		return rc;
	struct ts_driver_config cfg = { .trace = t, .cls = cs, .gpus = GPUS, .policy = pol, .backend = be,
					.sink = &fx_sink_ops, .sink_self = &o->sink, .window = test_window };
	rc = ts_driver_run(&cfg, &o->res, &err);
	ts_policy_close(&pol);
	return rc;
}

static int run_sim(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		   struct outcome *o)
{
	struct ts_sim_opts so;
	struct ts_backend be = { .ops = &ts_sim_backend };
	ts_sim_opts_defaults(&so);
	int rc = ts_sim_create(&be.self, &so, cs, &err);
	if (!rc) {
		rc = run_on(spec, t, cs, be, o);
		ts_sim_backend.close(be.self);
	}
	return rc;
}

static int run_exec(const char *spec, const struct ts_trace *t, const struct ts_classes *cs,
		    struct outcome *o)
{
	struct fake_dev dev;
	struct ts_backend be = { .ops = &ts_exec_backend };
	fake_init(&dev, cs);
	struct ts_exec_config xc = { .dev = &fake_ops, .dev_self = &dev, .trace = t, .gpus = GPUS,
				     .prealloc = true };
	ts_move_model_defaults(&xc.move);
	int rc = ts_exec_create(&be.self, &xc, &err);
	if (!rc) {
		rc = run_on(spec, t, cs, be, o);
		ts_exec_backend.close(be.self);
	}
	return rc;
}

/* Sorts the steps segments by request and first step, dropping moves. */
static size_t launches(struct fx_sink *k)
{
	size_t n = 0;
	for (size_t i = 0; i < k->n; i++)
		if (k->seg[i].kind == TS_SEG_STEPS)
			k->seg[n++] = k->seg[i];
	qsort(k->seg, n, sizeof(*k->seg), fx_seg_cmp);
	return n;
}

/* The same launches and the same way every request ended; names the first difference. */
static int same_decisions(const char *spec, struct outcome *a, struct outcome *b)
{
	size_t na = launches(&a->sink), nb = launches(&b->sink);
	for (size_t i = 0; i < na || i < nb; i++) {
		const struct ts_segment *x = i < na ? &a->sink.seg[i] : NULL, *y = i < nb ? &b->sink.seg[i] : NULL;
		if (!x || !y || x->request_id != y->request_id || x->first_step != y->first_step ||
		    x->nsteps != y->nsteps || x->gpus != y->gpus) {
			fprintf(stderr, "%s: launch %zu differs: sim request %lld step %d x%d 0x%llx, exec request %lld step %d x%d 0x%llx\n",
				spec, i, x ? (long long)x->request_id : -1LL, x ? x->first_step : -1, x ? x->nsteps : 0,
				x ? (unsigned long long)x->gpus : 0ULL, y ? (long long)y->request_id : -1LL,
				y ? y->first_step : -1, y ? y->nsteps : 0, y ? (unsigned long long)y->gpus : 0ULL);
			return 0;
		}
	}
	for (size_t r = 0; r < a->res.n; r++)
		if ((a->res.st[r].finish >= 0) != (b->res.st[r].finish >= 0)) {
			fprintf(stderr, "%s: request %zu finished in one run only\n", spec, r);
			return 0;
		}
	return (int)na;
}

int main(void)
{
	static const char *specs[] = {
		"fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "rssp", "fixed-sp:1:order=edf:late=defer",
		"fixed-sp:4:order=edf:late=defer", "rssp:order=edf:late=drop", "tetriserve:batching=off",
		"tetriserve:batching=off:late=drop",
	};
	struct ts_trace t;
	struct ts_classes cs;
	make_inputs(&t, &cs);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct outcome sim = { 0 }, exec = { 0 };
		int rc = run_sim(specs[i], &t, &cs, &sim);
		TS_CHECK_MSG(rc == 0, "sim %s: %s", specs[i], err.msg);
		if (!rc)
			rc = run_exec(specs[i], &t, &cs, &exec);
		TS_CHECK_MSG(rc == 0, "exec %s: %s", specs[i], err.msg);
		if (!rc)
			TS_CHECK_MSG(same_decisions(specs[i], &sim, &exec) >= NREQ / 2, "%s: the launches differ",
				     specs[i]);
		free(sim.sink.seg);
		free(exec.sink.seg);
		ts_run_result_free(&sim.res);
		ts_run_result_free(&exec.res);
	}
	free(t.req);
	free(cs.cls);
	return ts_test_result("exec_model_time");
}
