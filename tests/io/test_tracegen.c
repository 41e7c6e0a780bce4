/* test_tracegen.c: the synthetic trace generator (common/io/tracegen.c):
 * SLO table, arrival statistics, resolution mixes, determinism, option
 * checks. Statistical checks use large samples and a fixed seed; each
 * tolerance is several standard errors wide. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/trace.h"
#include "io/tracegen.h"
#include "test_util.h"

static void test_slo_table(void)
{
	/* the paper's table, exactly */
	TS_CHECK(ts_slo_base_s(256, 256) == 1.5);
	TS_CHECK(ts_slo_base_s(512, 512) == 2.0);
	TS_CHECK(ts_slo_base_s(1024, 1024) == 3.0);
	TS_CHECK(ts_slo_base_s(2048, 2048) == 5.0);
	/* log-log in pixel count, by hand: 384^2 is 2.25x the pixels of 256^2,
	 * a fraction ln 2.25 / ln 4 = 0.58496 of the way to 512^2:
	 * 1.5 * (2/1.5)^0.58496 = 1.77491 */
	TS_CHECK_NEAR(ts_slo_base_s(384, 384), 1.77491, 1e-5);
	/* 512x1024 is the log midpoint of 512^2 and 1024^2: sqrt(2 * 3) */
	TS_CHECK_NEAR(ts_slo_base_s(512, 1024), sqrt(6.0), 1e-12);
	TS_CHECK(ts_slo_base_s(512, 1024) == ts_slo_base_s(1024, 512));
	/* outside: the end segments extended; 4x pixels -> x(2/1.5) below, x(5/3) above */
	TS_CHECK_NEAR(ts_slo_base_s(128, 128), 1.125, 1e-12);
	TS_CHECK_NEAR(ts_slo_base_s(4096, 4096), 25.0 / 3.0, 1e-12);
	TS_CHECK(isnan(ts_slo_base_s(0, 256)));
}

static struct ts_trace gen(const struct ts_tracegen_opts *o)
{
	struct ts_error err = { 0 };
	struct ts_trace t = { 0 };
	int rc = ts_tracegen(&t, o, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	return t;
}

/* Whether the generator made n requests; a wrong count fails the test
 * (and frees the trace: the statistics after it would be meaningless). */
static bool count_is(struct ts_trace *t, size_t n)
{
	bool ok = t->n == n;
	TS_CHECK_MSG(ok, "%zu requests generated, %zu asked for", t->n, n);
	if (!ok)
		ts_trace_free(t);
	return ok;
}

/* Mean and coefficient of variation of the inter-arrival gaps. */
static void gap_stats(const struct ts_trace *t, double *mean, double *cv)
{
	double sum = 0, sum2 = 0;
	ts_ns prev = 0;
	for (size_t i = 0; i < t->n; i++) {
		double g = ts_ns_to_s(t->req[i].arrival - prev);
		sum += g;
		sum2 += g * g;
		prev = t->req[i].arrival;
	}
	*mean = sum / (double)t->n;
	*cv = sqrt(sum2 / (double)t->n - *mean * *mean) / *mean;
}

/* Variance-to-mean ratio of the arrival counts in windows of w seconds. */
static double dispersion(const struct ts_trace *t, double w)
{
	size_t nwin = (size_t)(ts_ns_to_s(t->req[t->n - 1].arrival) / w);
	double *count = calloc(nwin, sizeof(*count));
	if (!count)
		return NAN;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = (size_t)(ts_ns_to_s(t->req[i].arrival) / w);
		if (k < nwin)
			count[k]++;
	}
	double sum = 0, sum2 = 0;
	for (size_t k = 0; k < nwin; k++) {
		sum += count[k];
		sum2 += count[k] * count[k];
	}
	free(count);
	double mean = sum / (double)nwin;
	return (sum2 / (double)nwin - mean * mean) / mean;
}

/* Poisson at 12/min over 200k arrivals: rate within 2% (standard error
 * 0.22%), gaps with CV 1 within 3%, counts with dispersion near 1. */
static void test_poisson(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 200000;
	struct ts_trace t = gen(&o);
	if (!count_is(&t, 200000))
		return;
	double rate = (double)t.n / ts_ns_to_s(t.req[t.n - 1].arrival) * 60.0;
	TS_CHECK_NEAR(rate / 12.0, 1.0, 0.02);
	double mean, cv;
	gap_stats(&t, &mean, &cv);
	double disp = dispersion(&t, 60.0);
	printf("poisson 12/min, 200k: rate %.4f/min, gap cv %.4f, dispersion(60 s) %.3f\n", rate,
	       cv, disp);
	TS_CHECK_NEAR(cv, 1.0, 0.03);
	TS_CHECK_NEAR(disp, 1.0, 0.1);
	for (size_t i = 1; i < t.n; i++)
		if (t.req[i].arrival < t.req[i - 1].arrival || t.req[i].id != (int64_t)i) {
			TS_CHECK_MSG(0, "request %zu out of order", i);
			break;
		}
	ts_trace_free(&t);
}

/* Gamma with CV 3 over 500k gaps: CV within 3% (standard error ~0.5%: the
 * gamma of shape 1/9 has heavy tails), mean rate within 2%. */
static void test_gamma(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.arrivals = TS_ARR_GAMMA;
	o.cv = 3.0;
	o.rate_per_min = 30;
	o.count = 500000;
	struct ts_trace t = gen(&o);
	if (!count_is(&t, 500000))
		return;
	double mean, cv;
	gap_stats(&t, &mean, &cv);
	printf("gamma cv 3, 30/min, 500k: gap cv %.4f, rate %.4f/min\n", cv, 60.0 / mean);
	TS_CHECK_NEAR(cv / 3.0, 1.0, 0.03);
	TS_CHECK_NEAR(60.0 / mean / 30.0, 1.0, 0.02);
	ts_trace_free(&t);

	o.cv = 0.5; /* smoother than Poisson */
	o.count = 200000;
	t = gen(&o);
	if (!count_is(&t, 200000))
		return;
	gap_stats(&t, &mean, &cv);
	TS_CHECK_NEAR(cv / 0.5, 1.0, 0.03);
	ts_trace_free(&t);
}

/* On/off with 60 s periods over 200k arrivals (~8,000 cycles): mean rate
 * within 5%; counts in 10 s windows far more dispersed than Poisson
 * (about 2.5 expected, 1 for Poisson). */
static void test_onoff(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.arrivals = TS_ARR_ONOFF;
	o.on_s = 60;
	o.off_s = 60;
	o.count = 200000;
	struct ts_trace t = gen(&o);
	if (!count_is(&t, 200000))
		return;
	double rate = (double)t.n / ts_ns_to_s(t.req[t.n - 1].arrival) * 60.0;
	double disp = dispersion(&t, 10.0);
	printf("onoff 60/60 s, 12/min, 200k: rate %.4f/min, dispersion(10 s) %.3f\n", rate, disp);
	TS_CHECK_NEAR(rate / 12.0, 1.0, 0.05);
	TS_CHECK(disp > 1.8);
	ts_trace_free(&t);

	o.on_s = 20; /* asymmetric periods keep the mean too */
	o.off_s = 100;
	t = gen(&o);
	if (!count_is(&t, 200000))
		return;
	rate = (double)t.n / ts_ns_to_s(t.req[t.n - 1].arrival) * 60.0;
	TS_CHECK_NEAR(rate / 12.0, 1.0, 0.05);
	ts_trace_free(&t);
}

/* Share of each resolution (by height) over 200k requests vs p[]. Standard
 * error <= 0.11 percentage points; tolerance 1 point. */
static void check_shares(const struct ts_tracegen_opts *o, const double *p)
{
	struct ts_trace t = gen(o);
	if (!count_is(&t, (size_t)o->count))
		return;
	double n[TS_TRACEGEN_MAX_RES] = { 0 };
	for (size_t i = 0; i < t.n; i++)
		for (int k = 0; k < o->nres; k++)
			if (t.req[i].height == o->res_h[k] && t.req[i].width == o->res_w[k])
				n[k]++;
	printf("mix %d shares:", (int)o->mix);
	for (int k = 0; k < o->nres; k++) {
		printf(" %.4f (want %.4f)", n[k] / (double)t.n, p[k]);
		TS_CHECK_NEAR(n[k] / (double)t.n, p[k], 0.01);
	}
	printf("\n");
	ts_trace_free(&t);
}

static void test_mixes(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 200000;
	static const double uniform[] = { 0.25, 0.25, 0.25, 0.25 };
	check_shares(&o, uniform);
	/* alpha 1, tokens 256, 1024, 4096, 16384: weights e^(1/64), e^(1/16),
	 * e^(1/4), e^1 = 1.01575, 1.06449, 1.28403, 2.71828 (sum 6.08255) */
	o.mix = TS_MIX_SKEWED;
	static const double skewed[] = { 0.16699, 0.17501, 0.21110, 0.44690 };
	check_shares(&o, skewed);
	o.mix = TS_MIX_WEIGHTS;
	o.nres = 3;
	o.res_h[2] = 768;
	o.res_w[2] = 1024;
	o.weights[0] = 1;
	o.weights[1] = 0;
	o.weights[2] = 3;
	static const double weighted[] = { 0.25, 0.0, 0.75 };
	check_shares(&o, weighted);
}

/* Every request carries the options' steps, model and scaled SLO. */
static void test_request_fields(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 1000;
	o.steps = 20;
	o.slo_scale = 1.2;
	o.model = "flux";
	struct ts_trace t = gen(&o);
	TS_CHECK(t.n == 1000 && t.nmodels == 1 && !strcmp(t.models[0], "flux"));
	for (size_t i = 0; i < t.n; i++) {
		const struct ts_request *r = &t.req[i];
		ts_ns want = ts_ns_from_s(1.2 * ts_slo_base_s(r->height, r->width));
		TS_CHECK_MSG(r->slo == want && r->steps == 20 && r->model == 0 &&
				     r->deadline == r->arrival + r->slo && r->seed == (uint64_t)r->id &&
				     r->cls == -1 && r->arrival % TS_NS_PER_US == 0,
			     "request %zu", i);
	}
	ts_trace_free(&t);
}

static void test_duration(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 0;
	o.duration_s = 3600 * 100;
	struct ts_trace t = gen(&o);
	/* expect 72,000 arrivals, standard error 0.37% */
	TS_CHECK_NEAR(t.n / 72000.0, 1.0, 0.02);
	TS_CHECK(t.n > 0 && t.req[t.n - 1].arrival < ts_ns_from_s(o.duration_s));
	ts_trace_free(&t);
}

static char *trace_text(const struct ts_trace *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct ts_error err = { 0 };
	TS_CHECK(f && ts_trace_write(t, f, &err) == 0);
	if (f)
		fclose(f);
	return buf;
}

static char *gen_text(const struct ts_tracegen_opts *o)
{
	struct ts_trace t = gen(o);
	char *text = trace_text(&t);
	ts_trace_free(&t);
	return text;
}

static void test_determinism(void)
{
	struct ts_tracegen_opts o;
	ts_tracegen_defaults(&o);
	o.count = 2000;
	static const enum ts_arrivals kinds[] = { TS_ARR_POISSON, TS_ARR_GAMMA, TS_ARR_ONOFF };
	for (int k = 0; k < 3; k++) {
		o.arrivals = kinds[k];
		o.cv = 2.5;
		o.seed = 7;
		char *a = gen_text(&o), *b = gen_text(&o);
		o.seed = 8;
		char *c = gen_text(&o);
		TS_CHECK(a && b && c);
		if (a && b && c) {
			TS_CHECK_MSG(!strcmp(a, b), "arrivals %d: same seed, different bytes", k);
			TS_CHECK_MSG(strcmp(a, c) != 0, "arrivals %d: seeds 7 and 8 agree", k);
		}
		free(a);
		free(b);
		free(c);
	}
	/* the resolution stream is separate: arrival times do not depend on the mix */
	o.arrivals = TS_ARR_POISSON;
	struct ts_trace u = gen(&o);
	o.mix = TS_MIX_SKEWED;
	struct ts_trace s = gen(&o);
	bool same_times = u.n == s.n, same_res = true;
	for (size_t i = 0; i < u.n && same_times; i++) {
		same_times = u.req[i].arrival == s.req[i].arrival;
		same_res = same_res && u.req[i].height == s.req[i].height;
	}
	TS_CHECK(same_times && !same_res);
	ts_trace_free(&u);
	ts_trace_free(&s);
}

struct bad_opt {
	const char *option; /* the message must name it */
	void (*apply)(struct ts_tracegen_opts *o);
};

static void bad_rate(struct ts_tracegen_opts *o) { o->rate_per_min = 0; }
static void bad_rate_nan(struct ts_tracegen_opts *o) { o->rate_per_min = NAN; }
static void bad_cv(struct ts_tracegen_opts *o) { o->arrivals = TS_ARR_GAMMA; o->cv = 0; }
static void bad_on(struct ts_tracegen_opts *o) { o->arrivals = TS_ARR_ONOFF; o->on_s = -1; }
static void bad_off(struct ts_tracegen_opts *o) { o->arrivals = TS_ARR_ONOFF; o->off_s = -1; }
static void bad_nres(struct ts_tracegen_opts *o) { o->nres = 0; }
static void bad_res(struct ts_tracegen_opts *o) { o->res_w[1] = 500; }
static void bad_weights(struct ts_tracegen_opts *o)
{
	o->mix = TS_MIX_WEIGHTS;
	for (int i = 0; i < o->nres; i++)
		o->weights[i] = 0;
}
static void bad_weight(struct ts_tracegen_opts *o) { o->mix = TS_MIX_WEIGHTS; o->weights[2] = -1; }
static void bad_alpha(struct ts_tracegen_opts *o) { o->mix = TS_MIX_SKEWED; o->alpha = INFINITY; }
static void bad_steps(struct ts_tracegen_opts *o) { o->steps = 0; }
static void bad_scale(struct ts_tracegen_opts *o) { o->slo_scale = -1; }
static void bad_count(struct ts_tracegen_opts *o) { o->count = -5; }
static void bad_duration(struct ts_tracegen_opts *o) { o->count = 0; o->duration_s = 0; }
static void bad_model(struct ts_tracegen_opts *o) { o->model = ""; }
static void bad_model_comma(struct ts_tracegen_opts *o) { o->model = "flux,dev"; }
static void bad_tiny_slo(struct ts_tracegen_opts *o) { o->slo_scale = 1e-7; }

static void test_bad_options(void)
{
	static const struct bad_opt cases[] = {
		{ "--rate", bad_rate }, { "--rate", bad_rate_nan }, { "--cv", bad_cv },
		{ "--on-s", bad_on }, { "--off-s", bad_off }, { "--res", bad_nres },
		{ "--res", bad_res }, { "--weights", bad_weights }, { "--weights", bad_weight },
		{ "--alpha", bad_alpha }, { "--steps", bad_steps }, { "--slo-scale", bad_scale },
		{ "--count", bad_count }, { "--duration", bad_duration }, { "--model", bad_model },
		{ "--model", bad_model_comma }, { "--slo-scale", bad_tiny_slo },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_tracegen_opts o;
		ts_tracegen_defaults(&o);
		cases[i].apply(&o);
		struct ts_error err = { 0 };
		struct ts_trace t;
		TS_CHECK_MSG(ts_tracegen(&t, &o, &err) == TS_EINVAL, "case %zu", i);
		TS_CHECK_MSG(strstr(err.msg, cases[i].option) != NULL, "'%s' not in '%s'",
			     cases[i].option, err.msg);
		TS_CHECK(t.req == NULL && t.n == 0);
	}
}

int main(void)
{
	test_slo_table();
	test_poisson();
	test_gamma();
	test_onoff();
	test_mixes();
	test_request_fields();
	test_duration();
	test_determinism();
	test_bad_options();
	return ts_test_result("test_tracegen");
}
