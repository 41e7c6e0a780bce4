/* driver_internal.h: the driver loop's state, shared by its files:
 * driver.c (the loop, arrivals, planning), driver_events.c (model time:
 * waiting for completions and taking them in model-time order),
 * driver_launch.c (checking and starting launches, ending them) and
 * driver_drop.c (drops by a policy and cancellations by a client). Private
 * to common/driver. */
#ifndef TS_DRIVER_INTERNAL_H
#define TS_DRIVER_INTERNAL_H

#include "core/heap.h"
#include "driver/driver.h"

/* A launch in flight; at most one per GPU, so a slot per GPU suffices (a
 * launch takes the lowest free one: slots >= gpus are never used). Its
 * completion is held (ended) until model time reaches its end. */
struct inflight {
	struct ts_launch l;
	int64_t seq;     /* launch order: the ends of one instant are taken in it */
	ts_ns start;     /* model time of the launch */
	ts_ns wall;      /* the backend's clock at the launch */
	ts_ns move;      /* modelled latent move, 0 when none */
	ts_ns step;      /* the profile's step time of the launch */
	ts_ns due;       /* modelled end: start + move + nsteps x step */
	ts_ns bound;     /* the end of its window on the backend's clock */
	ts_ns end;       /* model time of its end, once its completion came */
	struct ts_completion c;
	bool used;
	bool ended;      /* the backend reported it */
	bool overdue;    /* the backend's clock passed its window: not waited for */
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
	int32_t held;            /* launches in flight whose completion came (ended) */
	ts_ns wake_at;
	struct ts_heap cancels;  /* key: when a client gives up; val: request index */
	struct ts_window window;
	int64_t seq;             /* launches made so far */
};

/* Checks launch l against the rules of driver.h and starts it on the
 * backend; TS_EPOLICY naming the rule it breaks. */
int ts_drv_start_launch(struct driver *d, const struct ts_launch *l, struct ts_error *err);

/* Ends the held launch of slot id (its segments, the requests' progress,
 * finishes, the policy told) at model time d->view.now. */
int ts_drv_finish_launch(struct driver *d, int32_t id, struct ts_error *err);

/* Moves model time to the next instant something happens (an arrival, a
 * cancel, the policy's timer, the end of a launch), waiting on the backend
 * as driver.h says, and ends the launches that end then. */
int ts_drv_advance(struct driver *d, struct ts_error *err);

/* The next arrival or cancel time (model time), INT64_MAX when none. */
ts_ns ts_drv_next_external(const struct driver *d);

/* The backend's clock now. */
ts_ns ts_drv_wall(const struct driver *d);

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
