/* cmd_regress.h: `tetriserve regress`. */
#ifndef TS_CMD_REGRESS_H
#define TS_CMD_REGRESS_H

/* Runs `tetriserve regress` with argv[0] == "regress"; returns the exit
 * status: 0 when no configuration dropped below its baseline by more than
 * the tolerance, 1 when one did or on error, 2 on bad usage. */
int ts_cmd_regress(int argc, char **argv);

#endif
