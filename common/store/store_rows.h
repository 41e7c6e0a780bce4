/* store_rows.h: private: buffered multi-row inserts of the two big tables,
 * requests and segments. Rows wait in a small buffer and go to SQLite
 * STORE_ROWS_PER_INSERT at a time in one INSERT ... VALUES (...), (...),
 * which costs about half as much per row as one INSERT per row. */
#ifndef TS_STORE_ROWS_H
#define TS_STORE_ROWS_H

#include <sqlite3.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

#define TS_STORE_ROWS_PER_INSERT 64
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
	struct ts_store_request_row requests[TS_STORE_ROWS_PER_INSERT];
	struct ts_segment segments[TS_STORE_ROWS_PER_INSERT];
	int nrequests, nsegments;
	char gpu_lists[TS_STORE_ROWS_PER_INSERT][TS_STORE_GPU_LIST_MAX];
};

/* Prepares the insert statements on db; TS_EIO naming path on failure. */
int ts_store_rows_prepare(struct ts_store_rows *rows, sqlite3 *db, const char *path,
			  struct ts_error *err);

/* Finalizes the statements; buffered rows are dropped (drain first). */
void ts_store_rows_finalize(struct ts_store_rows *rows);

/* Buffers a requests row of run run_id, inserting the buffer when it is
 * full. A failed insert returns TS_EIO and drops the rows it held. */
int ts_store_rows_add_request(struct ts_store_rows *rows, int64_t run_id,
			      const struct ts_store_request_row *row, struct ts_error *err);

/* Buffers a segments row of run run_id, like ts_store_rows_add_request. */
int ts_store_rows_add_segment(struct ts_store_rows *rows, int64_t run_id,
			      const struct ts_segment *seg, struct ts_error *err);

/* Inserts every buffered row of run run_id (before a commit). */
int ts_store_rows_drain(struct ts_store_rows *rows, int64_t run_id, struct ts_error *err);

#endif
