/* test_store_migrate: results files written by an older tetriserve (schema
 * version 1) are migrated in place on open: the profile table appears, the
 * version becomes 2, earlier runs stay as they were, the result has the
 * same schema as a new file, several processes opening one old file at once
 * all succeed, and a migration that fails leaves the file untouched. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/classes.h"
#include "io/profile.h"
#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define OPENERS 4

/* The schema exactly as version 1 of tetriserve created it (frozen copy). */
static const char v1_schema_sql[] =
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
	"PRAGMA user_version = 1;";

/* Two runs as a version-1 tetriserve left them: run 1 completed with two
 * requests, a segment and a round; run 2 killed (completed = 0). */
static const char v1_rows_sql[] =
	"PRAGMA journal_mode = WAL;"
	"INSERT INTO runs(backend, policy, gpus, seed, version, started_at, ended_at, completed,"
	" summary) VALUES ('sim', 'rssp', 4, 7, '0.1.0', '2026-11-01T10:00:00.000Z',"
	" '2026-11-01T10:00:01.000Z', 1, '{\"sar\":0.5}');"
	"INSERT INTO runs(backend, policy, gpus, seed, started_at, completed)"
	" VALUES ('exec', 'tetriserve', 4, 8, '2026-11-01T11:00:00.000Z', 0);"
	"INSERT INTO requests VALUES (1, 0, 256, 256, 50, 0, 10, 900, 1000, 1),"
	" (1, 1, 512, 512, 50, 5, NULL, NULL, 2000, 0);"
	"INSERT INTO segments VALUES (1, 0, 'steps', 3, '0,1', 2, 0, 50, 1, 10, 900);"
	"INSERT INTO rounds VALUES (1, 0, 2, 1, 4321);";

/* Writes a bare SQLite file holding only sql; returns SQLITE_OK on success. */
static int make_raw_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

static int make_v1_file(const char *path)
{
	int rc = make_raw_db(path, v1_schema_sql);
	return rc == SQLITE_OK ? make_raw_db(path, v1_rows_sql) : rc;
}

/* The DDL of every object of the file, sorted by name: what "same schema" means. */
static void schema_text(const char *path, char *buf, size_t size)
{
	store_test_text(path, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master "
			"WHERE name NOT LIKE 'sqlite_%' ORDER BY name)", buf, size);
}

static void check_old_runs_intact(const char *db)
{
	char text[256];
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs WHERE run_id <= 2", NULL) == 2);
	store_test_text(db, "SELECT backend || ' ' || policy || ' ' || completed || ' ' || ended_at"
			" || ' ' || json_extract(summary, '$.sar') FROM runs WHERE run_id = 1",
			text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "sim rssp 1 2026-11-01T10:00:01.000Z 0.5"), "run 1: %s", text);
	TS_CHECK(store_test_int(db, "SELECT completed FROM runs WHERE run_id = 2", NULL) == 0);
	store_test_text(db, "SELECT group_concat(met_slo || ':' || ifnull(finish_s, 'null'), ',') "
			"FROM (SELECT * FROM request_results WHERE run_id = 1 ORDER BY request_id)",
			text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "1:9.0e-07,0:null"), "requests of run 1: %s", text);
	TS_CHECK(store_test_int(db, "SELECT degree * 100 + nsteps FROM segments WHERE run_id = 1",
				NULL) == 250);
	TS_CHECK(store_test_int(db, "SELECT plan_wall_ns FROM rounds WHERE run_id = 1", NULL) ==
		 4321);
	/* version 3 derived each old request's status from met_slo and finish_ns */
	if (store_test_int(db, "PRAGMA user_version", NULL) < 3)
		return;
	store_test_text(db, "SELECT group_concat(status || ':' || ifnull(dropped_s, 'null'), ',') "
			"FROM (SELECT * FROM request_results WHERE run_id = 1 ORDER BY request_id)",
			text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "met:null,unfinished:null"), "statuses of run 1: %s", text);
}

/* Writes a completed profile run of one cell through the store. */
static int write_profile_run(struct ts_store *s, int32_t sp, struct ts_error *err)
{
	const struct ts_run_info info = { .backend = "profile", .policy = "profile", .gpus = 4 };
	struct ts_profile_row row = { .model = "flux-dev", .gpu = "H200", .height = 512,
				      .width = 512, .sp = sp, .batch = 1, .step_ms = 20.5,
				      .p50_ms = 20.0, .p99_ms = 22.0, .cv = 0.01, .samples = 10 };
	int ret = ts_store_run_begin(s, &info, NULL, err);
	if (!ret)
		ret = ts_store_profile_cell(s, &row, 3.5, err);
	if (!ret)
		ret = ts_store_run_end(s, NULL, err);
	return ret;
}

static void check_migration(const char *dir)
{
	char old_db[700], new_db[700], old_schema[8192], new_schema[8192];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(old_db, sizeof(old_db), "%s/v1.db", dir);
	snprintf(new_db, sizeof(new_db), "%s/fresh.db", dir);
	TS_CHECK(make_v1_file(old_db) == SQLITE_OK);
	TS_CHECK(store_test_int(old_db, "SELECT count(*) FROM sqlite_master WHERE name = "
				"'profile_cells'", NULL) == 0);

	TS_CHECK_MSG(ts_store_open(&s, old_db, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	TS_CHECK_MSG(write_profile_run(s, 2, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);

	TS_CHECK(store_test_int(old_db, "PRAGMA user_version", NULL) == 3);
	TS_CHECK(store_test_int(old_db, "SELECT count(*) FROM sqlite_master WHERE name IN "
				"('profile_cells', 'profile_cells_by_run', 'profile_csv')", NULL) == 3);
	check_old_runs_intact(old_db);
	/* the new run follows the old ones and holds its cell */
	TS_CHECK(store_test_int(old_db, "SELECT max(run_id) FROM runs", NULL) == 3);
	TS_CHECK(store_test_int(old_db, "SELECT sp FROM profile_cells WHERE run_id = 3", NULL) == 2);

	/* a migrated file has exactly the schema of a new one */
	TS_CHECK_MSG(ts_store_open(&s, new_db, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
	schema_text(old_db, old_schema, sizeof(old_schema));
	schema_text(new_db, new_schema, sizeof(new_schema));
	TS_CHECK_MSG(!strcmp(old_schema, new_schema), "migrated:\n%s\nnew:\n%s", old_schema,
		     new_schema);
	TS_CHECK(strstr(new_schema, "CREATE TABLE profile_cells") != NULL);
}

/* One process opening the shared version-1 file and writing a profile run. */
static void opener(const char *db, int i)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	int ret = ts_store_open(&s, db, &err);
	if (!ret)
		ret = write_profile_run(s, 1 << i, &err);
	if (ret)
		fprintf(stderr, "opener %d: %s\n", i, err.msg);
	ts_store_close(s);
	_exit(ret ? 1 : 0);
}

static void check_concurrent_migration(const char *dir)
{
	char db[700];
	snprintf(db, sizeof(db), "%s/shared_v1.db", dir);
	TS_CHECK(make_v1_file(db) == SQLITE_OK);
	pid_t pids[OPENERS];
	fflush(NULL);
	for (int i = 0; i < OPENERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			opener(db, i);
	}
	for (int i = 0; i < OPENERS; i++) {
		int status = 0;
		TS_CHECK(pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i]);
		TS_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "opener %d status %d",
			     i, status);
	}
	TS_CHECK(store_test_int(db, "PRAGMA user_version", NULL) == 3);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs WHERE backend = 'profile' AND "
				"completed = 1", NULL) == OPENERS);
	/* each opener's cell (sp 1, 2, 4, 8) is there once, in its own run */
	TS_CHECK(store_test_int(db, "SELECT count(DISTINCT sp) || count(DISTINCT run_id) || count(*)"
				" FROM profile_cells", NULL) == 444);
	check_old_runs_intact(db);
}

/* A migration that SQLite refuses (here: the user already made an object
 * named profile_cells) fails naming the file and rolls back completely. */
static void check_failed_migration(const char *dir)
{
	char db[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(db, sizeof(db), "%s/clash_v1.db", dir);
	TS_CHECK(make_v1_file(db) == SQLITE_OK);
	TS_CHECK(make_raw_db(db, "CREATE VIEW profile_csv AS SELECT 1 AS mine") == SQLITE_OK);
	TS_CHECK(ts_store_open(&s, db, &err) == TS_EIO);
	TS_CHECK(s == NULL);
	TS_CHECK_MSG(strstr(err.msg, db) && strstr(err.msg, "migrating the schema") &&
		     strstr(err.msg, "profile_csv"), "%s", err.msg);
	TS_CHECK(store_test_int(db, "PRAGMA user_version", NULL) == 1);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM sqlite_master WHERE name = "
				"'profile_cells'", NULL) == 0);
	TS_CHECK(store_test_int(db, "SELECT mine FROM profile_csv", NULL) == 1);
	check_old_runs_intact(db);
}

static void check_negative_version(const char *dir)
{
	char db[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(db, sizeof(db), "%s/negative.db", dir);
	TS_CHECK(make_raw_db(db, "PRAGMA user_version = -1") == SQLITE_OK);
	TS_CHECK(ts_store_open(&s, db, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, db) && strstr(err.msg, "unknown schema version -1"), "%s",
		     err.msg);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM sqlite_master", NULL) == 0);
}

int main(void)
{
	char dir[512];
	store_test_mkdir(dir, sizeof(dir));
	check_migration(dir);
	check_concurrent_migration(dir);
	check_failed_migration(dir);
	check_negative_version(dir);
	store_test_rmdir(dir);
	return ts_test_result("test_store_migrate");
}
