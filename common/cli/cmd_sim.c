/* cmd_sim.c: `tetriserve sim` — replay a trace on the simulated cluster under
 * one or more policies, print the SLO-attainment table, store the results. */
#include "cli/cmd_sim.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/sim_run.h"

#define MAX_POLICIES 32

struct sim_args {
	struct ts_sim_config cfg;
	const char *db;
	char policies[1024];
	bool json, no_db, quiet;
};

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void sim_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve sim [options]\n"
		"Replays a request trace on a simulated node of N GPUs under one or more policies,\n"
		"prints an SLO-attainment table and writes every run to a SQLite file.\n\n"
		"  --trace F          request trace CSV (default %s)\n"
		"  --profile F        step-latency profile CSV (default %s)\n"
		"  --gpus N           GPUs in the node, 1..64 (default 4)\n"
		"  --policy P[,P...]  policies to compare (default %s):\n"
		"                     fixed-sp:K, edf-fixed:K, rssp[:S=k,...|HxW=k,...], tetriserve\n"
		"  --slo-scale X      multiply every request's SLO by X (default 1.0)\n"
		"  --db F             SQLite results file (default results.db); --no-db to skip\n"
		"  --seed S           seed of the step-time noise, 0..4294967295 (default 1)\n"
		"  --noise            draw step times around the profile mean with the profile's CV\n"
		"  --move-us U        fixed cost of a latent move between GPU sets, us (default 30)\n"
		"  --move-gbps B      latent move bandwidth, GB/s (default 50)\n"
		"  --no-move-cost     latent moves between GPU sets cost nothing\n"
		"  --model M          model of requests whose trace has no model column\n"
		"  --gpu-type G       profile rows of this GPU (when the profile has several)\n"
		"  --interpolate      estimate missing profile cells (log-log in token count)\n"
		"  --round-steps G    tetriserve: round length in steps of the reference request (default 5)\n"
		"  --round-ms T       tetriserve: round length in milliseconds\n"
		"  --no-placement, --no-elastic, --no-batching   tetriserve ablation switches\n"
		"  --rssp-map MAP     rssp: resolution to degree map (default 256=1,512=1,1024=2,2048=8)\n"
		"  --label TEXT       free text stored with each run (e.g. an experiment point key)\n"
		"  --json             print the summaries as JSON instead of the table\n"
		"  --quiet            print nothing but errors (and --json output)\n"
		"  --help             this text\n",
		ts_cli_default_trace(), ts_cli_default_profile(), TS_DEFAULT_POLICIES);
}

enum {
	OPT_TRACE = 256, OPT_PROFILE, OPT_GPUS, OPT_POLICY, OPT_SLO, OPT_DB, OPT_NODB, OPT_SEED,
	OPT_NOISE, OPT_MOVE_US, OPT_NO_MOVE, OPT_MOVE_GBPS, OPT_MODEL, OPT_GPU_TYPE, OPT_INTERP, OPT_ROUND_STEPS,
	OPT_ROUND_MS, OPT_NO_PLACEMENT, OPT_NO_ELASTIC, OPT_NO_BATCHING, OPT_RSSP_MAP, OPT_LABEL, OPT_JSON,
	OPT_QUIET, OPT_HELP,
};

static const struct option sim_options[] = {
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "gpus", required_argument, NULL, OPT_GPUS },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "slo-scale", required_argument, NULL, OPT_SLO },
	{ "db", required_argument, NULL, OPT_DB },
	{ "no-db", no_argument, NULL, OPT_NODB },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "noise", no_argument, NULL, OPT_NOISE },
	{ "move-us", required_argument, NULL, OPT_MOVE_US },
	{ "move-gbps", required_argument, NULL, OPT_MOVE_GBPS },
	{ "no-move-cost", no_argument, NULL, OPT_NO_MOVE },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "gpu-type", required_argument, NULL, OPT_GPU_TYPE },
	{ "interpolate", no_argument, NULL, OPT_INTERP },
	{ "round-steps", required_argument, NULL, OPT_ROUND_STEPS },
	{ "round-ms", required_argument, NULL, OPT_ROUND_MS },
	{ "no-placement", no_argument, NULL, OPT_NO_PLACEMENT },
	{ "no-elastic", no_argument, NULL, OPT_NO_ELASTIC },
	{ "no-batching", no_argument, NULL, OPT_NO_BATCHING },
	{ "rssp-map", required_argument, NULL, OPT_RSSP_MAP },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int set_option(struct sim_args *a, int opt, const char *val, struct ts_error *err)
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
	case OPT_POLICY: snprintf(a->policies, sizeof(a->policies), "%s", val); return 0;
	case OPT_SLO: return ts_cli_parse_double(val, 1e-9, 1e9, &a->cfg.slo_scale, "--slo-scale", err);
	case OPT_DB: a->db = val; return 0;
	case OPT_NODB: a->no_db = true; return 0;
	case OPT_SEED:
		if (ts_cli_parse_int(val, 0, UINT32_MAX, &ll, "--seed", err))
			return TS_EINVAL;
		a->cfg.seed = (uint64_t)ll;
		a->cfg.sim.seed = a->cfg.seed;
		return 0;
	case OPT_NOISE: a->cfg.sim.noise = true; return 0;
	case OPT_MOVE_US:
		if (ts_cli_parse_double(val, 0, 1e9, &d, "--move-us", err))
			return TS_EINVAL;
		a->cfg.sim.move_fixed_ns = (ts_ns)(d * TS_NS_PER_US);
		return 0;
	case OPT_NO_MOVE: a->cfg.sim.move_cost = false; return 0;
	case OPT_MOVE_GBPS: return ts_cli_parse_double(val, 1e-6, 1e9, &a->cfg.sim.move_gbps, "--move-gbps", err);
	case OPT_MODEL: a->cfg.model = val; return 0;
	case OPT_GPU_TYPE: a->cfg.gpu_type = val; return 0;
	case OPT_INTERP: a->cfg.interpolate = true; return 0;
	case OPT_ROUND_STEPS:
		if (ts_cli_parse_int(val, 1, 1000000, &ll, "--round-steps", err))
			return TS_EINVAL;
		a->cfg.env.round_steps = (int)ll;
		return 0;
	case OPT_ROUND_MS:
		if (ts_cli_parse_double(val, 1e-3, 1e9, &d, "--round-ms", err))
			return TS_EINVAL;
		a->cfg.env.round_ns = (ts_ns)(d * TS_NS_PER_MS);
		return 0;
	case OPT_NO_PLACEMENT: a->cfg.env.no_placement = true; return 0;
	case OPT_NO_ELASTIC: a->cfg.env.no_elastic = true; return 0;
	case OPT_NO_BATCHING: a->cfg.env.no_batching = true; return 0;
	case OPT_RSSP_MAP: a->cfg.env.rssp_map = val; return 0;
	case OPT_LABEL: a->cfg.label = val; return 0;
	case OPT_JSON: a->json = true; return 0;
	case OPT_QUIET: a->quiet = true; return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

/* Returns 0 to run, 1 when --help was printed, 2 on bad usage. */
static int parse_sim_args(struct sim_args *a, int argc, char **argv)
{
	struct ts_error err = { 0 };
	*a = (struct sim_args){ .db = "results.db" };
	ts_sim_config_defaults(&a->cfg, ts_cli_default_trace(), ts_cli_default_profile());
	snprintf(a->policies, sizeof(a->policies), "%s", TS_DEFAULT_POLICIES);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", sim_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			sim_usage(stdout);
			return 1;
		}
		if (opt == '?') {
			return ts_cli_bad_option("tetriserve sim", argv);
		}
		if (set_option(a, opt, optarg, &err)) {
			fprintf(stderr, "tetriserve sim: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tetriserve sim: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return 0;
}

static void print_results(const struct sim_args *a, size_t nreq, const struct ts_policy_result *pr, int n)
{
	if (a->json) {
		ts_policy_results_json(stdout, pr, n);
		return;
	}
	if (a->quiet)
		return;
	printf("trace %s (%zu requests), profile %s, %d GPUs, SLO scale %g\n", a->cfg.trace, nreq,
	       a->cfg.profile, a->cfg.gpus, a->cfg.slo_scale);
	ts_policy_results_table(stdout, pr, n);
	for (int i = 0; i < n && !a->no_db; i++)
		printf("run %lld: %s\n", (long long)pr[i].run_id, pr[i].spec);
	if (!a->no_db)
		printf("results written to %s\n", a->db);
}

int ts_cmd_sim(int argc, char **argv)
{
	struct sim_args a;
	int prc = parse_sim_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	struct ts_error err = { 0 };
	struct ts_sim_inputs in = { 0 };
	struct ts_policy_result pr[MAX_POLICIES] = { 0 };
	char *spec[MAX_POLICIES];
	int npol = ts_cli_split_policies(a.policies, spec, MAX_POLICIES, &err);
	if (npol < 0) {
		fprintf(stderr, "tetriserve sim: %s\n", err.msg);
		return 2;
	}
	struct ts_store *store = NULL;
	int status = 1;
	if (ts_sim_inputs_load(&in, &a.cfg, &err))
		goto out;
	for (int i = 0; i < npol; i++) {
		pr[i].spec = spec[i];
		if (ts_sim_check_policy(spec[i], &a.cfg, &in, &err))
			goto out;
	}
	if (!a.no_db && ts_store_open(&store, a.db, &err))
		goto out;
	signal(SIGINT, on_sigint);
	for (int i = 0; i < npol; i++)
		if (ts_sim_run_policy(spec[i], &a.cfg, &in, store, &stop_flag, &pr[i].sum, &pr[i].run_id, &err))
			goto out;
	print_results(&a, in.trace.n, pr, npol);
	status = 0;
out:
	if (status) {
		fprintf(stderr, "tetriserve sim: %s\n", err.msg);
		if (err.code == TS_EINTR) {
			fprintf(stderr, "tetriserve sim: results so far are in %s; the interrupted run is marked incomplete\n",
				a.no_db ? "(no database)" : a.db);
			status = 130;
		}
	}
	ts_store_close(store);
	ts_sim_inputs_free(&in);
	return status;
}
