/* policy.h: the scheduling-policy interface. A policy is pure decision code:
 * it never reads a clock or a file, it receives `now` and the state in a
 * ts_sched_view and answers with launches. The same policy object therefore
 * runs unchanged on the simulator and on the real executor. A policy owns
 * its options: they travel in its spec (sched/spec.h) and describe()
 * records their effective values with every stored run. */
#ifndef TS_POLICY_H
#define TS_POLICY_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/classes.h"
#include "io/trace.h"
#include "sched/spec.h"

/* Per-request dynamic state, owned and updated by the driver loop. */
struct ts_req_state {
	int32_t steps_done;      /* steps completed */
	int32_t steps_inflight;  /* steps of the launch now running; 0 when idle */
	uint64_t gpus;           /* GPUs of the running launch, else of the last one; 0 if never ran */
	ts_ns start;             /* start of the first step; -1 before */
	ts_ns finish;            /* end of the last step; -1 until done */
	ts_ns inflight_end;      /* profile estimate of when the running launch ends; -1 when idle */
	ts_ns dropped;           /* when its policy dropped it or its client cancelled it; -1: never */
};

/* Whether request state s is done with: finished or dropped. */
static inline bool ts_req_done(const struct ts_req_state *s)
{
	return s->finish >= 0 || s->dropped >= 0;
}

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

/* The answer of a plan call; the buffers belong to the driver. */
struct ts_plan {
	struct ts_launch *launch;
	int32_t n;
	int32_t cap;
	int32_t *drop;                /* requests dropped by this call: they never run again */
	int32_t ndrop, capdrop;
	ts_ns wake_at;                /* call plan again at this time even without an event; -1: no timer */
	bool round;                   /* this call was a round boundary (recorded in the rounds table) */
};

/* Appends a launch to plan->launch, growing it. Returns TS_ENOMEM on failure. */
int ts_plan_push(struct ts_plan *plan, const struct ts_launch *l, struct ts_error *err);

/* Drops request r (arrived, idle, not done): it counts as missed and never
 * runs again; the driver records it with the time and tells the policy
 * (on_drop). Returns TS_ENOMEM on failure. */
int ts_plan_drop(struct ts_plan *plan, int32_t r, struct ts_error *err);

/* What every policy may know at construction time. */
struct ts_policy_env {
	int gpus;                        /* GPUs in the node, 1..64 */
	const struct ts_trace *trace;
	const struct ts_classes *cls;
};

/* A command-line flag that is shorthand for an option item of a policy's
 * spec: `--no-elastic` edits every tetriserve spec of the --policy list to
 * end with ":elastic=off"; a flag with a value appends it ("--round-ms 80":
 * ":round_ms=80"). The table ends with an entry whose flag is NULL. */
struct ts_policy_flag {
	const char *flag;      /* without "--" */
	const char *item;      /* "elastic=off", or "round_ms=" for a flag with a value */
	bool takes_value;
	const char *help;
};

/* The policy ops table. `params` is the text after "NAME:" of the spec, or
 * NULL. Any entry except init and plan may be NULL. */
struct ts_policy_ops {
	const char *name;
	const char *summary;                    /* one line for --help and docs */
	const struct ts_policy_option *options; /* the options its spec takes; may be NULL */
	const struct ts_policy_flag *flags;     /* CLI shorthands; may be NULL */
	/* Builds the policy; checks the profile cells it needs with
	 * ts_classes_require() so a missing cell fails before the run starts. */
	int (*init)(void **self, const char *params, const struct ts_policy_env *env,
		    struct ts_error *err);
	/* Request r has arrived (v->now == its arrival). */
	void (*on_arrival)(void *self, const struct ts_sched_view *v, int32_t r);
	/* A launch of request r ended; v->st[r] is already updated (finish >= 0 if done). */
	void (*on_launch_end)(void *self, const struct ts_sched_view *v, int32_t r);
	/* Request r was dropped (by this policy's plan, or cancelled by its
	 * client: v->st[r].dropped >= 0); it is idle and never runs again. */
	void (*on_drop)(void *self, const struct ts_sched_view *v, int32_t r);
	/* Called after every batch of events at one time and at plan->wake_at.
	 * Appends launches for idle requests on idle GPUs, and drops
	 * (ts_plan_drop); out->n and out->ndrop are 0 on entry. */
	int (*plan)(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		    struct ts_error *err);
	/* A JSON object text of the policy's effective options and derived
	 * parameters (stored with the run); lives as long as the policy. */
	const char *(*describe)(void *self);
	void (*close)(void *self);
};

/* A built policy: its ops and its state, as one object. */
struct ts_policy {
	const struct ts_policy_ops *ops;
	void *self;
};

/* The registered policy at index i (0, 1, ...), NULL past the last. */
const struct ts_policy_ops *ts_policy_at(size_t i);

/* True when text[0..len) names a registered policy or an alias, e.g. to
 * tell where a comma-separated --policy list starts a new spec. */
bool ts_policy_name_known(const char *text, size_t len);

/* Looks up the policy of spec ("name" or "name:items"). Aliases resolve to
 * their policy with the items they imply first ("edf-fixed:4" is
 * "fixed-sp" with "order=edf:4"); "plugin:PATH.so[:items]" loads the policy
 * from a shared library (sched/plugin.h). Returns NULL and TS_EINVAL naming the
 * known policies when the name is unknown; *params receives the malloc'ed
 * items (NULL when there are none). */
const struct ts_policy_ops *ts_policy_find(const char *spec, char **params, struct ts_error *err);

/* Finds and initialises the policy of spec for env into *out; errors are
 * prefixed with "policy SPEC". */
int ts_policy_build(const char *spec, const struct ts_policy_env *env, struct ts_policy *out,
		    struct ts_error *err);

/* Closes a built policy; safe on a zeroed one. */
void ts_policy_close(struct ts_policy *p);

#endif
