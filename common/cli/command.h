/* command.h: the commands of `tetriserve`, and the backends a folder
 * offers to other folders' commands. Each folder contributes a table of
 * commands (common: trace, report, merge, timeline, profile model; sim/:
 * sim, regress; exec/: profile, exec, validate) and main.c reads the tables
 * the build lists in the generated command_tables.c, as ggml registers
 * backends by name: common/ never names a command of sim/ or exec/. A
 * folder may offer its backend the same way (sim/: "sim"), so that a
 * command of another folder (exec/'s validate) runs it without including
 * that folder. */
#ifndef TS_COMMAND_H
#define TS_COMMAND_H

#include <jansson.h>

#include "driver/run.h"

struct ts_command {
	const char *name;      /* "sim", or two words: "profile model" (matched before "profile") */
	const char *summary;   /* one line for the usage text */
	/* argv[0] is the command's name; returns the exit status. NULL when
	 * this build lacks the command: `unavailable` then says why and how to
	 * get a build that has it. */
	int (*run)(int argc, char **argv);
	const char *unavailable;
};

/* The tables, each ended by an entry whose name is NULL; the list ends
 * with NULL. Defined in the generated command_tables.c. */
extern const struct ts_command *const ts_command_tables[];

/* This folder's table. */
extern const struct ts_command ts_commands_common[];

/* The command named `name` ("sim", "profile model"), NULL when no table has it. */
const struct ts_command *ts_command_find(const char *name);

/* A backend offered to other folders' commands. */
struct ts_backend_entry {
	const char *name;   /* "sim" */
	/* A factory of fresh backends with the backend's options read from a
	 * run's options object (options: runs.options as stored, NULL for the
	 * defaults) and the run's seed; release it with release(). Returns 0
	 * or TS_ENOMEM. */
	int (*make)(const json_t *options, uint64_t seed, struct ts_backend_factory *out,
		    struct ts_error *err);
	void (*release)(struct ts_backend_factory *f);
};

/* The tables of backends, each ended by an entry whose name is NULL; the
 * list ends with NULL. Defined in the generated command_tables.c. */
extern const struct ts_backend_entry *const ts_backend_tables[];

/* The backend named `name`, NULL when no table has it. */
const struct ts_backend_entry *ts_backend_find(const char *name);

#endif
