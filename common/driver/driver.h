/* driver.h: the driver loop shared by the simulator and the executor. It
 * feeds arrivals and completions to a policy, checks every launch the policy
 * returns, starts it on the backend and records segments and outcomes. */
#ifndef TS_DRIVER_H
#define TS_DRIVER_H

#include <signal.h>

#include "driver/backend.h"
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
 * Completions are taken in batches before each plan call: every completion
 * of the same instant, and those of the launches in flight whose predicted
 * end (launch time + steps x profile step) is no later than that of a
 * launch already ended in the batch, waiting for each at most one of its
 * steps past its predicted end and never past the next arrival or policy
 * timer. So launches the profile says end together
 * are planned on together on hardware too, where they finish a little apart.
 * On success and on failure *res holds the state reached (free it with
 * ts_run_result_free). */
int ts_driver_run(const struct ts_driver_config *cfg, struct ts_run_result *res,
		  struct ts_error *err);

/* Frees what *res owns. */
void ts_run_result_free(struct ts_run_result *res);

#endif
