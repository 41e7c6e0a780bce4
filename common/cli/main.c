/* main.c: the `tetriserve` command: dispatches to its sub-commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_bound.h"
#include "cli/cmd_merge.h"
#include "cli/cmd_regress.h"
#include "cli/cmd_report.h"
#include "cli/cmd_sim.h"
#include "cli/cmd_timeline.h"
#include "cli/cmd_validate.h"
#include "cli/cmd_trace.h"
#ifdef TS_HAVE_EXEC
#include "ts_exec_cmd.h"
#include "ts_profile_cmd.h"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve <command> [options]\n\n"
		"commands:\n"
		"  sim        replay a trace on the simulated GPU cluster (tetriserve sim --help)\n"
		"  trace gen  generate a request trace (tetriserve trace gen --help)\n"
		"  trace stats  arrival rate, resolution mix and SLOs of a trace file\n"
		"  report     summarise and compare stored runs (tetriserve report --help)\n"
		"  regress    rerun recorded configurations and fail when SAR drops (--help)\n"
		"  merge      combine results files without duplicate runs (--help)\n"
		"  timeline   a run's segments as Chrome trace-event JSON for Perfetto (--help)\n"
		"  validate   how far a simulated run was from a hardware run (--help)\n"
		"  bound      upper bound on SLO attainment by a MILP (tetriserve bound --help)\n"
#ifdef TS_HAVE_EXEC
		"  profile    measure step latencies on this machine's GPUs (tetriserve profile --help)\n"
		"  exec       serve a trace on this machine's GPUs under policies (tetriserve exec --help)\n"
#endif
		"  --version  print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tetriserve %s\n", TS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "sim"))
		return ts_cmd_sim(argc - 1, argv + 1);
	if (!strcmp(argv[1], "trace"))
		return ts_cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return ts_cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "regress"))
		return ts_cmd_regress(argc - 1, argv + 1);
	if (!strcmp(argv[1], "merge"))
		return ts_cmd_merge(argc - 1, argv + 1);
	if (!strcmp(argv[1], "timeline"))
		return ts_cmd_timeline(argc - 1, argv + 1);
	if (!strcmp(argv[1], "validate"))
		return ts_cmd_validate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bound"))
		return ts_cmd_bound(argc - 1, argv + 1);
#ifdef TS_HAVE_EXEC
	if (!strcmp(argv[1], "profile"))
		return ts_cmd_profile(argc - 1, argv + 1);
	if (!strcmp(argv[1], "exec"))
		return ts_cmd_exec(argc - 1, argv + 1);
#endif
	fprintf(stderr, "tetriserve: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
