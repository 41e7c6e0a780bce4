/* test_profile_cmd.c: `tetriserve profile` refuses bad options with exit 2
 * and a message (no GPU needed), and, on a GPU, writes a profile CSV that
 * the project's profile reader (common/io/profile.h) loads, one row per
 * cell with sane statistics, and with --db the same cells as a completed
 * run of backend 'profile' in the results store. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_test.h"
#include "io/classes.h"
#include "io/profile.h"
#include "ts_profile_cmd.h"

static int run(int argc, const char **argv)
{
	return ts_cmd_profile(argc, (char **)argv);
}

static void check_usage_errors(void)
{
	const char *no_out[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1", "--gpus", "1"};
	const char *bad_res[] = {"profile", "--model", "sd3-medium", "--res", "256,x", "--sp", "1",
				 "--gpus", "1", "--out", "/dev/null"};
	const char *db[] = {"profile", "--db", "r.db"};
	const char *bad_seed[] = {"profile", "--seed", "-3"};
	const char *bad_attn[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1",
				  "--gpus", "1", "--out", "/dev/null", "--attention", "flash"};
	TS_CHECK(run(9, no_out) == 2); /* neither --out nor --db */
	TS_CHECK(run(11, bad_res) == 2);
	TS_CHECK(run(3, db) == 2);
	TS_CHECK(run(3, bad_seed) == 2);
	TS_CHECK(run(13, bad_attn) == 2);
	const char *bad_weights[] = {"profile", "--model", "flux-dev", "--weights", "no/such/folder",
				     "--res", "256", "--sp", "1", "--gpus", "1", "--out", "/dev/null"};
	TS_CHECK(run(13, bad_weights) == 2); /* its config.json is read before anything runs */
}

/* Bad cell values are refused before anything is measured or written: an
 * existing --out file survives a typo, and no row the profile reader would
 * reject (sp 3, batch 3, height 250) is ever produced. */
static void check_cells_validated_first(void)
{
	char path[] = "/tmp/ts_profile_keep_XXXXXX";
	int fd = mkstemp(path);
	TS_CHECK(fd >= 0);
	TS_CHECK(write(fd, "keep", 4) == 4);
	close(fd);
	const char *model[] = {"profile", "--model", "flux_dev", "--res", "256", "--sp", "1", "--gpus", "1",
			       "--out", path};
	const char *sp3[] = {"profile", "--model", "flux-dev", "--res", "256", "--sp", "3", "--gpus", "4",
			     "--out", path};
	const char *batch3[] = {"profile", "--model", "flux-dev", "--res", "256", "--sp", "1", "--gpus", "1",
				"--batch", "3", "--out", path};
	const char *res250[] = {"profile", "--model", "flux-dev", "--res", "250", "--sp", "1", "--gpus", "1",
				"--out", path};
	TS_CHECK(run(11, model) == 2);
	TS_CHECK(run(11, sp3) == 2);
	TS_CHECK(run(13, batch3) == 2);
	TS_CHECK(run(11, res250) == 2);
	char buf[8] = {0};
	fd = open(path, O_RDONLY);
	TS_CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 4 && !strcmp(buf, "keep"));
	close(fd);
	unlink(path);
}

/* --db alone is a complete output choice: the options pass (exit 1 for the
 * missing GPUs, not 2), and nothing is created before the GPU check. */
static void check_db_options(void)
{
	char dir[] = "/tmp/ts_profile_db_XXXXXX";
	char path[64];
	TS_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/r.db", dir);
	const char *db_only[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1",
				 "--gpus", "64", "--db", path};
	TS_CHECK(run(11, db_only) == 1);
	TS_CHECK(access(path, F_OK) != 0);
	rmdir(dir);
}

/* First column of the first row of sql on the file at path, as a double. */
static double db_value(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double v = NAN;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	else
		fprintf(stderr, "%s: %s: %s\n", path, sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The store holds the CSV's cells (unrounded) in a completed profile run. */
static void check_db_matches_csv(const char *db, const struct ts_profile *p)
{
	TS_CHECK(db_value(db, "SELECT count(*) FROM runs WHERE backend = 'profile' AND "
			  "completed = 1 AND gpus = 1") == 1);
	TS_CHECK(db_value(db, "SELECT count(*) FROM profile_cells") == (double)p->n);
	TS_CHECK(db_value(db, "SELECT json_extract(summary, '$.cells') FROM runs") == (double)p->n);
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT step_ms FROM profile_cells WHERE model = '%s' AND "
			 "height = %d AND sp = %d AND batch = %d AND samples = %lld AND "
			 "peak_mem_gib > 0", r->model, r->height, r->sp, r->batch,
			 (long long)r->samples);
		TS_CHECK_NEAR(db_value(db, sql), r->step_ms, 0.0005 + 1e-9);
	}
}

static void check_profile_db(void)
{
	char dir[] = "/tmp/ts_profile_db_XXXXXX";
	char csv[64], db[64];
	TS_CHECK(mkdtemp(dir) != NULL);
	snprintf(csv, sizeof(csv), "%s/p.csv", dir);
	snprintf(db, sizeof(db), "%s/r.db", dir);
	const char *argv[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1",
			      "--gpus", "1", "--batch", "1,2", "--warmup", "1", "--iters", "3",
			      "--out", csv, "--db", db};
	TS_CHECK(run(19, argv) == 0);
	struct ts_profile p = {0};
	struct ts_error err = {0, ""};
	TS_CHECK_MSG(ts_profile_load(&p, csv, &err) == 0, "%s", err.msg);
	TS_CHECK(p.n == 2);
	check_db_matches_csv(db, &p);
	ts_profile_free(&p);
	unlink(csv);
	unlink(db);
	for (size_t i = 0; i < 2; i++) {
		char side[80];
		snprintf(side, sizeof(side), "%s%s", db, i ? "-shm" : "-wal");
		unlink(side);
	}
	rmdir(dir);
}

static void check_profile_csv(void)
{
	char path[] = "/tmp/ts_profile_XXXXXX";
	int fd = mkstemp(path);
	TS_CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	const char *argv[] = {"profile", "--model", "sd3-medium", "--res", "256,512", "--sp", "1",
			      "--gpus", "1", "--batch", "1,2", "--warmup", "1", "--iters", "3",
			      "--out", path};
	TS_CHECK(run(17, argv) == 0);
	struct ts_profile p = {0};
	struct ts_error err = {0, ""};
	int rc = ts_profile_load(&p, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	TS_CHECK(p.n == 4);
	for (size_t i = 0; i < p.n; i++) {
		const struct ts_profile_row *r = &p.rows[i];
		TS_CHECK(!strcmp(r->model, "sd3-medium") && r->sp == 1 && r->samples == 3);
		TS_CHECK(r->step_ms > 0 && r->p50_ms <= r->p99_ms && r->cv >= 0);
		TS_CHECK(r->batch == 1 || r->batch == 2);
	}
	ts_profile_free(&p);
	unlink(path);
}

int main(void)
{
	check_usage_errors();
	check_cells_validated_first();
	check_db_options();
	if (gt_gpus() >= 1) {
		check_profile_csv();
		check_profile_db();
	} else {
		printf("test_profile_cmd: no GPU, CSV and --db checks skipped\n");
	}
	return ts_test_result("test_profile_cmd");
}
