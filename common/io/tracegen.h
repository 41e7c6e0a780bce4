/* tracegen.h: synthetic request traces (the `tetriserve trace gen` command). */
#ifndef TS_TRACEGEN_H
#define TS_TRACEGEN_H

#include "core/ts_error.h"
#include "io/trace.h"

enum ts_arrivals {
	TS_ARR_POISSON = 0, /* exponential inter-arrivals at rate */
	TS_ARR_GAMMA = 1,   /* Gamma inter-arrivals, mean 1/rate, coefficient of variation cv */
	TS_ARR_ONOFF = 2,   /* Poisson during ON periods, none during OFF periods; mean rate preserved */
};

enum ts_mix {
	TS_MIX_UNIFORM = 0, /* equal shares */
	TS_MIX_SKEWED = 1,  /* p_i proportional to exp(alpha * L_i / L_max), L = tokens */
	TS_MIX_WEIGHTS = 2, /* explicit weights */
};

#define TS_TRACEGEN_MAX_RES 16

struct ts_tracegen_opts {
	double rate_per_min;     /* mean arrival rate, requests per minute (> 0) */
	enum ts_arrivals arrivals;
	double cv;               /* TS_ARR_GAMMA: coefficient of variation of inter-arrivals */
	double on_s, off_s;      /* TS_ARR_ONOFF: mean ON and OFF period lengths (exponential) */
	enum ts_mix mix;
	double alpha;            /* TS_MIX_SKEWED, default 1 */
	int nres;                /* resolutions, default 256,512,1024,2048 (square) */
	int32_t res_h[TS_TRACEGEN_MAX_RES], res_w[TS_TRACEGEN_MAX_RES];
	double weights[TS_TRACEGEN_MAX_RES]; /* TS_MIX_WEIGHTS, need not sum to 1 */
	int32_t steps;           /* default 50 */
	double slo_scale;        /* default 1.0; SLO = scale * base(resolution) */
	long count;              /* requests to generate, or 0 to use duration_s */
	double duration_s;       /* generate arrivals in [0, duration_s) when count == 0 */
	uint64_t seed;
	const char *model;       /* optional model column value; NULL: no column */
};

/* Sets the documented defaults (Poisson, 12/min, uniform over the paper's four
 * square resolutions, 50 steps, scale 1.0, 100 requests, seed 1). */
void ts_tracegen_defaults(struct ts_tracegen_opts *o);

/* The paper's base SLO for a resolution, in seconds: 256^2 1.5, 512^2 2,
 * 1024^2 3, 2048^2 5; other sizes by log-log interpolation in pixel count
 * (documented in traces/README.md). */
double ts_slo_base_s(int32_t height, int32_t width);

/* Generates a trace into *out (initialised by the call) with a gsl_rng
 * seeded from o->seed: same options, same requests, bit for bit. Request ids
 * are 0..n-1. Returns TS_EINVAL naming the bad option. */
int ts_tracegen(struct ts_trace *out, const struct ts_tracegen_opts *o, struct ts_error *err);

#endif
