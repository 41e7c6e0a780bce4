/* test_store_concurrent: several processes (e.g. experiments run in
 * parallel) write their runs to one file at the same time; every run gets
 * its own id and all of its rows. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define WRITERS 3
#define ROWS 20000

/* One writer process: a full run of ROWS requests and ROWS segments. */
static void writer(const char *db, int w)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	struct ts_run_info info = { .backend = "sim", .policy = "fixed-sp:1", .gpus = 8,
				    .seed = (uint64_t)w };
	int ret = ts_store_open(&s, db, &err);
	if (!ret)
		ret = ts_store_run_begin(s, &info, NULL, &err);
	for (int i = 0; i < ROWS && !ret; i++) {
		struct ts_request r = { .id = i, .arrival = i, .deadline = i + 10, .height = 256,
					.width = 256, .steps = 50 };
		struct ts_segment seg = { .request_id = i, .gpus = 1ULL << w, .nsteps = 50,
					  .batch = 1, .start = i, .end = i + 5 };
		ret = ts_store_segment(s, &seg, &err);
		if (!ret)
			ret = ts_store_request(s, &r, i, i + 5, -1, &err);
	}
	if (!ret)
		ret = ts_store_run_end(s, "{}", &err);
	if (ret)
		fprintf(stderr, "writer %d: %s\n", w, err.msg);
	ts_store_close(s);
	_exit(ret ? 1 : 0);
}

int main(void)
{
	char dir[512], db[600];
	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/shared.db", dir);

	pid_t pids[WRITERS];
	fflush(NULL);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0)
			writer(db, w);
	}
	for (int w = 0; w < WRITERS; w++) {
		int status = 0;
		TS_CHECK(pids[w] > 0 && waitpid(pids[w], &status, 0) == pids[w]);
		TS_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d status %d",
			     w, status);
	}
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs WHERE completed = 1", NULL) ==
		 WRITERS);
	TS_CHECK(store_test_int(db, "SELECT count(DISTINCT run_id) FROM runs", NULL) == WRITERS);
	/* each run holds exactly its writer's rows: segments on GPU `seed` only */
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM (SELECT run_id FROM requests GROUP BY "
				"run_id HAVING count(*) = 20000)", NULL) == WRITERS);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM segments JOIN runs USING (run_id) "
				"WHERE segments.gpus = 1 << runs.seed", NULL) == WRITERS * ROWS);
	store_test_rmdir(dir);
	return ts_test_result("test_store_concurrent");
}
