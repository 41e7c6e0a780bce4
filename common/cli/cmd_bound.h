/* cmd_bound.h: `tetriserve bound`. */
#ifndef TS_CMD_BOUND_H
#define TS_CMD_BOUND_H

/* Runs `tetriserve bound` with argv[0] == "bound". Returns the process exit
 * status: 0 on success (also when the time limit left a gap: the output
 * says so), 1 on an error (no MILP solver in this build, unreadable input,
 * instance too large, store failure), 2 on bad usage. */
int ts_cmd_bound(int argc, char **argv);

#endif
