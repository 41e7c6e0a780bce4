/* test_profile.c: the profile CSV reader and the class tables built from
 * it (common/io/profile.c), including --interpolate. */
#include <math.h>
#include <string.h>

#include "io/classes.h"
#include "io/profile.h"
#include "io/trace.h"
#include "io_fixture.h"
#include "test_util.h"

/* Step-time curves chosen so the log-log estimates are easy by hand:
 * sp 1: 512^2 100 ms, 1024^2 300 ms, slope ln3/ln4, so x4 tokens -> x3 time. */
static const char flux_profile[] =
	"# test profile\n"
	"model,gpu,height,width,sp,step_ms,cv,batch,samples,p50_ms\n"
	"flux,h100,256,256,1,25,0.01,1,100,24.5\n"
	"flux,h100,512,512,1,100,0.02,1,100,\n"
	"flux,h100,1024,1024,1,300,0.005,1,,\n"
	"flux,h100,256,256,2,20,,1,,\n"
	"flux,h100,512,512,2,60,,,,\n"
	"flux,h100,1024,1024,2,150,0.003,,,\n"
	"flux,h100,1024,1024,4,90,0.004,1,,\n"
	"flux,h100,256,256,1,15,,2,,\n"
	"flux,h100,512,512,1,55,,2,,\n"
	"sd3,h100,512,512,1,70,,1,,\n";

/* 1024^2, 768^2, 256^2, 2048^2, 512^2, 1024^2 in arrival order. */
static const char flux_trace[] =
	"request_id,arrival_s,height,width,steps,slo_s\n"
	"0,0,1024,1024,50,3\n"
	"1,1,768,768,50,3\n"
	"2,2,256,256,50,1.5\n"
	"3,3,2048,2048,50,5\n"
	"4,4,512,512,50,2\n"
	"5,5,1024,1024,50,3\n";

static void test_profile_rows(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	const char *path = io_temp_file("flux.csv", flux_profile);
	int rc = ts_profile_load(&p, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	TS_CHECK(p.n == 10 && !strcmp(p.path, path));
	const struct ts_profile_row *r = &p.rows[0];
	TS_CHECK(!strcmp(r->model, "flux") && !strcmp(r->gpu, "h100"));
	TS_CHECK(r->height == 256 && r->width == 256 && r->sp == 1 && r->batch == 1);
	TS_CHECK(r->step_ms == 25 && r->cv == 0.01 && r->samples == 100 && r->p50_ms == 24.5);
	TS_CHECK(isnan(r->p99_ms) && r->line == 3);
	r = &p.rows[4];
	TS_CHECK(r->batch == 1 && r->cv == 0 && r->samples == 0 && isnan(r->p50_ms));
	TS_CHECK(p.rows[7].batch == 2);
	ts_profile_free(&p);
	TS_CHECK(p.rows == NULL && p.n == 0);
}

struct bad_case {
	const char *name;
	const char *text;
	const char *want[3];
};

#define PHDR "model,gpu,height,width,sp,step_ms,batch,cv\n"

static const struct bad_case bad_cases[] = {
	{ "p_empty.csv", "\n", { "empty file", NULL } },
	{ "p_no_gpu.csv", "model,height,width,sp,step_ms\n", { ":1: field 'gpu'", "missing", NULL } },
	{ "p_sp3.csv", PHDR "flux,h100,256,256,3,10,1,0\n", { ":2: field 'sp'", "power of two", NULL } },
	{ "p_sp128.csv", PHDR "flux,h100,256,256,128,10,1,0\n", { ":2: field 'sp'", NULL } },
	{ "p_step0.csv", PHDR "flux,h100,256,256,1,0,1,0\n", { ":2: field 'step_ms'", "> 0", NULL } },
	{ "p_stepneg.csv", PHDR "flux,h100,256,256,1,-4,1,0\n", { ":2: field 'step_ms'", NULL } },
	{ "p_stephuge.csv", PHDR "flux,h100,256,256,1,1e14,1,0\n", { ":2: field 'step_ms'", "between", NULL } },
	{ "p_steptiny.csv", PHDR "flux,h100,256,256,1,1e-7,1,0\n", { ":2: field 'step_ms'", "between", NULL } },
	{ "p_stepnan.csv", PHDR "flux,h100,256,256,1,nan,1,0\n", { ":2: field 'step_ms'", NULL } },
	{ "p_stepjunk.csv", PHDR "flux,h100,256,256,1,fast,1,0\n",
	  { ":2: field 'step_ms'", "'fast' is not a number", NULL } },
	{ "p_batch3.csv", PHDR "flux,h100,256,256,1,10,3,0\n", { ":2: field 'batch'", NULL } },
	{ "p_cvneg.csv", PHDR "flux,h100,256,256,1,10,1,-0.1\n", { ":2: field 'cv'", ">= 0", NULL } },
	{ "p_height.csv", PHDR "flux,h100,100,256,1,10,1,0\n", { ":2: field 'height'", "16", NULL } },
	{ "p_width.csv", PHDR "flux,h100,256,,1,10,1,0\n", { ":2: field 'width'", "empty", NULL } },
	{ "p_nomodel.csv", PHDR ",h100,256,256,1,10,1,0\n", { ":2: field 'model'", "empty", NULL } },
	{ "p_longmodel.csv",
	  PHDR "a-model-name-that-is-much-too-long-for-the-field-x,h100,256,256,1,10,1,0\n",
	  { ":2: field 'model'", "longer than 47", NULL } },
	{ "p_fields.csv", PHDR "flux,h100,256,256,1,10,1\n", { ":2: wrong field count", NULL } },
	{ "p_dup.csv",
	  PHDR "flux,h100,256,256,1,10,1,0\nflux,h100,256,256,2,10,1,0\n"
	       "flux,h100,256,256,1,10,2,0\n# note\nflux,h100,256,256,1,11,1,0\n",
	  { ":6: field 'sp'", "duplicate cell", "first on line 2" } },
};

static void test_bad_profiles(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct ts_error err = { 0 };
		struct ts_profile p;
		const char *path = io_temp_file(bc->name, bc->text);
		int rc = ts_profile_load(&p, path, &err);
		TS_CHECK_MSG(rc == TS_EPARSE, "%s: rc %d", bc->name, rc);
		TS_CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "%s: '%s' lacks the path",
			     bc->name, err.msg);
		for (int k = 0; k < 3 && bc->want[k]; k++)
			TS_CHECK_MSG(strstr(err.msg, bc->want[k]) != NULL, "%s: '%s' not in '%s'",
				     bc->name, bc->want[k], err.msg);
		TS_CHECK(p.rows == NULL && p.n == 0);
	}
}

/* Loads the flux profile and trace and builds classes with opts. */
static int build(struct ts_profile *p, struct ts_trace *t, struct ts_classes *cs,
		 const struct ts_classes_opts *opts, struct ts_error *err)
{
	memset(t, 0, sizeof(*t));
	memset(cs, 0, sizeof(*cs));
	int rc = ts_profile_load(p, io_temp_file("flux_b.csv", flux_profile), err);
	if (!rc)
		rc = ts_trace_load(t, io_temp_file("flux_trace.csv", flux_trace), err);
	if (!rc)
		rc = ts_classes_build(cs, t, p, opts, err);
	return rc;
}

static void free_all(struct ts_profile *p, struct ts_trace *t, struct ts_classes *cs)
{
	ts_classes_free(cs);
	ts_trace_free(t);
	ts_profile_free(p);
}

static void test_classes_measured(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .model = "flux", .max_degree = 8 };
	int rc = build(&p, &t, &cs, &opts, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	/* classes sorted by token count: 256, 512, 768, 1024, 2048 */
	TS_CHECK(cs.n == 5 && cs.nmodels == 1 && !strcmp(cs.models[0], "flux"));
	TS_CHECK(cs.profile_path == p.path);
	static const int32_t side[] = { 256, 512, 768, 1024, 2048 };
	for (int c = 0; c < cs.n && c < 5; c++)
		TS_CHECK(cs.cls[c].height == side[c] && cs.cls[c].width == side[c] &&
			 cs.cls[c].tokens == (int64_t)(side[c] / 16) * (side[c] / 16));
	static const int32_t want_cls[] = { 3, 2, 0, 4, 1, 3 };
	for (size_t i = 0; i < t.n; i++)
		TS_CHECK_MSG(t.req[i].cls == want_cls[i], "request %zu in class %d", i, t.req[i].cls);
	const struct ts_class *k256 = &cs.cls[0], *k768 = &cs.cls[2], *k1024 = &cs.cls[3];
	TS_CHECK(k256->step[0][0] == 25 * TS_NS_PER_MS && k256->cv[0][0] == 0.01);
	TS_CHECK(k256->step[0][1] == 20 * TS_NS_PER_MS && k256->cv[0][1] == 0);
	TS_CHECK(k256->step[1][0] == 15 * TS_NS_PER_MS && k256->step[0][2] == -1);
	TS_CHECK(k1024->step[0][2] == 90 * TS_NS_PER_MS && !k1024->interpolated[0][2]);
	for (int b = 0; b < TS_NBATCH; b++)
		for (int d = 0; d < TS_NDEG; d++)
			TS_CHECK(k768->step[b][d] == -1);
	TS_CHECK(ts_classes_require(&cs, 3, 4, &err) == 0);
	TS_CHECK(ts_classes_require(&cs, 3, 3, &err) == TS_EINVAL);
	TS_CHECK(ts_classes_require(&cs, 9, 1, &err) == TS_EINVAL);
	free_all(&p, &t, &cs);
}

/* Many distinct resolutions grow the class table several times; every
 * request must land in the class of its own size (regression: a request
 * that created a class during growth read a freed table). */
static void test_many_classes(void)
{
	char trace[8192];
	int off = snprintf(trace, sizeof(trace), "request_id,arrival_s,height,width,steps,slo_s\n");
	for (int i = 0; i < 100; i++)
		off += snprintf(trace + off, sizeof(trace) - (size_t)off, "%d,%d,%d,%d,50,3\n", i, i,
				256 + 16 * i, 512 + 16 * (i % 7));
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t = { 0 };
	struct ts_classes cs = { 0 };
	struct ts_classes_opts opts = { .model = "flux", .max_degree = 8, .interpolate = true };
	int rc = ts_profile_load(&p, io_temp_file("flux_many.csv", flux_profile), &err);
	if (!rc)
		rc = ts_trace_load(&t, io_temp_file("many_trace.csv", trace), &err);
	if (!rc)
		rc = ts_classes_build(&cs, &t, &p, &opts, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	TS_CHECK(cs.n == 100);
	for (size_t i = 0; !rc && i < t.n; i++) {
		const struct ts_class *k = &cs.cls[t.req[i].cls];
		TS_CHECK_MSG(k->height == t.req[i].height && k->width == t.req[i].width,
			     "request %zu (%dx%d) in class %dx%d", i, t.req[i].height, t.req[i].width,
			     k->height, k->width);
	}
	free_all(&p, &t, &cs);
}

/* The message a user sees for a missing cell names everything needed to fix it. */
static void test_missing_cell_message(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .model = "flux", .max_degree = 8 };
	TS_CHECK(build(&p, &t, &cs, &opts, &err) == 0);
	TS_CHECK(ts_classes_require(&cs, 2, 1, &err) == TS_ENOTFOUND);
	static const char *const want[] = { "model 'flux'", "height 768", "width 768", "sp 1",
					    "pass --interpolate to estimate it" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		TS_CHECK_MSG(strstr(err.msg, want[i]) != NULL, "'%s' not in '%s'", want[i], err.msg);
	TS_CHECK_MSG(strstr(err.msg, p.path) != NULL, "path not in '%s'", err.msg);
	TS_CHECK(ts_classes_require(&cs, 3, 8, &err) == TS_ENOTFOUND);
	TS_CHECK(strstr(err.msg, "sp 8") && strstr(err.msg, "height 1024"));
	free_all(&p, &t, &cs);

	/* with --interpolate, a degree no resolution has cannot be estimated:
	 * the message must not send the user back to --interpolate */
	opts.interpolate = true;
	TS_CHECK(build(&p, &t, &cs, &opts, &err) == 0);
	TS_CHECK(ts_classes_require(&cs, 3, 8, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "--interpolate cannot estimate it") &&
		     !strstr(err.msg, "pass --interpolate"), "'%s'", err.msg);
	free_all(&p, &t, &cs);
}

static void test_interpolation(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .model = "flux", .max_degree = 8, .interpolate = true };
	int rc = build(&p, &t, &cs, &opts, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	const struct ts_class *k768 = &cs.cls[2], *k1024 = &cs.cls[3], *k2048 = &cs.cls[4];
	/* 768^2 = 2304 tokens, 2.25x the 1024 tokens of 512^2:
	 * sp1: 100 ms * 2.25^(ln 3 / ln 4) = 190.1507 ms, between 512^2 and 1024^2;
	 * sp2: 60 ms * 2.25^(ln 2.5 / ln 4) = 102.5490 ms. */
	TS_CHECK_NEAR(k768->step[0][0], 190.1507 * TS_NS_PER_MS, 1e3);
	TS_CHECK_NEAR(k768->step[0][1], 102.5490 * TS_NS_PER_MS, 1e3);
	TS_CHECK(k768->interpolated[0][0] && k768->interpolated[0][1]);
	TS_CHECK(k768->cv[0][0] == 0.02); /* larger cv of the two points used */
	/* 2048^2 is beyond the measured range: extrapolated from 512^2 and 1024^2,
	 * 4x tokens -> x3 at sp1 (900 ms), x2.5 at sp2 (375 ms). */
	TS_CHECK_NEAR(k2048->step[0][0], 900.0 * TS_NS_PER_MS, 1e3);
	TS_CHECK_NEAR(k2048->step[0][1], 375.0 * TS_NS_PER_MS, 1e3);
	/* sp4 has a single measured resolution: no estimate. */
	TS_CHECK(k768->step[0][2] == -1 && !k768->interpolated[0][2]);
	/* batch 2 has two points (256^2 15 ms, 512^2 55 ms): extrapolated up. */
	TS_CHECK(k768->step[1][0] > 55 * TS_NS_PER_MS && k768->interpolated[1][0]);
	/* measured cells stay as measured */
	TS_CHECK(k1024->step[0][0] == 300 * TS_NS_PER_MS && !k1024->interpolated[0][0]);
	TS_CHECK(ts_classes_require(&cs, 2, 1, &err) == 0);
	free_all(&p, &t, &cs);
}

static void test_max_degree(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .model = "flux", .max_degree = 2, .interpolate = true };
	TS_CHECK(build(&p, &t, &cs, &opts, &err) == 0);
	TS_CHECK(cs.n == 5 && cs.cls[3].step[0][2] == -1 && cs.cls[3].step[0][1] > 0);
	free_all(&p, &t, &cs);
}

static void test_model_choice(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .max_degree = 8 };
	TS_CHECK(build(&p, &t, &cs, &opts, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "several models") && strstr(err.msg, "flux") &&
			     strstr(err.msg, "sd3") && strstr(err.msg, "--model"),
		     "%s", err.msg);
	for (size_t i = 0; i < t.n; i++)
		TS_CHECK(t.req[i].cls == -1);
	TS_CHECK(cs.cls == NULL && cs.models == NULL);
	free_all(&p, &t, &cs);

	opts.model = "nope";
	TS_CHECK(build(&p, &t, &cs, &opts, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "'nope'") && strstr(err.msg, p.path), "%s", err.msg);
	free_all(&p, &t, &cs);
}

/* A model column in the trace wins over opts->model; indices line up. */
static void test_model_column(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .model = "ignored", .max_degree = 8 };
	TS_CHECK(ts_profile_load(&p, io_temp_file("flux_m.csv", flux_profile), &err) == 0);
	TS_CHECK(ts_trace_load(&t, io_temp_file("models.csv",
						"request_id,arrival_s,height,width,steps,slo_s,model\n"
						"0,0,512,512,50,2,sd3\n"
						"1,1,512,512,50,2,flux\n"),
			       &err) == 0);
	int rc = ts_classes_build(&cs, &t, &p, &opts, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (!rc) {
		TS_CHECK(cs.nmodels == 2 && !strcmp(cs.models[0], "sd3") && !strcmp(cs.models[1], "flux"));
		TS_CHECK(cs.n == 2);
		const struct ts_class *k0 = &cs.cls[t.req[0].cls], *k1 = &cs.cls[t.req[1].cls];
		TS_CHECK(k0->model == 0 && k0->step[0][0] == 70 * TS_NS_PER_MS);
		TS_CHECK(k1->model == 1 && k1->step[0][0] == 100 * TS_NS_PER_MS);
	}
	ts_classes_free(&cs);
	ts_trace_free(&t);
	TS_CHECK(ts_trace_load(&t, io_temp_file("models2.csv",
						"request_id,arrival_s,height,width,steps,slo_s,model\n"
						"0,0,512,512,50,2,dalle\n"),
			       &err) == 0);
	TS_CHECK(ts_classes_build(&cs, &t, &p, &opts, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "'dalle'") && strstr(err.msg, "flux"), "%s", err.msg);
	free_all(&p, &t, &cs);
}

static void test_gpu_choice(void)
{
	struct ts_error err = { 0 };
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_classes_opts opts = { .max_degree = 8 };
	TS_CHECK(ts_profile_load(&p, io_temp_file("gpus.csv",
						  "model,gpu,height,width,sp,step_ms\n"
						  "flux,h100,512,512,1,100\n"
						  "flux,a100,512,512,1,180\n"),
				 &err) == 0);
	TS_CHECK(ts_trace_load(&t, io_temp_file("gpus_trace.csv", flux_trace), &err) == 0);
	TS_CHECK(ts_classes_build(&cs, &t, &p, &opts, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "several GPUs") && strstr(err.msg, "h100, a100"), "%s", err.msg);
	opts.gpu = "v100";
	TS_CHECK(ts_classes_build(&cs, &t, &p, &opts, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "'v100'"), "%s", err.msg);
	opts.gpu = "a100";
	TS_CHECK_MSG(ts_classes_build(&cs, &t, &p, &opts, &err) == 0, "%s", err.msg);
	TS_CHECK(cs.n == 5 && cs.cls[1].step[0][0] == 180 * TS_NS_PER_MS);
	TS_CHECK(cs.cls[0].step[0][0] == -1);
	free_all(&p, &t, &cs);
}

int main(void)
{
	test_profile_rows();
	test_bad_profiles();
	test_classes_measured();
	test_many_classes();
	test_missing_cell_message();
	test_interpolation();
	test_max_degree();
	test_model_choice();
	test_model_column();
	test_gpu_choice();
	io_fixture_cleanup();
	return ts_test_result("test_profile");
}
