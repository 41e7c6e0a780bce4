/* tetri_fixture.h: in-memory classes, traces and views for the TetriServe
 * policy tests and benchmark (no files involved). */
#ifndef TETRI_FIXTURE_H
#define TETRI_FIXTURE_H

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/trace.h"
#include "sched/policy.h"

/* Four square resolutions, step times shaped like FLUX on H100 (ms at SP 1,
 * 2, 4, 8): small images scale badly, large ones well. With `batch`, the
 * two small classes also get batch rows (2, 4, 8) at every degree. */
static const int tf_side[4] = { 256, 512, 1024, 2048 };
static const double tf_ms[4][4] = {
	{ 30, 22, 19, 18 },
	{ 55, 35, 26, 22 },
	{ 190, 105, 60, 38 },
	{ 950, 500, 265, 145 },
};
static const double tf_slo[4] = { 1.5, 2.0, 3.0, 5.0 };

static inline void tf_classes(struct ts_classes *cs, bool batch)
{
	memset(cs, 0, sizeof(*cs));
	cs->n = 4;
	cs->cls = calloc(4, sizeof(*cs->cls));
	for (int c = 0; c < 4; c++) {
		struct ts_class *k = &cs->cls[c];
		k->height = k->width = tf_side[c];
		k->tokens = (int64_t)(tf_side[c] / 16) * (tf_side[c] / 16);
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++)
				k->step[b][d] = -1;
		for (int d = 0; d < 4; d++) {
			k->step[0][d] = (ts_ns)(tf_ms[c][d] * 1e6);
			/* a batch of b costs 1 + 0.6 (b - 1) single steps */
			for (int b = 1; batch && c < 2 && b < TS_NBATCH; b++)
				k->step[b][d] = (ts_ns)(tf_ms[c][d] * 1e6 * (1.0 + 0.6 * ((1 << b) - 1)));
		}
	}
}

static inline void tf_add(struct ts_trace *t, double arrival_s, int c, int steps, double slo_s)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->req = realloc(t->req, t->cap * sizeof(*t->req));
	}
	struct ts_request *q = &t->req[t->n];
	*q = (struct ts_request){ .id = (int64_t)t->n, .arrival = ts_ns_from_s(arrival_s),
				  .slo = ts_ns_from_s(slo_s), .height = tf_side[c], .width = tf_side[c],
				  .steps = steps, .cls = c, .seed = t->n };
	q->deadline = q->arrival + q->slo;
	t->n++;
}

/* Poisson arrivals at rate_per_min, uniform over the first `nclasses`
 * classes, `steps` steps (0: random 5..50), SLO = scale x the paper's base. */
static inline void tf_random_trace(struct ts_trace *t, size_t n, double rate_per_min, double scale,
				   int steps, int nclasses, unsigned long seed)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	double now = 0;

	memset(t, 0, sizeof(*t));
	gsl_rng_set(rng, seed);
	for (size_t i = 0; i < n; i++) {
		now += -log(1.0 - gsl_rng_uniform(rng)) * 60.0 / rate_per_min;
		int c = (int)gsl_rng_uniform_int(rng, (unsigned long)nclasses);
		int s = steps ? steps : 5 + (int)gsl_rng_uniform_int(rng, 46);
		tf_add(t, now, c, s, scale * tf_slo[c]);
	}
	gsl_rng_free(rng);
}

#endif
