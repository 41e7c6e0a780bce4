/* ts_validate_cmd.c: `tetriserve validate`: options of the one-command
 * form (see ts_validate.h); the two-run form is cli/cmd_validate.h's. */
#include "ts_validate.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/cmd_validate.h"

#define NO_CUDA \
	"this build has no CUDA executor, so it cannot serve the trace on GPUs (--dry-run runs " \
	"the whole flow with steps that sleep their profile time; the form --db F --sim R --exec R " \
	"compares stored runs). A build with the executor needs the CUDA toolkit (nvcc, cuBLAS) and " \
	"NCCL: install them (e.g. NVIDIA's cuda-toolkit and libnccl-dev packages), then rebuild with " \
	"`meson setup build -Dcuda=enabled --wipe && ninja -C build`."

enum {
	VO_TRACE = 256, VO_PROFILE, VO_MEASURE, VO_GPUS, VO_POLICY, VO_MINUTES, VO_DB, VO_MARKDOWN,
	VO_LABEL, VO_MODEL, VO_TIME_SCALE, VO_SLO, VO_SEED, VO_MAX_REQ, VO_MAX_STEPS, VO_MIN_REQ,
	VO_WARMUP, VO_PROFILE_OUT, VO_DRY, VO_QUIET, VO_HELP,
};

static const struct option validate_options[] = {
	{ "trace", required_argument, NULL, VO_TRACE },
	{ "profile", required_argument, NULL, VO_PROFILE },
	{ "measure", no_argument, NULL, VO_MEASURE },
	{ "gpus", required_argument, NULL, VO_GPUS },
	{ "policy", required_argument, NULL, VO_POLICY },
	{ "max-minutes", required_argument, NULL, VO_MINUTES },
	{ "db", required_argument, NULL, VO_DB },
	{ "markdown", required_argument, NULL, VO_MARKDOWN },
	{ "label", required_argument, NULL, VO_LABEL },
	{ "model", required_argument, NULL, VO_MODEL },
	{ "time-scale", required_argument, NULL, VO_TIME_SCALE },
	{ "slo-scale", required_argument, NULL, VO_SLO },
	{ "seed", required_argument, NULL, VO_SEED },
	{ "max-requests", required_argument, NULL, VO_MAX_REQ },
	{ "max-steps", required_argument, NULL, VO_MAX_STEPS },
	{ "min-requests", required_argument, NULL, VO_MIN_REQ },
	{ "warmup-steps", required_argument, NULL, VO_WARMUP },
	{ "profile-out", required_argument, NULL, VO_PROFILE_OUT },
	{ "dry-run", no_argument, NULL, VO_DRY },
	{ "quiet", no_argument, NULL, VO_QUIET },
	{ "help", no_argument, NULL, VO_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve validate --trace T [--gpus N] [--policy P,...] (--profile F | --measure)\n"
		"         [--max-minutes M] [--db F] [options]\n"
		"On this machine's GPUs: profile the cells the trace needs (--measure), choose how much of\n"
		"the trace fits --max-minutes, serve it under each policy, simulate the same configuration\n"
		"with the same profile, time scale and seed, store every run in one file, and compare each\n"
		"pair against the targets (median per-request latency error <= 2%%, p95 <= 5%%, SAR within\n"
		"1 point, the same launches), naming the request, launch and cause of every miss.\n\n"
		"  --trace F          request trace CSV (required)\n"
		"  --profile F        step-latency profile CSV to plan and simulate with\n"
		"  --measure          measure the profile on this machine first (square resolutions)\n"
		"  --profile-out F    where --measure writes it (default: the --db path + .profile.csv)\n"
		"  --gpus N           GPUs to serve on (default 1)\n"
		"  --policy P[,P...]  policies (default fixed-sp:1,rssp,tetriserve); batching is off on a\n"
		"                     device that runs no batched launch (--dry-run's)\n"
		"  --max-minutes M    budget of the whole command (default 10): the plan takes the whole\n"
		"                     trace if it fits, else its longest prefix that does, else faster\n"
		"                     arrivals, else fewer steps per request, and says which\n"
		"  --min-requests N   the shortest prefix worth validating (default 10)\n"
		"  --db F             results file for every run (default validate.db)\n"
		"  --markdown F       append the results table (markdown) to F\n"
		"  --label TEXT       names this case in the table and in each run's options\n"
		"  --model M          engine model: flux-dev or sd3-medium (default flux-dev)\n"
		"  --time-scale X     multiply arrival times by X (0 < X <= 1; default 1)\n"
		"  --slo-scale X      multiply every SLO by X (default 1)\n"
		"  --max-requests N   at most the first N requests\n"
		"  --max-steps K      at most K steps of each request\n"
		"  --seed S           seed of the weights and of the simulator (default 1234)\n"
		"  --warmup-steps K   steps per resolution and degree before the runs (default 1)\n"
		"  --dry-run          no GPU: the executor's steps sleep their profile time\n"
		"  --quiet            print only the comparisons\n\n");
	ts_validate_runs_usage(f);
}

static int set_number(struct ts_validate_opts *o, int opt, const char *v, struct ts_error *err)
{
	long long ll = 0;
	int rc;
	switch (opt) {
	case VO_GPUS:
		rc = ts_cli_parse_int(v, 1, TS_MAX_GPUS, &ll, "--gpus", err);
		o->cfg.gpus = (int)ll;
		return rc;
	case VO_MINUTES: return ts_cli_parse_double(v, 0.05, 1e6, &o->max_minutes, "--max-minutes", err);
	case VO_TIME_SCALE: return ts_cli_parse_double(v, 1e-6, 1, &o->cfg.time_scale, "--time-scale", err);
	case VO_SLO: return ts_cli_parse_double(v, 1e-9, 1e9, &o->cfg.slo_scale, "--slo-scale", err);
	case VO_SEED:
		rc = ts_cli_parse_int(v, 0, UINT32_MAX, &ll, "--seed", err);
		o->cfg.seed = (uint64_t)ll;
		return rc;
	case VO_MAX_REQ: return ts_cli_parse_int(v, 1, INT64_MAX, &o->cfg.max_requests, "--max-requests", err);
	case VO_MIN_REQ: return ts_cli_parse_int(v, 1, INT64_MAX, &o->min_requests, "--min-requests", err);
	case VO_MAX_STEPS:
		rc = ts_cli_parse_int(v, 1, 100000, &ll, "--max-steps", err);
		o->cfg.max_steps = (int)ll;
		return rc;
	case VO_WARMUP:
		rc = ts_cli_parse_int(v, 0, 1000, &ll, "--warmup-steps", err);
		o->warmup_steps = (int)ll;
		return rc;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

/* One option; 1 for --help. */
static int set_option(struct ts_validate_opts *o, int opt, const char *v, const char **policy,
		      struct ts_error *err)
{
	switch (opt) {
	case VO_HELP: return 1;
	case VO_TRACE: o->trace = v; return 0;
	case VO_PROFILE: o->profile = v; return 0;
	case VO_MEASURE: o->measure = true; return 0;
	case VO_POLICY: *policy = v; return 0;
	case VO_DB: o->db = v; return 0;
	case VO_MARKDOWN: o->markdown = v; return 0;
	case VO_LABEL: o->label = o->cfg.label = v; return 0;
	case VO_MODEL: o->model = o->cfg.model = v; return 0;
	case VO_PROFILE_OUT: o->profile_out = v; return 0;
	case VO_DRY: o->dry_run = true; return 0;
	case VO_QUIET: o->quiet = true; return 0;
	}
	return set_number(o, opt, v, err);
}

static int check_options(const struct ts_validate_opts *o, struct ts_error *err)
{
	if (!o->trace)
		return ts_err_set(err, TS_EINVAL, "--trace is required (see --help)");
	if (!o->profile == !o->measure)
		return ts_err_set(err, TS_EINVAL, "give one of --profile F and --measure (see --help)");
	if (o->measure && o->dry_run)
		return ts_err_set(err, TS_EINVAL, "--measure needs GPUs: a dry run takes --profile");
	return 0;
}

static void defaults(struct ts_validate_opts *o)
{
	*o = (struct ts_validate_opts){ .db = "validate.db", .model = "flux-dev", .max_minutes = 10,
					.min_requests = 10, .warmup_steps = 1 };
	ts_run_config_defaults(&o->cfg);
	o->cfg.gpus = 1;
	o->cfg.seed = 1234;
	o->cfg.model = o->model;
}

/* Parses the one-command form: 0 to run, 1 when --help was printed, 2 on bad usage. */
static int parse(struct ts_validate_opts *o, int argc, char **argv)
{
	struct ts_error err = { 0 };
	const char *policy = "fixed-sp:1,rssp,tetriserve";
	int opt, r = 0;
	defaults(o);
	optind = 1;
	opterr = 0;
	while (!r && (opt = getopt_long(argc, argv, "", validate_options, NULL)) != -1) {
		if (opt == '?')
			return ts_cli_bad_option("tetriserve validate", argv);
		r = set_option(o, opt, optarg, &policy, &err);
	}
	if (r == 1) {
		usage(stdout);
		return 1;
	}
	if (!r && optind < argc)
		r = ts_err_set(&err, TS_EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!r)
		r = check_options(o, &err);
	if (!r)
		r = ts_policy_list_parse(policy, &o->policies, &err);
	if (!r)
		return 0;
	fprintf(stderr, "tetriserve validate: %s\n", err.msg);
	return 2;
}

/* The two-run form: --sim or --exec among the arguments. */
static bool two_run_form(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--sim", 5) || !strncmp(argv[i], "--exec", 6))
			return true;
	return false;
}

int ts_validate_main(int argc, char **argv, const struct ts_validate_device *gpu)
{
	if (two_run_form(argc, argv))
		return ts_cmd_validate_runs(argc, argv);
	struct ts_validate_opts o;
	int r = parse(&o, argc, argv);
	if (r)
		return r == 1 ? 0 : 2;
	const struct ts_validate_device *dev = o.dry_run ? &ts_validate_dry_run : gpu;
	struct ts_error err = { 0 };
	const struct ts_backend_entry *sim = ts_backend_find("sim");
	if (!dev || !sim) {
		fprintf(stderr, "tetriserve validate: %s\n", dev ? "this build has no simulator" : NO_CUDA);
		ts_policy_list_free(&o.policies);
		return 1;
	}
	r = ts_validate_flow(&o, dev, sim, stdout, &err);
	if (r)
		fprintf(stderr, "tetriserve validate: %s\n", err.msg);
	ts_policy_list_free(&o.policies);
	return r ? 1 : 0;
}
