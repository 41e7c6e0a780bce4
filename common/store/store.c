/* store.c: the results store on SQLite: one connection, persistent prepared
 * statements, rows of the current run buffered and committed in short write
 * transactions (every TS_STORE_BATCH_ROWS rows or STORE_COMMIT_MS of wall
 * time, whichever comes first). */
#include "store/store.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "io/profile.h"
#include "store/store_rows.h"
#include "store/store_schema.h"
#include "store/store_sql.h"

/* Wall time a buffered row waits at most for its commit while rows keep
 * coming (a killed process loses the rows of at most this long). */
#define STORE_COMMIT_MS 100
/* Milliseconds to wait for another process that holds the write lock: it
 * holds it only to insert one commit's rows, far less than this. */
#define STORE_BUSY_TIMEOUT_MS 10000
/* Pause between tries to switch a new file to WAL (see enable_wal). */
#define STORE_WAL_RETRY_MS 5

struct ts_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *ins_run;
	sqlite3_stmt *end_run;
	sqlite3_stmt *ins_cell;
	struct ts_store_rows rows; /* rows waiting for their commit */
	int64_t run_id;  /* the open run, 0 when none */
	bool run_is_profile; /* the open run's backend is "profile" */
	int64_t first_ns; /* monotonic time of the oldest buffered row */
};

static const char ins_run_sql[] =
	"INSERT INTO runs(backend, policy, policy_params, trace_name, trace_hash,"
	" profile_name, profile_hash, gpus, seed, version, options, started_at, completed)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
	" strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0)";
static const char end_run_sql[] =
	"UPDATE runs SET summary = ?2, ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
	" completed = 1 WHERE run_id = ?1";
static const char ins_cell_sql[] =
	"INSERT INTO profile_cells(run_id, model, gpu, height, width, sp, batch, step_ms,"
	" p50_ms, p99_ms, cv, samples, peak_mem_gib, source)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/* Explains a failed open: SQLite only says "unable to open database file". */
static int open_error(sqlite3 *db, const char *path, struct ts_error *err)
{
	char *copy = strdup(path);
	const char *dir = copy ? dirname(copy) : ".";
	struct stat st;
	int ret;

	if (stat(dir, &st) != 0)
		ret = ts_err_set(err, TS_EIO, "%s: cannot open results store: directory '%s': %s",
				 path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ret = ts_err_set(err, TS_EIO, "%s: cannot open results store: '%s' is not a directory",
				 path, dir);
	else if (db && sqlite3_system_errno(db))
		ret = ts_err_set(err, TS_EIO, "%s: cannot open results store: %s (%s)", path,
				 sqlite3_errmsg(db), strerror(sqlite3_system_errno(db)));
	else
		ret = ts_store_sql_err(db, path, err, "cannot open results store");
	free(copy);
	return ret;
}

/* Switches the file to WAL. Leaving rollback-journal mode needs an
 * exclusive lock and SQLite answers SQLITE_BUSY at once, without its busy
 * handler, while another process has the new file open: retry here. */
static int enable_wal(struct ts_store *s, struct ts_error *err)
{
	for (int waited_ms = 0;; waited_ms += STORE_WAL_RETRY_MS) {
		int rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return TS_OK;
		if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= STORE_BUSY_TIMEOUT_MS)
			return ts_store_sql_err(s->db, s->path, err, "setting journal_mode=WAL");
		sqlite3_sleep(STORE_WAL_RETRY_MS);
	}
}

/* WAL + synchronous=NORMAL: commits do not fsync, yet a killed process
 * never corrupts the file and loses only uncommitted rows. */
static int configure_journal(struct ts_store *s, struct ts_error *err)
{
	int ret = enable_wal(s, err);
	if (ret)
		return ret;
	return ts_store_sql_exec(s->db, s->path, "PRAGMA synchronous = NORMAL",
				 "setting synchronous=NORMAL", err);
}

static int prepare_statements(struct ts_store *s, struct ts_error *err)
{
	const struct {
		const char *sql;
		sqlite3_stmt **st;
	} list[] = {
		{ ins_run_sql, &s->ins_run },
		{ end_run_sql, &s->end_run },
		{ ins_cell_sql, &s->ins_cell },
	};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		int ret = ts_store_sql_prepare(s->db, s->path, list[i].sql, list[i].st, err);
		if (ret)
			return ret;
	}
	return ts_store_rows_prepare(&s->rows, s->db, s->path, err);
}

/* Before SQLite tries: a writer needs to write the file and its folder (the
 * WAL and its index live beside it), and SQLite's own words for a refusal
 * ("unable to open database file", "attempt to write a readonly database")
 * do not say which. */
static int check_writable(const char *path, struct ts_error *err)
{
	char *copy = strdup(path);
	const char *dir = copy ? dirname(copy) : ".";
	struct stat st;
	int ret = 0;

	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) != 0)
		ret = ts_err_set(err, TS_EIO, "%s: cannot write results store: directory '%s' is not "
				 "writable (%s); report, timeline, validate and merge can still read "
				 "results there", path, dir, strerror(errno));
	else if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
		ret = ts_err_set(err, TS_EIO, "%s: cannot write results store: the file is read-only "
				 "(%s)", path, strerror(errno));
	free(copy);
	return ret;
}

int ts_store_open(struct ts_store **out, const char *path, struct ts_error *err)
{
	int ret;

	if (!out)
		return ts_err_set(err, TS_EINVAL, "ts_store_open: NULL result pointer");
	*out = NULL;
	if (!path || !*path)
		return ts_err_set(err, TS_EINVAL, "results store: empty database path");
	ret = check_writable(path, err);
	if (ret)
		return ret;
	struct ts_store *s = calloc(1, sizeof(*s));
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory opening results store", path);
	s->path = strdup(path);
	if (!s->path) {
		ret = ts_err_set(err, TS_ENOMEM, "%s: out of memory opening results store", path);
		goto out_close;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		ret = open_error(s->db, path, err);
		goto out_close;
	}
	/* Before the first read: other processes may be writing the file. */
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	ret = ts_store_schema_ensure(s->db, s->path, err);
	if (ret)
		goto out_close;
	ret = configure_journal(s, err);
	if (ret)
		goto out_close;
	ret = prepare_statements(s, err);
	if (ret)
		goto out_close;
	*out = s;
	return TS_OK;

out_close:
	ts_store_close(s);
	return ret;
}

/* One write transaction: BEGIN IMMEDIATE (waiting for another writer's
 * commit at most STORE_BUSY_TIMEOUT_MS), the buffered rows, then `extra`
 * (a statement already bound, or NULL), COMMIT. Rows that SQLite refuses
 * roll the transaction back; a failed `extra` still commits the rows. */
static int commit_rows(struct ts_store *s, sqlite3_stmt *extra, const char *extra_what,
		       struct ts_error *err)
{
	int extra_ret = TS_OK;
	int ret = ts_store_sql_exec(s->db, s->path, "BEGIN IMMEDIATE",
				    "beginning a write transaction", err);
	if (ret)
		return ret;   /* the rows stay buffered for a later try (a flush) */
	ret = ts_store_rows_drain(&s->rows, s->run_id, err);
	if (!ret && extra && sqlite3_step(extra) != SQLITE_DONE)
		extra_ret = ts_store_sql_err(s->db, s->path, err, "%s", extra_what);
	if (!ret)
		ret = ts_store_sql_exec(s->db, s->path, "COMMIT", "committing rows", err);
	if (ret && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret ? ret : extra_ret;
}

/* Commits the buffered rows, if any. */
static int commit_pending(struct ts_store *s, struct ts_error *err)
{
	if (ts_store_rows_pending(&s->rows) == 0)
		return TS_OK;
	return commit_rows(s, NULL, NULL, err);
}

/* Checks that a run is open before a row is buffered. */
static int begin_row(struct ts_store *s, const char *what, struct ts_error *err)
{
	if (!s->run_id)
		return ts_err_set(err, TS_EINVAL,
				  "%s: %s written with no open run (call ts_store_run_begin first)",
				  s->path, what);
	if (ts_store_rows_pending(&s->rows) == 0)
		s->first_ns = ts_clock_ns();
	return TS_OK;
}

/* After a row was buffered: commits when the buffers are full or the
 * oldest row has waited STORE_COMMIT_MS. */
static int count_row(struct ts_store *s, struct ts_error *err)
{
	if (ts_store_rows_pending(&s->rows) >= TS_STORE_BATCH_ROWS ||
	    ts_clock_ns() - s->first_ns >= STORE_COMMIT_MS * TS_NS_PER_MS)
		return commit_pending(s, err);
	return TS_OK;
}

/* Binds text that may be NULL (SQL NULL then). */
static void bind_text_or_null(sqlite3_stmt *st, int col, const char *text)
{
	if (text)
		sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

/* Binds a 64-bit hash as 16 lower-case hex digits. */
static void bind_hash(sqlite3_stmt *st, int col, uint64_t hash)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hash);
	sqlite3_bind_text(st, col, hex, 16, SQLITE_TRANSIENT);
}

static void bind_run_info(sqlite3_stmt *st, const struct ts_run_info *info)
{
	bind_text_or_null(st, 1, info->backend);
	bind_text_or_null(st, 2, info->policy);
	bind_text_or_null(st, 3, info->policy_params);
	bind_text_or_null(st, 4, info->trace_name);
	bind_hash(st, 5, info->trace_hash);
	bind_text_or_null(st, 6, info->profile_name);
	bind_hash(st, 7, info->profile_hash);
	sqlite3_bind_int(st, 8, info->gpus);
	sqlite3_bind_int64(st, 9, ts_store_u64_bits(info->seed));
	bind_text_or_null(st, 10, info->version);
	bind_text_or_null(st, 11, info->options);
}

int ts_store_run_begin(struct ts_store *s, const struct ts_run_info *info,
		       int64_t *run_id, struct ts_error *err)
{
	if (!s || !info)
		return ts_err_set(err, TS_EINVAL, "ts_store_run_begin: NULL store or run info");
	if (s->run_id)
		return ts_err_set(err, TS_EINVAL,
				  "%s: run %lld is still open (call ts_store_run_end first)",
				  s->path, (long long)s->run_id);
	/* No transaction is open here, so the runs row commits on its own and
	 * a crash later in the run still leaves it. */
	int ret = TS_OK;
	bind_run_info(s->ins_run, info);
	if (sqlite3_step(s->ins_run) != SQLITE_DONE)
		ret = ts_store_sql_err(s->db, s->path, err, "inserting the runs row");
	sqlite3_reset(s->ins_run);
	sqlite3_clear_bindings(s->ins_run);
	if (ret)
		return ret;
	s->run_id = sqlite3_last_insert_rowid(s->db);
	s->run_is_profile = info->backend && !strcmp(info->backend, "profile");
	if (run_id)
		*run_id = s->run_id;
	return TS_OK;
}

static int check_segment(const struct ts_store *s, const struct ts_segment *seg,
			 struct ts_error *err)
{
	if (seg->kind != TS_SEG_STEPS && seg->kind != TS_SEG_MOVE)
		return ts_err_set(err, TS_EINVAL, "%s: segment of request %lld: kind %d is neither "
				  "steps (0) nor move (1)", s->path, (long long)seg->request_id, seg->kind);
	if (!seg->gpus)
		return ts_err_set(err, TS_EINVAL, "%s: segment of request %lld has an empty GPU mask",
				  s->path, (long long)seg->request_id);
	if (seg->end < seg->start)
		return ts_err_set(err, TS_EINVAL, "%s: segment of request %lld ends (%lld ns) before "
				  "it starts (%lld ns)", s->path, (long long)seg->request_id,
				  (long long)seg->end, (long long)seg->start);
	return TS_OK;
}

int ts_store_segment(struct ts_store *s, const struct ts_segment *seg, struct ts_error *err)
{
	if (!s || !seg)
		return ts_err_set(err, TS_EINVAL, "ts_store_segment: NULL store or segment");
	int ret = check_segment(s, seg, err);
	if (ret)
		return ret;
	ret = begin_row(s, "segment", err);
	if (ret)
		return ret;
	ret = ts_store_rows_add_segment(&s->rows, seg, err);
	if (ret)
		return ret;
	return count_row(s, err);
}

int ts_store_request(struct ts_store *s, const struct ts_request *r, ts_ns start,
		     ts_ns finish, ts_ns dropped, struct ts_error *err)
{
	if (!s || !r)
		return ts_err_set(err, TS_EINVAL, "ts_store_request: NULL store or request");
	if (finish >= 0 && dropped >= 0)
		return ts_err_set(err, TS_EINVAL, "%s: request %lld both finished and dropped", s->path,
				  (long long)r->id);
	int ret = begin_row(s, "request", err);
	if (ret)
		return ret;
	struct ts_store_request_row row = {
		.id = r->id, .height = r->height, .width = r->width, .steps = r->steps,
		.arrival = r->arrival, .start = start, .finish = finish, .deadline = r->deadline,
		.dropped = dropped, .status = ts_request_status_of(finish, dropped, r->deadline),
	};
	ret = ts_store_rows_add_request(&s->rows, &row, err);
	if (ret)
		return ret;
	return count_row(s, err);
}

int ts_store_round(struct ts_store *s, const struct ts_round_rec *rr, struct ts_error *err)
{
	if (!s || !rr)
		return ts_err_set(err, TS_EINVAL, "ts_store_round: NULL store or round");
	int ret = begin_row(s, "round", err);
	if (!ret)
		ret = ts_store_rows_add_round(&s->rows, rr, err);
	return ret ? ret : count_row(s, err);
}

/* A text field of a profile row: set and NUL-terminated within its array. */
static bool profile_name_ok(const char *name, size_t size)
{
	return name[0] && memchr(name, '\0', size);
}

/* A real field of a profile row: finite and > 0 (positive_only) or >= 0. */
static bool profile_value_ok(double v, bool positive_only)
{
	return isfinite(v) && (positive_only ? v > 0 : v >= 0);
}

/* Refuses a profile row that a profile CSV could not hold. */
static int check_profile_row(const struct ts_store *s, const struct ts_profile_row *r,
			     struct ts_error *err)
{
	const char *bad = NULL;
	if (!profile_name_ok(r->model, sizeof(r->model)))
		bad = "model (empty or not terminated)";
	else if (!profile_name_ok(r->gpu, sizeof(r->gpu)))
		bad = "gpu (empty or not terminated)";
	else if (r->height < 1 || r->width < 1)
		bad = "height/width (< 1)";
	else if (r->sp < 1 || r->batch < 1)
		bad = "sp/batch (< 1)";
	else if (!profile_value_ok(r->step_ms, true))
		bad = "step_ms (not a finite value > 0)";
	else if ((!isnan(r->p50_ms) && !profile_value_ok(r->p50_ms, true)) ||
		 (!isnan(r->p99_ms) && !profile_value_ok(r->p99_ms, true)))
		bad = "p50_ms/p99_ms (present but not a finite value > 0)";
	else if (!profile_value_ok(r->cv, false))
		bad = "cv (not a finite value >= 0)";
	else if (r->samples < 0)
		bad = "samples (< 0)";
	if (!bad)
		return TS_OK;
	return ts_err_set(err, TS_EINVAL, "%s: profile cell %.48s %dx%d sp %d batch %d: bad %s",
			  s->path, profile_name_ok(r->model, sizeof(r->model)) ? r->model : "?",
			  r->height, r->width, r->sp, r->batch, bad);
}

/* Binds a real, or NULL when it was not measured (NaN, or negative). */
static void bind_real_or_null(sqlite3_stmt *st, int col, double v)
{
	if (isnan(v) || v < 0)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_double(st, col, v);
}

static void bind_profile_row(sqlite3_stmt *st, int64_t run_id, const struct ts_profile_row *r,
			     double peak_mem_gib)
{
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_text(st, 2, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->gpu, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, r->height);
	sqlite3_bind_int(st, 5, r->width);
	sqlite3_bind_int(st, 6, r->sp);
	sqlite3_bind_int(st, 7, r->batch);
	sqlite3_bind_double(st, 8, r->step_ms);
	bind_real_or_null(st, 9, r->p50_ms);
	bind_real_or_null(st, 10, r->p99_ms);
	sqlite3_bind_double(st, 11, r->cv);
	sqlite3_bind_int64(st, 12, r->samples);
	bind_real_or_null(st, 13, peak_mem_gib);
	sqlite3_bind_text(st, 14, r->modelled ? "modelled" : "measured", -1, SQLITE_STATIC);
}

int ts_store_profile_cell(struct ts_store *s, const struct ts_profile_row *row,
			  double peak_mem_gib, struct ts_error *err)
{
	if (!s || !row)
		return ts_err_set(err, TS_EINVAL, "ts_store_profile_cell: NULL store or row");
	if (s->run_id && !s->run_is_profile)
		return ts_err_set(err, TS_EINVAL, "%s: profile cell written to run %lld, whose "
				  "backend is not \"profile\"", s->path, (long long)s->run_id);
	int ret = check_profile_row(s, row, err);
	if (ret)
		return ret;
	ret = begin_row(s, "profile cell", err);
	if (ret)
		return ret;
	/* a cell takes seconds to measure: it commits at once */
	char what[160];
	snprintf(what, sizeof(what), "inserting profile cell %.48s %dx%d sp %d batch %d of run %lld",
		 row->model, row->height, row->width, row->sp, row->batch, (long long)s->run_id);
	bind_profile_row(s->ins_cell, s->run_id, row, peak_mem_gib);
	ret = commit_rows(s, s->ins_cell, what, err);
	sqlite3_reset(s->ins_cell);
	sqlite3_clear_bindings(s->ins_cell);
	return ret;
}

int ts_store_flush(struct ts_store *s, struct ts_error *err)
{
	if (!s)
		return ts_err_set(err, TS_EINVAL, "ts_store_flush: NULL store");
	return commit_pending(s, err);
}

int ts_store_run_end(struct ts_store *s, const char *summary_json, struct ts_error *err)
{
	if (!s)
		return ts_err_set(err, TS_EINVAL, "ts_store_run_end: NULL store");
	if (!s->run_id)
		return ts_err_set(err, TS_EINVAL, "%s: ts_store_run_end with no open run", s->path);
	/* The completed flag commits in the same transaction as the last rows. */
	char what[64];
	snprintf(what, sizeof(what), "ending run %lld", (long long)s->run_id);
	sqlite3_bind_int64(s->end_run, 1, s->run_id);
	bind_text_or_null(s->end_run, 2, summary_json);
	int ret = commit_rows(s, s->end_run, what, err);
	sqlite3_reset(s->end_run);
	sqlite3_clear_bindings(s->end_run);
	if (ret)
		return ret;
	s->run_id = 0;
	s->run_is_profile = false;
	return TS_OK;
}

void ts_store_close(struct ts_store *s)
{
	if (!s)
		return;
	if (s->db && s->rows.rounds_one)
		commit_pending(s, NULL);
	ts_store_rows_finalize(&s->rows);
	sqlite3_finalize(s->ins_run);
	sqlite3_finalize(s->end_run);
	sqlite3_finalize(s->ins_cell);
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}
