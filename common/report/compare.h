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

/* One launch of a request: a steps segment and the latent move before it. */
struct ts_cmp_launch {
	int64_t req;
	int32_t height, width;
	uint64_t gpus;
	int32_t first, nsteps, batch;
	ts_ns start, end;    /* of its steps */
	ts_ns move;          /* duration of the move before it, 0 when none */
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
 * (enum ts_request_status), and the requests (by id) whose status differs. */
#define TS_CMP_MAX_LISTED 32

struct ts_cmp_outcomes {
	int64_t count[4][4];
	int64_t ndiffer;
	int64_t first_id;
	enum ts_request_status first_a, first_b;
	/* the first TS_CMP_MAX_LISTED of them (by id) */
	int64_t id[TS_CMP_MAX_LISTED];
	enum ts_request_status a[TS_CMP_MAX_LISTED], b[TS_CMP_MAX_LISTED];
};

/* The first differing launch pair of one request (either may be absent). */
struct ts_cmp_reqdiff {
	int64_t req;
	struct ts_cmp_launch a, b;
	bool has_a, has_b;
};

/* A launch of run b whose duration (its move and steps) fell outside the
 * driver's window (driver/timing.h) around the modelled one: its steps at
 * run a's mean step time of the cell, its move at the default move model;
 * or, when `issued`, the launch the driver itself recorded as its first
 * window miss (run b's summary), timed from the driver issuing it to the
 * backend reporting it, so a launch the executor started late counts (its
 * l.start is the issue time on run b's clock). */
struct ts_cmp_offwindow {
	struct ts_cmp_launch l;
	double observed_ms, modelled_ms;
	bool issued;
};

struct ts_comparison {
	struct ts_cmp_outcomes outcomes;
	struct ts_cmp_request *req;  /* by error, descending */
	size_t nreq;
	double median_err, p95_err;  /* NaN when nreq is 0 */
	struct ts_cmp_cell *cell;    /* by pixels, degree, batch */
	size_t ncell;
	struct ts_cmp_divergence div;
	struct ts_cmp_reqdiff *diff; /* the requests whose launches differ, by id */
	size_t ndiff;
	struct ts_cmp_launch *launch_b;  /* run b's launches, by request then first step */
	size_t nlaunch_b;
	int64_t offwindow;           /* launches of run b outside the window by their durations
				      * (cells run a used) */
	int64_t driver_misses;       /* run b's window misses as its driver recorded them (issue
				      * to report; 0 in files written before it recorded them) */
	bool has_cause;              /* cause: the last of them that ended before the schedules diverged */
	struct ts_cmp_offwindow cause;
};

/* Compares runs a and b of the file. TS_EINVAL naming a request when they
 * are not runs of one trace (a request missing from one, or another size,
 * step count or arrival, arrivals 1 us apart at most: a time-scaled exec
 * run and a pre-scaled trace file round differently). */
int ts_compare_runs(struct ts_reader *r, int64_t a, int64_t b, struct ts_comparison *out,
		    struct ts_error *err);

/* Why request p differs between the runs, as one line into buf: its first
 * differing launch (schedule), else its own steps (execution: the cell of
 * its longest launch of run b and both runs' mean step time there), else
 * its start (queueing: launches before it ended later). */
void ts_compare_cause_text(const struct ts_comparison *c, const struct ts_cmp_request *p, char *buf,
			   size_t len);

/* "4 steps from step 9 on GPUs 0,1,2,3 at 19.7018 s", or "no launch". */
void ts_compare_launch_text(const struct ts_cmp_launch *l, bool has, char *buf, size_t len);

/* Frees what ts_compare_runs made; safe on a zeroed struct. */
void ts_comparison_free(struct ts_comparison *c);

#endif
