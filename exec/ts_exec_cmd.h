/* ts_exec_cmd.h: `tetriserve exec`: serve a trace on this machine's GPUs
 * with the DiT engine under one or more policies, store the runs. */
#ifndef TS_EXEC_CMD_H
#define TS_EXEC_CMD_H

/* Entry point of `tetriserve exec` (argv[0] is "exec"). Returns 0 on success,
 * 2 on bad usage, 130 when interrupted (results so far committed, the run
 * left incomplete), 1 on any other error (message on stderr). */
int ts_cmd_exec(int argc, char **argv);

#endif
