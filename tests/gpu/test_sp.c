/* test_sp.c: Ulysses sequence parallelism is the same computation as one
 * GPU: a step at SP=2 and SP=4 gives the SP=1 latent update within bf16
 * bounds, for FLUX.1-dev (tokens divide) and SD3-medium at 272x272 (333
 * text and 289 image tokens: padded and masked); and a request whose
 * degree changes 1 -> 4 -> 2 between steps (the latent moving by peer
 * copies, the last group not starting at GPU 0) ends where a fixed SP=1
 * run does. Needs 2 GPUs (4 for the SP=4 cases). */
#include <string.h>

#include "gpu_test.h"
#include "ts_dit.h"

#define SP_TOL 3e-2

static struct ts_error err;

/* Runs the request over the given per-step GPU masks; fills x0 (noise) and
 * x (final latent); *move_ms sums the latent moves. */
static int run_plan(struct ts_dit_engine *e, int res, const uint64_t *masks, int steps, float *x0,
		    float *x, double *move_ms)
{
	struct ts_dit_request *r = NULL;
	double ms = 0;
	*move_ms = 0;
	int rc = ts_dit_request_open(e, &r, res, res, 1, 50, 5, &err);
	if (!rc)
		rc = ts_dit_request_move(e, r, masks[0], &ms, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x0, &err);
	for (int s = 0; !rc && s < steps; s++) {
		if (s > 0) {
			rc = ts_dit_request_move(e, r, masks[s], &ms, &err);
			*move_ms += ms;
		}
		if (!rc)
			rc = ts_dit_request_step(e, r, masks[s], &err);
	}
	if (!rc)
		rc = ts_dit_request_latent(r, x, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	ts_dit_request_close(r);
	return rc;
}

static void check_model(const char *model, int res, int ngpu)
{
	struct ts_dit_engine *e = NULL;
	int rc = ts_dit_engine_open(&e, model, ngpu, 1234, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	int64_t n = (int64_t)16 * (res / 8) * (res / 8);
	float *x0 = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
	float *x = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * n);
	double move_ms;
	const uint64_t one[3] = {0x1, 0x1, 0x1};
	if (run_plan(e, res, one, 3, x0, ref, &move_ms))
		goto out;
	const uint64_t sp2[3] = {0x3, 0x3, 0x3}, sp4[3] = {0xF, 0xF, 0xF};
	const uint64_t change[3] = {0x1, 0xF, 0x6};
	const uint64_t *plans[3] = {sp2, sp4, change};
	const char *names[3] = {"SP=2", "SP=4", "SP 1->4->2"};
	for (int p = 0; p < 3; p++) {
		if (p > 0 && ngpu < 4)
			break;
		if (run_plan(e, res, plans[p], 3, y0, x, &move_ms))
			continue;
		TS_CHECK_MSG(!memcmp(x0, y0, sizeof(float) * n), "%s: different starting noise", names[p]);
		double d = gt_rel_update_err(x, ref, x0, n);
		TS_CHECK_MSG(d < SP_TOL, "%s %s: rel err of the 3-step update vs SP=1: %g", model,
			     names[p], d);
		printf("%s %dx%d %s vs SP=1: rel err %.2e (latent moves %.3f ms)\n", model, res, res,
		       names[p], d, move_ms);
	}
out:
	free(x0), free(ref), free(x), free(y0);
	ts_dit_engine_close(e);
}

int main(void)
{
	int ngpu = gt_gpus();
	if (ngpu < 2) {
		printf("test_sp: needs 2 GPUs, %d present, skipped\n", ngpu);
		return TS_SKIP;
	}
	ngpu = ngpu >= 4 ? 4 : 2;
	check_model("sd3-medium", 272, ngpu);
	check_model("flux-dev", 256, ngpu);
	return ts_test_result("test_sp");
}
