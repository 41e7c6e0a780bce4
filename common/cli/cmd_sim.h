/* cmd_sim.h: `tetriserve sim`. */
#ifndef TS_CMD_SIM_H
#define TS_CMD_SIM_H

/* Runs `tetriserve sim` with argv[0] == "sim". Returns the process exit
 * status: 0 on success, 1 on a run error, 2 on bad usage, 130 on Ctrl-C. */
int ts_cmd_sim(int argc, char **argv);

#endif
