/* test_dit_step.c: the full DiT step on one GPU: FLUX.1-dev and SD3-medium
 * latents stay finite and bounded through 50 steps, the same seed gives the
 * same bits, a batch of 2 computes sample 0 as a batch of 1 does (bf16
 * bounds), the own attention kernel gives the default's step (bf16 bounds),
 * and bad requests get clear errors. */
#include <string.h>

#include "gpu_test.h"
#include "ts_attention.h"
#include "ts_dit.h"

static struct ts_error err;

/* Largest |x|, or +Inf if any element is not finite. */
static double max_abs(const float *x, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return INFINITY;
		m = fabs(x[i]) > m ? fabs(x[i]) : m;
	}
	return m;
}

static double rel_delta_err(const float *a, const float *b, const float *x0, int64_t n)
{
	double num = 0, den = 0;
	for (int64_t i = 0; i < n; i++) {
		double da = a[i] - x0[i], db = b[i] - x0[i];
		num += (da - db) * (da - db);
		den += db * db;
	}
	return den > 0 ? sqrt(num / den) : INFINITY;
}

/* 50 steps at res x res: the latent must stay finite and bounded, and
 * must change (a step that does nothing would pass the first check). */
static void check_fifty_steps(struct ts_dit_engine *e, int res)
{
	struct ts_dit_request *r = NULL;
	int rc = ts_dit_request_open(e, &r, res, res, 1, 50, 99, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	int64_t n = ts_dit_request_latent_size(r);
	float *x = malloc(sizeof(float) * n), *x0 = malloc(sizeof(float) * n);
	double moved = 0;
	rc = ts_dit_request_move(e, r, 1, &moved, &err) || ts_dit_request_latent(r, x0, &err);
	for (int s = 0; !rc && s < 50; s++) {
		rc = ts_dit_request_step(e, r, 1, &err);
		if (!rc && (s % 10 == 9)) {
			rc = ts_dit_request_latent(r, x, &err);
			double m = max_abs(x, n);
			TS_CHECK_MSG(m < 100.0, "%s step %d: max |latent| %g", ts_dit_engine_config(e)->name,
				     s + 1, m);
			printf("%s %d: step %d max|x| %.3f\n", ts_dit_engine_config(e)->name, res, s + 1, m);
		}
	}
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	TS_CHECK(ts_dit_request_steps_done(r) == 50);
	TS_CHECK(ts_dit_request_step(e, r, 1, &err) == TS_ERANGE);
	double change = 0;
	for (int64_t i = 0; i < n; i++)
		change += fabs(x[i] - x0[i]);
	TS_CHECK_MSG(change / n > 1e-2, "latent barely changed over 50 steps: %g", change / n);
	free(x), free(x0);
	ts_dit_request_close(r);
}

/* Runs `steps` steps of a fresh request on GPU 0; latent into out. */
static int run_steps(struct ts_dit_engine *e, int res, int batch, int steps, float *out)
{
	struct ts_dit_request *r = NULL;
	int rc = ts_dit_request_open(e, &r, res, res, batch, 50, 7, &err);
	for (int s = 0; !rc && s < steps; s++)
		rc = ts_dit_request_step(e, r, 1, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, out, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	ts_dit_request_close(r);
	return rc;
}

/* Same seed, same bits; batch 2's sample 0 equals batch 1 within bf16. */
static void check_determinism_and_batch(struct ts_dit_engine *e, int res)
{
	int64_t n1 = (int64_t)16 * (res / 8) * (res / 8);
	float *a = malloc(sizeof(float) * n1), *b = malloc(sizeof(float) * n1);
	float *x0 = malloc(sizeof(float) * n1), *ab = malloc(sizeof(float) * 2 * n1);
	if (run_steps(e, res, 1, 2, a) || run_steps(e, res, 1, 2, b) || run_steps(e, res, 1, 0 + 1, x0))
		goto out;
	TS_CHECK_MSG(!memcmp(a, b, sizeof(float) * n1), "two runs with one seed differ");
	if (run_steps(e, res, 2, 2, ab))
		goto out;
	{
		/* Compare the change over step 2 (x2 - x1). */
		double d = rel_delta_err(ab, a, x0, n1);
		TS_CHECK_MSG(d < 3e-2, "batch 2 sample 0 vs batch 1: rel err of the update %g", d);
		printf("%s %d: batch-2 vs batch-1 update rel err %.2e\n", ts_dit_engine_config(e)->name,
		       res, d);
	}
out:
	free(a), free(b), free(x0), free(ab);
}

/* The attention kernel choice: an engine forced to the own wgmma kernel
 * (or mma.sync where wgmma is not built) computes the step's update as the
 * default (cuDNN where it loads, and then it must: gt_cudnn_expected; else
 * the check compares a kernel with itself) does, within bf16
 * bounds; bad choices, and any once requests have been opened, are
 * refused. */
static void check_attention_choice(const char *model, int res)
{
	struct ts_dit_engine *own = NULL, *dflt = NULL;
	struct ts_dit_request *r = NULL;
	int64_t n = (int64_t)16 * (res / 8) * (res / 8);
	float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
	float *x0 = malloc(sizeof(float) * n);
	const char *why = NULL;
	char expected[128];
	bool must = gt_cudnn_expected(expected, sizeof(expected));
	TS_CHECK_MSG(!must || ts_attn_cudnn_available(&why), "%s, but the cuDNN path is off: %s",
		     expected, why);
	if (ts_dit_engine_open(&own, model, 1, 1234, &err) ||
	    ts_dit_engine_open(&dflt, model, 1, 1234, &err)) {
		TS_CHECK_MSG(0, "%s", err.msg);
		goto out;
	}
	/* the default engine holds a cuDNN context where cuDNN is expected */
	if (must) {
		TS_CHECK_MSG(ts_dit_engine_set_attention(dflt, TS_ATTN_CUDNN, &err) == 0,
			     "%s, but the engine has no cuDNN: %s", expected, err.msg);
		TS_CHECK(ts_dit_engine_set_attention(dflt, TS_ATTN_AUTO, &err) == 0);
	}
	TS_CHECK(ts_dit_engine_set_attention(own, 9, &err) == TS_EINVAL);
	int kern = ts_attention_has_wgmma() ? TS_ATTN_WGMMA : TS_ATTN_MMA_32;
	TS_CHECK_MSG(ts_dit_engine_set_attention(own, kern, &err) == 0, "%s", err.msg);
	TS_CHECK(ts_dit_engine_attention(own) == kern && ts_dit_engine_attention(dflt) == TS_ATTN_AUTO);
	if (run_steps(own, res, 1, 2, a) || run_steps(dflt, res, 1, 2, b) ||
	    run_steps(dflt, res, 1, 1, x0))
		goto out;
	double d = rel_delta_err(a, b, x0, n);
	TS_CHECK_MSG(d < 3e-2, "%s %d: own kernel vs default attention: rel err of the update %g",
		     model, res, d);
	printf("%s %d: attention %d vs auto: update rel err %.2e\n", model, res, kern, d);
	if (ts_dit_request_open(own, &r, res, res, 1, 50, 1, &err) == 0) {
		TS_CHECK(ts_dit_engine_set_attention(own, TS_ATTN_AUTO, &err) == TS_EINVAL);
		ts_dit_request_close(r);
	}
out:
	ts_dit_engine_close(own);
	ts_dit_engine_close(dflt);
	free(a), free(b), free(x0);
}

static void check_errors(struct ts_dit_engine *e)
{
	struct ts_dit_request *r = NULL;
	struct ts_dit_engine *bad = NULL;
	TS_CHECK(ts_dit_engine_open(&bad, "flux-pro", 1, 1, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "flux-pro") != NULL, "message should name the model: %s", err.msg);
	TS_CHECK(ts_dit_request_open(e, &r, 250, 256, 1, 10, 1, &err) == TS_EINVAL);
	TS_CHECK(ts_dit_request_open(e, &r, 256, 256, 0, 10, 1, &err) == TS_EINVAL);
	if (ts_dit_request_open(e, &r, 256, 256, 1, 10, 1, &err) == 0) {
		TS_CHECK(ts_dit_request_step(e, r, 1ULL << 40, &err) == TS_EINVAL);
		ts_dit_request_close(r);
	}
}

int main(void)
{
	if (gt_gpus() < 1) {
		printf("test_dit_step: no GPU, skipped\n");
		return TS_SKIP;
	}
	const char *models[] = {"sd3-medium", "flux-dev"};
	for (int m = 0; m < 2; m++) {
		struct ts_dit_engine *e = NULL;
		int rc = ts_dit_engine_open(&e, models[m], 1, 1234, &err);
		TS_CHECK_MSG(rc == 0, "%s", err.msg);
		if (rc)
			continue;
		check_fifty_steps(e, 256);
		check_determinism_and_batch(e, 256);
		if (m == 0)
			check_errors(e);
		int64_t now, peak;
		if (!ts_dit_engine_memory(e, 0, &now, &peak, &err))
			printf("%s: GPU 0 memory peak %.2f GiB, %lld parameters\n", models[m],
			       (double)peak / (1 << 30),
			       (long long)ts_dit_param_count(ts_dit_engine_config(e)));
		ts_dit_engine_close(e);
	}
	check_attention_choice("sd3-medium", 512);
	return ts_test_result("test_dit_step");
}
