/* sim_cmd.h: the commands of sim/: `tetriserve sim` and `tetriserve regress`. */
#ifndef TS_SIM_CMD_H
#define TS_SIM_CMD_H

/* `tetriserve sim` (argv[0] is "sim"): 0, 1 on error, 2 on bad usage, 130
 * when interrupted. */
int ts_cmd_sim(int argc, char **argv);

/* `tetriserve regress` (argv[0] is "regress"): 0 when every configuration
 * is within the tolerance, 1 when one is not or on error, 2 on bad usage. */
int ts_cmd_regress(int argc, char **argv);

#endif
