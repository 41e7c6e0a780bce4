/* ts_validate_gpu.c: validate's GPU device (see ts_validate_gpu.h). */
#include "ts_validate_gpu.h"

#include <stdbool.h>
#include <stdio.h>

#include "ts_dit.h"
#include "ts_exec_dit.h"
#include "ts_exec_engine.h"
#include "ts_profile_cmd.h"
#include "ts_validate.h"

/* Comma-separated v[0..n) into buf. */
static void join(char *buf, size_t len, const int *v, int n)
{
	size_t at = 0;
	buf[0] = 0;
	for (int i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", v[i]);
}

/* `tetriserve profile` of m->model at resolutions res, SP degrees sps and
 * batch sizes batches into out (and m->db). */
static int profile_cells(const struct ts_validate_measure *m, const char *res, const char *sps,
			 const char *batches, const char *out, struct ts_error *err)
{
	char gpus[16];
	snprintf(gpus, sizeof(gpus), "%d", m->gpus);
	char *argv[] = { "profile", "--model", (char *)m->model, "--res", (char *)res, "--sp", (char *)sps,
			 "--gpus", gpus, "--batch", (char *)batches, "--out", (char *)out, "--db",
			 (char *)m->db, NULL };
	int status = ts_cmd_profile((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	return status ? ts_err_set(err, TS_EDEVICE, "tetriserve profile %s --res %s --sp %s --batch %s failed "
				   "(status %d; its message is above)", m->model, res, sps, batches, status) : 0;
}

/* Appends the data rows of CSV `from` (not its comments or header) to `to`. */
static int append_rows(const char *from, const char *to, struct ts_error *err)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "a");
	char line[1024];
	int rc = in && out ? 0 : ts_err_set(err, TS_EIO, "appending %s to %s: cannot open one", from, to);
	bool header = true;
	while (!rc && fgets(line, sizeof(line), in)) {
		if (line[0] == '#')
			continue;
		if (!header && fputs(line, out) == EOF)
			rc = ts_err_set(err, TS_EIO, "%s: write failed", to);
		header = false;
	}
	if (in)
		fclose(in);
	if (out && fclose(out) && !rc)
		rc = ts_err_set(err, TS_EIO, "%s: write failed", to);
	remove(from);
	return rc;
}

/* The cells: SP 1, 2, 4, ... up to the GPUs at batch 1; then, for the
 * resolutions up to 512^2, batches 2 and 4 at SP 1 and 2 (the batch cells
 * selective batching plans with, as the bundled profiles have them). */
static int gpu_measure(const struct ts_validate_measure *m, struct ts_error *err)
{
	int sp[8], nsp = 0, small[16], nsmall = 0;
	for (int k = 1; k <= m->gpus && nsp < 8; k *= 2)
		sp[nsp++] = k;
	for (int i = 0; i < m->nres; i++)
		if (m->res[i] <= 512)
			small[nsmall++] = m->res[i];
	char res[160], sps[64], tmp[4096];
	join(res, sizeof(res), m->res, m->nres);
	join(sps, sizeof(sps), sp, nsp);
	int rc = profile_cells(m, res, sps, "1", m->out, err);
	if (rc || !nsmall)
		return rc;
	join(res, sizeof(res), small, nsmall);
	join(sps, sizeof(sps), sp, nsp < 2 ? nsp : 2);
	snprintf(tmp, sizeof(tmp), "%s.batch.csv", m->out);
	rc = profile_cells(m, res, sps, "2,4", tmp, err);
	return rc ? rc : append_rows(tmp, m->out, err);
}

/* Engine open (weights generated on the GPUs) and, per cell warmed, its
 * steps and a first-shape cost (cuDNN plans, cuBLASLt heuristics). */
static double gpu_setup_s(const struct ts_validate_opts *o, const struct ts_run_inputs *in)
{
	double s = 15;
	for (int32_t c = 0; c < in->cls.n; c++)
		for (int deg = 1; deg <= o->cfg.gpus; deg *= 2)
			for (int b = 1; b <= TS_MAX_BATCH; b *= 2) { /* warm-up covers batch cells */
				ts_ns t = ts_class_step(&in->cls, c, deg, b);
				if (t > 0)
					s += (o->cfg.gpus / deg) * (o->warmup_steps * (double)t / 1e9 + 1.5);
			}
	return s;
}

static int gpu_open(const struct ts_validate_opts *o, const struct ts_run_inputs *in,
		    struct ts_exec_factory_ctx *x, struct ts_error *err)
{
	struct ts_dit_engine *e = NULL;
	struct ts_exec_engine_opts eo = { .model = o->model, .gpus = o->cfg.gpus, .seed = o->cfg.seed,
					  .warmup_steps = o->warmup_steps, .warm_comms = x->warm_comms,
					  .quiet = o->quiet };
	int rc = ts_exec_engine_prepare(&e, &eo, in, err);
	x->dev = &ts_exec_dit_ops;
	x->dev_self = e;
	if (rc) {
		ts_dit_engine_close(e);
		x->dev_self = NULL;
	}
	return rc;
}

static void gpu_on_failure(struct ts_exec_factory_ctx *x)
{
	if (x->dev_self)
		ts_dit_engine_abort(x->dev_self);
}

static void gpu_close(struct ts_exec_factory_ctx *x)
{
	ts_dit_engine_close(x->dev_self);
	x->dev_self = NULL;
}

static const struct ts_validate_device gpu_device = {
	.what = "GPUs (DiT engine; batched launches of separate requests run batched)",
	.measure = gpu_measure,
	.setup_s = gpu_setup_s,
	.per_request_s = 0.003,
	.open = gpu_open,
	.on_failure = gpu_on_failure,
	.close = gpu_close,
	.batches = true,
};

int ts_cmd_validate_gpu(int argc, char **argv)
{
	return ts_validate_main(argc, argv, &gpu_device);
}
