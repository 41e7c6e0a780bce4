/* test_store_profile_cli: a results file that holds a profile run next to a
 * sim run: `tetriserve report` lists both (the profile run with no
 * requests: SAR and latencies empty, never a crash), and `tetriserve
 * regress --record` records only the sim run. */
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_cmd.h"
#include "cli/cmd_report.h"
#include "io/classes.h"
#include "io/profile.h"
#include "store/store.h"
#include "store_test_db.h"
#include "test_util.h"

/* Run 1: a sim run of two requests (one met); run 2: a profile run of one cell. */
static void write_runs(const char *db)
{
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	const struct ts_run_info sim = { .backend = "sim", .policy = "rssp", .trace_name = "t.csv",
					 .gpus = 4, .seed = 1 };
	const struct ts_run_info prof = { .backend = "profile", .policy = "profile", .gpus = 4 };
	const struct ts_profile_row cell = { .model = "flux-dev", .gpu = "H200", .height = 512,
					     .width = 512, .sp = 4, .batch = 1, .step_ms = 9.5,
					     .p50_ms = 9.4, .p99_ms = 9.9, .cv = 0.01, .samples = 10 };
	struct ts_request r = { .id = 0, .arrival = 0, .deadline = 1000, .height = 256,
				.width = 256, .steps = 50 };
	struct ts_segment seg = { .request_id = 0, .gpus = 1, .nsteps = 50, .batch = 1,
				  .start = 0, .end = 500 };
	TS_CHECK_MSG(ts_store_open(&s, db, &err) == TS_OK, "%s", err.msg);
	if (!s)
		return;
	TS_CHECK(ts_store_run_begin(s, &sim, NULL, &err) == TS_OK);
	TS_CHECK(ts_store_request(s, &r, 0, 500, -1, &err) == TS_OK);
	TS_CHECK(ts_store_segment(s, &seg, &err) == TS_OK);
	r.id = 1;
	TS_CHECK(ts_store_request(s, &r, -1, -1, -1, &err) == TS_OK);
	TS_CHECK(ts_store_run_end(s, "{\"requests\":2,\"met\":1,\"sar\":0.5}", &err) == TS_OK);
	TS_CHECK(ts_store_run_begin(s, &prof, NULL, &err) == TS_OK);
	TS_CHECK(ts_store_profile_cell(s, &cell, 20.0, &err) == TS_OK);
	TS_CHECK_MSG(ts_store_run_end(s, NULL, &err) == TS_OK, "%s", err.msg);
	ts_store_close(s);
}

/* Runs cmd with its stdout going to the file out; returns its exit status. */
static int run_to_file(int (*cmd)(int, char **), int argc, const char **argv, const char *out)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || fd < 0) {
		perror(out);
		exit(1);
	}
	dup2(fd, STDOUT_FILENO);
	close(fd);
	int status = cmd(argc, (char **)argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return status;
}

/* The whole file at path into buf (size bytes), NUL-terminated. */
static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Evaluates sql with ?1 bound to text on an in-memory database, as an integer. */
static int64_t json_query(const char *sql, const char *text)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = INT64_MIN;
	if (sqlite3_open(":memory:", &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void check_report(const char *db, const char *out)
{
	static char text[16384];
	const char *table[] = { "report", "--db", db };
	TS_CHECK(run_to_file(ts_cmd_report, 3, table, out) == 0);
	read_file(out, text, sizeof(text));
	TS_CHECK_MSG(strstr(text, "   1 sim     rssp") &&
		     strstr(text, "   2 profile profile                   4      0      0      0      -"
			    "             -        -        -        -      -       yes\n"),
		     "report:\n%s", text);

	const char *json[] = { "report", "--db", db, "--format", "json" };
	TS_CHECK(run_to_file(ts_cmd_report, 5, json, out) == 0);
	read_file(out, text, sizeof(text));
	TS_CHECK_MSG(json_query("SELECT json_valid(?1)", text) == 1, "json: %s", text);
	TS_CHECK(json_query("SELECT json_array_length(?1)", text) == 2);
	TS_CHECK(json_query("SELECT json_extract(?1, '$[1].backend') = 'profile' AND "
			    "json_extract(?1, '$[1].requests') = 0 AND "
			    "json_type(?1, '$[1].sar') = 'null'", text) == 1);
	TS_CHECK(json_query("SELECT json_extract(?1, '$[0].sar') * 10", text) == 5);

	const char *one[] = { "report", "--db", db, "--run", "2", "--format", "csv" };
	TS_CHECK(run_to_file(ts_cmd_report, 7, one, out) == 0);
	read_file(out, text, sizeof(text));
	TS_CHECK_MSG(strstr(text, "\n2,profile,profile,4,0,0,0,-,-,-,-,-,yes\n") != NULL, "csv: %s", text);
}

static void check_regress_record(const char *db, const char *baseline, const char *out)
{
	static char text[16384];
	const char *argv[] = { "regress", "--db", db, "--baseline", baseline, "--record" };
	TS_CHECK(run_to_file(ts_cmd_regress, 6, argv, out) == 0);
	read_file(baseline, text, sizeof(text));
	TS_CHECK_MSG(json_query("SELECT json_array_length(?1, '$.configs')", text) == 1,
		     "baseline: %s", text);
	TS_CHECK(json_query("SELECT json_extract(?1, '$.configs[0].policy') = 'rssp'", text) == 1);
}

int main(void)
{
	char dir[512], db[600], out[600], baseline[600];
	store_test_mkdir(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/results.db", dir);
	snprintf(out, sizeof(out), "%s/stdout.txt", dir);
	snprintf(baseline, sizeof(baseline), "%s/baseline.json", dir);
	write_runs(db);
	check_report(db, out);
	check_regress_record(db, baseline, out);
	store_test_rmdir(dir);
	return ts_test_result("test_store_profile_cli");
}
