#include "io/tracegen.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Upper bound on generated requests, so a typo cannot exhaust memory. */
#define TRACEGEN_MAX_REQUESTS 100000000L

void ts_tracegen_defaults(struct ts_tracegen_opts *o)
{
	static const int32_t sides[] = { 256, 512, 1024, 2048 };
	memset(o, 0, sizeof(*o));
	o->rate_per_min = 12.0;
	o->arrivals = TS_ARR_POISSON;
	o->cv = 1.0;
	o->on_s = 60.0;
	o->off_s = 60.0;
	o->mix = TS_MIX_UNIFORM;
	o->alpha = 1.0;
	o->nres = 4;
	for (int i = 0; i < o->nres; i++) {
		o->res_h[i] = o->res_w[i] = sides[i];
		o->weights[i] = 1.0;
	}
	o->steps = 50;
	o->slo_scale = 1.0;
	o->count = 100;
	o->duration_s = 0.0;
	o->seed = 1;
	o->model = NULL;
}

/* The paper's SLO table: (pixels, base SLO in seconds). */
static const struct {
	double pixels, slo_s;
} slo_table[] = {
	{ 256.0 * 256.0, 1.5 },
	{ 512.0 * 512.0, 2.0 },
	{ 1024.0 * 1024.0, 3.0 },
	{ 2048.0 * 2048.0, 5.0 },
};
#define SLO_TABLE_N (sizeof(slo_table) / sizeof(slo_table[0]))

double ts_slo_base_s(int32_t height, int32_t width)
{
	if (height <= 0 || width <= 0)
		return NAN;
	double px = (double)height * width;
	size_t hi = 1;
	while (hi < SLO_TABLE_N - 1 && slo_table[hi].pixels < px)
		hi++;
	for (size_t i = hi - 1; i <= hi; i++)
		if (slo_table[i].pixels == px)
			return slo_table[i].slo_s;
	/* Between two table sizes: straight line in (log pixels, log SLO);
	 * outside the table: the nearest segment's line, extended. */
	double x0 = log(slo_table[hi - 1].pixels), y0 = log(slo_table[hi - 1].slo_s);
	double x1 = log(slo_table[hi].pixels), y1 = log(slo_table[hi].slo_s);
	return exp(y0 + (y1 - y0) * (log(px) - x0) / (x1 - x0));
}

/* ---- option checks; messages name the `trace gen` option ---- */

static bool positive(double v)
{
	return isfinite(v) && v > 0;
}

static int check_arrivals(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	if (!positive(o->rate_per_min))
		return ts_err_set(err, TS_EINVAL,
				  "--rate: must be a positive number of requests per minute, got %g",
				  o->rate_per_min);
	switch (o->arrivals) {
	case TS_ARR_POISSON:
		return 0;
	case TS_ARR_GAMMA:
		if (!positive(o->cv))
			return ts_err_set(err, TS_EINVAL, "--cv: must be > 0, got %g", o->cv);
		return 0;
	case TS_ARR_ONOFF:
		if (!positive(o->on_s))
			return ts_err_set(err, TS_EINVAL, "--on-s: must be > 0 seconds, got %g", o->on_s);
		if (!isfinite(o->off_s) || o->off_s < 0)
			return ts_err_set(err, TS_EINVAL, "--off-s: must be >= 0 seconds, got %g", o->off_s);
		return 0;
	}
	return ts_err_set(err, TS_EINVAL, "--arrivals: unknown arrival process %d", (int)o->arrivals);
}

static int check_weights(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	double sum = 0;
	for (int i = 0; i < o->nres; i++) {
		if (!isfinite(o->weights[i]) || o->weights[i] < 0)
			return ts_err_set(err, TS_EINVAL, "--weights: weight %d is %g, must be >= 0",
					  i + 1, o->weights[i]);
		sum += o->weights[i];
	}
	if (!(sum > 0) || !isfinite(sum))
		return ts_err_set(err, TS_EINVAL, "--weights: weights must have a positive finite sum");
	return 0;
}

static int check_mix(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	if (o->nres < 1 || o->nres > TS_TRACEGEN_MAX_RES)
		return ts_err_set(err, TS_EINVAL, "--res: need 1 to %d resolutions, got %d",
				  TS_TRACEGEN_MAX_RES, o->nres);
	for (int i = 0; i < o->nres; i++)
		if (o->res_h[i] <= 0 || o->res_w[i] <= 0 || o->res_h[i] % 16 || o->res_w[i] % 16 ||
		    o->res_h[i] > 65536 || o->res_w[i] > 65536)
			return ts_err_set(err, TS_EINVAL,
					  "--res: %dx%d: sides must be positive multiples of 16 up to 65536",
					  o->res_h[i], o->res_w[i]);
	switch (o->mix) {
	case TS_MIX_UNIFORM:
		return 0;
	case TS_MIX_SKEWED:
		if (!isfinite(o->alpha) || fabs(o->alpha) > 700)
			return ts_err_set(err, TS_EINVAL, "--alpha: must be a finite number in [-700, 700], got %g",
					  o->alpha);
		return 0;
	case TS_MIX_WEIGHTS:
		return check_weights(o, err);
	}
	return ts_err_set(err, TS_EINVAL, "--mix: unknown mix %d", (int)o->mix);
}

static int check_request_shape(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	if (o->steps < 1)
		return ts_err_set(err, TS_EINVAL, "--steps: must be >= 1, got %d", o->steps);
	if (!positive(o->slo_scale))
		return ts_err_set(err, TS_EINVAL, "--slo-scale: must be > 0, got %g", o->slo_scale);
	for (int i = 0; i < o->nres; i++) {
		double slo = o->slo_scale * ts_slo_base_s(o->res_h[i], o->res_w[i]);
		if (slo < 1e-6 || slo > TS_TRACE_MAX_S)
			return ts_err_set(err, TS_EINVAL,
					  "--slo-scale: %g gives %dx%d an SLO of %g s, outside 1 us .. 1e9 s",
					  o->slo_scale, o->res_h[i], o->res_w[i], slo);
	}
	if (o->model && (*o->model == '\0' || strpbrk(o->model, ", \t\n\r#")))
		return ts_err_set(err, TS_EINVAL,
				  "--model: '%s': need a non-empty name without commas, blanks or '#'",
				  o->model);
	return 0;
}

static int check_length(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	if (o->count < 0 || o->count > TRACEGEN_MAX_REQUESTS)
		return ts_err_set(err, TS_EINVAL, "--count: must be in 0..%ld, got %ld",
				  TRACEGEN_MAX_REQUESTS, o->count);
	if (o->count > 0)
		return 0;
	if (!positive(o->duration_s))
		return ts_err_set(err, TS_EINVAL, "--duration: must be > 0 seconds when --count is 0, got %g",
				  o->duration_s);
	if (o->duration_s * o->rate_per_min / 60.0 > TRACEGEN_MAX_REQUESTS / 2)
		return ts_err_set(err, TS_EINVAL, "--duration: %g s at %g/min exceeds %ld requests",
				  o->duration_s, o->rate_per_min, TRACEGEN_MAX_REQUESTS / 2);
	return 0;
}

static int check_opts(const struct ts_tracegen_opts *o, struct ts_error *err)
{
	int rc = check_arrivals(o, err);
	if (!rc)
		rc = check_mix(o, err);
	if (!rc)
		rc = check_request_shape(o, err);
	if (!rc)
		rc = check_length(o, err);
	return rc;
}

/* ---- arrival processes ---- */

struct arrival_gen {
	gsl_rng *rng;
	const struct ts_tracegen_opts *o;
	double rate_s; /* mean arrivals per second */
	double t;      /* time of the last arrival, seconds */
	double on_end; /* TS_ARR_ONOFF: end of the current ON period */
};

/* Next arrival of a process that is Poisson during exponential ON periods
 * and silent during exponential OFF periods. The ON rate is raised by
 * (on+off)/on so the long-run mean rate stays rate_s. Memorylessness lets
 * an inter-arrival that overshoots the ON period be redrawn after OFF. */
static double next_onoff(struct arrival_gen *g)
{
	double on = g->o->on_s, off = g->o->off_s;
	double mean_gap = on / (g->rate_s * (on + off));
	for (;;) {
		double gap = gsl_ran_exponential(g->rng, mean_gap);
		if (g->t + gap < g->on_end)
			return g->t += gap;
		g->t = g->on_end + (off > 0 ? gsl_ran_exponential(g->rng, off) : 0.0);
		g->on_end = g->t + gsl_ran_exponential(g->rng, on);
	}
}

static double next_arrival(struct arrival_gen *g)
{
	switch (g->o->arrivals) {
	case TS_ARR_GAMMA: {
		double k = 1.0 / (g->o->cv * g->o->cv);
		return g->t += gsl_ran_gamma(g->rng, k, 1.0 / (g->rate_s * k));
	}
	case TS_ARR_ONOFF:
		return next_onoff(g);
	case TS_ARR_POISSON:
		break;
	}
	return g->t += gsl_ran_exponential(g->rng, 1.0 / g->rate_s);
}

/* ---- resolution mix ---- */

/* Probability weights of each resolution under the chosen mix. */
static void mix_weights(const struct ts_tracegen_opts *o, double *w)
{
	double lmax = 0;
	for (int i = 0; i < o->nres; i++)
		lmax = fmax(lmax, (double)(o->res_h[i] / 16) * (o->res_w[i] / 16));
	for (int i = 0; i < o->nres; i++) {
		double tokens = (double)(o->res_h[i] / 16) * (o->res_w[i] / 16);
		if (o->mix == TS_MIX_SKEWED)
			w[i] = exp(o->alpha * tokens / lmax);
		else if (o->mix == TS_MIX_WEIGHTS)
			w[i] = o->weights[i];
		else
			w[i] = 1.0;
	}
}

/* SplitMix64 step: derives the resolution stream's seed from the option
 * seed, so arrival times do not depend on the mix. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Rounds seconds to a whole microsecond, in ns (keeps trace files short). */
static ts_ns ns_at_us(double s)
{
	return (ts_ns)llround(s * 1e6) * TS_NS_PER_US;
}

/* Generates the requests once the streams are set up. */
static int generate(struct ts_trace *out, const struct ts_tracegen_opts *o,
		    struct arrival_gen *g, gsl_rng *mix_rng, const gsl_ran_discrete_t *mix,
		    int32_t model, struct ts_error *err)
{
	for (long i = 0; o->count == 0 || i < o->count; i++) {
		double t = next_arrival(g);
		if (o->count == 0 && t >= o->duration_s)
			break;
		if (i == TRACEGEN_MAX_REQUESTS)
			return ts_err_set(err, TS_ERANGE, "--duration: more than %ld requests",
					  TRACEGEN_MAX_REQUESTS);
		size_t k = gsl_ran_discrete(mix_rng, mix);
		if (t > TS_TRACE_MAX_S)
			return ts_err_set(err, TS_ERANGE,
					  "request %ld would arrive after %.0f s (1e9 s is the limit of a trace): "
					  "raise --rate or lower --count/--duration", i, t);
		struct ts_request r = {
			.id = i,
			.arrival = ns_at_us(t),
			.slo = ns_at_us(o->slo_scale * ts_slo_base_s(o->res_h[k], o->res_w[k])),
			.height = o->res_h[k],
			.width = o->res_w[k],
			.steps = o->steps,
			.model = model,
			.cls = -1,
			.seed = (uint64_t)i,
		};
		int rc = ts_trace_append(out, &r, err);
		if (rc)
			return rc;
	}
	return 0;
}

int ts_tracegen(struct ts_trace *out, const struct ts_tracegen_opts *o, struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc = check_opts(o, err);
	if (rc)
		return rc;
	int32_t model = 0;
	if (o->model && (model = ts_trace_model_index(out, o->model)) < 0)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	double w[TS_TRACEGEN_MAX_RES];
	mix_weights(o, w);
	gsl_rng *arr_rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng *mix_rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_ran_discrete_t *mix = gsl_ran_discrete_preproc((size_t)o->nres, w);
	if (!arr_rng || !mix_rng || !mix) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory setting up the generator");
		goto out_free;
	}
	gsl_rng_set(arr_rng, (unsigned long)o->seed);
	gsl_rng_set(mix_rng, (unsigned long)splitmix64(o->seed));
	struct arrival_gen g = { arr_rng, o, o->rate_per_min / 60.0, 0.0, 0.0 };
	if (o->arrivals == TS_ARR_ONOFF)
		g.on_end = gsl_ran_exponential(arr_rng, o->on_s);
	rc = generate(out, o, &g, mix_rng, mix, model, err);
out_free:
	if (mix)
		gsl_ran_discrete_free(mix);
	gsl_rng_free(mix_rng);
	gsl_rng_free(arr_rng);
	if (rc)
		ts_trace_free(out);
	return rc;
}
