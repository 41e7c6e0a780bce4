/* bench_store: insert rate of the results store. Writes one run of
 * 1,000,000 requests and 1,000,000 segments (the target: well under 3 s)
 * to a scratch file and prints rows per second. Usage: bench_store [rows]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store/store.h"
#include "store_test_db.h"

/* Seconds on clock (CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID
 * for CPU time, which other processes on a busy machine do not inflate). */
static double clock_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Requests arrive every 100 ms; each gets one segment on a rotating GPU set. */
static int write_rows(struct ts_store *s, long rows, struct ts_error *err)
{
	for (long i = 0; i < rows; i++) {
		struct ts_request r = { .id = i, .arrival = i * 100 * TS_NS_PER_MS,
					.height = 1024, .width = 1024, .steps = 50 };
		r.deadline = r.arrival + 3 * TS_NS_PER_S;
		struct ts_segment seg = { .request_id = i, .gpus = 0xfULL << (4 * (i % 16)),
					  .nsteps = 50, .batch = 1, .kind = TS_SEG_STEPS,
					  .start = r.arrival, .end = r.arrival + 2 * TS_NS_PER_S };
		int ret = ts_store_segment(s, &seg, err);
		if (!ret)
			ret = ts_store_request(s, &r, seg.start, seg.end, -1, err);
		if (ret)
			return ret;
	}
	return TS_OK;
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 1000000;
	char dir[512], path[600];
	struct ts_error err = { 0 };
	struct ts_store *s = NULL;
	struct ts_run_info info = { .backend = "sim", .policy = "bench", .gpus = 64 };
	int ret;

	store_test_mkdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/bench.db", dir);
	double t0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	ret = ts_store_open(&s, path, &err);
	if (!ret)
		ret = ts_store_run_begin(s, &info, NULL, &err);
	if (!ret)
		ret = write_rows(s, rows, &err);
	if (!ret)
		ret = ts_store_run_end(s, "{}", &err);
	ts_store_close(s);
	double t1 = clock_s(CLOCK_MONOTONIC), cpu1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	store_test_rmdir(dir);
	if (ret) {
		fprintf(stderr, "bench_store: %s\n", err.msg);
		return 1;
	}
	printf("bench_store: %ld requests + %ld segments in %.3f s wall, %.3f s CPU "
	       "(open to close): %.0f rows/s wall, %.0f rows/s CPU\n", rows, rows, t1 - t0,
	       cpu1 - cpu0, 2.0 * rows / (t1 - t0), 2.0 * rows / (cpu1 - cpu0));
	return 0;
}
