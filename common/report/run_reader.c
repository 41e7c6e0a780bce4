/* run_reader.c: runs read back from the results store (see run_reader.h). */
#include "report/run_reader.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static int sql_error(sqlite3 *db, const char *path, const char *what, struct ts_error *err)
{
	return ts_err_set(err, TS_EIO, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

int ts_reader_open(sqlite3 **db, const char *path, struct ts_error *err)
{
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		int rc = ts_err_set(err, TS_EIO, "%s: cannot open results file: %s", path,
				    *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 10000);
	return 0;
}

int ts_reader_run_ids(sqlite3 *db, const char *path, int64_t **ids, size_t *n, struct ts_error *err)
{
	sqlite3_stmt *st;
	*ids = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT run_id FROM runs ORDER BY run_id", -1, &st, NULL) != SQLITE_OK)
		return sql_error(db, path, "listing runs", err);
	size_t cap = 0;
	int rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			int64_t *p = realloc(*ids, cap * sizeof(*p));
			if (!p) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory listing runs");
				break;
			}
			*ids = p;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int load_run_row(sqlite3 *db, const char *path, int64_t id, struct ts_stored_run *out,
			struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "SELECT backend, policy, trace_name, profile_name, options, gpus, seed,"
			       " completed FROM runs WHERE run_id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_error(db, path, "reading a run", err);
	sqlite3_bind_int64(st, 1, id);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->run_id = id;
		copy_text(out->backend, sizeof(out->backend), st, 0);
		copy_text(out->policy, sizeof(out->policy), st, 1);
		copy_text(out->trace, sizeof(out->trace), st, 2);
		copy_text(out->profile, sizeof(out->profile), st, 3);
		copy_text(out->options, sizeof(out->options), st, 4);
		out->gpus = sqlite3_column_int(st, 5);
		out->seed = (uint64_t)sqlite3_column_int64(st, 6);
		out->completed = sqlite3_column_int(st, 7) != 0;
	} else {
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: no run %lld", path, (long long)id);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Rebuilds the trace and per-request state of a run from its request rows,
 * so the summary is computed by the same code as at run time. */
static int load_requests(sqlite3 *db, const char *path, int64_t id, struct ts_trace *t,
			 struct ts_run_result *res, struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "SELECT request_id, height, width, steps, arrival_ns, start_ns, finish_ns,"
			       " deadline_ns FROM requests WHERE run_id = ?1 ORDER BY arrival_ns, request_id",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_error(db, path, "reading requests", err);
	sqlite3_bind_int64(st, 1, id);
	int rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ts_request q = {
			.id = sqlite3_column_int64(st, 0), .height = sqlite3_column_int(st, 1),
			.width = sqlite3_column_int(st, 2), .steps = sqlite3_column_int(st, 3),
			.arrival = sqlite3_column_int64(st, 4), .deadline = sqlite3_column_int64(st, 7),
		};
		rc = ts_trace_append(t, &q, err);
		if (rc)
			break;
		t->req[t->n - 1].deadline = q.deadline; /* as stored (SLO scale applied) */
		struct ts_req_state *p = realloc(res->st, t->n * sizeof(*p));
		if (!p) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory reading requests");
			break;
		}
		res->st = p;
		res->n = t->n;
		p[t->n - 1] = (struct ts_req_state){
			.start = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5),
			.finish = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6),
		};
	}
	sqlite3_finalize(st);
	return rc;
}

/* Utilisation, makespan, launches and latent moves from the segments (a
 * launch is one (GPU set, start) of steps rows: a batch writes a row per
 * request), rounds from the rounds table. */
static int load_busy(sqlite3 *db, const char *path, int64_t id, struct ts_run_result *res,
		     struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "SELECT COALESCE(SUM(degree * (end_ns - start_ns) / batch), 0),"
			       " COALESCE(MAX(end_ns), 0),"
			       " COUNT(DISTINCT CASE WHEN kind = 'steps' THEN gpus || ':' || start_ns END),"
			       " COUNT(DISTINCT CASE WHEN kind = 'move' THEN gpus || ':' || start_ns END),"
			       " (SELECT COUNT(*) FROM rounds WHERE run_id = ?1)"
			       " FROM segments WHERE run_id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_error(db, path, "reading segments", err);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		res->busy_gpu_ns = sqlite3_column_int64(st, 0);
		res->makespan = sqlite3_column_int64(st, 1);
		res->launches = sqlite3_column_int64(st, 2);
		res->moves = sqlite3_column_int64(st, 3);
		res->rounds = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	return 0;
}

int ts_reader_load(sqlite3 *db, const char *path, int64_t id, struct ts_stored_run *out,
		   struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc = load_run_row(db, path, id, out, err);
	if (rc)
		return rc;
	struct ts_trace t = { 0 };
	struct ts_run_result res = { 0 };
	rc = load_requests(db, path, id, &t, &res, err);
	if (!rc)
		rc = load_busy(db, path, id, &res, err);
	if (!rc)
		rc = ts_summary_compute(&out->sum, &t, &res, out->gpus > 0 ? out->gpus : 1, err);
	free(res.st);
	ts_trace_free(&t);
	return rc;
}
