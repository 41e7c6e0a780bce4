/* sim_cmd.c: `tetriserve sim` — replay a trace on the simulated cluster
 * under one or more policies, print the SLO-attainment table, store the
 * results. The flow is the shared one of cli/run_cmd.h; this file adds the
 * simulator's options. */
#include "sim_cmd.h"

#include <stdio.h>

#include "cli/cli_util.h"
#include "cli/run_cmd.h"
#include "sim_backend.h"

enum { SO_NOISE = TS_RUN_CMD_OWN, SO_MOVE_US, SO_MOVE_GBPS, SO_NO_MOVE };

static const struct option sim_own_options[] = {
	{ "noise", no_argument, NULL, SO_NOISE },
	{ "move-us", required_argument, NULL, SO_MOVE_US },
	{ "move-gbps", required_argument, NULL, SO_MOVE_GBPS },
	{ "no-move-cost", no_argument, NULL, SO_NO_MOVE },
	{ NULL, 0, NULL, 0 },
};

static void sim_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve sim [options]\n"
		"Replays a request trace on a simulated node of N GPUs under one or more policies,\n"
		"prints an SLO-attainment table and writes every run to a SQLite file.\n"
		"Defaults: --trace %s --profile %s\n"
		"--policy %s\n\n",
		ts_cli_default_trace(), ts_cli_default_profile(), TS_DEFAULT_POLICIES);
	ts_run_cmd_help(f);
	fprintf(f,
		"Simulator options:\n"
		"  --noise            draw step times around the profile mean with the profile's CV (--seed)\n"
		"  --move-us U        fixed cost of a latent move between GPU sets, us (default 30)\n"
		"  --move-gbps B      latent move bandwidth, GB/s (default 50)\n"
		"  --no-move-cost     latent moves between GPU sets cost nothing\n");
}

static int sim_set_own(void *ctx, int val, const char *arg, struct ts_error *err)
{
	struct ts_sim_opts *o = ctx;
	double d;
	switch (val) {
	case SO_NOISE: o->noise = true; return 0;
	case SO_NO_MOVE: o->move.on = false; return 0;
	case SO_MOVE_US:
		if (ts_cli_parse_double(arg, 0, 1e9, &d, "--move-us", err))
			return TS_EINVAL;
		o->move.fixed_ns = (ts_ns)(d * TS_NS_PER_US);
		return 0;
	case SO_MOVE_GBPS: return ts_cli_parse_double(arg, 1e-6, 1e9, &o->move.gbps, "--move-gbps", err);
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

int ts_cmd_sim(int argc, char **argv)
{
	struct ts_sim_opts so;
	ts_sim_opts_defaults(&so);
	struct ts_run_cmd rc = {
		.name = "tetriserve sim", .backend = ts_sim_factory(&so), .db = "results.db",
		.policy_text = TS_DEFAULT_POLICIES, .own = sim_own_options, .set_own = sim_set_own,
		.usage = sim_usage, .ctx = &so,
	};
	ts_run_config_defaults(&rc.cfg);
	rc.cfg.trace = ts_cli_default_trace();
	rc.cfg.profile = ts_cli_default_profile();
	int r = ts_run_cmd_parse(&rc, argc, argv);
	if (r)
		return r == 1 ? 0 : 2;
	so.seed = rc.cfg.seed;
	return ts_run_cmd_execute(&rc);
}
