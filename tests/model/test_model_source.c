/* test_model_source: the profile's source column round-trips: a profile
 * written by ts_profile_write() (the predicted profile's writer) reads back
 * through ts_profile_load() with the same rows and row.modelled; the store
 * keeps it (ts_store_profile_cell writes profile_cells.source, read back
 * with SQL); the step tables mark the cells taken from modelled rows
 * (ts_classes_modelled_cells). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/classes.h"
#include "io/profile.h"
#include "model/profile_write.h"
#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

#define NROWS 3

static const struct ts_profile_row rows[NROWS] = {
	{ .model = "flux-dev", .gpu = "H200", .height = 256, .width = 256, .sp = 1, .batch = 1,
	  .step_ms = 22.718, .p50_ms = 22.793, .p99_ms = 22.983, .cv = 0.01655, .samples = 6 },
	{ .model = "flux-dev", .gpu = "H200", .height = 256, .width = 256, .sp = 8, .batch = 1,
	  .step_ms = 15.030985, .p50_ms = NAN, .p99_ms = NAN, .modelled = true },
	{ .model = "flux-dev", .gpu = "H200", .height = 2048, .width = 2048, .sp = 8, .batch = 1,
	  .step_ms = 1.0 / 3.0 * 300, .p50_ms = NAN, .p99_ms = NAN, .modelled = true },
};

static void test_reader_round_trip(const char *dir, struct ts_profile *back)
{
	char path[512];
	struct ts_error err = { 0 };
	snprintf(path, sizeof(path), "%s/p.csv", dir);
	FILE *f = fopen(path, "w");
	TS_CHECK(f && ts_profile_write(f, path, "a comment\nsecond line", rows, NROWS, &err) == 0);
	if (f)
		fclose(f);
	TS_CHECK_MSG(ts_profile_load(back, path, &err) == 0, "%s", err.msg);
	TS_CHECK(back->n == NROWS);
	for (size_t i = 0; i < back->n && i < NROWS; i++) {
		const struct ts_profile_row *a = &rows[i], *b = &back->rows[i];
		TS_CHECK(b->modelled == a->modelled && b->step_ms == a->step_ms && b->sp == a->sp &&
			 b->cv == a->cv && b->samples == a->samples);
		TS_CHECK(isnan(a->p50_ms) ? isnan(b->p50_ms) : b->p50_ms == a->p50_ms);
	}
}

static void test_store_source(const char *dir, const struct ts_profile *p)
{
	static const struct ts_run_info info = { .backend = "profile", .policy = "profile",
						 .gpus = 8, .version = "test" };
	char db[512], text[256];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	int64_t run = 0;
	snprintf(db, sizeof(db), "%s/r.db", dir);
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == 0, "%s", err.msg);
	TS_CHECK(s && ts_store_run_begin(s, &info, &run, &err) == 0);
	for (size_t i = 0; s && i < p->n; i++)
		TS_CHECK(ts_store_profile_cell(s, &p->rows[i], NAN, &err) == 0);
	TS_CHECK(s && ts_store_run_end(s, NULL, &err) == 0);
	ts_store_close(s);
	store_test_text(db, "SELECT group_concat(sp || ':' || source, ' ') FROM (SELECT * FROM "
			"profile_cells ORDER BY cell_id)", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "1:measured 8:modelled 8:modelled"), "sources: %s", text);
}

static void test_classes_count(const struct ts_profile *p)
{
	struct ts_trace t = { 0 };
	struct ts_classes cs;
	struct ts_error err = { 0 };
	struct ts_classes_opts o = { NULL, NULL, 8, false };
	struct ts_request q = { .id = 0, .slo = TS_NS_PER_S, .steps = 1, .height = 256,
				.width = 256, .cls = -1 };
	TS_CHECK(ts_trace_append(&t, &q, &err) == 0);
	TS_CHECK_MSG(ts_classes_build(&cs, &t, p, &o, &err) == 0, "%s", err.msg);
	TS_CHECK(ts_classes_modelled_cells(&cs) == 1); /* 256^2 SP 8; 2048^2 is not in the trace */
	TS_CHECK(cs.cls[0].modelled[0][3] && !cs.cls[0].modelled[0][0]);
	ts_classes_free(&cs);
	o.max_degree = 4; /* SP 8 ignored: no modelled cell used */
	TS_CHECK(ts_classes_build(&cs, &t, p, &o, &err) == 0 && ts_classes_modelled_cells(&cs) == 0);
	ts_classes_free(&cs);
	ts_trace_free(&t);
}

int main(void)
{
	char dir[256];
	struct ts_profile back = { 0 };
	store_test_mkdir(dir, sizeof(dir));
	test_reader_round_trip(dir, &back);
	test_store_source(dir, &back);
	test_classes_count(&back);
	ts_profile_free(&back);
	store_test_rmdir(dir);
	return ts_test_result("test_model_source");
}
