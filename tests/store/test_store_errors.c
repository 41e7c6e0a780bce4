/* test_store_errors: bad files and misuse give a clear error naming the
 * path and the cause, never a crash or a silently wrong file. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

static const struct ts_run_info info = { .backend = "sim", .policy = "rssp", .gpus = 4 };

static void check_missing_directory(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/no/such/dir/results.db", dir);
	TS_CHECK(ts_store_open(&s, path, &err) == TS_EIO);
	TS_CHECK(s == NULL);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "No such file or directory") &&
		     strstr(err.msg, "/no/such/dir'"), "%s", err.msg);
}

/* Writes a bare SQLite file holding only sql; returns 0 on success. */
static int make_raw_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void check_future_version(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/future.db", dir);
	TS_CHECK(make_raw_db(path, "PRAGMA user_version = 99") == SQLITE_OK);
	TS_CHECK(ts_store_open(&s, path, &err) == TS_EIO);
	TS_CHECK(s == NULL);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "schema version 99") &&
		     strstr(err.msg, "newer"), "%s", err.msg);
	/* the refused file is left as it was */
	TS_CHECK(store_test_int(path, "PRAGMA user_version", NULL) == 99);
	TS_CHECK(store_test_int(path, "SELECT count(*) FROM sqlite_master", NULL) == 0);
}

static void check_foreign_files(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/other.db", dir);
	TS_CHECK(make_raw_db(path, "CREATE TABLE runs(x)") == SQLITE_OK);
	TS_CHECK(ts_store_open(&s, path, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "not a tetriserve results store"),
		     "%s", err.msg);

	snprintf(path, sizeof(path), "%s/text.db", dir);
	FILE *f = fopen(path, "w");
	TS_CHECK(f != NULL);
	if (f) {
		fputs("request_id,arrival_s\n0,0.0\nthis is a CSV file, not SQLite at all......\n", f);
		fclose(f);
	}
	TS_CHECK(ts_store_open(&s, path, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "not a database"), "%s", err.msg);
}

static void check_misuse(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/misuse.db", dir);
	TS_CHECK_MSG(ts_store_open(&s, path, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	struct ts_request r = { .id = 7, .height = 256, .width = 256, .steps = 50 };
	TS_CHECK(ts_store_request(s, &r, 0, 1, -1, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "no open run"), "%s", err.msg);
	TS_CHECK(ts_store_run_end(s, NULL, &err) == TS_EINVAL);

	int64_t run = 0;
	TS_CHECK(ts_store_run_begin(s, &info, &run, &err) == TS_OK);
	TS_CHECK(ts_store_run_begin(s, &info, &run, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "still open"), "%s", err.msg);

	struct ts_segment bad = { .request_id = 7, .gpus = 0, .nsteps = 1, .batch = 1 };
	TS_CHECK(ts_store_segment(s, &bad, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "request 7") && strstr(err.msg, "empty GPU mask"), "%s", err.msg);
	bad.gpus = 1;
	bad.kind = 5;
	TS_CHECK(ts_store_segment(s, &bad, &err) == TS_EINVAL);
	bad.kind = TS_SEG_STEPS;
	bad.start = 10;
	bad.end = 5;
	TS_CHECK(ts_store_segment(s, &bad, &err) == TS_EINVAL);

	/* a bad summary is refused by SQLite; the run stays open and can end */
	TS_CHECK(ts_store_request(s, &r, 0, 1, -1, &err) == TS_OK);
	TS_CHECK(ts_store_run_end(s, "{\"sar\": 0.5", &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "summary_is_json"), "%s", err.msg);
	TS_CHECK_MSG(ts_store_run_end(s, "{\"sar\": 0.5}", &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
	TS_CHECK(store_test_int(path, "SELECT count(*) FROM requests WHERE run_id = 1", NULL) == 1);
	TS_CHECK(store_test_int(path, "SELECT completed FROM runs WHERE run_id = 1", NULL) == 1);
	ts_store_close(NULL);
}

/* A trigger stands in for a failing disk: SQLite refuses one segment row,
 * and the store reports it when the buffered rows reach SQLite. */
static void check_refused_rows(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/refused.db", dir);
	TS_CHECK_MSG(ts_store_open(&s, path, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
	TS_CHECK(make_raw_db(path, "CREATE TRIGGER refuse BEFORE INSERT ON segments "
			     "WHEN NEW.request_id = 666 BEGIN SELECT RAISE(ABORT, 'disk on fire'); "
			     "END") == SQLITE_OK);
	s = NULL;
	TS_CHECK_MSG(ts_store_open(&s, path, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;

	struct ts_run_info bad = info;
	bad.policy_params = "{\"tau\": ";
	TS_CHECK(ts_store_run_begin(s, &bad, NULL, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "runs row") &&
		     strstr(err.msg, "policy_params_is_json"), "%s", err.msg);

	TS_CHECK(ts_store_run_begin(s, &info, NULL, &err) == TS_OK);
	struct ts_segment seg = { .request_id = 666, .gpus = 3, .nsteps = 5, .batch = 1 };
	TS_CHECK(ts_store_segment(s, &seg, &err) == TS_OK);
	TS_CHECK(ts_store_flush(s, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "segments") &&
		     strstr(err.msg, "request") && strstr(err.msg, "666") &&
		     strstr(err.msg, "disk on fire"), "%s", err.msg);
	/* the store stays usable: later rows and the end of the run commit */
	seg.request_id = 1;
	TS_CHECK(ts_store_segment(s, &seg, &err) == TS_OK);
	TS_CHECK_MSG(ts_store_run_end(s, NULL, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
	TS_CHECK(store_test_int(path, "SELECT count(*) FROM segments", NULL) == 1);
	TS_CHECK(store_test_int(path, "SELECT count(*) FROM runs WHERE completed = 1", NULL) == 1);
}

int main(void)
{
	char dir[512];
	store_test_mkdir(dir, sizeof(dir));
	check_missing_directory(dir);
	check_future_version(dir);
	check_foreign_files(dir);
	check_misuse(dir);
	check_refused_rows(dir);
	store_test_rmdir(dir);
	return ts_test_result("test_store_errors");
}
