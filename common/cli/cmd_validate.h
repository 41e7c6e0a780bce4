/* cmd_validate.h: `tetriserve validate`. */
#ifndef TS_CMD_VALIDATE_H
#define TS_CMD_VALIDATE_H

/* Runs `tetriserve validate --db F --sim R1 --exec R2` with argv[0] ==
 * "validate": how far the simulator was from the hardware on one trace.
 * Returns the exit status (0 ok, 1 error, 2 bad usage). */
int ts_cmd_validate(int argc, char **argv);

#endif
