/* run_cmd.h: the command flow shared by every command that runs policies on
 * a backend (`sim`, `exec`): the shared options, the --policy list and the
 * policies' flags, loading and checking the inputs, the results store, one
 * run per policy (driver/run.h), the table or JSON, Ctrl-C. A backend's
 * command adds its own options and hooks. */
#ifndef TS_RUN_CMD_H
#define TS_RUN_CMD_H

#include <getopt.h>
#include <stdio.h>

#include "cli/policy_args.h"
#include "driver/run.h"

/* getopt values: the shared options use 256.., a command's own options
 * TS_RUN_CMD_OWN.., the policies' flags TS_RUN_CMD_FLAGS.. */
#define TS_RUN_CMD_OWN 512
#define TS_RUN_CMD_FLAGS 1024

struct ts_run_cmd {
	const char *name;                   /* "tetriserve sim", for messages */
	struct ts_run_config cfg;
	struct ts_backend_factory backend;
	const char *db;                     /* results file */
	bool no_db, json, quiet;
	bool real_time;                     /* the backend runs in wall time (exec): progress at once */
	bool progress_set;                  /* --progress S given */
	double progress_every_s;
	const char *policy_text;            /* the --policy list as given */
	struct ts_policy_list policies;     /* after parsing, flags applied */
	/* the command's own options (val >= TS_RUN_CMD_OWN), NULL-name ended */
	const struct option *own;
	int (*set_own)(void *ctx, int val, const char *arg, struct ts_error *err);
	void (*usage)(FILE *f);             /* the command's --help text */
	/* After the inputs are loaded and the policies checked, before the
	 * results file is opened (so a refusal leaves no file) and the first
	 * run (exec: check the models, open the engine); may be NULL. */
	int (*prepare)(void *ctx, const struct ts_run_inputs *in, struct ts_error *err);
	/* After a failure, before the inputs are freed (exec: abort collectives); may be NULL. */
	void (*on_failure)(void *ctx);
	void *ctx;
};

/* Parses argv into rc (whose name, cfg defaults, backend, own options and
 * hooks the command has set). Returns 0 to run, 1 when --help was printed,
 * 2 on bad usage (message printed). */
int ts_run_cmd_parse(struct ts_run_cmd *rc, int argc, char **argv);

/* Runs every policy of the list and prints the results. Returns the exit
 * status: 0, 1 on error, 130 when interrupted (results so far stored, the
 * interrupted run left incomplete). Frees what parsing allocated. */
int ts_run_cmd_execute(struct ts_run_cmd *rc);

/* The help lines of the shared options and the policies' flags. */
void ts_run_cmd_help(FILE *f);

#endif
