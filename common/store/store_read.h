/* store_read.h: reading results files back (report, timeline, validate,
 * regress). Only common/store/ holds SQL; readers get rows as C structs.
 * Every read checks SQLite's answer to the end, so a damaged or busy file is
 * an error naming the file and the cause, never a short result. */
#ifndef TS_STORE_READ_H
#define TS_STORE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

struct ts_reader; /* opaque: a read-only connection to one results file */

/* Opens the results file at path read-only (it is never created or
 * written). Where SQLite cannot read it read-only in place (a WAL file in a
 * folder the user cannot write), it is read as immutable, which is safe as
 * long as no process writes it meanwhile. TS_EIO naming the path and the
 * cause (missing file, not a results file, a newer schema version). */
int ts_reader_open(struct ts_reader **out, const char *path, struct ts_error *err);

/* Closes; safe with NULL. */
void ts_reader_close(struct ts_reader *r);

/* The path the reader was opened with. */
const char *ts_reader_path(const struct ts_reader *r);

/* The schema version of the file (PRAGMA user_version, 1..current). */
int64_t ts_reader_schema_version(const struct ts_reader *r);

/* A runs row; text members are malloc'ed, NULL for SQL NULL. */
struct ts_run_row {
	int64_t run_id;
	char *backend, *policy, *policy_params;
	char *trace_name, *trace_hash, *profile_name, *profile_hash;
	char *version, *options, *summary, *started_at, *ended_at;
	int32_t gpus;
	uint64_t seed;
	bool completed;
};

/* The run ids of the file, ascending, into a malloc'ed array. */
int ts_reader_run_ids(struct ts_reader *r, int64_t **ids, size_t *n, struct ts_error *err);

/* Reads run `id` into *row (free it with ts_run_row_free); TS_ENOTFOUND
 * when there is no such run. */
int ts_reader_run(struct ts_reader *r, int64_t id, struct ts_run_row *row, struct ts_error *err);

/* Frees the text of a runs row; safe on a zeroed row. */
void ts_run_row_free(struct ts_run_row *row);

/* A requests row; times are -1 where the column is NULL. */
struct ts_request_row {
	int64_t request_id;
	int32_t height, width, steps;
	ts_ns arrival, start, finish, deadline, dropped;
	bool met;
	enum ts_request_status status;
};

/* Calls fn for every request row of run `run`, by arrival then request id;
 * stops at the first non-zero return of fn and returns it. */
int ts_reader_each_request(struct ts_reader *r, int64_t run,
			   int (*fn)(void *ctx, const struct ts_request_row *row, struct ts_error *err),
			   void *ctx, struct ts_error *err);

/* The order of ts_reader_each_segment. */
enum ts_segment_order {
	TS_SEG_BY_START,    /* start time, then request id, then kind */
	TS_SEG_BY_REQUEST,  /* request id, then first step, then kind (moves first) */
};

/* Calls fn for every segment row of run `run` in the given order (the
 * row's degree is popcount(gpus)); stops at the first non-zero return. */
int ts_reader_each_segment(struct ts_reader *r, int64_t run, enum ts_segment_order order,
			   int (*fn)(void *ctx, const struct ts_segment *seg, struct ts_error *err),
			   void *ctx, struct ts_error *err);

/* Totals of a run's segments and rounds, for its summary. */
struct ts_run_totals {
	int64_t busy_gpu_ns;   /* sum over steps and move segments of degree x duration / batch */
	ts_ns makespan;        /* latest segment end */
	int64_t launches;      /* distinct (GPU set, start) of steps segments: a batch writes a row per request */
	int64_t moves;         /* distinct (GPU set, start) of move segments */
	int64_t rounds;        /* rows of the rounds table */
};

int ts_reader_run_totals(struct ts_reader *r, int64_t run, struct ts_run_totals *t,
			 struct ts_error *err);

#endif
