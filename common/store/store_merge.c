/* store_merge.c: combining results files without duplicate runs (see store.h). */
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_read.h"
#include "store/store_schema.h"
#include "store/store_sql.h"

/* A completed run of the source that has an identical completed twin in the
 * destination (same backend, policy and parameters, inputs by content hash,
 * GPU count, seed and options) is a duplicate and is not copied. */
static const char dup_sql[] =
	"SELECT 1 FROM main.runs d, src.runs s WHERE s.run_id = ?1 AND d.completed = 1"
	" AND d.backend IS s.backend AND d.policy IS s.policy AND d.policy_params IS s.policy_params"
	" AND d.trace_hash IS s.trace_hash AND d.profile_hash IS s.profile_hash AND d.gpus IS s.gpus"
	" AND d.seed IS s.seed AND d.options IS s.options";

static const char copy_run_sql[] =
	"INSERT INTO main.runs(backend, policy, policy_params, trace_name, trace_hash, profile_name,"
	" profile_hash, gpus, seed, version, options, started_at, ended_at, completed, summary)"
	" SELECT backend, policy, policy_params, trace_name, trace_hash, profile_name, profile_hash,"
	" gpus, seed, version, options, started_at, ended_at, completed, summary"
	" FROM src.runs WHERE run_id = ?1";

static const char *const copy_rows_sql[] = {
	"INSERT INTO main.requests(run_id, request_id, height, width, steps, arrival_ns, start_ns,"
	" finish_ns, deadline_ns, met_slo, status, dropped_ns) SELECT ?2, request_id, height, width,"
	" steps, arrival_ns, start_ns, finish_ns, deadline_ns, met_slo, status, dropped_ns"
	" FROM src.requests WHERE run_id = ?1",
	"INSERT INTO main.segments SELECT ?2, request_id, kind, gpus, gpu_list, degree, first_step,"
	" nsteps, batch, start_ns, end_ns FROM src.segments WHERE run_id = ?1",
	"INSERT INTO main.rounds SELECT ?2, t_ns, active, launched, plan_wall_ns FROM src.rounds"
	" WHERE run_id = ?1",
	"INSERT INTO main.profile_cells(run_id, model, gpu, height, width, sp, batch, step_ms, p50_ms,"
	" p99_ms, cv, samples, peak_mem_gib, source) SELECT ?2, model, gpu, height, width, sp, batch,"
	" step_ms, p50_ms, p99_ms, cv, samples, peak_mem_gib, source FROM src.profile_cells"
	" WHERE run_id = ?1"
	" ORDER BY cell_id",
};

/* Runs a one-shot statement with up to two integer parameters; returns the
 * sqlite3_step code (SQLITE_ROW or SQLITE_DONE) or -1 on a prepare error. */
static int step_once(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

static int copy_run(sqlite3 *db, const char *src, int64_t id, struct ts_error *err)
{
	if (step_once(db, copy_run_sql, id, 0) != SQLITE_DONE)
		return ts_store_sql_err(db, src, err, "copying a run");
	int64_t new_id = sqlite3_last_insert_rowid(db);
	for (size_t i = 0; i < sizeof(copy_rows_sql) / sizeof(copy_rows_sql[0]); i++)
		if (step_once(db, copy_rows_sql[i], id, new_id) != SQLITE_DONE)
			return ts_store_sql_err(db, src, err, "copying a run's rows");
	return 0;
}

static int merge_runs(sqlite3 *db, const char *src, struct ts_merge_counts *mc, struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT run_id, completed FROM src.runs ORDER BY run_id", -1, &st,
			       NULL) != SQLITE_OK)
		return ts_store_sql_err(db, src, err, "listing runs (is it a tetriserve results file?)");
	int rc = 0, step;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (!sqlite3_column_int(st, 1)) {
			mc->incomplete++;
			continue;
		}
		int dup = step_once(db, dup_sql, id, 0);
		if (dup == SQLITE_ROW) {
			mc->duplicates++;
			continue;
		}
		if (dup != SQLITE_DONE) {
			rc = ts_store_sql_err(db, src, err, "looking for duplicates");
			break;
		}
		rc = copy_run(db, src, id, err);
		mc->copied += !rc;
	}
	if (!rc && step != SQLITE_DONE)
		rc = ts_store_sql_err(db, src, err, "reading runs"); /* a busy or damaged file is not a partial success */
	sqlite3_finalize(st);
	return rc;
}

static int check_source_version(sqlite3 *db, const char *src, struct ts_error *err)
{
	sqlite3_stmt *st;
	int64_t mine = -1, theirs = -2;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM main.pragma_user_version),"
			       " (SELECT user_version FROM src.pragma_user_version)", -1, &st, NULL) != SQLITE_OK)
		return ts_store_sql_err(db, src, err, "reading the schema version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		mine = sqlite3_column_int64(st, 0);
		theirs = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (mine != theirs)
		return ts_err_set(err, TS_EIO, "%s: schema version %lld, expected %lld (not a results file of this tetriserve)",
				  src, (long long)theirs, (long long)mine);
	return 0;
}

/* Brings a source written by an older tetriserve to the current schema (the
 * store migrates on open), so its tables match the destination's. A source
 * of the current schema is only read (it may be on read-only storage). */
static int migrate_source(const char *src, const char *out, struct ts_error *err)
{
	struct stat a, b;
	struct ts_reader *r;
	if (stat(src, &a) != 0 || access(src, R_OK) != 0)
		return ts_err_set(err, TS_EIO, "%s: cannot read the input file", src);
	if (stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return ts_err_set(err, TS_EINVAL, "%s is the output file itself", src);
	int rc = ts_reader_open(&r, src, err);
	int64_t version = rc ? 0 : ts_reader_schema_version(r);
	ts_reader_close(r);
	if (rc || version == TS_STORE_SCHEMA_VERSION)
		return rc;
	struct ts_store *store;
	rc = ts_store_open(&store, src, err);
	if (!rc)
		ts_store_close(store);
	return rc;
}

/* ATTACH src read-only; immutable when its folder is read-only (nobody
 * can be writing it, and SQLite could not make its WAL index there). */
static int attach_source(sqlite3 *db, const char *src, struct ts_error *err)
{
	sqlite3_stmt *st;
	/* immutable would skip rows still in a WAL: then plain read-only (which
	 * fails in a read-only folder, saying so) */
	char *uri = ts_store_ro_uri(src, ts_store_folder_read_only(src) && !ts_store_wal_has_data(src));
	if (!uri)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int rc = sqlite3_prepare_v2(db, "ATTACH ?1 AS src", -1, &st, NULL) != SQLITE_OK;
	if (!rc) {
		sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) != SQLITE_DONE;
	}
	sqlite3_finalize(st);
	free(uri);
	return rc ? ts_store_sql_err(db, src, err, "attaching") : 0;
}

/* Merges one source file inside one transaction: all of it or nothing. */
static int merge_file(sqlite3 *db, const char *src, const char *out, struct ts_merge_counts *mc,
		      struct ts_error *err)
{
	int rc = migrate_source(src, out, err);
	if (!rc)
		rc = attach_source(db, src, err);
	if (rc)
		return rc;
	rc = check_source_version(db, src, err);
	if (!rc && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		rc = ts_store_sql_err(db, src, err, "starting a transaction");
	if (!rc) {
		rc = merge_runs(db, src, mc, err);
		if (sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !rc)
			rc = ts_store_sql_err(db, src, err, "committing");
	}
	sqlite3_exec(db, "DETACH src", NULL, NULL, NULL);
	return rc;
}

static int open_destination(sqlite3 **db, const char *out, struct ts_error *err)
{
	struct ts_store *store;
	int rc = ts_store_open(&store, out, err); /* creates the file and schema if needed */
	if (rc)
		return rc;
	ts_store_close(store);
	if (sqlite3_open_v2(out, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		rc = ts_store_sql_err(*db, out, err, "opening");
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 10000);
	return 0;
}

/* Every input must be readable before the output is created or touched. */
static int check_inputs(const char *const *src, int n, struct ts_error *err)
{
	for (int i = 0; i < n; i++)
		if (access(src[i], R_OK) != 0)
			return ts_err_set(err, TS_EIO, "%s: cannot read the input file", src[i]);
	return 0;
}

/* Removes the output file this merge created (and SQLite's files beside it). */
static void remove_created(const char *out)
{
	size_t n = strlen(out) + 5;
	char *side = malloc(n);
	unlink(out);
	for (int i = 0; side && i < 2; i++) {
		snprintf(side, n, "%s%s", out, i ? "-shm" : "-wal");
		unlink(side);
	}
	free(side);
}

int ts_store_merge(const char *out, const char *const *src, int n, struct ts_merge_counts *mc,
		   struct ts_error *err)
{
	sqlite3 *db = NULL;
	*mc = (struct ts_merge_counts){ 0 };
	int rc = check_inputs(src, n, err);
	bool created = !rc && access(out, F_OK) != 0;
	if (!rc)
		rc = open_destination(&db, out, err);
	for (int i = 0; !rc && i < n; i++)
		rc = merge_file(db, src[i], out, mc, err);
	sqlite3_close(db);
	if (rc && created)
		remove_created(out);   /* a failed merge into a new file leaves none */
	return rc;
}
