/* run_cmd.c: the flow of the commands that run policies (see run_cmd.h). */
#include "cli/run_cmd.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/progress.h"

enum {
	RO_TRACE = 256, RO_PROFILE, RO_GPUS, RO_POLICY, RO_SLO, RO_DB, RO_NODB, RO_MODEL, RO_GPU_TYPE,
	RO_INTERP, RO_LABEL, RO_JSON, RO_QUIET, RO_MAX_REQ, RO_MAX_STEPS, RO_TIME_SCALE, RO_SEED, RO_HELP,
	RO_PROGRESS, RO_STORE_ROUNDS,
};

static const struct option shared_options[] = {
	{ "trace", required_argument, NULL, RO_TRACE },
	{ "profile", required_argument, NULL, RO_PROFILE },
	{ "gpus", required_argument, NULL, RO_GPUS },
	{ "policy", required_argument, NULL, RO_POLICY },
	{ "slo-scale", required_argument, NULL, RO_SLO },
	{ "db", required_argument, NULL, RO_DB },
	{ "no-db", no_argument, NULL, RO_NODB },
	{ "store-rounds", no_argument, NULL, RO_STORE_ROUNDS },
	{ "model", required_argument, NULL, RO_MODEL },
	{ "gpu-type", required_argument, NULL, RO_GPU_TYPE },
	{ "interpolate", no_argument, NULL, RO_INTERP },
	{ "label", required_argument, NULL, RO_LABEL },
	{ "json", no_argument, NULL, RO_JSON },
	{ "quiet", no_argument, NULL, RO_QUIET },
	{ "progress", required_argument, NULL, RO_PROGRESS },
	{ "max-requests", required_argument, NULL, RO_MAX_REQ },
	{ "max-steps", required_argument, NULL, RO_MAX_STEPS },
	{ "time-scale", required_argument, NULL, RO_TIME_SCALE },
	{ "seed", required_argument, NULL, RO_SEED },
	{ "help", no_argument, NULL, RO_HELP },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void ts_run_cmd_help(FILE *f)
{
	fprintf(f,
		"  --trace F          request trace CSV\n"
		"  --profile F        step-latency profile CSV the policies plan with\n"
		"  --gpus N           GPUs in the node, 1..64 (default 4)\n"
		"  --policy P[,P...]  policies to compare; a spec is NAME[:OPTION=VALUE]...\n"
		"                     (fixed-sp:4:order=edf, rssp:map=256/1+512/2, tetriserve:elastic=off;\n"
		"                     every policy's options: docs/SCHEDULER.md)\n"
		"  --slo-scale X      multiply every request's SLO by X (default 1.0)\n"
		"  --max-requests M   run only the first M requests of the trace\n"
		"  --max-steps K      run at most K denoising steps of each request; SLOs are not scaled\n"
		"  --time-scale X     multiply arrival times by X (0 < X <= 1); SLOs are not scaled\n"
		"  --seed S           seed of the backend's random streams, 0..4294967295 (default 1)\n"
		"  --db F             SQLite results file (default results.db); --no-db to skip\n"
		"  --store-rounds     also store a rounds row per round boundary (time, active\n"
		"                     requests, launches, plan wall time); else only their count\n"
		"  --model M          model of requests whose trace has no model column\n"
		"  --gpu-type G       profile rows of this GPU (when the profile has several)\n"
		"  --interpolate      estimate missing profile cells (log-log in token count)\n"
		"  --label TEXT       free text stored with each run (e.g. an experiment point key)\n"
		"  --json             print the summaries as JSON instead of the table\n"
		"  --quiet            print nothing but errors (and --json output); no progress line\n"
		"  --progress S       progress on stderr from the start, a line every S seconds when\n"
		"                     stderr is not a terminal (default: sim after 2 s, exec at once;\n"
		"                     every 10 s; on a terminal one line updated in place)\n"
		"  --help             this text\n"
		"Shorthands for policy options (they edit every spec of the policy they belong to):\n");
	ts_policy_flags_help(f);
}

static int set_number_option(struct ts_run_cmd *rc, int opt, const char *val, struct ts_error *err)
{
	long long ll;
	switch (opt) {
	case RO_GPUS:
		if (ts_cli_parse_int(val, 1, TS_MAX_GPUS, &ll, "--gpus", err))
			return TS_EINVAL;
		rc->cfg.gpus = (int)ll;
		return 0;
	case RO_SLO: return ts_cli_parse_double(val, 1e-9, 1e9, &rc->cfg.slo_scale, "--slo-scale", err);
	case RO_MAX_REQ: return ts_cli_parse_int(val, 1, INT64_MAX, &rc->cfg.max_requests, "--max-requests", err);
	case RO_MAX_STEPS:
		if (ts_cli_parse_int(val, 1, 100000, &ll, "--max-steps", err))
			return TS_EINVAL;
		rc->cfg.max_steps = (int)ll;
		return 0;
	case RO_TIME_SCALE: return ts_cli_parse_double(val, 1e-6, 1, &rc->cfg.time_scale, "--time-scale", err);
	case RO_PROGRESS:
		rc->progress_set = true;
		return ts_cli_parse_double(val, 0, 1e6, &rc->progress_every_s, "--progress", err);
	case RO_SEED:
		if (ts_cli_parse_int(val, 0, UINT32_MAX, &ll, "--seed", err))
			return TS_EINVAL;
		rc->cfg.seed = (uint64_t)ll;
		return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

static int set_shared_option(struct ts_run_cmd *rc, int opt, const char *val, struct ts_error *err)
{
	switch (opt) {
	case RO_TRACE: rc->cfg.trace = val; return 0;
	case RO_PROFILE: rc->cfg.profile = val; return 0;
	case RO_POLICY: rc->policy_text = val; return 0;
	case RO_DB: rc->db = val; return 0;
	case RO_NODB: rc->no_db = true; return 0;
	case RO_STORE_ROUNDS: rc->cfg.store_rounds = true; return 0;
	case RO_MODEL: rc->cfg.model = val; return 0;
	case RO_GPU_TYPE: rc->cfg.gpu_type = val; return 0;
	case RO_INTERP: rc->cfg.interpolate = true; return 0;
	case RO_LABEL: rc->cfg.label = val; return 0;
	case RO_JSON: rc->json = true; return 0;
	case RO_QUIET: rc->quiet = true; return 0;
	}
	return set_number_option(rc, opt, val, err);
}

/* The getopt table: shared options, the command's own, the policies' flags. */
static struct option *option_table(const struct ts_run_cmd *rc)
{
	size_t own = 0;
	int nflags;
	while (rc->own && rc->own[own].name)
		own++;
	const struct option *flags = ts_policy_flag_options(TS_RUN_CMD_FLAGS, &nflags);
	struct option *t = calloc(COUNT(shared_options) + own + (size_t)nflags + 1, sizeof(*t));
	if (!t)
		return NULL;
	memcpy(t, shared_options, sizeof(shared_options));
	if (own)
		memcpy(t + COUNT(shared_options), rc->own, own * sizeof(*t));
	memcpy(t + COUNT(shared_options) + own, flags, (size_t)nflags * sizeof(*t));
	return t;
}

/* A flag seen on the command line, applied once the --policy list is known. */
struct flag_use {
	int index;
	const char *value;
};

static int apply_flags(struct ts_run_cmd *rc, const struct flag_use *use, int n, struct ts_error *err)
{
	int r = ts_policy_list_parse(rc->policy_text, &rc->policies, err);
	for (int i = 0; !r && i < n; i++)
		r = ts_policy_list_apply_flag(&rc->policies, use[i].index, use[i].value, err);
	return r;
}

/* One getopt result; 1 when --help was asked for. */
static int take_option(struct ts_run_cmd *rc, int opt, struct flag_use *use, int *nuse,
		       struct ts_error *err)
{
	if (opt == RO_HELP)
		return 1;
	if (opt >= TS_RUN_CMD_FLAGS) {
		if (*nuse == 64)
			return ts_err_set(err, TS_EINVAL, "too many policy flags");
		use[(*nuse)++] = (struct flag_use){ opt - TS_RUN_CMD_FLAGS, optarg };
		return 0;
	}
	if (opt >= TS_RUN_CMD_OWN)
		return rc->set_own(rc->ctx, opt, optarg, err);
	return set_shared_option(rc, opt, optarg, err);
}

int ts_run_cmd_parse(struct ts_run_cmd *rc, int argc, char **argv)
{
	struct ts_error err = { 0 };
	struct flag_use use[64];
	int nuse = 0, opt, r = 0;
	struct option *table = option_table(rc);
	if (!table) {
		fprintf(stderr, "%s: out of memory\n", rc->name);
		return 2;
	}
	optind = 1;
	opterr = 0;
	while (!r && (opt = getopt_long(argc, argv, "", table, NULL)) != -1) {
		if (opt == '?') {
			free(table);
			ts_policy_list_free(&rc->policies);
			return ts_cli_bad_option(rc->name, argv);
		}
		r = take_option(rc, opt, use, &nuse, &err);
	}
	free(table);
	if (r == 1) {
		rc->usage(stdout);
		ts_policy_list_free(&rc->policies);
		return 1;
	}
	if (!r && optind < argc)
		r = ts_err_set(&err, TS_EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!r && (!rc->cfg.trace || !rc->cfg.profile))
		r = ts_err_set(&err, TS_EINVAL, "--trace and --profile are required (see --help)");
	if (!r)
		r = apply_flags(rc, use, nuse, &err);
	if (!r)
		return 0;
	fprintf(stderr, "%s: %s\n", rc->name, err.msg);
	ts_policy_list_free(&rc->policies);
	return 2;
}

static volatile sig_atomic_t stop_flag;

/* The first Ctrl-C ends the run cleanly; a second one kills the process
 * (a GPU that never returns must not make it unkillable). */
static void on_sigint(int sig)
{
	stop_flag = 1;
	signal(sig, SIG_DFL);
}

static void print_table(const struct ts_run_cmd *rc, size_t nreq, const struct ts_run_outcome *out)
{
	char scale[96] = "";
	if (rc->cfg.time_scale != 1.0)
		snprintf(scale, sizeof(scale), ", time scale %g", rc->cfg.time_scale);
	if (rc->cfg.max_steps > 0)
		snprintf(scale + strlen(scale), sizeof(scale) - strlen(scale), ", at most %d steps each",
			 rc->cfg.max_steps);
	char modelled[96] = "";
	if (out[0].sum.modelled_cells > 0)
		snprintf(modelled, sizeof(modelled), " (%lld step times MODELLED, not measured)",
			 (long long)out[0].sum.modelled_cells);
	printf("%s: trace %s (%zu requests%s), profile %s%s, %d GPUs, SLO scale %g\n", rc->backend.name,
	       rc->cfg.trace, nreq, scale, rc->cfg.profile, modelled, rc->cfg.gpus, rc->cfg.slo_scale);
	int width = 22;
	for (int i = 0; i < rc->policies.n; i++)
		if ((int)strlen(out[i].spec) > width)
			width = (int)strlen(out[i].spec);
	ts_summary_print_header(stdout, &out[0].sum, width);
	for (int i = 0; i < rc->policies.n; i++)
		ts_summary_print_row(stdout, &out[i].sum, out[i].spec, width);
	for (int i = 0; i < rc->policies.n && !rc->no_db; i++)
		printf("run %lld: %s\n", (long long)out[i].run_id, out[i].spec);
	if (!rc->no_db)
		printf("results written to %s\n", rc->db);
}

/* One JSON object for one policy, an array for several. */
static int print_json(const struct ts_run_cmd *rc, const struct ts_run_outcome *out)
{
	json_t *all = json_array();
	for (int i = 0; all && i < rc->policies.n; i++)
		json_array_append_new(all, ts_summary_to_json(&out[i].sum, out[i].spec));
	json_t *doc = rc->policies.n == 1 ? json_incref(json_array_get(all, 0)) : json_incref(all);
	json_decref(all);
	char *text = ts_json_text(doc);
	if (!text)
		return TS_ENOMEM;
	printf("%s\n", text);
	free(text);
	return 0;
}

static int check_policies(const struct ts_run_cmd *rc, const struct ts_run_inputs *in,
			  struct ts_error *err)
{
	for (int i = 0; i < rc->policies.n; i++) {
		int r = ts_run_check_policy(rc->policies.spec[i], &rc->cfg, in, err);
		if (r)
			return r;
	}
	return 0;
}

/* The progress line on stderr, unless --quiet: from the start with
 * --progress or for a real-time backend, else after 2 s of wall time. */
static void watch_progress(struct ts_run_cmd *rc, struct ts_progress *p)
{
	bool now = rc->progress_set || rc->real_time;
	double every = rc->progress_set ? rc->progress_every_s : 10.0;
	ts_progress_init(p, stderr, isatty(fileno(stderr)), now ? 0.0 : 2.0, every,
			 rc->real_time ? "wall" : "sim");
	rc->cfg.watch = rc->quiet ? NULL : &ts_progress_sink;
	rc->cfg.watch_self = p;
}

static int run_all(struct ts_run_cmd *rc, const struct ts_run_inputs *in, struct ts_store *store,
		   struct ts_run_outcome *out, struct ts_error *err)
{
	signal(SIGINT, on_sigint);
	struct ts_progress progress;
	watch_progress(rc, &progress);
	int r = 0;
	for (int i = 0; i < rc->policies.n; i++) {
		ts_progress_begin(&progress, rc->policies.spec[i], in->trace.n);
		r = ts_run_policy(rc->policies.spec[i], &rc->cfg, in, &rc->backend, store, &stop_flag,
				      &out[i], err);
		ts_progress_end(&progress);
		if (r)
			break;
	}
	rc->cfg.watch = NULL; /* progress lives on this stack */
	if (r)
		return r;
	if (rc->json)
		return print_json(rc, out) ? ts_err_set(err, TS_ENOMEM, "out of memory") : 0;
	if (!rc->quiet)
		print_table(rc, in->trace.n, out);
	return 0;
}

static int report_failure(const struct ts_run_cmd *rc, const struct ts_error *err)
{
	fprintf(stderr, "%s: %s\n", rc->name, err->msg);
	if (err->code != TS_EINTR)
		return 1;
	fprintf(stderr, "%s: results so far are in %s; the interrupted run is marked incomplete\n",
		rc->name, rc->no_db ? "(no database)" : rc->db);
	return 130;
}

int ts_run_cmd_execute(struct ts_run_cmd *rc)
{
	struct ts_error err = { 0 };
	struct ts_run_inputs in = { 0 };
	struct ts_store *store = NULL;
	struct ts_run_outcome *out = calloc((size_t)rc->policies.n, sizeof(*out));
	int status = 0;
	int r = out ? 0 : ts_err_set(&err, TS_ENOMEM, "out of memory");
	if (!r)
		r = ts_run_inputs_load(&in, &rc->cfg, &err);
	if (!r)
		r = check_policies(rc, &in, &err);
	/* the command's checks before the results file is created */
	if (!r && rc->prepare)
		r = rc->prepare(rc->ctx, &in, &err);
	if (!r && !rc->no_db)
		r = ts_store_open(&store, rc->db, &err);
	if (!r)
		r = run_all(rc, &in, store, out, &err);
	if (r) {
		status = report_failure(rc, &err);
		if (rc->on_failure)
			rc->on_failure(rc->ctx);
	}
	ts_store_close(store);
	ts_run_inputs_free(&in);
	ts_policy_list_free(&rc->policies);
	free(out);
	return status;
}
