/* Run summaries: percentiles, SAR per resolution, unfinished requests, JSON. */
#include <stdlib.h>
#include <string.h>

#include "report/summary.h"
#include "test_util.h"

static void test_percentile(void)
{
	double v[] = { 1, 2, 3, 4, 5 };
	TS_CHECK_NEAR(ts_percentile_sorted(v, 5, 0), 1, 1e-12);
	TS_CHECK_NEAR(ts_percentile_sorted(v, 5, 50), 3, 1e-12);
	TS_CHECK_NEAR(ts_percentile_sorted(v, 5, 95), 4.8, 1e-12); /* numpy: 4.8 */
	TS_CHECK_NEAR(ts_percentile_sorted(v, 5, 100), 5, 1e-12);
	TS_CHECK_NEAR(ts_percentile_sorted(v, 1, 99), 1, 1e-12);
	TS_CHECK(isnan(ts_percentile_sorted(v, 0, 50)));
}

static void test_summary(void)
{
	struct ts_request req[4] = {
		{ .id = 0, .arrival = 0, .deadline = 10, .height = 512, .width = 512 },
		{ .id = 1, .arrival = 0, .deadline = 10, .height = 256, .width = 256 },
		{ .id = 2, .arrival = 5, .deadline = 15, .height = 256, .width = 256 },
		{ .id = 3, .arrival = 5, .deadline = 15, .height = 512, .width = 512 },
	};
	struct ts_req_state st[4] = {
		{ .finish = 10 },  /* met exactly at the deadline */
		{ .finish = 11 },  /* one ns late */
		{ .finish = 7 },   /* met */
		{ .finish = -1 },  /* never finished */
	};
	struct ts_trace t = { .req = req, .n = 4 };
	struct ts_run_result res = { .st = st, .n = 4, .makespan = 20, .busy_gpu_ns = 30 };
	struct ts_summary s;
	struct ts_error err = { 0 };
	TS_CHECK(ts_summary_compute(&s, &t, &res, 2, &err) == 0);
	TS_CHECK(s.requests == 4 && s.finished == 3 && s.met == 2);
	TS_CHECK_NEAR(s.sar, 0.5, 1e-12);
	TS_CHECK(s.nres == 2 && s.res[0].height == 256 && s.res[1].height == 512);
	TS_CHECK_NEAR(s.res[0].sar, 0.5, 1e-12);
	TS_CHECK_NEAR(s.res[1].sar, 0.5, 1e-12);
	TS_CHECK_NEAR(s.gpu_util, 30.0 / 40.0, 1e-12);
	TS_CHECK_NEAR(s.lat_p50_s, 10e-9, 1e-15); /* latencies 2, 10, 11 ns */
	/* linear between ranks, as numpy: p95 at rank 0.95 x 2 = 1.9, p99 at 1.98 */
	TS_CHECK_NEAR(s.lat_p95_s, 10.9e-9, 1e-15);
	TS_CHECK_NEAR(s.lat_p99_s, 10.98e-9, 1e-15);
	TS_CHECK_NEAR(s.lat_mean_s, 23e-9 / 3, 1e-15); /* over the 3 that finished */
	char *text = ts_json_text(ts_summary_to_json(&s, "p \"quoted\""));
	TS_CHECK(text && strstr(text, "\"sar\":0.5,") && strstr(text, "\"256x256\"") &&
		 strstr(text, "\"policy\":\"p \\\"quoted\\\"\""));
	free(text);
	s.finished = 0;
	s.lat_p50_s = NAN;
	text = ts_json_text(ts_summary_to_json(&s, NULL));
	TS_CHECK(text && strstr(text, "\"p50\":null") && strstr(text, "\"policy\":null"));
	free(text);
}

int main(void)
{
	test_percentile();
	test_summary();
	return ts_test_result("summary");
}
