/* ts_exec_cmd.c: `tetriserve exec` — the run flow of `sim` (cli/run_cmd.h)
 * on real GPUs: the policies plan with the profile's step times, the DiT
 * engine opens once and warms up, then each policy runs on a fresh executor
 * backend (backend "exec" in the results store). This file adds the
 * engine's options and hooks. */
#include "ts_exec_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/run_cmd.h"
#include "ts_dit.h"
#include "ts_exec_dit.h"
#include "ts_exec_engine.h"

enum { XO_WARMUP = TS_RUN_CMD_OWN, XO_WARM_COMMS, XO_NO_WARM_COMMS, XO_NO_PREALLOC, XO_WSEED,
       XO_WEIGHTS };

static const struct option exec_own_options[] = {
	{ "warmup-steps", required_argument, NULL, XO_WARMUP },
	{ "warm-comms", no_argument, NULL, XO_WARM_COMMS },
	{ "no-warm-comms", no_argument, NULL, XO_NO_WARM_COMMS },
	{ "no-prealloc", no_argument, NULL, XO_NO_PREALLOC },
	{ "weight-seed", required_argument, NULL, XO_WSEED },
	{ "weights", required_argument, NULL, XO_WEIGHTS },
	{ NULL, 0, NULL, 0 },
};

/* The command's state: the engine, what it does before the runs. */
struct exec_cmd {
	struct ts_run_cmd *rc;
	struct ts_exec_factory_ctx x;
	struct ts_dit_engine *engine;
};

static void exec_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve exec --trace F --profile P [options]\n"
		"Serves a request trace on this machine's GPUs with the DiT engine (synthetic weights of\n"
		"real shapes, or a diffusers checkpoint's with --weights) under one or more policies;\n"
		"prints the SLO-attainment table and writes every run to a SQLite file (backend\n"
		"\"exec\"; same schema as tetriserve sim).\n"
		"Defaults: --model flux-dev --policy fixed-sp:1,rssp,tetriserve\n\n");
	ts_run_cmd_help(f);
	fprintf(f,
		"Executor options:\n"
		"  --model M          engine model preset: flux-dev or sd3-medium (default flux-dev);\n"
		"                     with --weights the name the trace's requests carry\n"
		"  --warmup-steps K   steps per resolution, degree and batch size of the profile before\n"
		"                     the runs, not timed (default 1)\n"
		"  --no-warm-comms    do not create the NCCL communicators of every aligned GPU set up\n"
		"                     front (by default they are: a first use inside a run costs 0.1-1 s)\n"
		"  --no-prealloc      do not open every request and take its device memory on every GPU\n"
		"                     before each run's clock starts (by default it is: the first launch\n"
		"                     of a request then allocates nothing)\n"
		"  --weight-seed S    seed of the synthetic weights (default 1234; same as --seed)\n"
		"  --weights DIR      a diffusers transformer folder (config.json and\n"
		"                     diffusion_pytorch_model*.safetensors) of a FluxTransformer2DModel\n"
		"                     or SD3Transformer2DModel: its shapes and weights\n"
		"A batched launch (tetriserve's selective batching) steps its requests together, each\n"
		"at its own step (ts_dit_batch_step); --no-batching turns it off.\n");
}

static int exec_set_own(void *ctx, int val, const char *arg, struct ts_error *err)
{
	struct exec_cmd *x = ctx;
	long long ll;
	switch (val) {
	case XO_WARMUP:
		if (ts_cli_parse_int(arg, 0, 1000, &ll, "--warmup-steps", err))
			return TS_EINVAL;
		x->x.warmup_steps = (int)ll;
		return 0;
	case XO_WARM_COMMS: x->x.warm_comms = true; return 0;
	case XO_WEIGHTS: x->x.weights = arg; return 0;
	case XO_NO_WARM_COMMS: x->x.warm_comms = false; return 0;
	case XO_NO_PREALLOC: x->x.prealloc = false; return 0;
	case XO_WSEED:
		if (ts_cli_parse_int(arg, 0, INT64_MAX, &ll, "--weight-seed", err))
			return TS_EINVAL;
		x->rc->cfg.seed = (uint64_t)ll;
		return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

/* Opens the engine and warms it up (ts_exec_engine.h). */
static int exec_prepare(void *ctx, const struct ts_run_inputs *in, struct ts_error *err)
{
	struct exec_cmd *x = ctx;
	const struct ts_run_config *c = &x->rc->cfg;
	struct ts_exec_engine_opts eo = { .model = c->model, .weights = x->x.weights, .gpus = c->gpus,
					  .seed = c->seed, .warmup_steps = x->x.warmup_steps,
					  .warm_comms = x->x.warm_comms, .quiet = x->rc->quiet };
	int rc = ts_exec_engine_prepare(&x->engine, &eo, in, err);
	x->x.dev_self = x->engine;
	return rc;
}

/* Pending collectives must not hang the teardown. */
static void exec_on_failure(void *ctx)
{
	struct exec_cmd *x = ctx;
	if (x->engine)
		ts_dit_engine_abort(x->engine);
}

int ts_cmd_exec(int argc, char **argv)
{
	struct ts_run_cmd rc = {
		.name = "tetriserve exec", .db = "results.db", .policy_text = "fixed-sp:1,rssp,tetriserve",
		.real_time = true,
		.own = exec_own_options, .set_own = exec_set_own, .usage = exec_usage,
		.prepare = exec_prepare, .on_failure = exec_on_failure,
	};
	struct exec_cmd x = { .rc = &rc, .x = { .dev = &ts_exec_dit_ops, .warmup_steps = 1, .warm_comms = true,
						.prealloc = true } };
	rc.ctx = &x;
	rc.backend = ts_exec_factory(&x.x);
	ts_run_config_defaults(&rc.cfg);
	rc.cfg.model = "flux-dev";
	rc.cfg.seed = 1234;
	int r = ts_run_cmd_parse(&rc, argc, argv);
	if (r)
		return r == 1 ? 0 : 2;
	int status = ts_run_cmd_execute(&rc);
	ts_dit_engine_close(x.engine);
	return status;
}
