/* admit_state.h: private to the admit policy: its options, its state and
 * the stages of one plan call (admit_place.c: the virtual schedule with
 * admission and eviction; admit_launch.c: launches). Not for other modules. */
#ifndef TS_ADMIT_STATE_H
#define TS_ADMIT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "sched/admit/admit_vsched.h"
#include "sched/policy.h"

/* Most requests one call places on the virtual schedule (earliest deadlines
 * first); the rest wait, neither admitted nor evicted, for a later call. */
#define TS_ADMIT_WINDOW 256

enum admit_evict { ADMIT_EVICT_LARGEST, ADMIT_EVICT_NEWEST };
enum admit_late { ADMIT_LATE_DROP, ADMIT_LATE_DEFER };

/* The options of an admit spec (admit_options.c has their table). */
struct admit_opts {
	int evict;          /* enum admit_evict: whom a request that does not fit evicts */
	int late;           /* enum admit_late: what becomes of an evicted request */
	int chunk_steps;    /* a launch lasts about this many steps of the reference request */
	double chunk_ms;    /* > 0: the launch length in ms, overriding chunk_steps */
	bool fill;          /* launches widen onto idle GPUs nobody else's plan needs meanwhile */
	bool grow;          /* plans may start on part of their block and grow into it */
	int widen;          /* a request that does not fit tries the last `widen` placed on other widths */
	int budget;         /* placements one call may spend on repairs and evictions */
};

/* A launch being built in this call. */
struct admit_job {
	struct ts_launch l;
	int32_t cls;
	int32_t left;       /* the request's remaining steps */
	ts_ns t_step;
	bool deferred;      /* an evicted request on GPUs nobody needs */
};

/* A request placed on the virtual schedule in this call. */
struct admit_placed {
	int32_t r;
	struct ts_admit_plan plan;
};

/* The earliest two reservations of a GPU by different requests (start >
 * now) on the virtual schedule: how long others leave it free. */
struct admit_resv {
	ts_ns t1, t2;
	int32_t o1, o2;
};

struct admit {
	int32_t gpus;
	uint64_t all;
	struct admit_opts o;
	const struct ts_classes *cs;
	struct ts_admit_blocks blocks;
	ts_ns (*step)[TS_NDEG];     /* per class: batch-1 step time at 1 << d, -1: none or > gpus */
	ts_ns *tmin;                /* per class: fastest step time */
	int64_t *cmin;              /* per class: least GPU time of a step */
	ts_ns chunk;                /* launch length */
	ts_ns ref_step;             /* reference step (0 with chunk_ms) */
	/* the queue: arrived requests not finished nor dropped; pos[r] = index or -1 */
	int32_t *active;
	int32_t nactive;
	int32_t *pos;
	bool *evicted;              /* per request: hopeless or evicted; never admitted again */
	size_t nreq;
	/* per-call scratch, allocated in init */
	ts_ns now;
	uint64_t idle;
	ts_ns avail[TS_MAX_GPUS];   /* the virtual schedule before placing anyone */
	int32_t *keys;              /* requests to place, by deadline */
	int32_t *keys_tmp;
	int32_t nkeys;
	int32_t *deferred;          /* evicted idle requests (late=defer), by deadline */
	int32_t ndeferred;
	struct admit_placed *pl, *pl_tmp;
	int32_t *seq;               /* an order to try, window + 1 requests */
	int32_t force_r, force_w;   /* while trying: request force_r only on width force_w */
	int32_t budget;             /* placements left for repairs in this call */
	ts_ns (*snap)[TS_MAX_GPUS]; /* snap[p]: availability before placed p */
	int32_t npl;
	struct admit_resv resv[TS_MAX_GPUS];
	struct admit_job job[TS_MAX_GPUS];
	int32_t njob;
	char *desc;
};

/* admit_options.c: the option table, and the ops table's init, describe
 * and close. */
extern const struct ts_policy_option ts_admit_option_table[];
int ts_admit_init(void **self, const char *params, const struct ts_policy_env *env,
		  struct ts_error *err);
const char *ts_admit_describe(void *self);
void ts_admit_close(void *self);

/* The job of request r for the planner, ready at `ready`. */
struct ts_admit_job ts_admit_job_of(const struct admit *a, const struct ts_sched_view *v, int32_t r,
				    ts_ns ready);

/* Steps of a launch at t_step: as many as fit in a chunk, at least 1, at
 * most `limit`. */
int32_t ts_admit_chunk_steps(const struct admit *a, ts_ns t_step, int32_t limit);

/* Places a->keys in order on the virtual schedule, evicting (a->evicted)
 * by the evict option whenever a request does not fit; fills a->pl. */
void ts_admit_place_all(struct admit *a, const struct ts_sched_view *v);

/* Launches into a->job: placed requests whose plan starts now, for a
 * chunk; with fill, those launches widen onto idle GPUs for the steps that
 * end before anyone else's plan needs them; then deferred requests, one
 * step each, likewise. */
void ts_admit_launch_all(struct admit *a, const struct ts_sched_view *v);

#endif
