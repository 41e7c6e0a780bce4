/* test_store_crash: a process killed in the middle of a run leaves the
 * earlier runs intact and its own committed rows readable, completed = 0,
 * and the file stays usable for the next run. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define FLUSHED_ROWS 10000
#define UNFLUSHED_ROWS 5000 /* more than one 4096-row batch */
#define BATCH_ROWS 4096

static const struct ts_run_info info = { .backend = "sim", .policy = "tetriserve", .gpus = 8 };

static int write_requests(struct ts_store *s, int first, int n, struct ts_error *err)
{
	for (int i = first; i < first + n; i++) {
		struct ts_request r = { .id = i, .arrival = i, .deadline = i + 100, .height = 256,
					.width = 256, .steps = 50 };
		int ret = ts_store_request(s, &r, i, i + 50, -1, err);
		if (ret)
			return ret;
	}
	return TS_OK;
}

static int write_completed_run(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	int ret = ts_store_open(&s, db, &err);
	if (!ret)
		ret = ts_store_run_begin(s, &info, NULL, &err);
	if (!ret)
		ret = write_requests(s, 0, 100, &err);
	if (!ret)
		ret = ts_store_run_end(s, "{}", &err);
	if (ret)
		fprintf(stderr, "completed run: %s\n", err.msg);
	ts_store_close(s);
	return ret;
}

/* The child: writes, flushes, writes more, and dies without run_end or close. */
static void child_killed_mid_run(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	if (ts_store_open(&s, db, &err) || ts_store_run_begin(s, &info, NULL, &err) ||
	    write_requests(s, 0, FLUSHED_ROWS, &err) || ts_store_flush(s, &err) ||
	    write_requests(s, FLUSHED_ROWS, UNFLUSHED_ROWS, &err)) {
		fprintf(stderr, "child: %s\n", err.msg);
		_exit(2);
	}
	_exit(1);
}

static void check_after_crash(const char *db)
{
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs", NULL) == 2);
	TS_CHECK(store_test_int(db, "SELECT completed FROM runs WHERE run_id = 1", NULL) == 1);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM requests WHERE run_id = 1", NULL) == 100);
	TS_CHECK(store_test_int(db, "SELECT completed FROM runs WHERE run_id = 2", NULL) == 0);
	bool ended_null = false;
	store_test_int(db, "SELECT ended_at FROM runs WHERE run_id = 2", &ended_null);
	TS_CHECK(ended_null);
	int64_t rows = store_test_int(db, "SELECT count(*) FROM requests WHERE run_id = 2", NULL);
	/* flushed rows plus every full batch after them, never more than written */
	TS_CHECK_MSG(rows >= FLUSHED_ROWS + BATCH_ROWS && rows <= FLUSHED_ROWS + UNFLUSHED_ROWS,
		     "%lld rows of the killed run", (long long)rows);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM request_results WHERE run_id = 2 "
				"AND met_slo = 1", NULL) == rows);
}

static void check_next_run(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	int64_t run = 0;
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	TS_CHECK(ts_store_run_begin(s, &info, &run, &err) == TS_OK);
	TS_CHECK(run == 3);
	TS_CHECK(write_requests(s, 0, 10, &err) == TS_OK);
	TS_CHECK(ts_store_run_end(s, NULL, &err) == TS_OK);
	ts_store_close(s);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM requests WHERE run_id = 3", NULL) == 10);
	char check[256];
	store_test_text(db, "PRAGMA integrity_check", check, sizeof(check));
	TS_CHECK_MSG(!strcmp(check, "ok"), "integrity_check: %s", check);
}

int main(void)
{
	char dir[512], db[600];
	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/crash.db", dir);

	TS_CHECK(write_completed_run(db) == TS_OK);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		child_killed_mid_run(db);
	int status = 0;
	TS_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	TS_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 1, "child status %d", status);

	check_after_crash(db);
	check_next_run(db);
	store_test_rmdir(dir);
	return ts_test_result("test_store_crash");
}
