/* cmd_timeline.c: `tetriserve timeline` — a run's segments as Chrome
 * trace-event JSON (viewable in Perfetto or chrome://tracing): one track per
 * GPU, one slice per segment on each GPU of its set, labelled with request,
 * resolution and degree. Works for sim and exec runs alike. */
#include "cli/cmd_timeline.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_util.h"
#include "report/run_reader.h"

static const char segments_sql[] =
	"SELECT s.request_id, s.kind, s.gpus, s.degree, s.first_step, s.nsteps, s.batch, s.start_ns,"
	" s.end_ns, r.height, r.width FROM segments s LEFT JOIN requests r"
	" ON r.run_id = s.run_id AND r.request_id = s.request_id"
	" WHERE s.run_id = ?1 ORDER BY s.start_ns, s.request_id";

static void print_track_names(FILE *f, int gpus)
{
	for (int g = 0; g < gpus; g++)
		fprintf(f, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"GPU %d\"}}",
			g ? ",\n" : "", g, g);
}

/* One complete event ("ph":"X") per GPU of the segment; times in us. */
static void print_segment(FILE *f, sqlite3_stmt *st, int gpus)
{
	long long req = sqlite3_column_int64(st, 0);
	const char *kind = (const char *)sqlite3_column_text(st, 1);
	uint64_t mask = (uint64_t)sqlite3_column_int64(st, 2);
	int degree = sqlite3_column_int(st, 3), first = sqlite3_column_int(st, 4);
	int nsteps = sqlite3_column_int(st, 5), batch = sqlite3_column_int(st, 6);
	double start_us = (double)sqlite3_column_int64(st, 7) / 1e3;
	double dur_us = (double)(sqlite3_column_int64(st, 8) - sqlite3_column_int64(st, 7)) / 1e3;
	int h = sqlite3_column_int(st, 9), w = sqlite3_column_int(st, 10);
	for (int g = 0; g < gpus && g < 64; g++) {
		if (!(mask >> g & 1))
			continue;
		fprintf(f,
			",\n{\"name\":\"r%lld %dx%d sp%d%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,"
			"\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"request\":%lld,\"steps\":\"%d-%d\",\"batch\":%d}}",
			req, h, w, degree, kind[0] == 'm' ? " move" : "", kind, g, start_us, dur_us, req,
			first, first + nsteps - 1, batch);
	}
}

static int write_timeline(sqlite3 *db, const char *path, int64_t run, struct ts_error *err)
{
	struct ts_stored_run r;
	int rc = ts_reader_load(db, path, run, &r, err);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, segments_sql, -1, &st, NULL) != SQLITE_OK)
		return ts_err_set(err, TS_EIO, "%s: reading segments: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, run);
	printf("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"run\":%lld,\"backend\":\"%s\",\"policy\":\"%s\"},\n"
	       "\"traceEvents\":[\n", (long long)run, r.backend, r.policy);
	print_track_names(stdout, r.gpus);
	while (sqlite3_step(st) == SQLITE_ROW)
		print_segment(stdout, st, r.gpus);
	printf("\n]}\n");
	sqlite3_finalize(st);
	return 0;
}

int ts_cmd_timeline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' }, { "run", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },     { NULL, 0, NULL, 0 },
	};
	const char *db_path = NULL;
	long long run = 0;
	struct ts_error err = { 0 };
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd') {
			db_path = optarg;
		} else if (opt == 'r') {
			if (ts_cli_parse_int(optarg, 1, INT64_MAX, &run, "--run", &err)) {
				fprintf(stderr, "tetriserve timeline: %s\n", err.msg);
				return 2;
			}
		} else if (opt == 'h') {
			printf("usage: tetriserve timeline --db F --run R > trace.json\n"
			       "Writes run R's segments as Chrome trace-event JSON (open it in Perfetto):\n"
			       "one track per GPU, one slice per segment, labelled request, resolution, degree.\n");
			return 0;
		} else {
			return ts_cli_bad_option("tetriserve timeline", argv);
		}
	}
	if (!db_path || run == 0) {
		fprintf(stderr, "tetriserve timeline: --db and --run are required (see --help)\n");
		return 2;
	}
	sqlite3 *db = NULL;
	int rc = ts_reader_open(&db, db_path, &err);
	if (!rc)
		rc = write_timeline(db, db_path, run, &err);
	sqlite3_close(db);
	if (rc) {
		fprintf(stderr, "tetriserve timeline: %s\n", err.msg);
		return 1;
	}
	return 0;
}
