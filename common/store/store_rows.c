/* store_rows.c: the buffered rows of a run and their inserts (store_rows.h). */
#include "store/store_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gpuset.h"
#include "store/store_sql.h"

#define REQUEST_COLS 12
#define SEGMENT_COLS 11

static const char requests_head[] =
	"INSERT INTO requests(run_id, request_id, height, width, steps, arrival_ns,"
	" start_ns, finish_ns, deadline_ns, met_slo, status, dropped_ns) VALUES ";
static const char segments_head[] =
	"INSERT INTO segments(run_id, request_id, kind, gpus, gpu_list, degree,"
	" first_step, nsteps, batch, start_ns, end_ns) VALUES ";
static const char rounds_sql[] =
	"INSERT INTO rounds(run_id, t_ns, active, launched, plan_wall_ns)"
	" VALUES (?1, ?2, ?3, ?4, ?5)";

/* Builds head followed by nrows groups "(?,?,...)" of cols parameters. */
static char *insert_sql(const char *head, int cols, int nrows)
{
	size_t len = strlen(head);
	size_t size = len + (size_t)nrows * (2 * (size_t)cols + 2) + 1;
	char *sql = malloc(size);
	if (!sql)
		return NULL;
	memcpy(sql, head, len);
	for (int r = 0; r < nrows; r++) {
		sql[len++] = r ? ',' : ' ';
		sql[len++] = '(';
		for (int c = 0; c < cols; c++) {
			if (c)
				sql[len++] = ',';
			sql[len++] = '?';
		}
		sql[len++] = ')';
	}
	sql[len] = '\0';
	return sql;
}

static int prepare_insert(struct ts_store_rows *rows, const char *head, int cols, int nrows,
			  sqlite3_stmt **out, struct ts_error *err)
{
	char *sql = insert_sql(head, cols, nrows);
	if (!sql)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory preparing inserts", rows->path);
	int ret = ts_store_sql_prepare(rows->db, rows->path, sql, out, err);
	free(sql);
	return ret;
}

int ts_store_rows_prepare(struct ts_store_rows *rows, sqlite3 *db, const char *path,
			  struct ts_error *err)
{
	rows->db = db;
	rows->path = path;
	rows->requests = malloc(TS_STORE_BATCH_ROWS * sizeof(*rows->requests));
	rows->segments = malloc(TS_STORE_BATCH_ROWS * sizeof(*rows->segments));
	rows->rounds = malloc(TS_STORE_BATCH_ROWS * sizeof(*rows->rounds));
	if (!rows->requests || !rows->segments || !rows->rounds)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory for the row buffers", path);
	int ret = prepare_insert(rows, requests_head, REQUEST_COLS, TS_STORE_ROWS_PER_INSERT,
				 &rows->requests_many, err);
	if (!ret)
		ret = prepare_insert(rows, requests_head, REQUEST_COLS, 1, &rows->requests_one, err);
	if (!ret)
		ret = prepare_insert(rows, segments_head, SEGMENT_COLS, TS_STORE_ROWS_PER_INSERT,
				     &rows->segments_many, err);
	if (!ret)
		ret = prepare_insert(rows, segments_head, SEGMENT_COLS, 1, &rows->segments_one, err);
	if (!ret)
		ret = ts_store_sql_prepare(db, path, rounds_sql, &rows->rounds_one, err);
	return ret;
}

void ts_store_rows_finalize(struct ts_store_rows *rows)
{
	sqlite3_finalize(rows->requests_many);
	sqlite3_finalize(rows->requests_one);
	sqlite3_finalize(rows->segments_many);
	sqlite3_finalize(rows->segments_one);
	sqlite3_finalize(rows->rounds_one);
	rows->requests_many = rows->requests_one = NULL;
	rows->segments_many = rows->segments_one = rows->rounds_one = NULL;
	free(rows->requests);
	free(rows->segments);
	free(rows->rounds);
	rows->requests = NULL;
	rows->segments = NULL;
	rows->rounds = NULL;
	rows->nrequests = rows->nsegments = rows->nrounds = 0;
}

/* Binds a time, or NULL when it is negative (never happened). */
static void bind_time_or_null(sqlite3_stmt *st, int col, ts_ns t)
{
	if (t >= 0)
		sqlite3_bind_int64(st, col, t);
	else
		sqlite3_bind_null(st, col);
}

/* Binds buffered request i as the row whose first parameter is col + 1. */
static void bind_request(struct ts_store_rows *rows, sqlite3_stmt *st, int col,
			 int64_t run_id, int i)
{
	const struct ts_store_request_row *r = &rows->requests[i];
	sqlite3_bind_int64(st, col + 1, run_id);
	sqlite3_bind_int64(st, col + 2, r->id);
	sqlite3_bind_int(st, col + 3, r->height);
	sqlite3_bind_int(st, col + 4, r->width);
	sqlite3_bind_int(st, col + 5, r->steps);
	sqlite3_bind_int64(st, col + 6, r->arrival);
	bind_time_or_null(st, col + 7, r->start);
	bind_time_or_null(st, col + 8, r->finish);
	sqlite3_bind_int64(st, col + 9, r->deadline);
	sqlite3_bind_int(st, col + 10, r->finish >= 0 && r->finish <= r->deadline);
	sqlite3_bind_text(st, col + 11, ts_request_status_name(r->status), -1, SQLITE_STATIC);
	bind_time_or_null(st, col + 12, r->dropped);
}

/* Binds buffered segment i as the row whose first parameter is col + 1. */
static void bind_segment(struct ts_store_rows *rows, sqlite3_stmt *st, int col,
			 int64_t run_id, int i)
{
	const struct ts_segment *seg = &rows->segments[i];
	char *list = rows->gpu_lists[i % TS_STORE_ROWS_PER_INSERT];
	int len = ts_gpus_format(seg->gpus, list, TS_STORE_GPU_LIST_MAX);
	sqlite3_bind_int64(st, col + 1, run_id);
	sqlite3_bind_int64(st, col + 2, seg->request_id);
	sqlite3_bind_text(st, col + 3, seg->kind == TS_SEG_MOVE ? "move" : "steps", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, col + 4, ts_store_u64_bits(seg->gpus));
	sqlite3_bind_text(st, col + 5, list, len, SQLITE_STATIC);
	sqlite3_bind_int(st, col + 6, ts_gpus_count(seg->gpus));
	sqlite3_bind_int(st, col + 7, seg->first_step);
	sqlite3_bind_int(st, col + 8, seg->nsteps);
	sqlite3_bind_int(st, col + 9, seg->batch);
	sqlite3_bind_int64(st, col + 10, seg->start);
	sqlite3_bind_int64(st, col + 11, seg->end);
}

/* Steps a bound insert; names the table and request ids on failure. */
static int step_insert(struct ts_store_rows *rows, sqlite3_stmt *st, const char *table,
		       int64_t first_id, int64_t last_id, int64_t run_id, struct ts_error *err)
{
	int ret = TS_OK;
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = ts_store_sql_err(rows->db, rows->path, err,
				       "inserting %s rows of requests %lld..%lld in run %lld", table,
				       (long long)first_id, (long long)last_id, (long long)run_id);
	sqlite3_reset(st);
	return ret;
}

static int64_t request_row_id(const struct ts_store_rows *rows, int i)
{
	return rows->requests[i].id;
}

static int64_t segment_row_id(const struct ts_store_rows *rows, int i)
{
	return rows->segments[i].request_id;
}

/* How the rows of one table are buffered and bound. */
struct row_table {
	const char *name;
	int cols;
	void (*bind)(struct ts_store_rows *rows, sqlite3_stmt *st, int col, int64_t run_id, int i);
	int64_t (*request_id)(const struct ts_store_rows *rows, int i);
};

static const struct row_table requests_table = { "requests", REQUEST_COLS, bind_request,
						 request_row_id };
static const struct row_table segments_table = { "segments", SEGMENT_COLS, bind_segment,
						 segment_row_id };

/* Inserts the n buffered rows of table t: a statement of
 * TS_STORE_ROWS_PER_INSERT rows while that many are left, then one
 * single-row statement each. */
static int insert_buffered(struct ts_store_rows *rows, const struct row_table *t, int n,
			   sqlite3_stmt *many, sqlite3_stmt *one, int64_t run_id,
			   struct ts_error *err)
{
	int i = 0, ret = TS_OK;

	for (; !ret && n - i >= TS_STORE_ROWS_PER_INSERT; i += TS_STORE_ROWS_PER_INSERT) {
		for (int j = 0; j < TS_STORE_ROWS_PER_INSERT; j++)
			t->bind(rows, many, j * t->cols, run_id, i + j);
		ret = step_insert(rows, many, t->name, t->request_id(rows, i),
				  t->request_id(rows, i + TS_STORE_ROWS_PER_INSERT - 1), run_id, err);
	}
	for (; !ret && i < n; i++) {
		t->bind(rows, one, 0, run_id, i);
		ret = step_insert(rows, one, t->name, t->request_id(rows, i), t->request_id(rows, i),
				  run_id, err);
	}
	return ret;
}

static int insert_rounds(struct ts_store_rows *rows, int64_t run_id, struct ts_error *err)
{
	sqlite3_stmt *st = rows->rounds_one;

	for (int i = 0; i < rows->nrounds; i++) {
		const struct ts_round_rec *rr = &rows->rounds[i];
		sqlite3_bind_int64(st, 1, run_id);
		sqlite3_bind_int64(st, 2, rr->t);
		sqlite3_bind_int(st, 3, rr->active);
		sqlite3_bind_int(st, 4, rr->launched);
		sqlite3_bind_int64(st, 5, rr->plan_wall_ns);
		int ret = sqlite3_step(st) == SQLITE_DONE ? TS_OK :
			ts_store_sql_err(rows->db, rows->path, err, "inserting a round of run %lld",
					 (long long)run_id);
		sqlite3_reset(st);
		if (ret)
			return ret;
	}
	return TS_OK;
}

/* Room for one more row in the buffers of the commit being built. */
static int room(const struct ts_store_rows *rows, const char *what, struct ts_error *err)
{
	if (ts_store_rows_pending(rows) < TS_STORE_BATCH_ROWS)
		return TS_OK;
	return ts_err_set(err, TS_EINVAL, "%s: %s row beyond the %d rows of one commit", rows->path,
			  what, TS_STORE_BATCH_ROWS);
}

int ts_store_rows_add_request(struct ts_store_rows *rows, const struct ts_store_request_row *row,
			      struct ts_error *err)
{
	int ret = room(rows, "request", err);
	if (!ret)
		rows->requests[rows->nrequests++] = *row;
	return ret;
}

int ts_store_rows_add_segment(struct ts_store_rows *rows, const struct ts_segment *seg,
			      struct ts_error *err)
{
	int ret = room(rows, "segment", err);
	if (!ret)
		rows->segments[rows->nsegments++] = *seg;
	return ret;
}

int ts_store_rows_add_round(struct ts_store_rows *rows, const struct ts_round_rec *rr,
			    struct ts_error *err)
{
	int ret = room(rows, "round", err);
	if (!ret)
		rows->rounds[rows->nrounds++] = *rr;
	return ret;
}

int ts_store_rows_drain(struct ts_store_rows *rows, int64_t run_id, struct ts_error *err)
{
	int ret = insert_buffered(rows, &requests_table, rows->nrequests, rows->requests_many,
				  rows->requests_one, run_id, err);
	if (!ret)
		ret = insert_buffered(rows, &segments_table, rows->nsegments, rows->segments_many,
				      rows->segments_one, run_id, err);
	if (!ret)
		ret = insert_rounds(rows, run_id, err);
	rows->nrequests = rows->nsegments = rows->nrounds = 0;
	return ret;
}
