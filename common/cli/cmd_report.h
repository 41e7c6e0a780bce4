/* cmd_report.h: `tetriserve report`. */
#ifndef TS_CMD_REPORT_H
#define TS_CMD_REPORT_H

/* Runs `tetriserve report` with argv[0] == "report"; returns the exit status
 * (0 ok, 1 error, 2 bad usage). */
int ts_cmd_report(int argc, char **argv);

#endif
