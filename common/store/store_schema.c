#include "store/store_schema.h"

#include <stddef.h>
#include <stdint.h>

#include "store/store_sql.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Version 1: runs and their requests, segments and rounds. Times are
 * integer nanoseconds in the tables and REAL seconds in the views. 64-bit
 * unsigned values (GPU masks, seeds) are stored as the int64 with the same
 * bit pattern. */
static const char schema_v1_sql[] =
	"CREATE TABLE runs ("
	" run_id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" backend TEXT, policy TEXT,"
	" policy_params TEXT CONSTRAINT policy_params_is_json"
	"  CHECK (policy_params IS NULL OR json_valid(policy_params)),"
	" trace_name TEXT, trace_hash TEXT, profile_name TEXT, profile_hash TEXT,"
	" gpus INTEGER, seed INTEGER, version TEXT,"
	" options TEXT CONSTRAINT options_is_json"
	"  CHECK (options IS NULL OR json_valid(options)),"
	" started_at TEXT NOT NULL, ended_at TEXT,"
	" completed INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),"
	" summary TEXT CONSTRAINT summary_is_json"
	"  CHECK (summary IS NULL OR json_valid(summary)));"
	"CREATE TABLE requests ("
	" run_id INTEGER NOT NULL REFERENCES runs(run_id),"
	" request_id INTEGER NOT NULL,"
	" height INTEGER NOT NULL, width INTEGER NOT NULL, steps INTEGER NOT NULL,"
	" arrival_ns INTEGER NOT NULL, start_ns INTEGER, finish_ns INTEGER,"
	" deadline_ns INTEGER NOT NULL,"
	" met_slo INTEGER NOT NULL CHECK (met_slo IN (0, 1)));"
	"CREATE INDEX requests_by_run_request ON requests(run_id, request_id);"
	"CREATE VIEW request_results AS SELECT"
	" run_id, request_id, height, width, steps,"
	" arrival_ns / 1e9 AS arrival_s, start_ns / 1e9 AS start_s,"
	" finish_ns / 1e9 AS finish_s, deadline_ns / 1e9 AS deadline_s, met_slo"
	" FROM requests;"
	"CREATE TABLE segments ("
	" run_id INTEGER NOT NULL REFERENCES runs(run_id),"
	" request_id INTEGER NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('steps', 'move')),"
	" gpus INTEGER NOT NULL, gpu_list TEXT NOT NULL, degree INTEGER NOT NULL,"
	" first_step INTEGER NOT NULL, nsteps INTEGER NOT NULL, batch INTEGER NOT NULL,"
	" start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL);"
	"CREATE INDEX segments_by_run_request ON segments(run_id, request_id);"
	"CREATE VIEW segment_times AS SELECT"
	" run_id, request_id, kind, gpus, gpu_list, degree, first_step, nsteps, batch,"
	" start_ns / 1e9 AS start_s, end_ns / 1e9 AS end_s,"
	" (end_ns - start_ns) / 1e9 AS duration_s"
	" FROM segments;"
	"CREATE TABLE rounds ("
	" run_id INTEGER NOT NULL REFERENCES runs(run_id),"
	" t_ns INTEGER NOT NULL, active INTEGER NOT NULL, launched INTEGER NOT NULL,"
	" plan_wall_ns INTEGER NOT NULL);"
	"CREATE INDEX rounds_by_run ON rounds(run_id, t_ns);";

/* Version 2: the cells of `tetriserve profile` runs (backend 'profile'),
 * and a view printing them as data lines of a profile CSV
 * (traces/README.md), NULL fields left empty. */
static const char schema_v2_sql[] =
	"CREATE TABLE profile_cells ("
	" cell_id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(run_id),"
	" model TEXT NOT NULL, gpu TEXT NOT NULL,"
	" height INTEGER NOT NULL CHECK (height > 0), width INTEGER NOT NULL CHECK (width > 0),"
	" sp INTEGER NOT NULL CHECK (sp >= 1), batch INTEGER NOT NULL CHECK (batch >= 1),"
	" step_ms REAL NOT NULL CHECK (step_ms > 0), p50_ms REAL, p99_ms REAL,"
	" cv REAL NOT NULL CHECK (cv >= 0), samples INTEGER NOT NULL CHECK (samples >= 0),"
	" peak_mem_gib REAL);"
	"CREATE INDEX profile_cells_by_run ON profile_cells(run_id);"
	"CREATE VIEW profile_csv AS SELECT run_id, cell_id,"
	" model || ',' || gpu || ',' || height || ',' || width || ',' || sp || ',' || step_ms"
	" || ',' || ifnull(p50_ms, '') || ',' || ifnull(p99_ms, '') || ',' || cv"
	" || ',' || samples || ',' || batch AS line"
	" FROM profile_cells;";

/* Version 3: each request's outcome (met, late, dropped by its policy or
 * cancelled by its client, or unfinished) and the time of a drop; each
 * profile cell's source (measured, or predicted by the step-time model).
 * Existing rows: status from met_slo and finish_ns, cells measured. */
static const char schema_v3_sql[] =
	"ALTER TABLE requests ADD COLUMN status TEXT NOT NULL DEFAULT 'unfinished'"
	" CHECK (status IN ('met', 'late', 'dropped', 'unfinished'));"
	"ALTER TABLE requests ADD COLUMN dropped_ns INTEGER;"
	"UPDATE requests SET status = CASE WHEN met_slo = 1 THEN 'met'"
	" WHEN finish_ns IS NULL THEN 'unfinished' ELSE 'late' END;"
	"DROP VIEW request_results;"
	"CREATE VIEW request_results AS SELECT"
	" run_id, request_id, height, width, steps,"
	" arrival_ns / 1e9 AS arrival_s, start_ns / 1e9 AS start_s,"
	" finish_ns / 1e9 AS finish_s, deadline_ns / 1e9 AS deadline_s, met_slo,"
	" status, dropped_ns / 1e9 AS dropped_s"
	" FROM requests;"
	"ALTER TABLE profile_cells ADD COLUMN source TEXT NOT NULL DEFAULT 'measured'"
	" CHECK (source IN ('measured', 'modelled'));"
	"DROP VIEW profile_csv;"
	"CREATE VIEW profile_csv AS SELECT run_id, cell_id,"
	" model || ',' || gpu || ',' || height || ',' || width || ',' || sp || ',' || step_ms"
	" || ',' || ifnull(p50_ms, '') || ',' || ifnull(p99_ms, '') || ',' || cv"
	" || ',' || samples || ',' || batch || ',' || source AS line"
	" FROM profile_cells;";

/* schema_steps[v] turns a version-v file into a version-(v + 1) file; an
 * empty file runs them all, so new and migrated files get the same DDL. */
static const char *const schema_steps[] = { schema_v1_sql, schema_v2_sql, schema_v3_sql };

_Static_assert(sizeof(schema_steps) / sizeof(schema_steps[0]) == TS_STORE_SCHEMA_VERSION,
	       "one schema step per version");

static const char set_version_sql[] =
	"PRAGMA user_version = " STR(TS_STORE_SCHEMA_VERSION);

/* Refuses versions this tetriserve cannot read or migrate. */
static int check_version(int64_t version, const char *path, struct ts_error *err)
{
	if (version > TS_STORE_SCHEMA_VERSION)
		return ts_err_set(err, TS_EIO,
				  "%s: results store has schema version %lld, newer than the "
				  "version %d this tetriserve understands; use a newer tetriserve "
				  "or another file", path, (long long)version,
				  TS_STORE_SCHEMA_VERSION);
	if (version < 0)
		return ts_err_set(err, TS_EIO,
				  "%s: results store has unknown schema version %lld (expected %d)",
				  path, (long long)version, TS_STORE_SCHEMA_VERSION);
	return TS_OK;
}

/* A version-0 file must be empty: anything else is not ours to take over. */
static int check_empty(sqlite3 *db, const char *path, struct ts_error *err)
{
	int64_t objects;
	int ret = ts_store_sql_int(db, path, "SELECT count(*) FROM sqlite_master", &objects, err);
	if (ret)
		return ret;
	if (objects > 0)
		return ts_err_set(err, TS_EIO,
				  "%s: not a tetriserve results store (schema version 0 but "
				  "%lld existing tables, views or indexes)", path, (long long)objects);
	return TS_OK;
}

/* Brings the schema from its version to the current one, unless another
 * process did so since we looked. Runs inside a write transaction, so a
 * creation or migration is atomic and happens once. */
static int upgrade_schema_locked(sqlite3 *db, const char *path, struct ts_error *err)
{
	int64_t version;
	int ret = ts_store_sql_int(db, path, "PRAGMA user_version", &version, err);
	if (ret)
		return ret;
	ret = check_version(version, path, err);
	if (ret || version == TS_STORE_SCHEMA_VERSION)
		return ret;
	if (version == 0) {
		ret = check_empty(db, path, err);
		if (ret)
			return ret;
	}
	for (int64_t v = version; v < TS_STORE_SCHEMA_VERSION; v++) {
		ret = ts_store_sql_exec(db, path, schema_steps[v],
					v ? "migrating the schema" : "creating the schema", err);
		if (ret)
			return ret;
	}
	return ts_store_sql_exec(db, path, set_version_sql, "setting the schema version", err);
}

int ts_store_schema_ensure(sqlite3 *db, const char *path, struct ts_error *err)
{
	int64_t version;
	int ret = ts_store_sql_int(db, path, "PRAGMA user_version", &version, err);
	if (ret)
		return ret;
	ret = check_version(version, path, err);
	if (ret || version == TS_STORE_SCHEMA_VERSION)
		return ret;

	ret = ts_store_sql_exec(db, path, "BEGIN IMMEDIATE", "locking to update the schema", err);
	if (ret)
		return ret;
	ret = upgrade_schema_locked(db, path, err);
	if (ret) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	return ts_store_sql_exec(db, path, "COMMIT", "committing the schema", err);
}
