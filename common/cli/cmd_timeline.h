/* cmd_timeline.h: `tetriserve timeline`. */
#ifndef TS_CMD_TIMELINE_H
#define TS_CMD_TIMELINE_H

/* Runs `tetriserve timeline --db F --run R` with argv[0] == "timeline",
 * writing Chrome trace-event JSON to stdout; returns the exit status. */
int ts_cmd_timeline(int argc, char **argv);

#endif
