/* test_cmd_trace.c: `tetriserve trace gen` called through ts_cmd_trace():
 * exit statuses, the output file, and the provenance line that reproduces it. */
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_trace.h"
#include "io/trace.h"
#include "io/tracegen.h"
#include "io_fixture.h"
#include "test_util.h"

#define MAX_ARGS 64

/* Runs ts_cmd_trace on a NULL-terminated list of arguments. */
static int run_args(const char *const *args)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	while (args[argc] && argc < MAX_ARGS) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	return ts_cmd_trace(argc, argv);
}

static void test_exit_statuses(void)
{
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--help", NULL }) == 0);
	TS_CHECK(run_args((const char *[]){ "trace", "--help", NULL }) == 0);
	TS_CHECK(run_args((const char *[]){ "trace", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "frobnicate", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--bogus", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "stray", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--rate", NULL }) == 2);
	static const char *const bad[][2] = {
		{ "--rate", "-3" }, { "--rate", "fast" }, { "--arrivals", "weibull" },
		{ "--cv", "0" }, { "--mix", "zipf" }, { "--res", "250" }, { "--res", "256x" },
		{ "--res", "" }, { "--steps", "0" }, { "--count", "1.5" }, { "--duration", "-1" },
		{ "--seed", "-1" }, { "--slo-scale", "0" }, { "--weights", "1,x" },
		{ "--on-s", "0" }, { "--alpha", "1e9" },
	};
	const char *out = io_temp_path("never.csv");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TS_CHECK_MSG(run_args((const char *[]){ "trace", "gen", bad[i][0], bad[i][1], "--out",
							out, NULL }) == 2,
			     "%s %s", bad[i][0], bad[i][1]);
	/* combinations checked after parsing */
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--count", "3", "--duration", "9",
					    NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--mix", "weights", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--weights", "1,2", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--mix", "uniform", "--weights",
					    "1,2,3,4", NULL }) == 2);
	TS_CHECK(access(out, F_OK) != 0); /* bad usage writes nothing */
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--count", "2", "--out",
					    "/nonexistent-dir/x.csv", NULL }) == 1);
}

/* Text after "# tetriserve " on the first line, split at spaces into argv. */
static int provenance_args(char *text, char **argv, int max)
{
	static const char prefix[] = "# tetriserve ";
	if (strncmp(text, prefix, strlen(prefix)) != 0)
		return 0;
	char *line = text + strlen(prefix);
	line[strcspn(line, "\n")] = '\0';
	int argc = 0;
	for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && argc < max;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	return argc;
}

/* The file loads, and rerunning its first line makes the same bytes. */
static void check_reproducible(const char *path, size_t want_n)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	int rc = ts_trace_load(&t, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	TS_CHECK_MSG(rc || t.n == want_n, "%zu requests", t.n);
	if (!rc)
		ts_trace_free(&t);
	char *first = io_slurp(path, NULL);
	TS_CHECK(first != NULL);
	if (!first)
		return;
	char copy_text[4096];
	snprintf(copy_text, sizeof(copy_text), "%s", first);
	char *argv[MAX_ARGS + 1];
	int argc = provenance_args(copy_text, argv, MAX_ARGS - 2);
	TS_CHECK_MSG(argc >= 2 && !strcmp(argv[0], "trace") && !strcmp(argv[1], "gen"),
		     "first line: %.80s", first);
	const char *again = io_temp_path("again.csv");
	argv[argc++] = "--out";
	argv[argc++] = (char *)again;
	argv[argc] = NULL;
	TS_CHECK(argc > 2 && ts_cmd_trace(argc, argv) == 0);
	char *second = io_slurp(again, NULL);
	TS_CHECK_MSG(second && !strcmp(first, second), "rerun of the provenance line differs");
	free(second);
	free(first);
}

static void test_generate_and_reproduce(void)
{
	const char *out = io_temp_path("gen1.csv");
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--rate", "12", "--mix", "uniform",
					    "--count", "300", "--seed", "1", "--out", out,
					    NULL }) == 0);
	check_reproducible(out, 300);

	out = io_temp_path("gen2.csv");
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--arrivals", "onoff", "--on-s", "7.5",
					    "--off-s", "0.1", "--rate", "33.3", "--weights",
					    "0.1,2,3", "--res", "256,512x768,1024", "--steps", "28",
					    "--slo-scale", "1.25", "--duration", "600", "--seed",
					    "42", "--model", "sd3", "--out", out, NULL }) == 0);
	struct ts_error err = { 0 };
	struct ts_trace t;
	TS_CHECK_MSG(ts_trace_load(&t, out, &err) == 0, "%s", err.msg);
	TS_CHECK(t.n > 100 && t.nmodels == 1 && !strcmp(t.models[0], "sd3"));
	for (size_t i = 0; i < t.n; i++)
		TS_CHECK(t.req[i].steps == 28 && t.req[i].arrival < 600 * TS_NS_PER_S);
	size_t n = t.n;
	ts_trace_free(&t);
	check_reproducible(out, n);
}

/* The command writes what the library generates for the same options. */
static void test_matches_library(void)
{
	const char *out = io_temp_path("gen3.csv");
	TS_CHECK(run_args((const char *[]){ "trace", "gen", "--arrivals", "gamma", "--cv", "3",
					    "--count", "300", "--seed", "3", "--out", out,
					    NULL }) == 0);
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.arrivals = TS_ARR_GAMMA;
	o.cv = 3;
	o.count = 300;
	o.seed = 3;
	struct ts_error err = { 0 };
	struct ts_trace want, got;
	TS_CHECK(ts_tracegen(&want, &o, &err) == 0);
	TS_CHECK_MSG(ts_trace_load(&got, out, &err) == 0, "%s", err.msg);
	TS_CHECK(want.n == got.n);
	for (size_t i = 0; i < want.n && i < got.n; i++)
		TS_CHECK(want.req[i].arrival == got.req[i].arrival &&
			 want.req[i].height == got.req[i].height && want.req[i].slo == got.req[i].slo);
	ts_trace_free(&want);
	ts_trace_free(&got);
}

/* Runs ts_cmd_trace with stdout sent to the file out; returns the status. */
static int run_to_file(const char *const *args, const char *out)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *f = fopen(out, "w");
	if (saved < 0 || !f)
		return -1;
	dup2(fileno(f), STDOUT_FILENO);
	int rc = run_args(args);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(f);
	return rc;
}

/* `trace stats` prints counts, shares and SLO ranges of a known trace, and
 * fails with status 1 on a malformed one. */
static void test_stats(void)
{
	const char *trace = io_temp_file("stats.csv",
					 "request_id,arrival_s,height,width,steps,slo_s,model\n"
					 "0,0,256,256,50,1.5,flux\n"
					 "1,10,1024,1024,30,3,flux\n"
					 "2,20,256,256,50,1.8,sd3\n"
					 "3,30,256,256,20,1.5,flux\n");
	const char *out = io_temp_path("stats.txt");
	TS_CHECK(run_to_file((const char *[]){ "trace", "stats", trace, NULL }, out) == 0);
	char *text = io_slurp(out, NULL);
	static const char *const want[] = {
		"requests: 4, arrivals 0.000 .. 30.000 s, 6.000 per minute, inter-arrival CV 0.000",
		"256x256              3  75.00%   40.0  1.500 .. 1.800",
		"1024x1024            1  25.00%   30.0  3.000 .. 3.000",
		"models: flux 3, sd3 1",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		TS_CHECK_MSG(text && strstr(text, want[i]), "'%s' not in:\n%s", want[i],
			     text ? text : "(no output)");
	free(text);
	const char *bad = io_temp_file("stats_bad.csv", "request_id,arrival_s\n");
	TS_CHECK(run_to_file((const char *[]){ "trace", "stats", bad, NULL }, out) == 1);
	TS_CHECK(run_args((const char *[]){ "trace", "stats", NULL }) == 2);
	TS_CHECK(run_args((const char *[]){ "trace", "stats", trace, "extra", NULL }) == 2);
}

/* Each bundled trace named on the command line is regenerated byte for byte
 * by its own first line. */
static void test_bundled_traces(int n, char **paths)
{
	static const size_t want_n[] = { 300, 20, 300, 300 }; /* default, small, skewed, bursty */
	TS_CHECK(n == 4);
	for (int i = 0; i < n && i < 4; i++)
		check_reproducible(paths[i], want_n[i]);
}

int main(int argc, char **argv)
{
	test_exit_statuses();
	test_generate_and_reproduce();
	test_matches_library();
	test_stats();
	test_bundled_traces(argc - 1, argv + 1);
	io_fixture_cleanup();
	return ts_test_result("test_cmd_trace");
}
