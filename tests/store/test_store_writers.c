/* test_store_writers: writers of very different speeds share one file. A
 * slow writer (a row every 20 ms for 4 s, like a long tetriserve run) holds
 * the write lock only while it commits, so
 *  - a third party gets the lock within a second, every time it asks;
 *  - a fast writer beside it (20,000 rows as fast as it can) finishes;
 *  - the slow writer's rows are readable about 100 ms after it wrote them,
 *    not only every few thousand rows. */
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define SLOW_ROWS 200
#define SLOW_PAUSE_MS 20
#define FAST_ROWS 20000

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One writer process; exits 0 when its whole run is stored. */
static void writer(const char *db, bool slow)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	struct ts_run_info info = { .backend = "sim", .policy = slow ? "slow" : "fast", .gpus = 8 };
	int ret = ts_store_open(&s, db, &err);
	if (!ret)
		ret = ts_store_run_begin(s, &info, NULL, &err);
	for (int i = 0; i < (slow ? SLOW_ROWS : FAST_ROWS) && !ret; i++) {
		struct ts_segment seg = { .request_id = i, .gpus = 1, .nsteps = 1, .batch = 1,
					  .start = i, .end = i + 1 };
		ret = ts_store_segment(s, &seg, &err);
		if (slow)
			sleep_ms(SLOW_PAUSE_MS);
	}
	if (!ret)
		ret = ts_store_run_end(s, "{}", &err);
	if (ret)
		fprintf(stderr, "%s writer: %s\n", slow ? "slow" : "fast", err.msg);
	ts_store_close(s);
	_exit(ret ? 1 : 0);
}

static void check_exit(pid_t pid, const char *who)
{
	int status = 0;
	TS_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	TS_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s writer status %d", who, status);
}

int main(void)
{
	char dir[512], db[600];
	int locked = 0, seen = 0;
	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/shared.db", dir);
	struct ts_store *s = NULL;
	struct ts_error err = { 0 };
	TS_CHECK(ts_store_open(&s, db, &err) == 0);   /* the schema, before both start */
	ts_store_close(s);

	fflush(NULL);
	pid_t slow = fork();
	if (slow == 0)
		writer(db, true);
	sleep_ms(300);
	pid_t fast = fork();
	if (fast == 0)
		writer(db, false);
	/* while the slow writer runs: the lock is free within a second, and
	 * its rows show up as it goes */
	for (int probe = 0; probe < 10; probe++) {
		sleep_ms(250);
		locked += store_test_write_lock(db, 1000);
		seen += store_test_int(db, "SELECT count(*) FROM segments JOIN runs USING (run_id) "
				       "WHERE policy = 'slow'", NULL) > 0;
	}
	check_exit(fast, "fast");
	check_exit(slow, "slow");
	TS_CHECK_MSG(locked == 10, "the write lock was free %d times of 10", locked);
	TS_CHECK_MSG(seen == 10, "the slow writer's rows were visible %d times of 10", seen);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs WHERE completed = 1", NULL) == 2);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM segments", NULL) == SLOW_ROWS + FAST_ROWS);
	store_test_rmdir(dir);
	return ts_test_result("test_store_writers");
}
