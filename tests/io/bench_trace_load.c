/* bench_trace_load.c: loads a 1,000,000-request trace (written by
 * ts_trace_write from the generator) and fails if the best of three loads
 * takes one second or more. Prints load and write times. */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/trace.h"
#include "io/tracegen.h"
#include "io_fixture.h"
#include "test_util.h"

#define BENCH_ROWS 1000000L

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Generates the benchmark trace (Poisson, uniform mix, with a model column)
 * into path; returns the seconds ts_trace_write took, or -1. */
static double write_bench_trace(const char *path)
{
	struct ts_error err = { 0 };
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = BENCH_ROWS;
	o.model = "flux-dev";
	struct ts_trace t;
	if (ts_tracegen(&t, &o, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	FILE *f = fopen(path, "w");
	double t0 = now_s();
	int rc = f ? ts_trace_write(&t, f, &err) : TS_EIO;
	double dt = now_s() - t0;
	if (f)
		fclose(f);
	ts_trace_free(&t);
	return rc ? -1 : dt;
}

int main(void)
{
	const char *path = io_temp_path("bench_1m.csv");
	double write_s = write_bench_trace(path);
	TS_CHECK(write_s >= 0);
	struct stat st;
	double mib = stat(path, &st) == 0 ? (double)st.st_size / (1 << 20) : 0;
	double best = 1e9;
	for (int rep = 0; rep < 3 && write_s >= 0; rep++) {
		struct ts_error err = { 0 };
		struct ts_trace t;
		double t0 = now_s();
		int rc = ts_trace_load(&t, path, &err);
		double dt = now_s() - t0;
		TS_CHECK_MSG(rc == 0, "%s", err.msg);
		TS_CHECK(rc || t.n == (size_t)BENCH_ROWS);
		if (!rc)
			ts_trace_free(&t);
		if (dt < best)
			best = dt;
	}
	printf("trace of %ld rows, %.1f MiB: load %.3f s (best of 3, %.0f MiB/s), write %.3f s\n",
	       BENCH_ROWS, mib, best, mib / best, write_s);
	TS_CHECK_MSG(best < 1.0, "loading took %.3f s", best);
	io_fixture_cleanup();
	return ts_test_result("bench_trace_load");
}
