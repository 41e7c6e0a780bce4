/* test_trace.c: the trace CSV reader and writer (common/io/trace.c, csv.c). */
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"
#include "io/trace.h"
#include "io/tracegen.h"
#include "io_fixture.h"
#include "test_util.h"

static void test_fnv1a64_vectors(void)
{
	/* Reference values of the FNV-1a 64 specification. */
	TS_CHECK(ts_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	TS_CHECK(ts_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	TS_CHECK(ts_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

/* Columns out of order, an extra column, comments, blank lines, CRLF, spaces,
 * out-of-order arrivals with a tie (stable sort), model and seed columns. */
static const char good_trace[] =
	"# a comment before the header\n"
	"\n"
	"width, request_id ,note,height,steps,arrival_s,slo_s,model,seed\r\n"
	"512,10,hello,256,50,2.5,1.5,flux,99\r\n"
	"  # indented comment\n"
	"1024,11,x,1024,30,0.000000001,3,sd3,7\n"
	"\n"
	"256,12,,256,1,2.5,2.000000005,flux,18446744073709551615\n"
	"2048,13,y,2048,50,1e-3,5,flux,0\n"
	"16,-9223372036854775808,,16,1,9,1,flux,1\n";

static void test_good_trace(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_file("good.csv", good_trace);
	int rc = ts_trace_load(&t, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	TS_CHECK(t.n == 5);
	TS_CHECK(t.nmodels == 2);
	TS_CHECK(!strcmp(t.models[0], "flux") && !strcmp(t.models[1], "sd3"));
	TS_CHECK(!strcmp(t.path, path));
	TS_CHECK(t.hash == ts_fnv1a64(good_trace, strlen(good_trace)));
	/* sorted by arrival: 11 (1 ns), 13 (1 ms), 10 and 12 (2.5 s, file order) */
	TS_CHECK(t.req[0].id == 11 && t.req[1].id == 13);
	TS_CHECK(t.req[2].id == 10 && t.req[3].id == 12);
	TS_CHECK(t.req[0].arrival == 1);
	TS_CHECK(t.req[1].arrival == 1000000);
	TS_CHECK(t.req[2].arrival == 2500000000LL);
	TS_CHECK(t.req[2].height == 256 && t.req[2].width == 512);
	TS_CHECK(t.req[2].steps == 50 && t.req[2].slo == 1500000000LL);
	TS_CHECK(t.req[2].deadline == 4000000000LL);
	TS_CHECK(t.req[2].model == 0 && t.req[0].model == 1);
	TS_CHECK(t.req[2].seed == 99 && t.req[1].seed == 0);
	TS_CHECK(t.req[3].seed == 18446744073709551615ULL);
	TS_CHECK(t.req[3].slo == 2000000005LL);
	TS_CHECK(t.req[4].id == INT64_MIN && t.req[4].height == 16 && t.req[4].arrival == 9 * TS_NS_PER_S);
	TS_CHECK(t.req[0].cls == -1);
	ts_trace_free(&t);
	TS_CHECK(t.req == NULL && t.n == 0 && t.models == NULL);
}

static void test_defaults_without_optional_columns(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_file("plain.csv",
					"request_id,arrival_s,height,width,steps,slo_s\n"
					"5,0,256,256,50,1.5\n");
	TS_CHECK_MSG(ts_trace_load(&t, path, &err) == 0, "%s", err.msg);
	TS_CHECK(t.n == 1 && t.nmodels == 0);
	TS_CHECK(t.n == 1 && t.req[0].seed == 5 && t.req[0].model == 0);
	ts_trace_free(&t);

	path = io_temp_file("bom.csv", "\xEF\xBB\xBFrequest_id,arrival_s,height,width,steps,slo_s\n"
					"1,0,256,256,50,1.5\n");
	TS_CHECK_MSG(ts_trace_load(&t, path, &err) == 0, "byte order mark: %s", err.msg);
	ts_trace_free(&t);

	path = io_temp_file("header_only.csv", "request_id,arrival_s,height,width,steps,slo_s\n");
	TS_CHECK_MSG(ts_trace_load(&t, path, &err) == 0, "%s", err.msg);
	TS_CHECK(t.n == 0);
	ts_trace_free(&t);
}

/* Seconds parse exactly for plain decimals; rounding at the 10th decimal. */
static void test_seconds_parsing(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_file("seconds.csv",
					"request_id,arrival_s,height,width,steps,slo_s\n"
					"1,0.1,16,16,1,12.3456789015\n"
					"2,123456.123456789,16,16,1,12.3456789014\n"
					"3,1000000000,16,16,1,2.5e-1\n"); /* the largest time accepted */
	TS_CHECK_MSG(ts_trace_load(&t, path, &err) == 0, "%s", err.msg);
	if (t.n == 3) {
		TS_CHECK(t.req[0].arrival == 100000000LL);
		TS_CHECK(t.req[0].slo == 12345678902LL);
		TS_CHECK(t.req[1].arrival == 123456123456789LL);
		TS_CHECK(t.req[1].slo == 12345678901LL);
		TS_CHECK(t.req[2].arrival == 1000000000LL * TS_NS_PER_S);
		TS_CHECK(t.req[2].slo == 250000000LL);
	}
	ts_trace_free(&t);
}

#define HDR_TEXT "request_id,arrival_s,height,width,steps,slo_s\n"

/* A NUL byte inside a row is an error naming the line, not a silently
 * shortened row (the rest of "1.5\0junk" would otherwise vanish). */
static void test_nul_byte(void)
{
	static const char text[] = HDR_TEXT "1,0,256,256,50,1.5\0junk\n";
	const char *path = io_temp_path("nul.csv");
	FILE *f = fopen(path, "wb");
	TS_CHECK(f && fwrite(text, 1, sizeof(text) - 1, f) == sizeof(text) - 1 && fclose(f) == 0);
	struct ts_trace t;
	struct ts_error err = { 0 };
	TS_CHECK(ts_trace_load(&t, path, &err) == TS_EPARSE);
	TS_CHECK_MSG(strstr(err.msg, ":2:") && strstr(err.msg, "NUL"), "'%s'", err.msg);
}

struct bad_case {
	const char *name;
	const char *text;
	const char *want[3]; /* substrings the message must contain (after the path) */
};

#define HDR HDR_TEXT
#define X10 ",x,x,x,x,x,x,x,x,x,x"

static const struct bad_case bad_cases[] = {
	{ "empty.csv", "", { ":1: empty file", NULL } },
	{ "comments_only.csv", "# nothing\n\n# here\n", { "empty file", NULL } },
	{ "no_slo.csv", "request_id,arrival_s,height,width,steps\n1,0,256,256,50\n",
	  { ":1: field 'slo_s'", "missing", NULL } },
	{ "no_header.csv", "# data without a header\n1,0,256,256,50,1.5\n",
	  { ":2: field 'request_id'", "missing from the header", NULL } },
	{ "dup_column.csv", "request_id,arrival_s,height,width,steps,slo_s,height\n",
	  { ":1: field 'height'", "twice", NULL } },
	{ "short_row.csv", HDR "1,0,256,256,50,1.5\n2,0,256,256,50\n",
	  { ":3: wrong field count", "5 fields", "has 6" } },
	{ "long_row.csv", HDR "1,0,256,256,50,1.5,extra\n", { ":2: wrong field count", NULL } },
	{ "bad_height.csv", HDR "1,0,abc,256,50,1.5\n",
	  { ":2: field 'height'", "'abc' is not an integer", NULL } },
	{ "odd_height.csv", HDR "1,0,250,256,50,1.5\n",
	  { ":2: field 'height'", "multiple of 16", NULL } },
	{ "zero_width.csv", HDR "\n1,0,256,0,50,1.5\n", { ":3: field 'width'", "positive", NULL } },
	{ "neg_width.csv", HDR "1,0,256,-16,50,1.5\n", { ":2: field 'width'", NULL } },
	{ "zero_steps.csv", HDR "1,0,256,256,0,1.5\n", { ":2: field 'steps'", "at least 1", NULL } },
	{ "frac_steps.csv", HDR "1,0,256,256,2.5,1.5\n", { ":2: field 'steps'", "not an integer", NULL } },
	{ "zero_slo.csv", HDR "1,0,256,256,50,0\n", { ":2: field 'slo_s'", "> 0", NULL } },
	{ "tiny_slo.csv", HDR "1,0,256,256,50,0.0000000001\n", { ":2: field 'slo_s'", "> 0", NULL } },
	{ "neg_slo.csv", HDR "1,0,256,256,50,-1\n", { ":2: field 'slo_s'", NULL } },
	{ "neg_arrival.csv", HDR "1,-0.5,256,256,50,1.5\n", { ":2: field 'arrival_s'", ">= 0", NULL } },
	{ "nan_arrival.csv", HDR "1,nan,256,256,50,1.5\n", { ":2: field 'arrival_s'", "finite", NULL } },
	{ "inf_slo.csv", HDR "1,0,256,256,50,inf\n", { ":2: field 'slo_s'", "finite", NULL } },
	{ "huge_arrival.csv", HDR "1,1e400,256,256,50,1.5\n", { ":2: field 'arrival_s'", NULL } },
	{ "range_arrival.csv", HDR "1,99999999999,256,256,50,1.5\n",
	  { ":2: field 'arrival_s'", "out of range", NULL } },
	{ "past_limit_arrival.csv", HDR "1,1000000000.000000001,256,256,50,1.5\n",
	  { ":2: field 'arrival_s'", "out of range", NULL } },
	{ "past_limit_slo.csv", HDR "1,0,256,256,50,2e9\n", { ":2: field 'slo_s'", "out of range", NULL } },
	{ "junk_arrival.csv", HDR "1,12abc,256,256,50,1.5\n",
	  { ":2: field 'arrival_s'", "'12abc' is not a number", NULL } },
	{ "empty_arrival.csv", HDR "1,,256,256,50,1.5\n", { ":2: field 'arrival_s'", "empty", NULL } },
	{ "bad_id.csv", HDR "1.5,0,256,256,50,1.5\n", { ":2: field 'request_id'", NULL } },
	{ "wide_row.csv", HDR "1,0,256,256,50,1.5" X10 X10 X10 X10 X10 X10 "\n",
	  { ":2: more than 64 fields", NULL } },
	{ "big_id.csv", HDR "9223372036854775808,0,256,256,50,1.5\n",
	  { ":2: field 'request_id'", "out of range", NULL } },
	{ "dup_id.csv", HDR "7,0,256,256,50,1.5\n8,1,256,256,50,1.5\n# c\n7,2,256,256,50,1.5\n",
	  { ":5: field 'request_id'", "duplicate id 7", "first on line 2" } },
	{ "empty_model.csv", "request_id,arrival_s,height,width,steps,slo_s,model\n1,0,256,256,50,1.5,\n",
	  { ":2: field 'model'", "empty", NULL } },
	{ "neg_seed.csv", "request_id,arrival_s,height,width,steps,slo_s,seed\n1,0,256,256,50,1.5,-3\n",
	  { ":2: field 'seed'", NULL } },
};

static void test_bad_traces(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct ts_error err = { 0 };
		struct ts_trace t;
		const char *path = io_temp_file(bc->name, bc->text);
		int rc = ts_trace_load(&t, path, &err);
		TS_CHECK_MSG(rc == TS_EPARSE, "%s: rc %d", bc->name, rc);
		TS_CHECK_MSG(err.code == TS_EPARSE, "%s", bc->name);
		TS_CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "%s: message '%s' lacks the path",
			     bc->name, err.msg);
		for (int k = 0; k < 3 && bc->want[k]; k++)
			TS_CHECK_MSG(strstr(err.msg, bc->want[k]) != NULL, "%s: '%s' not in '%s'",
				     bc->name, bc->want[k], err.msg);
		TS_CHECK(t.req == NULL && t.n == 0 && t.path == NULL);
	}
}

static void test_missing_file(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_path("does-not-exist.csv");
	TS_CHECK(ts_trace_load(&t, path, &err) == TS_EIO);
	TS_CHECK(strstr(err.msg, path) != NULL);
}

static void check_same_requests(const struct ts_trace *a, const struct ts_trace *b)
{
	TS_CHECK(a->n == b->n && a->nmodels == b->nmodels);
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		const struct ts_request *x = &a->req[i], *y = &b->req[i];
		TS_CHECK_MSG(x->id == y->id && x->arrival == y->arrival && x->slo == y->slo &&
				     x->deadline == y->deadline && x->height == y->height &&
				     x->width == y->width && x->steps == y->steps && x->seed == y->seed &&
				     x->cancel_after == y->cancel_after,
			     "request %zu differs", i);
		if (a->nmodels > 0)
			TS_CHECK(!strcmp(a->models[x->model], b->models[y->model]));
	}
}

/* Writes t to path, loads it back, compares, and checks a second write is
 * byte-identical to the first. */
static void round_trip(const struct ts_trace *t, const char *name)
{
	struct ts_error err = { 0 };
	const char *path = io_temp_path(name);
	FILE *f = fopen(path, "w");
	TS_CHECK(f && ts_trace_write(t, f, &err) == 0);
	if (f)
		fclose(f);
	struct ts_trace back;
	int rc = ts_trace_load(&back, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	check_same_requests(t, &back);
	char name2[64];
	snprintf(name2, sizeof(name2), "again-%s", name);
	const char *path2 = io_temp_path(name2);
	f = fopen(path2, "w");
	TS_CHECK(f && ts_trace_write(&back, f, &err) == 0);
	if (f)
		fclose(f);
	char *b1 = io_slurp(path, NULL), *b2 = io_slurp(path2, NULL);
	TS_CHECK(b1 && b2 && !strcmp(b1, b2));
	free(b1);
	free(b2);
	ts_trace_free(&back);
}

/* Awkward ns values, seeds unlike ids, and two models survive write/load. */
static void test_round_trip_exact(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t = { 0 };
	static const ts_ns arrivals[] = { 0, 1, 999999999, 1000000000, 123456789012345678LL,
					  86400LL * TS_NS_PER_S * 3650 + 7 }; /* ascending */
	for (size_t i = 0; i < sizeof(arrivals) / sizeof(arrivals[0]); i++) {
		struct ts_request r = { .id = (int64_t)i * 3 - 5, .arrival = arrivals[i],
					.slo = 1 + (ts_ns)i * 333333333, .height = 16 * (int32_t)(i + 1),
					.width = 1024, .steps = (int32_t)i + 1,
					.model = ts_trace_model_index(&t, i % 2 ? "sd3" : "flux"),
					.seed = i == 2 ? UINT64_MAX : (uint64_t)i * 1000 };
		TS_CHECK(ts_trace_append(&t, &r, &err) == 0);
	}
	TS_CHECK(t.req[3].deadline == arrivals[3] + t.req[3].slo);
	round_trip(&t, "exact.csv");
	ts_trace_free(&t);
}

/* The optional cancel_s column: read (empty: never), refused when not > 0,
 * written back only when some request has one. */
static void test_cancel_column(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t;
	const char *path = io_temp_file("cancel.csv",
					"request_id,arrival_s,height,width,steps,slo_s,cancel_s\n"
					"1,0.5,256,256,50,1.5,2.25\n"
					"2,0.6,256,256,50,1.5,\n");
	TS_CHECK_MSG(ts_trace_load(&t, path, &err) == 0, "%s", err.msg);
	TS_CHECK(t.n == 2 && t.req[0].cancel_after == ts_ns_from_s(2.25) && t.req[1].cancel_after == 0);
	round_trip(&t, "cancel_rt.csv");
	ts_trace_free(&t);
	static const char *const bad[] = { "0", "-1", "abc" };
	for (int i = 0; i < 3; i++) {
		char text[160];
		snprintf(text, sizeof(text), "request_id,arrival_s,height,width,steps,slo_s,cancel_s\n"
			 "1,0,256,256,50,1.5,%s\n", bad[i]);
		path = io_temp_file(i ? "cancel_bad.csv" : "cancel_zero.csv", text);
		TS_CHECK_MSG(ts_trace_load(&t, path, &err) == TS_EPARSE && strstr(err.msg, ":2: field 'cancel_s'"),
			     "cancel_s %s: %s", bad[i], err.msg);
	}
}

/* The writer refuses model names that would corrupt the unquoted CSV. */
static void test_write_refuses_bad_model(void)
{
	struct ts_error err = { 0 };
	struct ts_trace t = { 0 };
	struct ts_request r = { .id = 1, .slo = 1, .height = 16, .width = 16, .steps = 1,
				.model = ts_trace_model_index(&t, "a,b") };
	TS_CHECK(ts_trace_append(&t, &r, &err) == 0);
	FILE *f = fopen(io_temp_path("bad_model.csv"), "w");
	TS_CHECK(f && ts_trace_write(&t, f, &err) == TS_EINVAL);
	TS_CHECK(strstr(err.msg, "'a,b'") != NULL);
	if (f)
		fclose(f);
	ts_trace_free(&t);
}

static void test_round_trip_generated(void)
{
	struct ts_error err = { 0 };
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 5000;
	o.arrivals = TS_ARR_GAMMA;
	o.cv = 2.0;
	o.slo_scale = 1.17;
	struct ts_trace t;
	TS_CHECK_MSG(ts_tracegen(&t, &o, &err) == 0, "%s", err.msg);
	round_trip(&t, "generated.csv");
	ts_trace_free(&t);
}

int main(void)
{
	test_fnv1a64_vectors();
	test_good_trace();
	test_defaults_without_optional_columns();
	test_seconds_parsing();
	test_bad_traces();
	test_nul_byte();
	test_missing_file();
	test_round_trip_exact();
	test_round_trip_generated();
	test_write_refuses_bad_model();
	test_cancel_column();
	io_fixture_cleanup();
	return ts_test_result("test_trace");
}
