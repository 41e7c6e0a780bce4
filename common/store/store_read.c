/* store_read.c: reading results files back (see store_read.h). */
#include "store/store_read.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_schema.h"
#include "store/store_sql.h"

/* Milliseconds to wait for a writer that holds a lock. */
#define READ_BUSY_TIMEOUT_MS 10000

struct ts_reader {
	sqlite3 *db;
	char *path;
	int64_t version;  /* the file's schema version (older files are read as they are) */
};


/* Opens and checks the schema version; the connection is usable when 0. */
static int open_uri(struct ts_reader *r, bool immutable, struct ts_error *err)
{
	char *uri = ts_store_ro_uri(r->path, immutable);
	if (!uri)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(uri, &r->db, flags, NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return ts_store_sql_err(r->db, r->path, err, "cannot open results file");
	sqlite3_extended_result_codes(r->db, 1);
	sqlite3_busy_timeout(r->db, READ_BUSY_TIMEOUT_MS);
	rc = ts_store_sql_int(r->db, r->path, "PRAGMA user_version", &r->version, err);
	if (!rc && (r->version < 1 || r->version > TS_STORE_SCHEMA_VERSION))
		rc = ts_err_set(err, TS_EIO, "%s: not a results file of this tetriserve (schema version %lld; "
				"this one reads 1..%d)", r->path, (long long)r->version, TS_STORE_SCHEMA_VERSION);
	return rc;
}


int ts_reader_open(struct ts_reader **out, const char *path, struct ts_error *err)
{
	*out = NULL;
	if (access(path, R_OK) != 0)
		return ts_err_set(err, TS_EIO, "%s: cannot open results file: %s", path, strerror(errno));
	struct ts_reader *r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	int rc = open_uri(r, false, err);
	if (rc && ts_store_folder_read_only(path) && ts_store_wal_has_data(path))
		ts_err_prefix(err, "%s-wal holds rows not yet in the file and its folder is read-only: "
			      "open the file once where it is writable (e.g. tetriserve report on a copy of "
			      "both files); then", path);
	else if (rc && ts_store_folder_read_only(path)) {
		/* no WAL data: the file alone is the whole database */
		sqlite3_close(r->db);
		r->db = NULL;
		rc = open_uri(r, true, err);
	}
	if (rc) {
		ts_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void ts_reader_close(struct ts_reader *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r->path);
	free(r);
}

const char *ts_reader_path(const struct ts_reader *r)
{
	return r->path;
}

int64_t ts_reader_schema_version(const struct ts_reader *r)
{
	return r->version;
}

/* Prepares sql with ?1 = a and (when the statement has it) ?2 = b. */
static int prepare(struct ts_reader *r, const char *sql, int64_t a, int64_t b, sqlite3_stmt **st,
		   const char *what, struct ts_error *err)
{
	if (sqlite3_prepare_v2(r->db, sql, -1, st, NULL) != SQLITE_OK)
		return ts_store_sql_err(r->db, r->path, err, "%s", what);
	if (sqlite3_bind_parameter_count(*st) >= 1)
		sqlite3_bind_int64(*st, 1, a);
	if (sqlite3_bind_parameter_count(*st) >= 2)
		sqlite3_bind_int64(*st, 2, b);
	return 0;
}

/* Ends a read whose last sqlite3_step returned step: anything but
 * SQLITE_DONE (a damaged or busy file) is an error, unless rc already is. */
static int finish(struct ts_reader *r, sqlite3_stmt *st, int step, int rc, const char *what,
		  struct ts_error *err)
{
	if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = ts_store_sql_err(r->db, r->path, err, "%s", what);
	sqlite3_finalize(st);
	return rc;
}

int ts_reader_run_ids(struct ts_reader *r, int64_t **ids, size_t *n, struct ts_error *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = 0, step;
	*ids = NULL;
	*n = 0;
	if (prepare(r, "SELECT run_id FROM runs ORDER BY run_id", 0, 0, &st, "listing runs", err))
		return err->code;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
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
	return finish(r, st, step, rc, "listing runs", err);
}

static char *column_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? strdup((const char *)t) : NULL;
}

static const char run_sql[] =
	"SELECT backend, policy, policy_params, trace_name, trace_hash, profile_name, profile_hash,"
	" version, options, summary, started_at, ended_at, gpus, seed, completed"
	" FROM runs WHERE run_id = ?1";

static void fill_run_row(sqlite3_stmt *st, int64_t id, struct ts_run_row *row)
{
	char **text[] = { &row->backend, &row->policy, &row->policy_params, &row->trace_name,
			  &row->trace_hash, &row->profile_name, &row->profile_hash, &row->version,
			  &row->options, &row->summary, &row->started_at, &row->ended_at };
	row->run_id = id;
	for (int i = 0; i < 12; i++)
		*text[i] = column_text(st, i);
	row->gpus = sqlite3_column_int(st, 12);
	row->seed = (uint64_t)sqlite3_column_int64(st, 13);
	row->completed = sqlite3_column_int(st, 14) != 0;
}

int ts_reader_run(struct ts_reader *r, int64_t id, struct ts_run_row *row, struct ts_error *err)
{
	sqlite3_stmt *st;
	memset(row, 0, sizeof(*row));
	if (prepare(r, run_sql, id, 0, &st, "reading a run", err))
		return err->code;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW)
		fill_run_row(st, id, row);
	else if (step == SQLITE_DONE)
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: no run %lld", r->path, (long long)id);
	return finish(r, st, step, rc, "reading a run", err);
}

void ts_run_row_free(struct ts_run_row *row)
{
	char *text[] = { row->backend, row->policy, row->policy_params, row->trace_name,
			 row->trace_hash, row->profile_name, row->profile_hash, row->version,
			 row->options, row->summary, row->started_at, row->ended_at };
	for (int i = 0; i < 12; i++)
		free(text[i]);
	memset(row, 0, sizeof(*row));
}

static ts_ns time_or_none(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

static const char requests_sql[] =
	"SELECT request_id, height, width, steps, arrival_ns, start_ns, finish_ns, deadline_ns, met_slo,"
	" status, dropped_ns FROM requests WHERE run_id = ?1 ORDER BY arrival_ns, request_id";
/* Files before schema version 3 had no status: it follows from the rest. */
static const char requests_v2_sql[] =
	"SELECT request_id, height, width, steps, arrival_ns, start_ns, finish_ns, deadline_ns, met_slo,"
	" CASE WHEN met_slo = 1 THEN 'met' WHEN finish_ns IS NULL THEN 'unfinished' ELSE 'late' END,"
	" NULL FROM requests WHERE run_id = ?1 ORDER BY arrival_ns, request_id";

/* The status column as the enum (an unknown text reads as unfinished). */
static enum ts_request_status status_of(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	for (int s = TS_REQ_MET; t && s <= TS_REQ_UNFINISHED; s++)
		if (!strcmp((const char *)t, ts_request_status_name((enum ts_request_status)s)))
			return (enum ts_request_status)s;
	return TS_REQ_UNFINISHED;
}

int ts_reader_each_request(struct ts_reader *r, int64_t run,
			   int (*fn)(void *ctx, const struct ts_request_row *row, struct ts_error *err),
			   void *ctx, struct ts_error *err)
{
	sqlite3_stmt *st;
	int rc = 0, step;
	if (prepare(r, r->version >= 3 ? requests_sql : requests_v2_sql, run, 0, &st, "reading requests", err))
		return err->code;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct ts_request_row row = {
			.request_id = sqlite3_column_int64(st, 0), .height = sqlite3_column_int(st, 1),
			.width = sqlite3_column_int(st, 2), .steps = sqlite3_column_int(st, 3),
			.arrival = sqlite3_column_int64(st, 4), .start = time_or_none(st, 5),
			.finish = time_or_none(st, 6), .deadline = sqlite3_column_int64(st, 7),
			.met = sqlite3_column_int(st, 8) != 0, .status = status_of(st, 9),
			.dropped = time_or_none(st, 10),
		};
		rc = fn(ctx, &row, err);
	}
	return finish(r, st, step, rc, "reading requests", err);
}

static const char *const segments_sql[] = {
	[TS_SEG_BY_START] = "SELECT request_id, kind, gpus, first_step, nsteps, batch, start_ns, end_ns"
			    " FROM segments WHERE run_id = ?1 ORDER BY start_ns, request_id, kind",
	[TS_SEG_BY_REQUEST] = "SELECT request_id, kind, gpus, first_step, nsteps, batch, start_ns, end_ns"
			      " FROM segments WHERE run_id = ?1 ORDER BY request_id, first_step,"
			      " kind = 'steps', start_ns",
};

int ts_reader_each_segment(struct ts_reader *r, int64_t run, enum ts_segment_order order,
			   int (*fn)(void *ctx, const struct ts_segment *seg, struct ts_error *err),
			   void *ctx, struct ts_error *err)
{
	sqlite3_stmt *st;
	int rc = 0, step;
	if (prepare(r, segments_sql[order], run, 0, &st, "reading segments", err))
		return err->code;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *kind = sqlite3_column_text(st, 1);
		struct ts_segment seg = {
			.request_id = sqlite3_column_int64(st, 0),
			.kind = kind && kind[0] == 'm' ? TS_SEG_MOVE : TS_SEG_STEPS,
			.gpus = (uint64_t)sqlite3_column_int64(st, 2), .first_step = sqlite3_column_int(st, 3),
			.nsteps = sqlite3_column_int(st, 4), .batch = sqlite3_column_int(st, 5),
			.start = sqlite3_column_int64(st, 6), .end = sqlite3_column_int64(st, 7),
		};
		rc = fn(ctx, &seg, err);
	}
	return finish(r, st, step, rc, "reading segments", err);
}

static const char totals_sql[] =
	"SELECT COALESCE(SUM(degree * (end_ns - start_ns) / batch), 0), COALESCE(MAX(end_ns), 0),"
	" COUNT(DISTINCT CASE WHEN kind = 'steps' THEN gpus || ':' || start_ns END),"
	" COUNT(DISTINCT CASE WHEN kind = 'move' THEN gpus || ':' || start_ns END),"
	" (SELECT COUNT(*) FROM rounds WHERE run_id = ?1)"
	" FROM segments WHERE run_id = ?1";

int ts_reader_run_totals(struct ts_reader *r, int64_t run, struct ts_run_totals *t,
			 struct ts_error *err)
{
	sqlite3_stmt *st;
	memset(t, 0, sizeof(*t));
	if (prepare(r, totals_sql, run, 0, &st, "reading segments", err))
		return err->code;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		t->busy_gpu_ns = sqlite3_column_int64(st, 0);
		t->makespan = sqlite3_column_int64(st, 1);
		t->launches = sqlite3_column_int64(st, 2);
		t->moves = sqlite3_column_int64(st, 3);
		t->rounds = sqlite3_column_int64(st, 4);
	}
	return finish(r, st, step, 0, "reading segments", err);
}
