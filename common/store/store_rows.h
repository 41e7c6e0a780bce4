/* store_rows.h: private: the rows of the current run waiting for their
 * commit, and their inserts. The three row tables of a run (requests,
 * segments, rounds) are buffered in memory between commits, so a writer
 * holds SQLite's write lock only while it inserts them (a few milliseconds),
 * not while it computes the next rows (docs/SCHEMA.md, "Concurrent
 * writers"). Requests and segments go to SQLite STORE_ROWS_PER_INSERT at a
 * time in one INSERT ... VALUES (...), (...), which costs about half as much
 * per row as one INSERT per row. */
#ifndef TS_STORE_ROWS_H
#define TS_STORE_ROWS_H

#include <sqlite3.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

#define TS_STORE_ROWS_PER_INSERT 64
/* Most rows one commit holds: a killed process loses at most this many. */
#define TS_STORE_BATCH_ROWS 4096
/* "0,1,...,63" is 181 characters and its NUL. */
#define TS_STORE_GPU_LIST_MAX 192

/* One requests row waiting to be inserted. */
struct ts_store_request_row {
	int64_t id;
	int32_t height, width, steps;
	ts_ns arrival, start, finish, deadline, dropped; /* start/finish/dropped < 0: NULL */
	enum ts_request_status status;
};

/* The buffers and statements of one connection. Caller-owned; zero it,
 * then ts_store_rows_prepare(). */
struct ts_store_rows {
	sqlite3 *db;        /* not owned */
	const char *path;   /* for messages; not owned */
	sqlite3_stmt *requests_many, *requests_one;
	sqlite3_stmt *segments_many, *segments_one;
	sqlite3_stmt *rounds_one;
	struct ts_store_request_row *requests; /* [TS_STORE_BATCH_ROWS] each */
	struct ts_segment *segments;
	struct ts_round_rec *rounds;
	int nrequests, nsegments, nrounds;
	char gpu_lists[TS_STORE_ROWS_PER_INSERT][TS_STORE_GPU_LIST_MAX];
};

/* Allocates the buffers and prepares the insert statements on db;
 * TS_ENOMEM, or TS_EIO naming path, on failure. */
int ts_store_rows_prepare(struct ts_store_rows *rows, sqlite3 *db, const char *path,
			  struct ts_error *err);

/* Finalizes the statements and frees the buffers; buffered rows are
 * dropped (drain first). */
void ts_store_rows_finalize(struct ts_store_rows *rows);

/* Rows buffered, all tables together. */
static inline int ts_store_rows_pending(const struct ts_store_rows *rows)
{
	return rows->nrequests + rows->nsegments + rows->nrounds;
}

/* Buffers a requests row; the caller drains before the buffers hold
 * TS_STORE_BATCH_ROWS rows in all (TS_EINVAL when one is full). */
int ts_store_rows_add_request(struct ts_store_rows *rows, const struct ts_store_request_row *row,
			      struct ts_error *err);

/* Buffers a segments row, like ts_store_rows_add_request. */
int ts_store_rows_add_segment(struct ts_store_rows *rows, const struct ts_segment *seg,
			      struct ts_error *err);

/* Buffers a rounds row, like ts_store_rows_add_request. */
int ts_store_rows_add_round(struct ts_store_rows *rows, const struct ts_round_rec *rr,
			    struct ts_error *err);

/* Inserts every buffered row as rows of run run_id, inside the caller's
 * write transaction, and empties the buffers (also on failure: TS_EIO
 * naming the table, the request ids and the run). */
int ts_store_rows_drain(struct ts_store_rows *rows, int64_t run_id, struct ts_error *err);

#endif
