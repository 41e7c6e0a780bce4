/* sim_fixture.h: in-memory traces, step tables and a recording sink for the
 * simulator tests (no files involved). */
#ifndef TS_SIM_FIXTURE_H
#define TS_SIM_FIXTURE_H

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gpuset.h"
#include "driver/driver.h"
#include "io/classes.h"
#include "io/profile.h"
#include "sim_backend.h"
#include "sim_run.h"

/* Four square resolutions with step times shaped like FLUX on H100 (ms at
 * SP 1, 2, 4, 8): small images scale badly, large ones well. */
static const int fx_side[4] = { 256, 512, 1024, 2048 };
static const double fx_ms[4][4] = {
	{ 30, 22, 19, 18 },
	{ 55, 35, 26, 22 },
	{ 190, 105, 60, 38 },
	{ 950, 500, 265, 145 },
};

static inline void fx_classes(struct ts_classes *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->n = 4;
	cs->cls = calloc(4, sizeof(*cs->cls));
	for (int c = 0; c < 4; c++) {
		struct ts_class *k = &cs->cls[c];
		k->height = k->width = fx_side[c];
		k->tokens = (int64_t)(fx_side[c] / 16) * (fx_side[c] / 16);
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++)
				k->step[b][d] = -1;
		for (int d = 0; d < 4; d++) {
			k->step[0][d] = (ts_ns)(fx_ms[c][d] * 1e6);
			k->cv[0][d] = 0.01;
		}
	}
}

/* Appends a request of class c (0..3) to the trace being built. */
static inline void fx_add(struct ts_trace *t, int64_t id, double arrival_s, int c, int steps,
			  double slo_s)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->req = realloc(t->req, t->cap * sizeof(*t->req));
	}
	struct ts_request *q = &t->req[t->n++];
	*q = (struct ts_request){ .id = id, .arrival = ts_ns_from_s(arrival_s), .slo = ts_ns_from_s(slo_s),
				  .height = fx_side[c], .width = fx_side[c], .steps = steps, .cls = c,
				  .seed = (uint64_t)id };
	q->deadline = q->arrival + q->slo;
}

/* A Poisson trace of n requests at rate_per_min with random classes, steps
 * in 5..50 and the paper's SLO table; sorted by arrival by construction. */
static inline void fx_random_trace(struct ts_trace *t, size_t n, double rate_per_min, unsigned long seed)
{
	static const double slo[4] = { 1.5, 2.0, 3.0, 5.0 };
	memset(t, 0, sizeof(*t));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, seed);
	double now = 0;
	for (size_t i = 0; i < n; i++) {
		now += -log(1.0 - gsl_rng_uniform(rng)) * 60.0 / rate_per_min;
		int c = (int)gsl_rng_uniform_int(rng, 4);
		int steps = 5 + (int)gsl_rng_uniform_int(rng, 46);
		fx_add(t, (int64_t)i, now, c, steps, slo[c] * (0.8 + 1.2 * gsl_rng_uniform(rng)));
	}
	gsl_rng_free(rng);
}

/* Runs policy `spec` (its options in the spec) on the simulator; fills
 * *res and *sink. Returns the driver's code (policy init failures included). */
static inline int fx_run(const char *spec, int gpus, const struct ts_trace *t,
			 const struct ts_classes *cs, const struct ts_sim_opts *so,
			 struct ts_run_result *res, struct fx_sink *sink, struct ts_error *err)
{
	memset(sink, 0, sizeof(*sink));
	return ts_test_sim_run(spec, gpus, t, cs, so, &fx_sink_ops, sink, res, err);
}

#endif

/* Compares two GPU-interval records for qsort. */
struct fx_iv {
	ts_ns start, end;
	int batch;
};

static inline int fx_iv_cmp(const void *a, const void *b)
{
	const struct fx_iv *x = a, *y = b;
	if (x->start != y->start)
		return (x->start > y->start) - (x->start < y->start);
	return (x->end > y->end) - (x->end < y->end);
}

/* No GPU runs two launches at once: intervals on a GPU may only coincide
 * exactly when they are the rows of one batched launch. */
static inline int fx_check_no_double_booking(const struct fx_sink *k, int gpus)
{
	int bad = 0;
	struct fx_iv *iv = malloc((k->n + 1) * sizeof(*iv));
	for (int g = 0; g < gpus; g++) {
		size_t m = 0;
		for (size_t i = 0; i < k->n; i++)
			if (k->seg[i].gpus >> g & 1)
				iv[m++] = (struct fx_iv){ k->seg[i].start, k->seg[i].end, k->seg[i].batch };
		qsort(iv, m, sizeof(*iv), fx_iv_cmp);
		for (size_t i = 1; i < m; i++) {
			bool same_launch = iv[i].start == iv[i - 1].start && iv[i].end == iv[i - 1].end &&
					   iv[i].batch > 1;
			if (iv[i].start < iv[i - 1].end && !same_launch) {
				if (bad++ < 5)
					fprintf(stderr, "GPU %d double-booked: [%lld,%lld] and [%lld,%lld]\n", g,
						(long long)iv[i - 1].start, (long long)iv[i - 1].end,
						(long long)iv[i].start, (long long)iv[i].end);
			}
		}
	}
	free(iv);
	return bad;
}

static inline int fx_seg_cmp(const void *a, const void *b)
{
	const struct ts_segment *x = a, *y = b;
	if (x->request_id != y->request_id)
		return (x->request_id > y->request_id) - (x->request_id < y->request_id);
	if (x->start != y->start)
		return (x->start > y->start) - (x->start < y->start);
	return x->kind - y->kind; /* a move before the steps it precedes (zero-length moves) */
}

/* Every request ran exactly its steps, in order, after its arrival, each
 * segment taking nsteps x the profile step time (no noise) and each move
 * the documented move cost. Assumes request ids 0..n-1 equal indices. */
static inline int fx_check_requests(const struct ts_trace *t, const struct ts_classes *cs,
				    const struct ts_run_result *res, struct fx_sink *k,
				    const struct ts_sim_opts *so)
{
	int bad = 0;
	qsort(k->seg, k->n, sizeof(*k->seg), fx_seg_cmp);
	size_t i = 0;
	for (size_t r = 0; r < t->n; r++) {
		const struct ts_request *q = &t->req[r];
		int32_t next_step = 0;
		ts_ns last_end = q->arrival;
		ts_ns first_start = -1;
		for (; i < k->n && k->seg[i].request_id == q->id; i++) {
			const struct ts_segment *s = &k->seg[i];
			bad += s->start < last_end;
			if (first_start < 0 && s->kind == TS_SEG_STEPS)
				first_start = s->start;
			if (s->kind == TS_SEG_MOVE) {
				bad += s->end - s->start != ts_sim_move_ns(so, q->height, q->width);
			} else {
				bad += s->first_step != next_step;
				next_step += s->nsteps;
				ts_ns T = ts_class_step(cs, q->cls, ts_gpus_count(s->gpus), s->batch);
				bad += !so->noise && s->end - s->start != T * s->nsteps;
			}
			last_end = s->end;
		}
		if (next_step != q->steps || res->st[r].steps_done != q->steps ||
		    res->st[r].finish != last_end || res->st[r].start != first_start) {
			if (bad++ < 5)
				fprintf(stderr, "request %lld: ran %d of %d steps, finish %lld vs %lld\n",
					(long long)q->id, next_step, q->steps, (long long)res->st[r].finish,
					(long long)last_end);
		}
	}
	return bad;
}
