/* test_batch_step.c: separate requests stepped together as one batch
 * (ts_dit_batch_step), FLUX.1-dev and SD3-medium at 256x256:
 * - five requests of different seeds and schedules (10, 20, 30 and 50
 *   steps) at different step indices (0, 3, 5) run in batches of 2 and 4
 *   whose composition and order change between steps, some latents coming
 *   from another GPU; each request's latent afterwards equals the same
 *   request run alone on GPU 0 (same seed, same number of steps) within
 *   BATCH_TOL of the update, at SP 1 and at SP 2 and 4 where the GPUs are
 *   there (the batched steps on GPUs 0..k-1, so latents move in);
 * - two requests with one seed and one history in the same batches (in
 *   other rows) end equal within BATCH_TOL (the output says whether
 *   bitwise): no image reads another's conditioning, latent or schedule;
 * - with CUDA graphs on, the same sequence gives the eager batched bits
 *   (batched keys captured and replayed with other requests in their rows);
 * - bad batches are refused before anything runs;
 * - timing: per-image step time of a batch of 2 and 4 requests against one
 *   request alone and one request of 2 or 4 images, at 256^2 and 512^2.
 *
 * BATCH_TOL = 3e-2, the bound of tests/gpu/test_sp.c and of test_dit_step's
 * batch-2 check: a batch changes the row count M of every GEMM, so cuBLASLt
 * may pick another algorithm (other tiles, split-K) whose fp32 sums round
 * differently; the bf16 activations then differ by about one ulp (2^-8
 * relative) where they differ, and 57 (FLUX) or 24 (SD3) blocks carry that
 * on (measured before: FLUX batch 2 vs 1 9.3e-3, SD3 0). At SP > 1 a batch
 * also runs the own attention kernel where a single image runs cuDNN's. A
 * wrong per-image schedule is far outside the bound: the 10-step request's
 * Euler step is 10 times the 50-step one's. The test prints, for every
 * request, whether it came out bitwise equal to its run alone. Exit 77
 * without a GPU; 2 and 4 GPUs add the SP cases. */
#include <string.h>

#include "core/clock.h"
#include "core/ts_types.h"
#include "gpu_test.h"
#include "ts_dit.h"

#define BATCH_TOL 3e-2
#define RES 256

static struct ts_error err;

enum { RA, RB, RC, RT1, RT2, NREQ };

/* Each request: seed, schedule length, steps run alone before batching. */
static const struct {
	uint64_t seed;
	int steps, pre;
} reqspec[NREQ] = {
	{ 11, 50, 3 }, { 22, 20, 0 }, { 33, 10, 5 }, { 55, 30, 0 }, { 55, 30, 0 },
};

/* The batched steps: the requests in batch order, and how many steps. */
static const struct {
	int n, req[4], steps;
} phases[] = {
	{ 2, { RB, RA }, 2 },
	{ 4, { RC, RT1, RA, RT2 }, 2 },
	{ 4, { RA, RC, RT2, RT1 }, 1 },
	{ 2, { RB, RT1 }, 1 },
};
#define NPHASES ((int)(sizeof(phases) / sizeof(phases[0])))
#define TWINS_AFTER 2 /* T1 and T2 have one history up to the end of this phase */

static int64_t latent_n(void)
{
	return (int64_t)16 * (RES / 8) * (RES / 8);
}

/* Steps each request has run at the end of the sequence. */
static int final_steps(int i)
{
	int done = reqspec[i].pre;
	for (int p = 0; p < NPHASES; p++)
		for (int m = 0; m < phases[p].n; m++)
			done += (phases[p].req[m] == i) * phases[p].steps;
	return done;
}

static int read_latent(struct ts_dit_request *r, float *x)
{
	int rc = ts_dit_request_latent(r, x, &err);
	TS_CHECK_MSG(rc == 0, "latent: %s", err.msg);
	return rc;
}

/* Request i alone on GPU 0 for its final step count: noise into x0, the
 * latent after the steps into x. */
static int run_alone(struct ts_dit_engine *e, int i, float *x0, float *x)
{
	struct ts_dit_request *r = NULL;
	double ms;
	int rc = ts_dit_request_open(e, &r, RES, RES, 1, reqspec[i].steps, reqspec[i].seed, &err);
	if (!rc)
		rc = ts_dit_request_move(e, r, 0x1, &ms, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x0, &err);
	for (int s = 0; !rc && s < final_steps(i); s++)
		rc = ts_dit_request_step(e, r, 0x1, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x, &err);
	TS_CHECK_MSG(rc == 0, "alone %d: %s", i, err.msg);
	ts_dit_request_close(r);
	return rc;
}

/* The twins after phase TWINS_AFTER: equal within BATCH_TOL (their rows
 * differ, and a GEMM algorithm may sum rows of different tiles in another
 * order, hence a bound rather than bits). */
static int check_twins(struct ts_dit_engine *e, struct ts_dit_request **r, const char *what)
{
	int64_t n = latent_n();
	float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
	float *x0 = malloc(sizeof(float) * n);
	struct ts_dit_request *fresh = NULL;
	double ms;
	int rc = read_latent(r[RT1], a) || read_latent(r[RT2], b) ||
		 ts_dit_request_open(e, &fresh, RES, RES, 1, 1, reqspec[RT1].seed, &err) ||
		 ts_dit_request_move(e, fresh, 0x1, &ms, &err) || read_latent(fresh, x0);
	double d = rc ? INFINITY : gt_rel_update_err(a, b, x0, n);
	TS_CHECK_MSG(d < BATCH_TOL, "%s: twins of one seed and history differ by %.3g", what, d);
	printf("%s: twins (batch rows 1 and 3, then 3 and 2): rel err %.2e%s\n", what, d,
	       !rc && !memcmp(a, b, sizeof(float) * n) ? " (bitwise equal)" : "");
	ts_dit_request_close(fresh);
	free(a), free(b), free(x0);
	return rc;
}

/* The batched phases on `mask`, the twins checked after phase TWINS_AFTER. */
static int run_phases(struct ts_dit_engine *e, struct ts_dit_request **r, uint64_t mask,
		      const char *what)
{
	int rc = 0;
	for (int p = 0; !rc && p < NPHASES; p++) {
		struct ts_dit_request *batch[4];
		for (int m = 0; m < phases[p].n; m++)
			batch[m] = r[phases[p].req[m]];
		for (int s = 0; !rc && s < phases[p].steps; s++)
			rc = ts_dit_batch_step(e, batch, phases[p].n, mask, &err);
		TS_CHECK_MSG(rc == 0, "%s phase %d: %s", what, p, err.msg);
		if (!rc && p == TWINS_AFTER)
			rc = check_twins(e, r, what);
	}
	return rc;
}

/* The whole sequence: requests opened, run alone on their first GPUs (C on
 * GPU 1 when there is one, so its latent moves), then the batched phases
 * on `mask`; the final latents into out[]. */
static int run_sequence(struct ts_dit_engine *e, int ngpu, uint64_t mask, float **out,
			const char *what)
{
	struct ts_dit_request *r[NREQ] = { NULL };
	int rc = 0;
	for (int i = 0; !rc && i < NREQ; i++) {
		uint64_t first = i == RC && ngpu > 1 ? 0x2 : 0x1;
		rc = ts_dit_request_open(e, &r[i], RES, RES, 1, reqspec[i].steps, reqspec[i].seed, &err);
		for (int s = 0; !rc && s < reqspec[i].pre; s++)
			rc = ts_dit_request_step(e, r[i], first, &err);
	}
	TS_CHECK_MSG(rc == 0, "%s: %s", what, err.msg);
	if (!rc)
		rc = run_phases(e, r, mask, what);
	for (int i = 0; !rc && i < NREQ; i++) {
		TS_CHECK(ts_dit_request_steps_done(r[i]) == final_steps(i));
		rc = read_latent(r[i], out[i]);
	}
	for (int i = 0; i < NREQ; i++)
		ts_dit_request_close(r[i]);
	return rc;
}

/* Each request's batched result against its run alone. */
static void compare_alone(float **x, float **alone, float **x0, const char *what)
{
	int64_t n = latent_n();
	for (int i = 0; i < NREQ; i++) {
		double d = gt_rel_update_err(x[i], alone[i], x0[i], n);
		bool same = !memcmp(x[i], alone[i], sizeof(float) * n);
		TS_CHECK_MSG(d < BATCH_TOL, "%s request %d (%d of %d steps): update differs from alone by %.3g",
			     what, i, final_steps(i), reqspec[i].steps, d);
		printf("%s request %d (seed %llu, step %d of %d): rel err of the update vs alone %.2e%s\n",
		       what, i, (unsigned long long)reqspec[i].seed, final_steps(i), reqspec[i].steps, d,
		       same ? " (bitwise equal)" : "");
	}
}

/* Bad batches: refused with a reason, and no request advanced. */
static void check_refusals(struct ts_dit_engine *e)
{
	struct ts_dit_request *a = NULL, *b = NULL, *c = NULL;
	int rc = ts_dit_request_open(e, &a, RES, RES, 1, 1, 1, &err) ||
		 ts_dit_request_open(e, &b, RES, RES, 1, 5, 2, &err) ||
		 ts_dit_request_open(e, &c, 2 * RES, RES, 1, 5, 3, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (!rc && !ts_dit_request_step(e, a, 0x1, &err)) {
		struct ts_dit_request *twice[2] = { b, b }, *mixed[2] = { b, c }, *spent[2] = { b, a };
		TS_CHECK(ts_dit_batch_step(e, twice, 2, 0x1, &err) == TS_EINVAL && strstr(err.msg, "twice"));
		TS_CHECK(ts_dit_batch_step(e, mixed, 2, 0x1, &err) == TS_EINVAL && strstr(err.msg, "512x256"));
		TS_CHECK(ts_dit_batch_step(e, spent, 2, 0x1, &err) == TS_ERANGE);
		TS_CHECK(ts_dit_batch_step(e, twice, 0, 0x1, &err) == TS_EINVAL);
		TS_CHECK(ts_dit_request_steps_done(b) == 0 && ts_dit_request_steps_done(c) == 0);
	}
	ts_dit_request_close(a), ts_dit_request_close(b), ts_dit_request_close(c);
}

static float **alloc_set(void)
{
	float **s = calloc(NREQ, sizeof(*s));
	for (int i = 0; i < NREQ; i++)
		s[i] = malloc(sizeof(float) * (size_t)latent_n());
	return s;
}

static void free_set(float **s)
{
	for (int i = 0; s && i < NREQ; i++)
		free(s[i]);
	free(s);
}

/* Eager at SP 1, 2, 4 (as GPUs allow) against alone; graphs at SP 1 against
 * eager, bit for bit. */
static void check_model(struct ts_dit_engine *e, int ngpu)
{
	const char *name = ts_dit_engine_config(e)->name;
	float **x0 = alloc_set(), **alone = alloc_set(), **eager = alloc_set(), **x = alloc_set();
	char what[96];
	int rc = 0;
	for (int i = 0; !rc && i < NREQ; i++)
		rc = run_alone(e, i, x0[i], alone[i]);
	for (int k = 1; !rc && k <= ngpu; k *= 2) {
		snprintf(what, sizeof(what), "%s %dx%d batched SP %d", name, RES, RES, k);
		rc = run_sequence(e, ngpu, (1ULL << k) - 1, k == 1 ? eager : x, what);
		if (!rc)
			compare_alone(k == 1 ? eager : x, alone, x0, what);
	}
	struct ts_dit_graph_stats g0, g1;
	ts_dit_engine_graph_stats(e, &g0);
	ts_dit_engine_set_graphs(e, true);
	snprintf(what, sizeof(what), "%s %dx%d batched SP 1 with graphs", name, RES, RES);
	if (!rc && !run_sequence(e, ngpu, 0x1, x, what)) {
		ts_dit_engine_graph_stats(e, &g1);
		for (int i = 0; i < NREQ; i++)
			TS_CHECK_MSG(!memcmp(x[i], eager[i], sizeof(float) * (size_t)latent_n()),
				     "%s: request %d differs from the eager batched run", what, i);
		TS_CHECK_MSG(g1.captures - g0.captures >= 3 && g1.replays - g0.replays >= 5 &&
				     g1.fallbacks == g0.fallbacks,
			     "%s: %lld captures, %lld replays, %lld fallbacks", what,
			     (long long)(g1.captures - g0.captures), (long long)(g1.replays - g0.replays),
			     (long long)(g1.fallbacks - g0.fallbacks));
		printf("%s: bitwise equal to eager (%lld captures, %lld replays)\n", what,
		       (long long)(g1.captures - g0.captures), (long long)(g1.replays - g0.replays));
	}
	ts_dit_engine_set_graphs(e, false);
	free_set(x0), free_set(alone), free_set(eager), free_set(x);
}

/* Mean wall time of `iters` steps after 2 untimed ones: one request of
 * `images` images when `requests` is 1, else `requests` requests of one
 * image stepped together. */
static double step_ms(struct ts_dit_engine *e, int res, int requests, int images, int iters)
{
	struct ts_dit_request *r[TS_MAX_BATCH] = { NULL };
	int rc = 0, opened = 0;
	int64_t t0 = 0;
	for (; !rc && opened < requests; opened++)
		rc = ts_dit_request_open(e, &r[opened], res, res, images, 2 + iters, 70 + (uint64_t)opened,
					 &err);
	for (int s = 0; !rc && s < 2 + iters; s++) {
		if (s == 2)
			t0 = ts_clock_ns();
		rc = ts_dit_batch_step(e, r, requests, 0x1, &err);
	}
	double ms = rc ? -1.0 : (double)(ts_clock_ns() - t0) / 1e6 / iters;
	TS_CHECK_MSG(rc == 0, "timing %dx%d: %s", res, res, err.msg);
	for (int i = 0; i < opened; i++)
		ts_dit_request_close(r[i]);
	return ms;
}

/* Per-image step time, SP 1: batches of b requests against one request
 * alone and one request of b images (what `tetriserve profile --batch`
 * times). */
static void report_timing(struct ts_dit_engine *e)
{
	const char *name = ts_dit_engine_config(e)->name;
	for (int res = 256; res <= 512; res *= 2) {
		double alone = step_ms(e, res, 1, 1, 5);
		for (int b = 2; b <= 4 && alone > 0; b *= 2) {
			double batched = step_ms(e, res, b, 1, 5) / b, one = step_ms(e, res, 1, b, 5) / b;
			printf("timing %s %dx%d batch %d: alone %.2f ms/image, batch of %d requests %.2f "
			       "ms/image (%.2fx alone), one request of %d images %.2f ms/image\n",
			       name, res, res, b, alone, b, batched, batched / alone, b, one);
		}
	}
}

int main(void)
{
	int have = gt_gpus();
	if (have < 1)
		return TS_SKIP;
	int ngpu = have >= 4 ? 4 : have >= 2 ? 2 : 1;
	const char *models[] = { "flux-dev", "sd3-medium" };
	for (int m = 0; m < 2; m++) {
		struct ts_dit_engine *e = NULL;
		int rc = ts_dit_engine_open(&e, models[m], ngpu, 1234, &err);
		TS_CHECK_MSG(rc == 0, "%s: %s", models[m], err.msg);
		if (rc)
			continue;
		check_model(e, ngpu);
		if (m == 0)
			check_refusals(e);
		report_timing(e);
		ts_dit_engine_close(e);
	}
	return ts_test_result("batch_step");
}
