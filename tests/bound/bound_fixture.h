/* bound_fixture.h: tiny hand-made instances for the bound tests: up to 4
 * classes with step tables written by the test, up to 8 requests. */
#ifndef TS_BOUND_FIXTURE_H
#define TS_BOUND_FIXTURE_H

#include <string.h>

#include "bound/bound.h"
#include "io/profile.h"
#include "io/trace.h"

#define FX_MAXREQ 8
#define FX_MAXCLS 4

struct fx {
	struct ts_class cls[FX_MAXCLS];
	struct ts_classes cs;
	struct ts_request req[FX_MAXREQ];
	struct ts_trace t;
	int gpus;
};

/* An empty instance of nclasses classes (no cells) on gpus GPUs. */
static inline void fx_init(struct fx *f, int nclasses, int gpus)
{
	memset(f, 0, sizeof(*f));
	for (int c = 0; c < nclasses; c++) {
		f->cls[c].height = f->cls[c].width = 256 << c;
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++)
				f->cls[c].step[b][d] = -1;
	}
	f->cs.cls = f->cls;
	f->cs.n = nclasses;
	f->t.req = f->req;
	f->gpus = gpus;
}

/* Step time of class c at degree k, batch b: ms milliseconds. */
static inline void fx_cell(struct fx *f, int c, int k, int b, double ms)
{
	f->cls[c].step[ts_deg_index(b)][ts_deg_index(k)] = (ts_ns)(ms * TS_NS_PER_MS);
}

/* Appends a request of class c (arrival order is the caller's job). */
static inline void fx_req(struct fx *f, int c, double arrival_ms, double slo_ms, int steps)
{
	struct ts_request *r = &f->req[f->t.n];
	*r = (struct ts_request){ .id = (int64_t)f->t.n, .arrival = (ts_ns)(arrival_ms * TS_NS_PER_MS),
				  .slo = (ts_ns)(slo_ms * TS_NS_PER_MS), .steps = steps, .cls = c,
				  .height = f->cls[c].height, .width = f->cls[c].width };
	r->deadline = r->arrival + r->slo;
	f->t.n++;
}

/* The bound of f with opts o (NULL: defaults); -100 on error. */
static inline int fx_bound(const struct fx *f, const struct ts_bound_opts *o, struct ts_bound_result *r)
{
	struct ts_error err = { 0 };
	int rc = ts_bound_solve(&f->t, &f->cs, f->gpus, o, r, &err);
	if (rc < 0) {
		fprintf(stderr, "ts_bound_solve: %s\n", err.msg);
		return -100;
	}
	return rc;
}

#endif
