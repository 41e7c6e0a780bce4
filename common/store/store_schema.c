#include "store/store_schema.h"

#include <stddef.h>
#include <stdint.h>

#include "store/store_sql.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The whole schema, run in one transaction. Times are integer nanoseconds
 * in the tables and REAL seconds in the views. 64-bit unsigned values (GPU
 * masks, seeds) are stored as the int64 with the same bit pattern. */
static const char schema_sql[] =
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
	"CREATE INDEX rounds_by_run ON rounds(run_id, t_ns);"
	"PRAGMA user_version = " STR(TS_STORE_SCHEMA_VERSION) ";";

static int check_version(int64_t version, const char *path, struct ts_error *err)
{
	if (version > TS_STORE_SCHEMA_VERSION)
		return ts_err_set(err, TS_EIO,
				  "%s: results store has schema version %lld, newer than the "
				  "version %d this tetriserve understands; use a newer tetriserve "
				  "or another file", path, (long long)version,
				  TS_STORE_SCHEMA_VERSION);
	if (version < 0 || (version > 0 && version < TS_STORE_SCHEMA_VERSION))
		return ts_err_set(err, TS_EIO,
				  "%s: results store has unknown schema version %lld (expected %d)",
				  path, (long long)version, TS_STORE_SCHEMA_VERSION);
	return TS_OK;
}

/* Creates the schema unless another process did so since we looked; runs
 * inside a write transaction so creation is atomic. */
static int create_schema_locked(sqlite3 *db, const char *path, struct ts_error *err)
{
	int64_t version, objects;
	int ret = ts_store_sql_int(db, path, "PRAGMA user_version", &version, err);
	if (ret)
		return ret;
	if (version != 0)
		return check_version(version, path, err);
	ret = ts_store_sql_int(db, path, "SELECT count(*) FROM sqlite_master", &objects, err);
	if (ret)
		return ret;
	if (objects > 0)
		return ts_err_set(err, TS_EIO,
				  "%s: not a tetriserve results store (schema version 0 but "
				  "%lld existing tables, views or indexes)", path, (long long)objects);
	return ts_store_sql_exec(db, path, schema_sql, "creating the schema", err);
}

int ts_store_schema_ensure(sqlite3 *db, const char *path, struct ts_error *err)
{
	int64_t version;
	int ret = ts_store_sql_int(db, path, "PRAGMA user_version", &version, err);
	if (ret)
		return ret;
	if (version != 0)
		return check_version(version, path, err);

	ret = ts_store_sql_exec(db, path, "BEGIN IMMEDIATE", "locking to create the schema", err);
	if (ret)
		return ret;
	ret = create_schema_locked(db, path, err);
	if (ret) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	return ts_store_sql_exec(db, path, "COMMIT", "committing the schema", err);
}
