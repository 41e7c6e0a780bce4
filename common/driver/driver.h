/* driver.h: the driver loop shared by the simulator and the executor. It
 * feeds arrivals and completions to a policy, checks every launch the policy
 * returns, starts it on the backend and records segments and outcomes. */
#ifndef TS_DRIVER_H
#define TS_DRIVER_H

#include <signal.h>

#include "driver/backend.h"
#include "driver/timing.h"
#include "io/trace.h"
#include "sched/policy.h"

struct ts_driver_config {
	const struct ts_trace *trace;
	const struct ts_classes *cls;
	int gpus;                               /* 1..64 */
	struct ts_policy policy;                /* built (ts_policy_build) */
	struct ts_backend backend;
	const struct ts_sink_ops *sink;         /* may be NULL */
	void *sink_self;
	volatile sig_atomic_t *stop;            /* when set (e.g. by SIGINT), the run ends with TS_EINTR; may be NULL */
	struct ts_window window;                /* zeros: TS_WINDOW_ABS_NS, TS_WINDOW_REL */
};

/* A launch whose time from the driver issuing it to the backend reporting
 * it left the window around its modelled time: its model end followed the
 * backend's clock (a loaded host starting or reporting it late counts). */
struct ts_window_miss {
	int64_t request_id;       /* its first request */
	int32_t first_step, nsteps;
	uint64_t gpus;
	ts_ns start;              /* model time it was issued at */
	ts_ns issued;             /* the backend's clock when it was issued (the time segments use) */
	ts_ns observed, modelled; /* issue to report on the backend's clock; the model's */
};

struct ts_run_result {
	struct ts_req_state *st;  /* one per trace request (owned; ts_run_result_free) */
	size_t n;
	ts_ns makespan;           /* time of the last completion */
	int64_t busy_gpu_ns;      /* sum over launches of GPUs x duration */
	int64_t launches;
	int64_t plan_calls;
	int64_t rounds;
	int64_t moves;            /* launches that moved a latent (to a GPU outside its last set) */
	int64_t dropped;          /* requests dropped by the policy or cancelled by their client */
	int64_t window_misses;    /* launches whose model end followed the backend's clock */
	struct ts_window_miss first_miss; /* the first of them; valid when window_misses > 0 */
};

/* Runs the trace to the end: every request arrives at its time and runs
 * until all its steps are done, or its policy drops it (ts_plan_drop), or
 * its client gives up (cancel_after): at its cancel time an idle request is
 * dropped; a running one alone in its launch is cut at its first step
 * boundary at or after that time (the backend's cancel) and dropped then; in
 * a batch it leaves when the batch ends; a request is finished only when its
 * last step ends by its cancel time. Every launch is checked (free GPUs, a
 * power-of-two GPU set inside the node, an arrived, idle, unfinished request,
 * steps within what remains, a profile cell for the degree and batch);
 * a violation ends the run with TS_EPOLICY naming the rule. Also TS_EPOLICY
 * when the policy leaves requests waiting with all GPUs idle and no timer.
 *
 * Model time: the policy sees (view.now) and every decision of the driver
 * uses the model time of events, not the backend's clock. A launch made at
 * model time t is modelled to end at t + its modelled move (the backend's
 * move_ns) + steps x profile step. When its completion comes, its model
 * end is that, if the duration the backend observed (from the launch call
 * to its end) lies within the window (timing.h) of the modelled one; else
 * t + the observed duration. Events are taken in model-time order: before
 * an instant is planned on, the driver waits for every launch modelled to
 * end by then, up to the end of its window on the backend's clock (one
 * that runs past it is not waited for again: its end comes when it comes);
 * it takes an arrival, a cancel or the policy's timer only once the
 * backend's clock has reached it too; and every completion the backend has
 * already reported is held first. The ends of one instant are taken in
 * launch order before one plan call. So the same sequence of events gives the same decisions
 * whatever the backend, its clock's jitter and its host overhead within
 * the window; and on the simulator without noise, model time is its clock.
 * Recorded times (segments, starts, finishes, drops) are the backend's.
 * On success and on failure *res holds the state reached (free it with
 * ts_run_result_free). */
int ts_driver_run(const struct ts_driver_config *cfg, struct ts_run_result *res,
		  struct ts_error *err);

/* Frees what *res owns. */
void ts_run_result_free(struct ts_run_result *res);

#endif
