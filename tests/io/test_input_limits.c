/* test_input_limits.c: inputs that the loaders accept but whose times, or
 * sizes, tetriserve cannot represent are refused with the row named:
 *  - one request's steps at its slowest cell past TS_TIME_MAX (the issue's
 *    profile row m,g,256,256,1,1e9 and a request of 10,000 steps);
 *  - a trace whose requests one after another pass it (scaled by the GPUs);
 *  - an --interpolate estimate outside the step times a row may hold (256^2
 *    1 ms and 512^2 10^6 ms extrapolate 1024^2 to 10^12 ms);
 *  - a cv above 10;
 *  - a file with a NUL byte (as /dev/zero: not read on), a directory;
 *  - tens of thousands of model or GPU names: the right answer (the time is
 *    measured in tests/perf/bench_inputs.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/classes.h"
#include "io/profile.h"
#include "io/trace.h"
#include "io_fixture.h"
#include "test_util.h"

static const char header[] = "model,gpu,height,width,sp,step_ms,cv\n";

/* Loads trace and profile texts and builds the classes for `gpus` GPUs;
 * returns build's code, err filled. */
static int build(const char *trace_text, const char *profile_text, int gpus, bool interpolate,
		 struct ts_error *err)
{
	struct ts_trace t;
	struct ts_profile p;
	struct ts_classes cs;
	struct ts_classes_opts o = { .max_degree = gpus, .interpolate = interpolate };
	int rc = ts_trace_load(&t, io_temp_file("t.csv", trace_text), err);
	if (rc)
		return rc;
	rc = ts_profile_load(&p, io_temp_file("p.csv", profile_text), err);
	if (!rc) {
		rc = ts_classes_build(&cs, &t, &p, &o, err);
		if (!rc)
			ts_classes_free(&cs);
		ts_profile_free(&p);
	}
	ts_trace_free(&t);
	return rc;
}

static void test_time_bounds(void)
{
	struct ts_error err = { 0 };
	char prof[256];

	snprintf(prof, sizeof(prof), "%sm,g,256,256,1,1e9,0\n", header);
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n3,0,256,256,10000,1\n", prof, 1,
		       false, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "request_id 3") && strstr(err.msg, "10000 steps") &&
		     strstr(err.msg, "73 years"), "%s", err.msg);
	/* 1,000 steps of 10^6 s: 31.7 years, fine alone; three of them are not */
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,1000,1\n", prof, 1,
		       false, &err) == 0);
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,1000,1\n"
		       "1,0,256,256,1000,1\n2,0,256,256,1000,1\n", prof, 1, false, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "request_id 2") && strstr(err.msg, "on 1 GPUs"), "%s", err.msg);
	/* on 64 GPUs the span is 2^62 / 64 ns (2.3 years): one of them is refused */
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,1000,1\n", prof, 64,
		       false, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "on 64 GPUs"), "%s", err.msg);
	/* the bundled scale: a million 50-step requests fit */
	snprintf(prof, sizeof(prof), "%sm,g,256,256,1,717,0\n", header);
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,5e6,256,256,50,1\n", prof, 64,
		       false, &err) == 0);
}

static void test_interpolation_range(void)
{
	struct ts_error err = { 0 };
	char prof[256];

	snprintf(prof, sizeof(prof), "%sm,g,256,256,1,1,0\nm,g,512,512,1,1e6,0\n", header);
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,1024,1024,50,1\n", prof, 1,
		       true, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "1024x1024 sp 1") && strstr(err.msg, "1e+12 ms"), "%s", err.msg);
	/* between the two: fine */
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,384,384,50,1\n", prof, 1,
		       true, &err) == 0);
}

static void test_profile_limits(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	char prof[256];

	snprintf(prof, sizeof(prof), "%sm,g,256,256,1,10,1e308\n", header);
	TS_CHECK(ts_profile_load(&p, io_temp_file("cv.csv", prof), &err) == TS_EPARSE);
	TS_CHECK_MSG(strstr(err.msg, ":2:") && strstr(err.msg, "cv") && strstr(err.msg, "at most 10"),
		     "%s", err.msg);
	snprintf(prof, sizeof(prof), "%sm,g,256,256,1,10,10\n", header);
	TS_CHECK(ts_profile_load(&p, io_temp_file("cv10.csv", prof), &err) == 0);
	ts_profile_free(&p);
}

static void test_not_text(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_path("nul.csv");
	FILE *f = fopen(path, "wb");
	fputs("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,50,1\n", f);
	fputc('\0', f);
	fclose(f);
	TS_CHECK(ts_trace_load(&t, path, &err) == TS_EPARSE);
	TS_CHECK_MSG(strstr(err.msg, ":3:") && strstr(err.msg, "NUL byte"), "%s", err.msg);
	TS_CHECK(ts_trace_load(&t, "/dev/zero", &err) == TS_EPARSE);
	TS_CHECK_MSG(strstr(err.msg, "/dev/zero:1:") && strstr(err.msg, "NUL"), "%s", err.msg);
	const char *dir = io_temp_path("adir");
	TS_CHECK(mkdir(dir, 0700) == 0);
	TS_CHECK(ts_trace_load(&t, dir, &err) == TS_EIO);
	TS_CHECK_MSG(strstr(err.msg, "is a directory"), "%s", err.msg);
}

/* 40,000 distinct models in a trace (the profile has one: the first is
 * named), and 40,000 GPU names in a profile (all are counted). */
static void test_many_names(void)
{
	struct ts_error err = { 0 };
	size_t cap = 40000 * 48 + 256, n;
	char *text = malloc(cap);

	n = (size_t)snprintf(text, cap, "request_id,arrival_s,height,width,steps,slo_s,model\n");
	for (int i = 0; i < 40000; i++)
		n += (size_t)snprintf(text + n, cap - n, "%d,%d,256,256,50,1,m%d\n", i, i, 40000 - i);
	TS_CHECK(build(text, "model,gpu,height,width,sp,step_ms\nm1,g,256,256,1,20\n", 1, false,
		       &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "model 'm40000' is not in profile") &&
		     strstr(err.msg, "(models: m1)"), "%s", err.msg);
	n = (size_t)snprintf(text, cap, "model,gpu,height,width,sp,step_ms\n");
	for (int i = 0; i < 40000; i++)
		n += (size_t)snprintf(text + n, cap - n, "m,g%d,256,256,1,20\n", 40000 - i);
	TS_CHECK(build("request_id,arrival_s,height,width,steps,slo_s\n0,0,256,256,50,1\n", text, 1,
		       false, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "several GPUs (g40000, g39999, "), "%s", err.msg);
	free(text);
}

int main(void)
{
	test_time_bounds();
	test_interpolation_range();
	test_profile_limits();
	test_not_text();
	test_many_names();
	io_fixture_cleanup();
	return ts_test_result("test_input_limits");
}
