/* policy.h: the scheduling-policy interface. A policy is pure decision code:
 * it never reads a clock or a file, it receives `now` and the state in a
 * ts_sched_view and answers with launches. The same policy object therefore
 * runs unchanged on the simulator and on the real executor. */
#ifndef TS_POLICY_H
#define TS_POLICY_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/trace.h"

/* Per-request dynamic state, owned and updated by the driver loop. */
struct ts_req_state {
	int32_t steps_done;      /* steps completed */
	int32_t steps_inflight;  /* steps of the launch now running; 0 when idle */
	uint64_t gpus;           /* GPUs of the running launch, else of the last one; 0 if never ran */
	ts_ns start;             /* start of the first step; -1 before */
	ts_ns finish;            /* end of the last step; -1 until done */
	ts_ns inflight_end;      /* profile estimate of when the running launch ends; -1 when idle */
};

/* What a policy sees when it is called. Arrays are indexed by request index
 * (position in the trace, arrival order). */
struct ts_sched_view {
	ts_ns now;
	int gpus;                        /* GPUs in the node */
	uint64_t busy;                   /* GPUs running a launch now */
	const struct ts_request *req;
	const struct ts_req_state *st;
	const struct ts_classes *cls;
	size_t nreq;                     /* requests in the trace */
};

/* One command: run nsteps steps of the request(s) on GPU set gpus. */
struct ts_launch {
	int32_t nreq;                 /* 1, or the batch size (identical requests sharing each step) */
	int32_t req[TS_MAX_BATCH];    /* request indices */
	uint64_t gpus;                /* GPU set; its popcount is the SP degree (a power of two) */
	int32_t nsteps;               /* steps run back to back, >= 1 */
};

/* The answer of a plan call; the buffer belongs to the driver. */
struct ts_plan {
	struct ts_launch *launch;
	int32_t n;
	int32_t cap;
	ts_ns wake_at;                /* call plan again at this time even without an event; -1: no timer */
	bool round;                   /* this call was a round boundary (recorded in the rounds table) */
};

/* Appends a launch to plan->launch, growing it. Returns TS_ENOMEM on failure. */
int ts_plan_push(struct ts_plan *plan, const struct ts_launch *l, struct ts_error *err);

/* Everything a policy may know at construction time. */
struct ts_policy_env {
	int gpus;
	const struct ts_trace *trace;
	const struct ts_classes *cls;
	/* knobs; 0/false/NULL = the policy's default */
	int round_steps;           /* tetriserve: round = this many steps of the reference request */
	ts_ns round_ns;            /* tetriserve: explicit round length */
	bool no_placement, no_elastic, no_batching; /* tetriserve ablation switches */
	const char *rssp_map;      /* rssp: "256=1,512=1,1024=2,2048=8" (keys: side of a square, or HxW) */
};

/* The policy ops table. `params` is the text after ':' in the policy spec
 * ("fixed-sp:4" -> "4"), or NULL. Any entry except plan may be NULL. */
struct ts_policy_ops {
	const char *name;
	/* Builds the policy; checks the profile cells it needs with
	 * ts_classes_require() so a missing cell fails before the run starts. */
	int (*init)(void **self, const char *params, const struct ts_policy_env *env,
		    struct ts_error *err);
	/* Request r has arrived (v->now == its arrival). */
	void (*on_arrival)(void *self, const struct ts_sched_view *v, int32_t r);
	/* A launch of request r ended; v->st[r] is already updated (finish >= 0 if done). */
	void (*on_launch_end)(void *self, const struct ts_sched_view *v, int32_t r);
	/* Called after every batch of events at one time and at plan->wake_at.
	 * Appends launches for idle requests on idle GPUs. out->n is 0 on entry. */
	int (*plan)(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		    struct ts_error *err);
	/* A JSON object of the policy's effective parameters (for the runs table);
	 * the string lives as long as the policy. May be NULL. */
	const char *(*describe)(void *self);
	void (*close)(void *self);
};

/* Looks up a policy by spec "name" or "name:params". Returns NULL (and
 * TS_EINVAL in err naming the known policies) when the name is unknown;
 * *params receives a pointer into spec after ':' or NULL. */
const struct ts_policy_ops *ts_policy_find(const char *spec, const char **params,
					   struct ts_error *err);

/* Mean step time of class c at SP degree k and batch size b (1, 2, 4, 8);
 * -1 when the profile has no such cell. */
ts_ns ts_class_step(const struct ts_classes *cs, int32_t c, int k, int b);

#endif
