/* cmd_bound.c: `tetriserve bound` — the upper bound on SLO attainment that
 * no schedule the driver accepts can beat (docs/BOUND.md), printed and
 * optionally stored beside the policies' runs. */
#include "cli/cmd_bound.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound/bound.h"
#include "cli/cli_util.h"
#include "driver/run.h"

struct bound_args {
	struct ts_run_config cfg;   /* trace, profile, gpus, slo scale, model, gpu type, interpolate */
	struct ts_bound_opts bo;
	const char *db;
	bool json, quiet;
};

static void bound_usage(FILE *f)
{
	char solver[64];
	bool have = ts_bound_have_solver(solver, sizeof(solver));
	fprintf(f,
		"usage: tetriserve bound [options]\n"
		"Solves a mixed-integer program whose optimum is an upper bound on the requests that\n"
		"any schedule the driver accepts (any policy, any power-of-two GPU sets, batching,\n"
		"step-level SP changes) can finish by their deadlines on N GPUs with the profile's mean\n"
		"step times (docs/BOUND.md). Prints it; with --db stores it as a run (backend \"bound\",\n"
		"policy \"optimum\", or \"bound\" when the time limit left a gap) for `tetriserve report`.\n\n"
		"  --trace F          request trace CSV (default %s)\n"
		"  --profile F        step-latency profile CSV (default %s)\n"
		"  --gpus N           GPUs in the node, 1..64 (default 4)\n"
		"  --slo-scale X      multiply every request's SLO by X (default 1.0)\n"
		"  --time-limit S     stop the solver after S seconds (default 300; 0: none); the\n"
		"                     result is then the best bound found, with the gap to the best solution\n"
		"  --db F             also store the result in this SQLite results file\n"
		"  --json             print the result as JSON\n"
		"  --model M, --gpu-type G, --interpolate   as for `tetriserve sim`\n"
		"  --slot-ms T        also cut the model's intervals to at most T ms (does not change the\n"
		"                     optimum, docs/BOUND.md; for checking that)\n"
		"  --no-cuts          leave out the GPU-block cuts (a weaker bound; for measuring them)\n"
		"  --integer-steps    whole steps per request and (degree, batch): tighter in principle, slower\n"
		"  --lp               solve the LP relaxation only (a weaker bound, fast; not stored)\n"
		"  --write-mps P      write each solved component's model to P-K.mps (free MPS)\n"
		"  --quiet            print nothing but errors (and --json output)\n"
		"  --help             this text\n"
		"MILP solver in this build: %s\n",
		ts_cli_default_trace(), ts_cli_default_profile(),
		have ? solver : "none (apt-get install libglpk-dev, then rebuild with -Dmilp=enabled)");
}

enum {
	OPT_TRACE = 256, OPT_PROFILE, OPT_GPUS, OPT_SLO, OPT_TLIM, OPT_DB, OPT_JSON, OPT_MODEL,
	OPT_GPU_TYPE, OPT_INTERP, OPT_SLOT, OPT_NO_CUTS, OPT_INT_STEPS, OPT_LP, OPT_MPS, OPT_QUIET, OPT_HELP,
};

static const struct option bound_options[] = {
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "gpus", required_argument, NULL, OPT_GPUS },
	{ "slo-scale", required_argument, NULL, OPT_SLO },
	{ "time-limit", required_argument, NULL, OPT_TLIM },
	{ "db", required_argument, NULL, OPT_DB },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "gpu-type", required_argument, NULL, OPT_GPU_TYPE },
	{ "interpolate", no_argument, NULL, OPT_INTERP },
	{ "slot-ms", required_argument, NULL, OPT_SLOT },
	{ "no-cuts", no_argument, NULL, OPT_NO_CUTS },
	{ "integer-steps", no_argument, NULL, OPT_INT_STEPS },
	{ "lp", no_argument, NULL, OPT_LP },
	{ "write-mps", required_argument, NULL, OPT_MPS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int set_option(struct bound_args *a, int opt, const char *val, struct ts_error *err)
{
	long long ll;
	double d;
	switch (opt) {
	case OPT_TRACE: a->cfg.trace = val; return 0;
	case OPT_PROFILE: a->cfg.profile = val; return 0;
	case OPT_GPUS:
		if (ts_cli_parse_int(val, 1, TS_MAX_GPUS, &ll, "--gpus", err))
			return TS_EINVAL;
		a->cfg.gpus = (int)ll;
		return 0;
	case OPT_SLO: return ts_cli_parse_double(val, 1e-9, 1e9, &a->cfg.slo_scale, "--slo-scale", err);
	case OPT_TLIM: return ts_cli_parse_double(val, 0, 1e7, &a->bo.time_limit_s, "--time-limit", err);
	case OPT_DB: a->db = val; return 0;
	case OPT_JSON: a->json = true; return 0;
	case OPT_MODEL: a->cfg.model = val; return 0;
	case OPT_GPU_TYPE: a->cfg.gpu_type = val; return 0;
	case OPT_INTERP: a->cfg.interpolate = true; return 0;
	case OPT_SLOT:
		if (ts_cli_parse_double(val, 1e-3, 1e9, &d, "--slot-ms", err))
			return TS_EINVAL;
		a->bo.slot_ns = (ts_ns)(d * TS_NS_PER_MS);
		return 0;
	case OPT_NO_CUTS: a->bo.no_cuts = true; return 0;
	case OPT_INT_STEPS: a->bo.integer_steps = true; return 0;
	case OPT_LP: a->bo.lp_only = true; return 0;
	case OPT_MPS: a->bo.mps_prefix = val; return 0;
	case OPT_QUIET: a->quiet = true; return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

/* Returns 0 to run, 1 when --help was printed, 2 on bad usage. */
static int parse_bound_args(struct bound_args *a, int argc, char **argv)
{
	struct ts_error err = { 0 };
	*a = (struct bound_args){ 0 };
	ts_run_config_defaults(&a->cfg);
	a->cfg.trace = ts_cli_default_trace();
	a->cfg.profile = ts_cli_default_profile();
	ts_bound_opts_defaults(&a->bo);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", bound_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			bound_usage(stdout);
			return 1;
		}
		if (opt == '?')
			return ts_cli_bad_option("tetriserve bound", argv);
		if (set_option(a, opt, optarg, &err)) {
			fprintf(stderr, "tetriserve bound: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tetriserve bound: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (a->bo.lp_only && a->db) {
		fprintf(stderr, "tetriserve bound: --lp gives no per-request outcome to store: drop --db or --lp\n");
		return 2;
	}
	return 0;
}

/* The options of the solve (the runs row's options column). */
static json_t *options_json(const struct bound_args *a, const struct ts_bound_result *r)
{
	return json_pack("{s:f, s:s?, s:s?, s:b, s:f, s:f, s:b, s:b, s:s, s:s, s:b, s:b}",
			 "slo_scale", a->cfg.slo_scale, "model", a->cfg.model, "gpu_type", a->cfg.gpu_type,
			 "interpolate", a->cfg.interpolate, "time_limit_s", a->bo.time_limit_s,
			 "slot_ms", (double)a->bo.slot_ns / 1e6, "cuts", !a->bo.no_cuts,
			 "integer_steps", a->bo.integer_steps, "solver", r->solver,
			 "grid", "event intervals (arrivals and deadlines), exact: no rounding",
			 "relaxation", 1, "lp_only", a->bo.lp_only);
}

/* The outcome (the runs row's summary and the --json output). */
static json_t *result_json(const struct bound_args *a, const struct ts_bound_result *r, int64_t run_id)
{
	double n = r->n ? (double)r->n : 1;
	json_t *j = json_pack("{s:s, s:s, s:i, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:b, s:f, s:f}",
			      "trace", a->cfg.trace, "profile", a->cfg.profile, "gpus", a->cfg.gpus,
			      "slo_scale", a->cfg.slo_scale, "requests", (json_int_t)r->n,
			      "candidates", (json_int_t)r->candidates, "met", (json_int_t)r->met,
			      "bound", (json_int_t)r->bound, "sar_bound", r->bound / n, "sar_met", r->met / n,
			      "status", ts_bound_status_name(r->status), "proven", r->status == TS_BOUND_OPTIMAL,
			      "gap", r->gap, "solve_s", r->solve_s);
	json_t *model = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I}", "components", r->components,
				  "milp_components", r->milp_components, "largest_cols", (json_int_t)r->cols,
				  "largest_rows", (json_int_t)r->rows, "largest_ints", (json_int_t)r->ints,
				  "total_cols", (json_int_t)r->total_cols);
	json_object_set_new(j, "model", model);
	json_object_set_new(j, "options", options_json(a, r));
	json_object_set_new(j, "policy", json_string(r->status == TS_BOUND_OPTIMAL ? "optimum" : "bound"));
	if (run_id > 0)
		json_object_set_new(j, "run_id", json_integer(run_id));
	return j;
}

/* Writes the result as a run: backend "bound", one request row each. */
static int store_result(const struct bound_args *a, const struct ts_run_inputs *in,
			const struct ts_bound_result *r, int64_t *run_id, struct ts_error *err)
{
	struct ts_store *s = NULL;
	json_t *opts = options_json(a, r);
	char *opts_text = opts ? json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = opts_text ? ts_store_open(&s, a->db, err) : ts_err_set(err, TS_ENOMEM, "out of memory");
	struct ts_run_info info = {
		.backend = "bound", .policy = r->status == TS_BOUND_OPTIMAL ? "optimum" : "bound",
		.policy_params = opts_text, .trace_name = a->cfg.trace, .trace_hash = in->trace.hash,
		.profile_name = a->cfg.profile, .profile_hash = in->profile.hash, .gpus = a->cfg.gpus,
		.seed = 0, .version = TS_VERSION, .options = opts_text,
	};
	if (!rc)
		rc = ts_store_run_begin(s, &info, run_id, err);
	for (size_t i = 0; !rc && i < in->trace.n; i++)
		rc = ts_store_request(s, &in->trace.req[i], r->meets[i] ? r->start[i] : -1,
				      r->meets[i] ? r->finish[i] : -1, -1, err);
	json_t *sum = rc ? NULL : result_json(a, r, *run_id);
	char *sum_text = sum ? json_dumps(sum, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!rc)
		rc = sum_text ? ts_store_run_end(s, sum_text, err) : ts_err_set(err, TS_ENOMEM, "out of memory");
	free(sum_text);
	json_decref(sum);
	free(opts_text);
	json_decref(opts);
	ts_store_close(s);
	return rc;
}

static void print_text(const struct bound_args *a, const struct ts_bound_result *r, int64_t run_id)
{
	double n = r->n ? (double)r->n : 1;
	printf("trace %s (%zu requests), profile %s, %d GPUs, SLO scale %g\n", a->cfg.trace, r->n,
	       a->cfg.profile, a->cfg.gpus, a->cfg.slo_scale);
	if (r->status == TS_BOUND_OPTIMAL)
		printf("optimum: at most %lld of %zu requests can meet their deadline (SAR <= %.3f), proven\n",
		       (long long)r->bound, r->n, r->bound / n);
	else if (r->status == TS_BOUND_LP)
		printf("LP relaxation: at most %lld of %zu requests can meet their deadline (SAR <= %.3f)\n",
		       (long long)r->bound, r->n, r->bound / n);
	else
		printf("time limit (%g s) reached: best bound %lld of %zu (SAR <= %.3f), best solution found %lld "
		       "(SAR %.3f), gap %.1f%%: the bound is valid, not proven tight\n",
		       a->bo.time_limit_s, (long long)r->bound, r->n, r->bound / n, (long long)r->met,
		       r->met / n, 100 * r->gap);
	printf("%lld requests could meet their deadline alone; %d components (%d solved by %s), largest model "
	       "%lld columns x %lld rows (%lld integer); %.2f s\n",
	       (long long)r->candidates, r->components, r->milp_components, r->solver, (long long)r->cols,
	       (long long)r->rows, (long long)r->ints, r->solve_s);
	if (run_id > 0)
		printf("run %lld: %s written to %s\n", (long long)run_id,
		       r->status == TS_BOUND_OPTIMAL ? "optimum" : "bound", a->db);
}

static void print_json(const struct bound_args *a, const struct ts_bound_result *r, int64_t run_id)
{
	json_t *j = result_json(a, r, run_id);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	printf("%s\n", text ? text : "null");
	free(text);
	json_decref(j);
}

int ts_cmd_bound(int argc, char **argv)
{
	struct bound_args a;
	int prc = parse_bound_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	struct ts_error err = { 0 };
	struct ts_run_inputs in = { 0 };
	struct ts_bound_result r = { 0 };
	int64_t run_id = 0;
	int status = 1;
	if (ts_run_inputs_load(&in, &a.cfg, &err))
		goto out;
	if (ts_bound_solve(&in.trace, &in.cls, a.cfg.gpus, &a.bo, &r, &err) < 0)
		goto out;
	if (a.db && store_result(&a, &in, &r, &run_id, &err))
		goto out;
	if (a.json)
		print_json(&a, &r, run_id);
	else if (!a.quiet)
		print_text(&a, &r, run_id);
	status = 0;
out:
	if (status)
		fprintf(stderr, "tetriserve bound: %s\n", err.msg);
	ts_bound_result_free(&r);
	ts_run_inputs_free(&in);
	return status;
}
