/* driver_internal.h: the driver loop's state, shared by its files:
 * driver.c (the loop, arrivals, planning, waiting), driver_launch.c
 * (checking and starting launches, ending them) and driver_drop.c (drops by
 * a policy and cancellations by a client). Private to common/driver. */
#ifndef TS_DRIVER_INTERNAL_H
#define TS_DRIVER_INTERNAL_H

#include "core/heap.h"
#include "driver/driver.h"

/* A launch in flight; at most one per GPU, so TS_MAX_GPUS slots suffice. */
struct inflight {
	struct ts_launch l;
	ts_ns due;    /* end predicted by the profile: launch time + nsteps x step */
	ts_ns step;   /* the profile's step time of the launch */
	bool used;
};

struct driver {
	const struct ts_driver_config *cfg;
	struct ts_run_result *res;
	struct ts_sched_view view;
	struct ts_plan plan;
	struct inflight slot[TS_MAX_GPUS];
	size_t next_arrival;     /* index of the next request to arrive */
	int64_t active;          /* arrived, not finished, not dropped */
	int32_t inflight;
	ts_ns wake_at;
	struct ts_heap cancels;  /* key: when a client gives up; val: request index */
};

/* Checks launch l against the rules of driver.h and starts it on the
 * backend; TS_EPOLICY naming the rule it breaks. */
int ts_drv_start_launch(struct driver *d, const struct ts_launch *l, struct ts_error *err);

/* Ends the launch of completion c (its segments, the requests' progress,
 * finishes, the policy told); *due becomes the latest predicted end of the
 * launches ended so far in this batch of completions. */
int ts_drv_finish_launch(struct driver *d, const struct ts_completion *c, ts_ns *due,
			 struct ts_error *err);

/* Records request r as dropped at time t (the sink's request row, the
 * policy's on_drop) and takes it out of the active count. */
int ts_drv_drop(struct driver *d, int32_t r, ts_ns t, struct ts_error *err);

/* Applies the drops of the last plan call: each must name an arrived,
 * idle request that is not done (else TS_EPOLICY). */
int ts_drv_apply_plan_drops(struct driver *d, struct ts_error *err);

/* Registers the client's cancel time of request r when it has one. */
int ts_drv_watch_cancel(struct driver *d, int32_t r, struct ts_error *err);

/* Handles every cancel time that has come: an idle request is dropped now;
 * a running one alone in its launch is cut at its next step boundary
 * (backend cancel) and dropped when that launch ends; one in a batch leaves
 * when the batch ends. */
int ts_drv_cancels_due(struct driver *d, struct ts_error *err);

/* The next cancel time still to handle, INT64_MAX when none. */
ts_ns ts_drv_next_cancel(const struct driver *d);

#endif
