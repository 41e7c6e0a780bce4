/* test_store_profile: step-latency profiles in the results store: a profile
 * run is a completed runs row with backend 'profile' and its cells keep
 * every value (NULL where not measured); the profile_csv view prints a CSV
 * that the profile reader loads back to the same cells; bad cells and
 * misuse are refused; a run cut short keeps the cells written before. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "io/classes.h"
#include "io/profile.h"
#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define NCELLS 3

static const struct ts_run_info profile_info = {
	.backend = "profile",
	.policy = "profile",
	.options = "{\"res\":[256,1024],\"sp\":[1,2],\"warmup\":2,\"iters\":10}",
	.gpus = 2,
	.seed = 1234,
	.version = "0.1.0",
};

/* Three cells: full statistics; p50/p99 not measured; batch 4 with cv 0. */
static const struct ts_profile_row cells[NCELLS] = {
	{ .model = "flux-dev", .gpu = "H100-SXM-80GB", .height = 256, .width = 256, .sp = 1,
	  .batch = 1, .step_ms = 12.345678901234, .p50_ms = 12.25, .p99_ms = 13.0625,
	  .cv = 0.00123, .samples = 10 },
	{ .model = "flux-dev", .gpu = "H100-SXM-80GB", .height = 1024, .width = 1024, .sp = 2,
	  .batch = 1, .step_ms = 150.5, .p50_ms = NAN, .p99_ms = NAN, .cv = 0.02, .samples = 0 },
	{ .model = "flux-dev", .gpu = "H100-SXM-80GB", .height = 256, .width = 512, .sp = 2,
	  .batch = 4, .step_ms = 30.0, .p50_ms = 29.5, .p99_ms = 31.0, .cv = 0.0, .samples = 7 },
};
static const double peaks[NCELLS] = { 17.25, NAN, -1.0 };

static int64_t write_profile_run(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	int64_t run = 0;
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return 0;
	TS_CHECK_MSG(ts_store_run_begin(s, &profile_info, &run, &err) == TS_OK, "%s", err.msg);
	for (int i = 0; i < NCELLS; i++)
		TS_CHECK_MSG(ts_store_profile_cell(s, &cells[i], peaks[i], &err) == TS_OK, "%s",
			     err.msg);
	TS_CHECK_MSG(ts_store_run_end(s, NULL, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
	return run;
}

static void check_run_row(const char *db, int64_t run)
{
	char sql[256], text[256];
	snprintf(sql, sizeof(sql), "SELECT backend || ' ' || policy || ' ' || gpus || ' ' || completed"
		 " || ' ' || json_extract(options, '$.iters') FROM runs WHERE run_id = %lld",
		 (long long)run);
	store_test_text(db, sql, text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "profile profile 2 1 10"), "run row: %s", text);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM profile_cells", NULL) == NCELLS);
}

static void check_cell_values(const char *db)
{
	char text[512];
	bool is_null = false;
	TS_CHECK(store_test_double(db, "SELECT step_ms FROM profile_cells WHERE height = 256 AND "
				   "width = 256") == cells[0].step_ms);
	TS_CHECK(store_test_double(db, "SELECT p99_ms FROM profile_cells WHERE height = 256 AND "
				   "width = 256") == cells[0].p99_ms);
	TS_CHECK(store_test_double(db, "SELECT cv FROM profile_cells WHERE height = 256 AND "
				   "width = 256") == cells[0].cv);
	TS_CHECK(store_test_double(db, "SELECT peak_mem_gib FROM profile_cells WHERE height = 256 "
				   "AND width = 256") == 17.25);
	store_test_text(db, "SELECT model || ' ' || gpu || ' ' || sp || ' ' || batch || ' ' || "
			"samples FROM profile_cells WHERE batch = 4", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "flux-dev H100-SXM-80GB 2 4 7"), "batch-4 cell: %s", text);
	store_test_text(db, "SELECT group_concat(ifnull(p50_ms, 'NULL') || '/' || ifnull(p99_ms, "
			"'NULL') || '/' || ifnull(peak_mem_gib, 'NULL'), ' ') FROM (SELECT * FROM "
			"profile_cells ORDER BY cell_id)", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "12.25/13.0625/17.25 NULL/NULL/NULL 29.5/31.0/NULL"),
		     "NULL fields: %s", text);
	store_test_int(db, "SELECT p50_ms FROM profile_cells WHERE sp = 2 AND batch = 1", &is_null);
	TS_CHECK(is_null);
}

/* Prints the profile_csv view of run as the docs say and returns 0 on success. */
static int export_csv(const char *db, int64_t run, const char *csv)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	FILE *f = fopen(csv, "w");
	int rc = f ? sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) : SQLITE_CANTOPEN;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "SELECT line FROM profile_csv WHERE run_id = ?1 ORDER BY "
					"cell_id", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		fprintf(f, "model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch,source\n");
		while (sqlite3_step(st) == SQLITE_ROW)
			fprintf(f, "%s\n", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	if (f && fclose(f))
		rc = SQLITE_IOERR;
	return rc;
}

static void check_csv_row(const struct ts_profile_row *got, const struct ts_profile_row *want)
{
	TS_CHECK(!strcmp(got->model, want->model) && !strcmp(got->gpu, want->gpu));
	TS_CHECK(got->height == want->height && got->width == want->width);
	TS_CHECK(got->sp == want->sp && got->batch == want->batch);
	TS_CHECK(got->samples == want->samples);
	/* SQLite prints reals with 15 significant digits */
	TS_CHECK_NEAR(got->step_ms, want->step_ms, 1e-12 * want->step_ms);
	TS_CHECK_NEAR(got->cv, want->cv, 1e-15);
	TS_CHECK(isnan(got->p50_ms) == isnan(want->p50_ms));
	TS_CHECK(isnan(got->p99_ms) == isnan(want->p99_ms));
	if (!isnan(want->p50_ms))
		TS_CHECK(got->p50_ms == want->p50_ms && got->p99_ms == want->p99_ms);
}

/* The documented export gives a CSV that ts_profile_load reads back. */
static void check_csv_export(const char *dir, const char *db, int64_t run)
{
	char csv[700];
	struct ts_profile p = { 0 };
	struct ts_error err = { 0 };
	snprintf(csv, sizeof(csv), "%s/exported.csv", dir);
	TS_CHECK(export_csv(db, run, csv) == SQLITE_OK);
	TS_CHECK_MSG(ts_profile_load(&p, csv, &err) == TS_OK, "%s", err.msg);
	TS_CHECK(p.n == NCELLS);
	for (size_t i = 0; i < p.n && i < NCELLS; i++)
		check_csv_row(&p.rows[i], &cells[i]);
	ts_profile_free(&p);
}

static void check_bad_cells(struct ts_store *s, const char *path)
{
	struct ts_error err = { 0 };
	struct ts_profile_row bad = cells[0];
	bad.step_ms = 0;
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "256x256 sp 1 batch 1") &&
		     strstr(err.msg, "step_ms"), "%s", err.msg);
	bad = cells[0];
	bad.p99_ms = INFINITY;
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "p99_ms"), "%s", err.msg);
	bad = cells[0];
	bad.sp = 0;
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "sp/batch"), "%s", err.msg);
	bad = cells[0];
	bad.cv = -0.5;
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "cv"), "%s", err.msg);
	bad = cells[0];
	memset(bad.gpu, 'x', sizeof(bad.gpu));
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "gpu"), "%s", err.msg);
	bad = cells[0];
	bad.model[0] = '\0';
	TS_CHECK(ts_store_profile_cell(s, &bad, 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "model"), "%s", err.msg);
}

/* Cells outside a profile run, bad cells, and a run cut short. */
static void check_misuse(const char *dir)
{
	char path[700];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	snprintf(path, sizeof(path), "%s/misuse.db", dir);
	TS_CHECK_MSG(ts_store_open(&s, path, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	TS_CHECK(ts_store_profile_cell(s, &cells[0], 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "no open run"), "%s", err.msg);

	const struct ts_run_info sim = { .backend = "sim", .policy = "rssp", .gpus = 2 };
	TS_CHECK(ts_store_run_begin(s, &sim, NULL, &err) == TS_OK);
	TS_CHECK(ts_store_profile_cell(s, &cells[0], 1.0, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "not \"profile\""), "%s", err.msg);
	TS_CHECK(ts_store_run_end(s, NULL, &err) == TS_OK);

	/* a profiler that fails after two cells: flushed cells stay, run incomplete */
	int64_t run = 0;
	TS_CHECK(ts_store_run_begin(s, &profile_info, &run, &err) == TS_OK);
	check_bad_cells(s, path);
	TS_CHECK(ts_store_profile_cell(s, &cells[0], peaks[0], &err) == TS_OK);
	TS_CHECK(ts_store_profile_cell(s, &cells[1], peaks[1], &err) == TS_OK);
	TS_CHECK(ts_store_flush(s, &err) == TS_OK);
	ts_store_close(s);
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT completed FROM runs WHERE run_id = %lld", (long long)run);
	TS_CHECK(store_test_int(path, sql, NULL) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM profile_cells WHERE run_id = %lld",
		 (long long)run);
	TS_CHECK(store_test_int(path, sql, NULL) == 2);
	TS_CHECK(store_test_int(path, "SELECT count(*) FROM profile_cells", NULL) == 2);
}

int main(void)
{
	char dir[512], db[600];
	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/profiles.db", dir);
	int64_t run = write_profile_run(db);
	TS_CHECK(run == 1);
	check_run_row(db, run);
	check_cell_values(db);
	check_csv_export(dir, db, run);
	check_misuse(dir);
	store_test_rmdir(dir);
	return ts_test_result("test_store_profile");
}
