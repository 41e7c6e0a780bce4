/* ts_exec_cmd.c: `tetriserve exec` — the simulator's flow (cmd_sim.c) on
 * real GPUs: load trace and profile (the policies plan with the profile's
 * step times), open the DiT engine once, warm it up, then run each policy
 * on the executor backend, store every run (backend "exec") and print the
 * SLO-attainment table. */
#include "ts_exec_cmd.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_util.h"
#include "cli/sim_run.h"
#include "cli/store_sink.h"
#include "core/ts_strbuf.h"
#include "driver/driver.h"
#include "ts_dit.h"
#include "ts_exec_dit.h"

#define EXEC_MAX_POLICIES 32

struct exec_args {
	struct ts_sim_config cfg;   /* trace, profile, model, GPUs, SLO scale, policy knobs */
	const char *db;
	char policies[1024];
	double time_scale;          /* multiplies arrival times, not SLOs */
	int warmup_steps;           /* per (resolution, degree) before the runs */
	long long max_requests;     /* 0 = all */
	uint64_t weight_seed;
	bool json, no_db, quiet, warm_comms;
};

static volatile sig_atomic_t exec_stop;

/* The first Ctrl-C ends the run cleanly; a second one kills the process
 * (a GPU that never returns must not make it unkillable). */
static void exec_on_sigint(int sig)
{
	exec_stop = 1;
	signal(sig, SIG_DFL);
}

static void exec_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve exec --trace F --profile P [options]\n"
		"Serves a request trace on this machine's GPUs with the DiT engine (synthetic weights,\n"
		"real shapes) under one or more policies; prints the SLO-attainment table and writes\n"
		"every run to a SQLite file (backend \"exec\"; same schema as tetriserve sim).\n\n"
		"  --trace F          request trace CSV (required)\n"
		"  --profile F        step-latency profile CSV the policies plan with (required)\n"
		"  --model M          engine model preset: flux-dev or sd3-medium (default flux-dev)\n"
		"  --gpus N           GPUs to use, 0..N-1 (default 4)\n"
		"  --policy P[,P...]  fixed-sp:K, edf-fixed:K, rssp[:MAP], tetriserve (default fixed-sp:1,rssp,tetriserve)\n"
		"  --time-scale X     multiply arrival times by X (0 < X <= 1) to compress idle gaps; SLOs are NOT scaled\n"
		"  --slo-scale X      multiply every request's SLO by X (default 1.0)\n"
		"  --warmup-steps K   steps per resolution and degree before the runs, not timed (default 1)\n"
		"  --warm-comms       create the NCCL communicators of every aligned GPU set up front\n"
		"  --max-requests M   serve only the first M requests of the trace\n"
		"  --weight-seed S    seed of the synthetic weights (default 1234)\n"
		"  --db F             SQLite results file (default results.db); --no-db to skip\n"
		"  --gpu-type G, --interpolate, --round-steps G, --round-ms T, --no-placement,\n"
		"  --no-elastic, --rssp-map MAP, --label TEXT   as in tetriserve sim\n"
		"  --json             print the summaries as JSON; --quiet prints only errors\n"
		"Batching is off (--no-batching is implied): the engine batches images of one request\n"
		"object, never separate requests with their own latents.\n");
}

enum {
	XO_TRACE = 256, XO_PROFILE, XO_MODEL, XO_GPUS, XO_POLICY, XO_TIME_SCALE, XO_SLO, XO_WARMUP,
	XO_WARM_COMMS, XO_MAX_REQ, XO_WSEED, XO_DB, XO_NODB, XO_GPU_TYPE, XO_INTERP, XO_ROUND_STEPS,
	XO_ROUND_MS, XO_NO_PLACEMENT, XO_NO_ELASTIC, XO_NO_BATCHING, XO_RSSP_MAP, XO_LABEL, XO_JSON,
	XO_QUIET, XO_HELP,
};

static const struct option exec_options[] = {
	{ "trace", required_argument, NULL, XO_TRACE },
	{ "profile", required_argument, NULL, XO_PROFILE },
	{ "model", required_argument, NULL, XO_MODEL },
	{ "gpus", required_argument, NULL, XO_GPUS },
	{ "policy", required_argument, NULL, XO_POLICY },
	{ "time-scale", required_argument, NULL, XO_TIME_SCALE },
	{ "slo-scale", required_argument, NULL, XO_SLO },
	{ "warmup-steps", required_argument, NULL, XO_WARMUP },
	{ "warm-comms", no_argument, NULL, XO_WARM_COMMS },
	{ "max-requests", required_argument, NULL, XO_MAX_REQ },
	{ "weight-seed", required_argument, NULL, XO_WSEED },
	{ "db", required_argument, NULL, XO_DB },
	{ "no-db", no_argument, NULL, XO_NODB },
	{ "gpu-type", required_argument, NULL, XO_GPU_TYPE },
	{ "interpolate", no_argument, NULL, XO_INTERP },
	{ "round-steps", required_argument, NULL, XO_ROUND_STEPS },
	{ "round-ms", required_argument, NULL, XO_ROUND_MS },
	{ "no-placement", no_argument, NULL, XO_NO_PLACEMENT },
	{ "no-elastic", no_argument, NULL, XO_NO_ELASTIC },
	{ "no-batching", no_argument, NULL, XO_NO_BATCHING },
	{ "rssp-map", required_argument, NULL, XO_RSSP_MAP },
	{ "label", required_argument, NULL, XO_LABEL },
	{ "json", no_argument, NULL, XO_JSON },
	{ "quiet", no_argument, NULL, XO_QUIET },
	{ "help", no_argument, NULL, XO_HELP },
	{ NULL, 0, NULL, 0 },
};

static int set_int_option(struct exec_args *a, int opt, const char *val, struct ts_error *err)
{
	long long ll;
	switch (opt) {
	case XO_GPUS:
		if (ts_cli_parse_int(val, 1, TS_MAX_GPUS, &ll, "--gpus", err))
			return TS_EINVAL;
		a->cfg.gpus = (int)ll;
		return 0;
	case XO_WARMUP:
		if (ts_cli_parse_int(val, 0, 1000, &ll, "--warmup-steps", err))
			return TS_EINVAL;
		a->warmup_steps = (int)ll;
		return 0;
	case XO_MAX_REQ:
		return ts_cli_parse_int(val, 1, INT64_MAX, &a->max_requests, "--max-requests", err);
	case XO_WSEED:
		if (ts_cli_parse_int(val, 0, INT64_MAX, &ll, "--weight-seed", err))
			return TS_EINVAL;
		a->weight_seed = (uint64_t)ll;
		return 0;
	case XO_ROUND_STEPS:
		if (ts_cli_parse_int(val, 1, 1000000, &ll, "--round-steps", err))
			return TS_EINVAL;
		a->cfg.env.round_steps = (int)ll;
		return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

static int set_option(struct exec_args *a, int opt, const char *val, struct ts_error *err)
{
	double d;
	switch (opt) {
	case XO_TRACE: a->cfg.trace = val; return 0;
	case XO_PROFILE: a->cfg.profile = val; return 0;
	case XO_MODEL: a->cfg.model = val; return 0;
	case XO_POLICY: snprintf(a->policies, sizeof(a->policies), "%s", val); return 0;
	case XO_TIME_SCALE: return ts_cli_parse_double(val, 1e-6, 1, &a->time_scale, "--time-scale", err);
	case XO_SLO: return ts_cli_parse_double(val, 1e-9, 1e9, &a->cfg.slo_scale, "--slo-scale", err);
	case XO_WARM_COMMS: a->warm_comms = true; return 0;
	case XO_DB: a->db = val; return 0;
	case XO_NODB: a->no_db = true; return 0;
	case XO_GPU_TYPE: a->cfg.gpu_type = val; return 0;
	case XO_INTERP: a->cfg.interpolate = true; return 0;
	case XO_ROUND_MS:
		if (ts_cli_parse_double(val, 1e-3, 1e9, &d, "--round-ms", err))
			return TS_EINVAL;
		a->cfg.env.round_ns = (ts_ns)(d * TS_NS_PER_MS);
		return 0;
	case XO_NO_PLACEMENT: a->cfg.env.no_placement = true; return 0;
	case XO_NO_ELASTIC: a->cfg.env.no_elastic = true; return 0;
	case XO_NO_BATCHING: return 0; /* always on in exec */
	case XO_RSSP_MAP: a->cfg.env.rssp_map = val; return 0;
	case XO_LABEL: a->cfg.label = val; return 0;
	case XO_JSON: a->json = true; return 0;
	case XO_QUIET: a->quiet = true; return 0;
	}
	return set_int_option(a, opt, val, err);
}

/* Returns 0 to run, 1 when --help was printed, 2 on bad usage. */
static int parse_exec_args(struct exec_args *a, int argc, char **argv)
{
	struct ts_error err = { 0 };
	*a = (struct exec_args){ .db = "results.db", .time_scale = 1.0, .warmup_steps = 1,
				 .weight_seed = 1234 };
	ts_sim_config_defaults(&a->cfg, NULL, NULL);
	a->cfg.model = "flux-dev";
	a->cfg.env.no_batching = true;
	snprintf(a->policies, sizeof(a->policies), "fixed-sp:1,rssp,tetriserve");
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", exec_options, NULL)) != -1) {
		if (opt == XO_HELP) {
			exec_usage(stdout);
			return 1;
		}
		if (opt == '?')
			return ts_cli_bad_option("tetriserve exec", argv);
		if (set_option(a, opt, optarg, &err)) {
			fprintf(stderr, "tetriserve exec: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tetriserve exec: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (!a->cfg.trace || !a->cfg.profile) {
		fprintf(stderr, "tetriserve exec: --trace and --profile are required (see --help)\n");
		return 2;
	}
	return 0;
}

/* Keeps the first max_requests requests and multiplies arrivals by the time
 * scale; deadlines stay arrival + SLO, so only idle gaps shrink. */
static void shape_trace(struct ts_trace *t, const struct exec_args *a)
{
	if (a->max_requests > 0 && (size_t)a->max_requests < t->n)
		t->n = (size_t)a->max_requests;
	for (size_t i = 0; i < t->n && a->time_scale != 1.0; i++) {
		t->req[i].arrival = (ts_ns)llround((double)t->req[i].arrival * a->time_scale);
		t->req[i].deadline = t->req[i].arrival + t->req[i].slo;
	}
}

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

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs k steps of an h x w request on the first k GPUs (first kernel
 * launches, cuBLASLt heuristics, the communicator of that set). */
static int warm_cell(struct ts_dit_engine *e, int h, int w, uint64_t mask, int steps, struct ts_error *err)
{
	struct ts_dit_request *r = NULL;
	int rc = ts_dit_request_open(e, &r, h, w, 1, steps, 1, err);
	for (int s = 0; !rc && s < steps; s++)
		rc = ts_dit_request_step(e, r, mask, err);
	ts_dit_request_close(r);
	return rc ? ts_err_prefix(err, "warm-up %dx%d on GPUs 0x%llx", h, w, (unsigned long long)mask) : 0;
}

/* Warm-up steps for every resolution of the trace at every degree the
 * profile has a cell for, on every aligned GPU block of that degree (each
 * block's communicator, workspaces and GEMM plans are made here, not inside
 * a timed run); not part of any run's clock. */
static int warm_up(struct ts_dit_engine *e, const struct exec_args *a, const struct ts_sim_inputs *in,
		   struct ts_error *err)
{
	int heads = ts_dit_engine_config(e)->heads;
	for (int32_t c = 0; c < in->cls.n && a->warmup_steps > 0; c++) {
		const struct ts_class *k = &in->cls.cls[c];
		for (int deg = 1; deg <= a->cfg.gpus; deg *= 2) {
			if (heads % deg || ts_class_step(&in->cls, c, deg, 1) < 0)
				continue;
			uint64_t block = deg == 64 ? ~0ULL : (1ULL << deg) - 1;
			for (int j = 0; j + deg <= a->cfg.gpus; j += deg) {
				int rc = warm_cell(e, k->height, k->width, block << j, a->warmup_steps, err);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

static int check_policies(char **spec, int n, const struct exec_args *a, const struct ts_sim_inputs *in,
			  struct ts_error *err)
{
	for (int i = 0; i < n; i++) {
		int rc = ts_sim_check_policy(spec[i], &a->cfg, in, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Loads and shapes the inputs and checks them against the engine's model
 * and every policy, before the (slow) engine opens. */
static int load_inputs(const struct exec_args *a, struct ts_sim_inputs *in, char **spec, int npol,
		       struct ts_error *err)
{
	int rc = ts_sim_inputs_load(in, &a->cfg, err);
	if (rc)
		return rc;
	shape_trace(&in->trace, a);
	rc = check_models(&in->trace, a->cfg.model, err);
	return rc ? rc : check_policies(spec, npol, a, in, err);
}

/* Opens the engine, creates the communicators (--warm-comms), warms up. */
static int open_engine(const struct exec_args *a, const struct ts_sim_inputs *in, struct ts_dit_engine **e,
		       struct ts_error *err)
{
	double t0 = wall_ms();
	int rc = ts_dit_engine_open(e, a->cfg.model, a->cfg.gpus, a->weight_seed, err);
	if (rc)
		return rc;
	if (!a->quiet)
		fprintf(stderr, "engine %s on %d GPUs opened in %.1f s\n", a->cfg.model, a->cfg.gpus,
			(wall_ms() - t0) / 1e3);
	if (a->warm_comms) {
		double ms;
		int groups;
		rc = ts_exec_warm_comms(&ts_exec_dit_ops, *e, a->cfg.gpus, &ms, &groups, err);
		if (rc)
			return rc;
		if (!a->quiet)
			fprintf(stderr, "communicators of %d aligned GPU sets created in %.1f ms\n", groups, ms);
	}
	t0 = wall_ms();
	rc = warm_up(*e, a, in, err);
	if (!rc && !a->quiet && a->warmup_steps)
		fprintf(stderr, "warm-up (%d steps per resolution and degree) took %.1f s\n",
			a->warmup_steps, (wall_ms() - t0) / 1e3);
	return rc;
}

/* Every option that shaped an exec run, for the runs table. */
static void exec_options_json(const struct exec_args *a, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	ts_strbuf_printf(&sb, "{\"slo_scale\":");
	ts_strbuf_json_num(&sb, a->cfg.slo_scale);
	ts_strbuf_printf(&sb, ",\"time_scale\":");
	ts_strbuf_json_num(&sb, a->time_scale);
	ts_strbuf_printf(&sb, ",\"warmup_steps\":%d,\"warm_comms\":%s,\"max_requests\":%lld", a->warmup_steps,
			 a->warm_comms ? "true" : "false", a->max_requests);
	ts_strbuf_printf(&sb, ",\"weight_seed\":%llu,\"interpolate\":%s,\"round_steps\":%d,\"round_ms\":",
			 (unsigned long long)a->weight_seed, a->cfg.interpolate ? "true" : "false",
			 a->cfg.env.round_steps);
	ts_strbuf_json_num(&sb, (double)a->cfg.env.round_ns / 1e6);
	ts_strbuf_printf(&sb, ",\"no_placement\":%s,\"no_elastic\":%s,\"no_batching\":true,\"rssp_map\":",
			 a->cfg.env.no_placement ? "true" : "false", a->cfg.env.no_elastic ? "true" : "false");
	ts_strbuf_json_str(&sb, a->cfg.env.rssp_map);
	ts_strbuf_printf(&sb, ",\"model\":");
	ts_strbuf_json_str(&sb, a->cfg.model);
	ts_strbuf_printf(&sb, ",\"gpu_type\":");
	ts_strbuf_json_str(&sb, a->cfg.gpu_type);
	ts_strbuf_printf(&sb, ",\"label\":");
	ts_strbuf_json_str(&sb, a->cfg.label);
	ts_strbuf_printf(&sb, "}");
}

static int begin_run(struct ts_store *store, const char *spec, const char *params,
		     const struct exec_args *a, const struct ts_sim_inputs *in, int64_t *id,
		     struct ts_error *err)
{
	char opts[2048];
	exec_options_json(a, opts, sizeof(opts));
	struct ts_run_info info = {
		.backend = "exec", .policy = spec, .policy_params = params, .trace_name = a->cfg.trace,
		.trace_hash = in->trace.hash, .profile_name = a->cfg.profile,
		.profile_hash = in->profile.hash, .gpus = a->cfg.gpus, .seed = a->weight_seed,
		.version = TS_VERSION, .options = opts,
	};
	return ts_store_run_begin(store, &info, id, err);
}

/* Drives the policy on a fresh executor backend (its clock starts here). */
static int drive(const struct ts_policy_ops *ops, void *pol, const struct exec_args *a,
		 const struct ts_sim_inputs *in, struct ts_dit_engine *e, struct ts_store *store,
		 struct ts_run_result *res, struct ts_error *err)
{
	void *be;
	struct ts_exec_config xc = { .dev = &ts_exec_dit_ops, .dev_self = e, .trace = &in->trace,
				     .gpus = a->cfg.gpus, .stop = &exec_stop };
	int rc = ts_exec_create(&be, &xc, err);
	if (rc)
		return rc;
	struct ts_driver_config cfg = {
		.trace = &in->trace, .cls = &in->cls, .gpus = a->cfg.gpus, .policy = ops,
		.policy_self = pol, .backend = &ts_exec_backend, .backend_self = be,
		.sink = store ? &ts_store_sink : NULL, .sink_self = store, .stop = &exec_stop,
	};
	rc = ts_driver_run(&cfg, res, err);
	ts_exec_backend.close(be);
	return rc;
}

/* Commits the rows of a failed or interrupted run; it stays incomplete. */
static void flush_partial(struct ts_store *store)
{
	struct ts_error ferr = { 0 };
	if (ts_store_flush(store, &ferr))
		fprintf(stderr, "tetriserve exec: %s\n", ferr.msg);
}

static int run_policy(struct ts_policy_result *pr, const struct exec_args *a, const struct ts_sim_inputs *in,
		      struct ts_dit_engine *e, struct ts_store *store, struct ts_error *err)
{
	const struct ts_policy_ops *ops;
	void *pol;
	int rc = ts_sim_build_policy(pr->spec, &a->cfg, in, &ops, &pol, err);
	if (rc)
		return rc;
	if (store)
		rc = begin_run(store, pr->spec, ops->describe ? ops->describe(pol) : NULL, a, in, &pr->run_id, err);
	struct ts_run_result res = { 0 };
	if (!rc)
		rc = drive(ops, pol, a, in, e, store, &res, err);
	if (!rc)
		rc = ts_summary_compute(&pr->sum, &in->trace, &res, a->cfg.gpus, err);
	if (!rc && store)
		rc = ts_sim_store_run_end(store, pr->spec, in, &res, &pr->sum, err);
	else if (store)
		flush_partial(store);
	ts_run_result_free(&res);
	if (ops->close)
		ops->close(pol);
	return rc;
}

static void print_results(const struct exec_args *a, size_t nreq, const struct ts_policy_result *pr, int n)
{
	if (a->json) {
		ts_policy_results_json(stdout, pr, n);
		return;
	}
	if (a->quiet)
		return;
	printf("exec: trace %s (%zu requests, time scale %g), profile %s, %s on %d GPUs, SLO scale %g\n",
	       a->cfg.trace, nreq, a->time_scale, a->cfg.profile, a->cfg.model, a->cfg.gpus, a->cfg.slo_scale);
	ts_policy_results_table(stdout, pr, n);
	for (int i = 0; i < n && !a->no_db; i++)
		printf("run %lld: %s\n", (long long)pr[i].run_id, pr[i].spec);
	if (!a->no_db)
		printf("results written to %s\n", a->db);
}

static int report_failure(const struct exec_args *a, const struct ts_error *err)
{
	fprintf(stderr, "tetriserve exec: %s\n", err->msg);
	if (err->code != TS_EINTR)
		return 1;
	fprintf(stderr, "tetriserve exec: results so far are in %s; the interrupted run is marked incomplete\n",
		a->no_db ? "(no database)" : a->db);
	return 130;
}

int ts_cmd_exec(int argc, char **argv)
{
	struct exec_args a;
	int prc = parse_exec_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	struct ts_error err = { 0 };
	struct ts_sim_inputs in = { 0 };
	struct ts_policy_result pr[EXEC_MAX_POLICIES] = { 0 };
	char *spec[EXEC_MAX_POLICIES];
	struct ts_store *store = NULL;
	struct ts_dit_engine *e = NULL;
	int status = 1, npol = ts_cli_split_policies(a.policies, spec, EXEC_MAX_POLICIES, &err);
	if (npol < 0) {
		fprintf(stderr, "tetriserve exec: %s\n", err.msg);
		return 2;
	}
	if (load_inputs(&a, &in, spec, npol, &err) || (!a.no_db && ts_store_open(&store, a.db, &err)) ||
	    open_engine(&a, &in, &e, &err))
		goto out;
	signal(SIGINT, exec_on_sigint);
	for (int i = 0; i < npol; i++) {
		pr[i].spec = spec[i];
		if (run_policy(&pr[i], &a, &in, e, store, &err))
			goto out;
	}
	print_results(&a, in.trace.n, pr, npol);
	status = 0;
out:
	if (status) {
		status = report_failure(&a, &err);
		if (e)
			ts_dit_engine_abort(e); /* pending collectives must not hang the teardown */
	}
	ts_dit_engine_close(e);
	ts_store_close(store);
	ts_sim_inputs_free(&in);
	return status;
}
