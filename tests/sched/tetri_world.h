/* tetri_world.h: a frozen moment of a run for calling the "tetriserve"
 * policy directly: a trace, the step tables, each request's state and the
 * view the driver would pass; the test sets the state, then plans. */
#ifndef TETRI_WORLD_H
#define TETRI_WORLD_H

#include <stdlib.h>
#include <string.h>

#include "sched/tetri/tetri_policy.h"
#include "tetri_fixture.h"

struct world {
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_req_state *st;
	struct ts_sched_view v;
	void *pol;
	struct ts_plan plan;
};

/* Starts an empty world with the fixture's classes (batch rows or not). */
static inline void world_begin(struct world *w, bool batch)
{
	memset(w, 0, sizeof(*w));
	tf_classes(&w->cs, batch);
}

/* Creates the policy for the requests added so far; every request that has
 * arrived by `now` is announced. Returns init's code. */
static inline int world_start(struct world *w, int gpus, ts_ns now, const char *params,
			      struct ts_error *err)
{
	struct ts_policy_env env = { 0 };

	free(w->st);
	w->st = calloc(w->t.n + 1, sizeof(*w->st));
	for (size_t i = 0; i < w->t.n; i++)
		w->st[i] = (struct ts_req_state){ .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 };
	w->v = (struct ts_sched_view){ .now = now, .gpus = gpus, .req = w->t.req, .st = w->st,
				       .cls = &w->cs, .nreq = w->t.n };
	env.gpus = gpus;
	env.trace = &w->t;
	env.cls = &w->cs;
	int rc = ts_policy_tetriserve.init(&w->pol, params, &env, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < w->t.n; i++)
		if (w->t.req[i].arrival <= now)
			ts_policy_tetriserve.on_arrival(w->pol, &w->v, (int32_t)i);
	return 0;
}

/* One plan call at `now` into w->plan (launches and drops cleared first). */
static inline int world_plan(struct world *w, ts_ns now)
{
	struct ts_error err = { 0 };

	w->v.now = now;
	w->plan.n = 0;
	w->plan.ndrop = 0;
	w->plan.round = false;
	w->plan.wake_at = -1;
	return ts_policy_tetriserve.plan(w->pol, &w->v, &w->plan, &err);
}

/* Frees the policy and everything the world holds. */
static inline void world_end(struct world *w)
{
	if (w->pol)
		ts_policy_tetriserve.close(w->pol);
	free(w->plan.launch);
	free(w->plan.drop);
	free(w->st);
	free(w->t.req);
	free(w->cs.cls);
}

#endif
