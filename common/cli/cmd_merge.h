/* cmd_merge.h: `tetriserve merge`. */
#ifndef TS_CMD_MERGE_H
#define TS_CMD_MERGE_H

/* Runs `tetriserve merge --out F IN...` with argv[0] == "merge"; returns the
 * exit status (0 ok, 1 error, 2 bad usage). */
int ts_cmd_merge(int argc, char **argv);

#endif
