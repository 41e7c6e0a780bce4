/* compare.h: two runs of one trace side by side (a simulation and a
 * hardware run, usually): per-request latency error, per-cell step time,
 * and the first launch where the schedules differ. What `tetriserve
 * validate` prints; the numbers come from here, read through the store. */
#ifndef TS_COMPARE_H
#define TS_COMPARE_H

#include "store/store_read.h"

/* One request finished in both runs. */
struct ts_cmp_request {
	int64_t id;
	double err;        /* |L_a - L_b| / L_b, L = finish - arrival */
	double dq, dx;     /* queueing and execution differences, a - b, seconds */
};

/* Mean step time of one (resolution, degree, batch) cell in both runs. */
struct ts_cmp_cell {
	int32_t height, width, degree, batch;
	double a_ms, b_ms;   /* NaN where a run has no step in the cell */
	int64_t b_steps;     /* steps run there by run b */
};

/* One launch (a steps segment) of a request. */
struct ts_cmp_launch {
	int64_t req;
	uint64_t gpus;
	int32_t first, nsteps;
	ts_ns start;
};

/* Where the schedules first differ: request `req`, where run a has launch
 * `a` (or none) and run b launch `b` (or none), at the earlier start `t`;
 * `nreq` requests' launches differ in all (0: identical schedules). */
struct ts_cmp_divergence {
	int64_t req;
	struct ts_cmp_launch a, b;
	bool has_a, has_b;
	ts_ns t;
	int64_t nreq;
};

/* How the two runs' requests ended: count[status in a][status in b]
 * (enum ts_request_status), and the first request (by id) whose status
 * differs. */
struct ts_cmp_outcomes {
	int64_t count[4][4];
	int64_t ndiffer;
	int64_t first_id;
	enum ts_request_status first_a, first_b;
};

struct ts_comparison {
	struct ts_cmp_outcomes outcomes;
	struct ts_cmp_request *req;  /* by error, descending */
	size_t nreq;
	double median_err, p95_err;  /* NaN when nreq is 0 */
	struct ts_cmp_cell *cell;    /* by pixels, degree, batch */
	size_t ncell;
	struct ts_cmp_divergence div;
};

/* Compares runs a and b of the file. TS_EINVAL naming a request when they
 * are not runs of one trace (a request missing from one, or another size,
 * step count or arrival, arrivals 1 us apart at most: a time-scaled exec
 * run and a pre-scaled trace file round differently). */
int ts_compare_runs(struct ts_reader *r, int64_t a, int64_t b, struct ts_comparison *out,
		    struct ts_error *err);

/* Frees what ts_compare_runs made; safe on a zeroed struct. */
void ts_comparison_free(struct ts_comparison *c);

#endif
