/* ts_validate_gpu.c: validate's GPU device (see ts_validate_gpu.h). */
#include "ts_validate_gpu.h"

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

/* `tetriserve profile` of the cells: SP 1, 2, 4, ... up to the GPUs. */
static int gpu_measure(const struct ts_validate_measure *m, struct ts_error *err)
{
	int sp[8], nsp = 0;
	for (int k = 1; k <= m->gpus && nsp < 8; k *= 2)
		sp[nsp++] = k;
	char res[160], sps[64], gpus[16];
	join(res, sizeof(res), m->res, m->nres);
	join(sps, sizeof(sps), sp, nsp);
	snprintf(gpus, sizeof(gpus), "%d", m->gpus);
	char *argv[] = { "profile", "--model", (char *)m->model, "--res", res, "--sp", sps, "--gpus", gpus,
			 "--out", (char *)m->out, "--db", (char *)m->db, NULL };
	int status = ts_cmd_profile((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	return status ? ts_err_set(err, TS_EDEVICE, "tetriserve profile %s --res %s --sp %s failed (status %d; "
				   "its message is above)", m->model, res, sps, status) : 0;
}

/* Engine open (weights generated on the GPUs) and, per cell warmed, its
 * steps and a first-shape cost (cuDNN plans, cuBLASLt heuristics). */
static double gpu_setup_s(const struct ts_validate_opts *o, const struct ts_run_inputs *in)
{
	double s = 15;
	for (int32_t c = 0; c < in->cls.n; c++)
		for (int deg = 1; deg <= o->cfg.gpus; deg *= 2) {
			ts_ns t = ts_class_step(&in->cls, c, deg, 1);
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
	.what = "GPUs (DiT engine; it runs no batched launch of separate requests, so batching is off)",
	.measure = gpu_measure,
	.setup_s = gpu_setup_s,
	.per_request_s = 0.003,
	.open = gpu_open,
	.on_failure = gpu_on_failure,
	.close = gpu_close,
};

int ts_cmd_validate_gpu(int argc, char **argv)
{
	return ts_validate_main(argc, argv, &gpu_device);
}
