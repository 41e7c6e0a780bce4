/* ts_exec_engine.c: the DiT engine made ready to serve a trace (see
 * ts_exec_engine.h). */
#include "ts_exec_engine.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/gpuset.h"
#include "ts_exec_backend.h"
#include "ts_exec_dit.h"

/* Every request must be of the engine's model. */
static int check_models(const struct ts_trace *t, const char *model, struct ts_error *err)
{
	for (int32_t m = 0; m < t->nmodels; m++)
		for (size_t i = 0; i < t->n; i++)
			if (t->req[i].model == m && strcmp(t->models[m], model))
				return ts_err_set(err, TS_EINVAL,
						  "%s: request %lld is of model '%s' but the engine runs '%s' (--model)",
						  t->path ? t->path : "trace", (long long)t->req[i].id,
						  t->models[m], model);
	return 0;
}

/* Runs k steps of `batch` h x w requests together (one alone when batch is
 * 1) on GPU set `set`: first kernel launches, cuBLASLt heuristics, cuDNN
 * plans, workspace and staging buffers, the communicator of that set. */
static int warm_cell(struct ts_dit_engine *e, int h, int w, uint64_t set, int batch, int steps,
		     struct ts_error *err)
{
	struct ts_dit_request *r[TS_MAX_BATCH] = { NULL };
	int rc = 0, opened = 0;
	for (; !rc && opened < batch; opened++)
		rc = ts_dit_request_open(e, &r[opened], h, w, 1, steps, 1 + (uint64_t)opened, err);
	for (int s = 0; !rc && s < steps; s++)
		rc = ts_dit_batch_step(e, r, batch, set, err);
	for (int i = 0; i < opened; i++)
		ts_dit_request_close(r[i]);
	return rc ? ts_err_prefix(err, "warm-up %dx%d batch %d on GPUs 0x%llx", h, w, batch,
				  (unsigned long long)set)
		  : 0;
}

/* Warm-up steps of class c at degree deg and batch b on every aligned
 * block of that degree. */
static int warm_blocks(struct ts_dit_engine *e, const struct ts_exec_engine_opts *o,
		       const struct ts_class *k, int deg, int b, struct ts_error *err)
{
	for (int j = 0; j + deg <= o->gpus; j += deg) {
		int rc = warm_cell(e, k->height, k->width, ts_gpus_block(j, deg), b, o->warmup_steps, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Warm-up steps for every resolution of the trace at every degree and
 * batch size the profile has a cell for, on every aligned GPU block of that
 * degree. */
static int warm_up(struct ts_dit_engine *e, const struct ts_exec_engine_opts *o,
		   const struct ts_run_inputs *in, struct ts_error *err)
{
	int heads = ts_dit_engine_config(e)->heads;
	for (int32_t c = 0; c < in->cls.n && o->warmup_steps > 0; c++)
		for (int deg = 1; deg <= o->gpus; deg *= 2)
			for (int b = 1; b <= TS_MAX_BATCH; b *= 2) {
				if (heads % deg || ts_class_step(&in->cls, c, deg, b) < 0)
					continue;
				int rc = warm_blocks(e, o, &in->cls.cls[c], deg, b, err);
				if (rc)
					return rc;
			}
	return 0;
}

static void note(const struct ts_exec_engine_opts *o, const char *what, int64_t since_ns)
{
	if (!o->quiet)
		fprintf(stderr, "%s in %.1f s\n", what, (double)(ts_clock_ns() - since_ns) / 1e9);
}

int ts_exec_engine_prepare(struct ts_dit_engine **e, const struct ts_exec_engine_opts *o,
			   const struct ts_run_inputs *in, struct ts_error *err)
{
	int64_t t0 = ts_clock_ns();
	int rc = check_models(&in->trace, o->model, err);
	struct ts_dit_engine_opts eo = { o->model, o->weights, o->gpus, o->seed, 0 };
	if (!rc)
		rc = ts_dit_engine_open_opts(e, &eo, err);
	if (rc)
		return rc;
	note(o, "engine opened", t0);
	if (o->warm_comms) {
		double ms;
		int groups;
		rc = ts_exec_warm_comms(&ts_exec_dit_ops, *e, o->gpus, &ms, &groups, err);
		if (rc)
			return rc;
		if (!o->quiet)
			fprintf(stderr, "communicators of %d aligned GPU sets created in %.1f ms\n", groups, ms);
	}
	t0 = ts_clock_ns();
	rc = warm_up(*e, o, in, err);
	if (!rc && o->warmup_steps)
		note(o, "warm-up", t0);
	return rc;
}
