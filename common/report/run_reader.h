/* run_reader.h: reading runs back from a results store to summarise and
 * compare them (tetriserve report, regress). Read-only SQL on the schema of
 * docs/SCHEMA.md. */
#ifndef TS_RUN_READER_H
#define TS_RUN_READER_H

#include "report/summary.h"

struct sqlite3;

/* A stored run as the reports need it. */
struct ts_stored_run {
	int64_t run_id;
	char backend[16];
	char policy[256];
	char trace[512];
	char profile[512];
	char options[1024];   /* JSON text, "" when NULL */
	int32_t gpus;
	uint64_t seed;
	bool completed;
	struct ts_summary sum; /* recomputed from the requests and segments tables */
};

/* Opens the results file read-only; TS_EIO naming the path when it cannot
 * (missing file included: a report never creates one). */
int ts_reader_open(struct sqlite3 **db, const char *path, struct ts_error *err);

/* Run ids of the file in ascending order into a malloc'ed array. */
int ts_reader_run_ids(struct sqlite3 *db, const char *path, int64_t **ids, size_t *n,
		      struct ts_error *err);

/* Loads run `id` and recomputes its summary from its request rows (SAR,
 * latency percentiles) and segment rows (utilisation = sum of degree x
 * duration / batch over gpus x makespan). TS_ENOTFOUND when there is no
 * such run. */
int ts_reader_load(struct sqlite3 *db, const char *path, int64_t id, struct ts_stored_run *out,
		   struct ts_error *err);

#endif
