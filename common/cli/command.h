/* command.h: the commands of `tetriserve`. Each folder contributes a table
 * (common: trace, report, merge, timeline, validate; sim/: sim, regress;
 * exec/: profile, exec) and main.c reads the tables the build lists in the
 * generated command_tables.c, as ggml registers backends by name: common/
 * never names a command of sim/ or exec/. */
#ifndef TS_COMMAND_H
#define TS_COMMAND_H

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

#endif
