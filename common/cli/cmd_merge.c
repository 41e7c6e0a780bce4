/* cmd_merge.c: `tetriserve merge` — combine results files (e.g. the shards
 * of an experiment) into one, without duplicate runs. */
#include "cli/cmd_merge.h"

#include <getopt.h>
#include <stdio.h>

#include "cli/cli_util.h"
#include "store/store.h"

int ts_cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'o') {
			out = optarg;
		} else if (opt == 'h') {
			printf("usage: tetriserve merge --out F IN.db [IN.db ...]\n"
			       "Copies every completed run of the inputs into F (created if needed), skipping runs\n"
			       "F already holds (same backend, policy and parameters, trace and profile content,\n"
			       "GPU count, seed and options). Incomplete runs are not copied; profile runs come\n"
			       "with their cells. Each input is migrated to the current schema, then merged in\n"
			       "one transaction.\n");
			return 0;
		} else {
			return ts_cli_bad_option("tetriserve merge", argv);
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "tetriserve merge: needs --out F and at least one input file (see --help)\n");
		return 2;
	}
	struct ts_error err = { 0 };
	struct ts_merge_counts mc;
	int rc = ts_store_merge(out, (const char *const *)argv + optind, argc - optind, &mc, &err);
	if (rc) {
		fprintf(stderr, "tetriserve merge: %s\n", err.msg);
		return 1;
	}
	printf("merged into %s: %ld runs copied, %ld duplicates skipped, %ld incomplete skipped\n", out,
	       mc.copied, mc.duplicates, mc.incomplete);
	return 0;
}
