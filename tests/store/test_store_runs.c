/* test_store_runs: what a user of the results file relies on: the schema,
 * several runs in one file, request outcomes in seconds with the SLO rule,
 * segments with their GPU masks (GPU 63 included), rounds. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_read.h"
#include "store_test_db.h"
#include "test_util.h"

static const struct ts_run_info run_info = {
	.backend = "sim",
	.policy = "tetriserve",
	.policy_params = "{\"round_steps\":5}",
	.trace_name = "traces/example.csv",
	.trace_hash = 0xcbf29ce484222325ULL,
	.profile_name = "traces/profiles/flux-h100.csv",
	.profile_hash = 0x00000000000000ffULL,
	.gpus = 8,
	.seed = 0x8000000000000001ULL,
	.version = "0.1.0",
	.options = NULL,
};

static struct ts_request make_request(int64_t id, double arrival_s, double slo_s)
{
	struct ts_request r = {
		.id = id, .arrival = ts_ns_from_s(arrival_s), .slo = ts_ns_from_s(slo_s),
		.height = 512, .width = 1024, .steps = 50, .cls = -1, .seed = (uint64_t)id,
	};
	r.deadline = r.arrival + r.slo;
	return r;
}

static void check_schema(const char *db)
{
	TS_CHECK(store_test_int(db, "PRAGMA user_version", NULL) == 3);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				"name IN ('runs', 'requests', 'segments', 'rounds', "
				"'profile_cells')", NULL) == 5);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND "
				"name IN ('request_results', 'segment_times', 'profile_csv')",
				NULL) == 3);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				"name IN ('requests_by_run_request', 'segments_by_run_request', "
				"'profile_cells_by_run')", NULL) == 3);
	char cols[512];
	store_test_text(db, "SELECT group_concat(name, ',') FROM pragma_table_info('request_results')",
			cols, sizeof(cols));
	TS_CHECK_MSG(!strcmp(cols, "run_id,request_id,height,width,steps,arrival_s,start_s,"
			     "finish_s,deadline_s,met_slo,status,dropped_s"), "columns: %s", cols);
	char mode[32];
	store_test_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	TS_CHECK_MSG(!strcmp(mode, "wal"), "journal_mode %s", mode);
}

/* Run 1: three requests (met exactly at the deadline, missed, never
 * finished), two segments, one round. */
static int64_t write_first_run(struct ts_store *s)
{
	struct ts_error err = { 0 };
	int64_t run = 0;
	TS_CHECK(ts_store_run_begin(s, &run_info, &run, &err) == TS_OK);

	struct ts_request on_time = make_request(0, 1.0, 2.0);
	struct ts_request late = make_request(1, 1.5, 2.0);
	struct ts_request never = make_request(2, 2.0, 2.0);
	TS_CHECK(ts_store_request(s, &on_time, ts_ns_from_s(1.25), on_time.deadline, -1, &err) == TS_OK);
	TS_CHECK(ts_store_request(s, &late, ts_ns_from_s(1.5), late.deadline + 1, -1, &err) == TS_OK);
	TS_CHECK(ts_store_request(s, &never, -1, -1, -1, &err) == TS_OK);

	struct ts_segment move = { .request_id = 0, .gpus = 1ULL << 63 | 1, .first_step = 10,
				   .nsteps = 0, .batch = 1, .kind = TS_SEG_MOVE,
				   .start = ts_ns_from_s(1.5), .end = ts_ns_from_s(1.5005) };
	struct ts_segment steps = { .request_id = 0, .gpus = UINT64_MAX, .first_step = 10,
				    .nsteps = 40, .batch = 2, .kind = TS_SEG_STEPS,
				    .start = ts_ns_from_s(1.5005), .end = ts_ns_from_s(3.0) };
	TS_CHECK(ts_store_segment(s, &move, &err) == TS_OK);
	TS_CHECK(ts_store_segment(s, &steps, &err) == TS_OK);

	struct ts_round_rec rr = { .t = ts_ns_from_s(1.0), .active = 3, .launched = 2,
				   .plan_wall_ns = 12345 };
	TS_CHECK(ts_store_round(s, &rr, &err) == TS_OK);
	TS_CHECK_MSG(ts_store_run_end(s, "{\"sar\":0.333}", &err) == TS_OK, "%s", err.msg);
	return run;
}

static void check_first_run(const char *db)
{
	char text[256];
	TS_CHECK(store_test_int(db, "SELECT completed FROM runs WHERE run_id = 1", NULL) == 1);
	store_test_text(db, "SELECT trace_hash || ' ' || profile_hash FROM runs WHERE run_id = 1",
			text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "cbf29ce484222325 00000000000000ff"), "hashes %s", text);
	/* seed 0x8000000000000001 is stored as the int64 with the same bits */
	TS_CHECK(store_test_int(db, "SELECT seed FROM runs WHERE run_id = 1", NULL) == INT64_MIN + 1);
	store_test_text(db, "SELECT json_extract(summary, '$.sar') || ' ' || policy_params || ' ' ||"
			" ifnull(options, 'null') FROM runs WHERE run_id = 1", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "0.333 {\"round_steps\":5} null"), "run fields %s", text);
	TS_CHECK(store_test_int(db, "SELECT started_at <= ended_at AND ended_at GLOB "
				"'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z' FROM runs "
				"WHERE run_id = 1", NULL) == 1);

	TS_CHECK_NEAR(store_test_double(db, "SELECT arrival_s FROM request_results WHERE "
					"run_id = 1 AND request_id = 0"), 1.0, 1e-12);
	TS_CHECK_NEAR(store_test_double(db, "SELECT start_s FROM request_results WHERE "
					"run_id = 1 AND request_id = 0"), 1.25, 1e-12);
	TS_CHECK_NEAR(store_test_double(db, "SELECT finish_s FROM request_results WHERE "
					"run_id = 1 AND request_id = 0"), 3.0, 1e-12);
	TS_CHECK_NEAR(store_test_double(db, "SELECT deadline_s FROM request_results WHERE "
					"run_id = 1 AND request_id = 1"), 3.5, 1e-12);
	store_test_text(db, "SELECT group_concat(met_slo, ',') FROM (SELECT met_slo FROM "
			"request_results WHERE run_id = 1 ORDER BY request_id)", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "1,0,0"), "met_slo %s", text);
	TS_CHECK(store_test_int(db, "SELECT finish_s IS NULL AND start_s IS NULL FROM "
				"request_results WHERE run_id = 1 AND request_id = 2", NULL) == 1);
	TS_CHECK(store_test_int(db, "SELECT height * 10000 + width FROM request_results "
				"WHERE run_id = 1 AND request_id = 1", NULL) == 5121024);
}

static void check_segments(const char *db)
{
	char text[256];
	store_test_text(db, "SELECT kind || ' ' || gpu_list || ' ' || degree || ' ' || first_step ||"
			" ' ' || nsteps FROM segments WHERE run_id = 1 ORDER BY start_ns LIMIT 1",
			text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "move 0,63 2 10 0"), "move segment %s", text);
	uint64_t mask = (uint64_t)store_test_int(db, "SELECT gpus FROM segments WHERE run_id = 1 "
						 "AND kind = 'move'", NULL);
	TS_CHECK(mask == (1ULL << 63 | 1));
	mask = (uint64_t)store_test_int(db, "SELECT gpus FROM segments WHERE run_id = 1 "
					"AND kind = 'steps'", NULL);
	TS_CHECK(mask == UINT64_MAX);
	TS_CHECK(store_test_int(db, "SELECT degree * 10 + batch FROM segments WHERE "
				"kind = 'steps'", NULL) == 642);
	store_test_text(db, "SELECT gpu_list FROM segments WHERE kind = 'steps'", text, sizeof(text));
	TS_CHECK(!strncmp(text, "0,1,2,3,", 8) && strstr(text, ",9,10,") &&
		 !strcmp(text + strlen(text) - 6, ",62,63"));
	TS_CHECK(store_test_int(db, "SELECT (gpus >> 63) & 1 FROM segments WHERE kind = 'move'",
				NULL) == 1);
	TS_CHECK_NEAR(store_test_double(db, "SELECT duration_s FROM segment_times WHERE "
					"kind = 'steps'"), 1.4995, 1e-12);
	TS_CHECK_NEAR(store_test_double(db, "SELECT end_s FROM segment_times WHERE kind = 'move'"),
		      1.5005, 1e-12);
	TS_CHECK(store_test_int(db, "SELECT active * 100 + launched FROM rounds WHERE run_id = 1",
				NULL) == 302);
	TS_CHECK(store_test_int(db, "SELECT plan_wall_ns FROM rounds WHERE run_id = 1", NULL) ==
		 12345);
}

/* Run 2's segments: request i ran on GPUs {i % 64, 63}. */
static void check_many_segments(const char *db)
{
	char text[64];
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM segments WHERE run_id = 2", NULL) == 10000);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM segments WHERE run_id = 2 AND "
				"gpu_list LIKE '%63' AND gpus < 0", NULL) == 10000);
	TS_CHECK(store_test_int(db, "SELECT sum(degree) FROM segments WHERE run_id = 2", NULL) ==
		 2 * 10000 - 156); /* 156 requests have i % 64 == 63: one GPU */
	store_test_text(db, "SELECT gpu_list || ' ' || degree FROM segments WHERE run_id = 2 AND "
			"request_id = 9990", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "6,63 2"), "segment 9990: %s", text);
	store_test_text(db, "SELECT gpu_list || ' ' || degree FROM segments WHERE run_id = 2 AND "
			"request_id = 127", text, sizeof(text));
	TS_CHECK_MSG(!strcmp(text, "63 1"), "segment 127: %s", text);
	uint64_t mask = (uint64_t)store_test_int(db, "SELECT gpus FROM segments WHERE run_id = 2 "
						 "AND request_id = 5000", NULL);
	TS_CHECK(mask == (1ULL << (5000 % 64) | 1ULL << 63));
}

/* Run 2 in a second session of the same file: the id increases and the
 * rows of run 1 are untouched. */
static void write_second_run(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	struct ts_run_info info = run_info;
	info.policy = "fixed-sp:2";
	info.policy_params = NULL;
	int64_t run = 0;
	TS_CHECK(ts_store_run_begin(s, &info, &run, &err) == TS_OK);
	TS_CHECK(run == 2);
	for (int i = 0; i < 10000; i++) {
		struct ts_request r = make_request(i, i * 0.1, 2.0);
		TS_CHECK(ts_store_request(s, &r, r.arrival, r.arrival + ts_ns_from_s(i % 2 ? 1.0 : 3.0),
					  -1, &err) == TS_OK);
		struct ts_segment seg = { .request_id = i, .gpus = 1ULL << (i % 64) | 1ULL << 63,
					  .nsteps = 50, .batch = 1, .kind = TS_SEG_STEPS,
					  .start = r.arrival, .end = r.arrival + 1 };
		TS_CHECK(ts_store_segment(s, &seg, &err) == TS_OK);
	}
	TS_CHECK(ts_store_run_end(s, NULL, &err) == TS_OK);
	ts_store_close(s);

	TS_CHECK(store_test_int(db, "SELECT count(*) FROM runs", NULL) == 2);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM requests WHERE run_id = 2", NULL) == 10000);
	TS_CHECK(store_test_int(db, "SELECT sum(met_slo) FROM requests WHERE run_id = 2", NULL) == 5000);
	TS_CHECK(store_test_int(db, "SELECT count(*) FROM requests WHERE run_id = 1", NULL) == 3);
	TS_CHECK(store_test_int(db, "SELECT completed FROM runs WHERE run_id = 2", NULL) == 1);
	check_many_segments(db);
	bool is_null = false;
	store_test_int(db, "SELECT policy_params FROM runs WHERE run_id = 2", &is_null);
	TS_CHECK(is_null);
}

/* What a report reads back of run 1, worked out from its rows: GPU time
 * of the move (2 GPUs x 0.5 ms) and of the steps row of a batch of 2 (64
 * GPUs x 1.4995 s, halved: a batch writes one row per request), the last
 * end, one launch, one move, one round. */
static void check_totals(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_reader *r = NULL;
	struct ts_run_totals t;
	TS_CHECK_MSG(ts_reader_open(&r, db, &err) == 0, "%s", err.msg);
	if (!r)
		return;
	TS_CHECK_MSG(ts_reader_run_totals(r, 1, &t, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(t.busy_gpu_ns == 2 * 500000LL + 64 * 1499500000LL / 2, "busy GPU time %lld ns",
		     (long long)t.busy_gpu_ns);
	TS_CHECK(t.makespan == ts_ns_from_s(3.0) && t.launches == 1 && t.moves == 1 && t.rounds == 1);
	ts_reader_close(r);
}

int main(void)
{
	char dir[512], db[600];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;

	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/results.db", dir);
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == TS_OK, "%s", err.msg);
	if (s) {
		TS_CHECK(write_first_run(s) == 1);
		ts_store_close(s);
		check_schema(db);
		check_first_run(db);
		check_segments(db);
		check_totals(db);
		write_second_run(db);
	}
	store_test_rmdir(dir);
	return ts_test_result("test_store_runs");
}
