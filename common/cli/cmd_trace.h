/* cmd_trace.h: `tetriserve trace` (sub-command gen: synthetic traces). */
#ifndef TS_CMD_TRACE_H
#define TS_CMD_TRACE_H

/* Runs `tetriserve trace <sub-command> [options]` with argv[0] == "trace"
 * and argv[1] the sub-command ("gen"). Prints usage for --help and returns
 * the process exit status: 0 on success (and for --help), 1 on an I/O
 * error, 2 on bad usage (unknown sub-command or option, bad option value,
 * with a message naming the option on stderr). */
int ts_cmd_trace(int argc, char **argv);

#endif
