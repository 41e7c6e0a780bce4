/* driver_events.c: model time (see driver.h): the driver waits for the
 * backend's completions, holds each until model time reaches its end, and
 * takes the events of one instant together. */
#include <stdint.h>

#include "driver/driver_internal.h"

/* Counts held launch f as a window miss (the first one is kept). */
static void note_window_miss(struct driver *d, const struct inflight *f, ts_ns modelled, ts_ns observed)
{
	if (d->res->window_misses++ == 0)
		d->res->first_miss = (struct ts_window_miss){
			.request_id = d->view.req[f->l.req[0]].id, .first_step = d->view.st[f->l.req[0]].steps_done,
			.nsteps = f->c.nsteps, .gpus = f->l.gpus, .start = f->start, .issued = f->wall,
			.observed = observed, .modelled = modelled };
}

/* The model end of held launch f: its modelled end when the backend's
 * observed duration (from the driver issuing it to the backend reporting
 * it) lies within the window, else its start plus that duration, counted
 * as a window miss; never before now. A cut launch is modelled by the
 * steps it ran. */
static ts_ns model_end(struct driver *d, const struct inflight *f)
{
	ts_ns modelled = f->move + (ts_ns)f->c.nsteps * f->step;
	ts_ns observed = f->c.end - f->wall;
	bool in = ts_window_holds(&d->window, modelled, observed);
	if (!in)
		note_window_miss(d, f, modelled, observed);
	ts_ns end = f->start + (in ? modelled : observed);
	return end < d->view.now ? d->view.now : end;
}

/* Holds completion c: its launch ends at its model end. */
static int hold(struct driver *d, const struct ts_completion *c, struct ts_error *err)
{
	if (c->launch_id < 0 || c->launch_id >= d->cfg->gpus || !d->slot[c->launch_id].used ||
	    d->slot[c->launch_id].ended)
		return ts_err_set(err, TS_EINVAL, "backend reported unknown launch %d", c->launch_id);
	struct inflight *f = &d->slot[c->launch_id];
	if (c->nsteps < 0 || c->nsteps > f->l.nsteps)
		return ts_err_set(err, TS_EINVAL, "backend reported %d steps of launch %d of %d steps",
				  c->nsteps, c->launch_id, f->l.nsteps);
	f->c = *c;
	f->ended = true;
	f->end = model_end(d, f);
	d->held++;
	return 0;
}

/* The earliest held end, INT64_MAX when none. */
static ts_ns first_held_end(const struct driver *d)
{
	ts_ns t = INT64_MAX;
	for (int32_t i = 0; d->held && i < d->cfg->gpus; i++)
		if (d->slot[i].used && d->slot[i].ended && d->slot[i].end < t)
			t = d->slot[i].end;
	return t;
}

/* How long to wait on the backend before model instant t can be taken:
 * until the earliest window end of the launches still waited for that are
 * modelled to end by t; -1 when none is. With t == INT64_MAX: of all of them. */
static ts_ns wait_bound(const struct driver *d, ts_ns t)
{
	ts_ns until = -1;
	for (int32_t i = 0; i < d->cfg->gpus; i++) {
		const struct inflight *f = &d->slot[i];
		if (!f->used || f->ended || f->overdue || f->due > t)
			continue;
		if (until < 0 || f->bound < until)
			until = f->bound;
	}
	return until;
}

/* Launches whose window has passed on the backend's clock are not waited for again. */
static void mark_overdue(struct driver *d)
{
	ts_ns now = ts_drv_wall(d);
	for (int32_t i = 0; i < d->cfg->gpus; i++) {
		struct inflight *f = &d->slot[i];
		if (f->used && !f->ended && f->bound <= now)
			f->overdue = true;
	}
}

/* One wait on the backend until `until` (its clock): a completion is held,
 * a timeout marks the launches past their window. */
static int wait_once(struct driver *d, ts_ns until, struct ts_error *err)
{
	struct ts_completion c;
	int rc = d->cfg->backend.ops->wait(d->cfg->backend.self, until, &c, err);
	if (rc == 1)
		return hold(d, &c, err);
	if (rc == 0)
		mark_overdue(d);
	return rc;
}

/* Holds what the backend has already reported, without waiting: 1 when
 * something came, 0 when nothing did. */
static int poll_once(struct driver *d, struct ts_error *err)
{
	struct ts_completion c;
	int rc = d->cfg->backend.ops->wait(d->cfg->backend.self, ts_drv_wall(d), &c, err);
	if (rc == 1 && (rc = hold(d, &c, err)) == 0)
		rc = 1;
	return rc;
}

/* Ends every held launch that ends at model time t, in launch order. */
static int finish_instant(struct driver *d, ts_ns t, struct ts_error *err)
{
	while (d->held) {
		int32_t next = -1;
		for (int32_t i = 0; i < d->cfg->gpus; i++) {
			const struct inflight *f = &d->slot[i];
			if (f->used && f->ended && f->end == t && (next < 0 || f->seq < d->slot[next].seq))
				next = i;
		}
		if (next < 0)
			return 0;
		int rc = ts_drv_finish_launch(d, next, err);
		if (rc)
			return rc;
	}
	return 0;
}

int ts_drv_advance(struct driver *d, struct ts_error *err)
{
	ts_ns deadline = ts_drv_next_external(d);
	if (d->wake_at > d->view.now && d->wake_at < deadline)
		deadline = d->wake_at;
	if (d->inflight == 0 && deadline == INT64_MAX)
		return ts_err_set(err, TS_EPOLICY,
				  "policy %s left %lld requests waiting with every GPU idle and no timer at t=%.6f s",
				  d->cfg->policy.ops->name, (long long)d->active, ts_ns_to_s(d->view.now));
	for (;;) {
		ts_ns held = first_held_end(d);
		ts_ns t = held < deadline ? held : deadline;
		ts_ns until = wait_bound(d, t);
		int rc = 0;
		if (until >= 0)
			rc = wait_once(d, until, err);       /* a launch modelled to end by t */
		else if (t == INT64_MAX)
			rc = wait_once(d, INT64_MAX, err);   /* only launches past their window */
		else if (t == deadline && ts_drv_wall(d) < t)
			rc = wait_once(d, t, err);           /* an arrival, cancel or timer: its time must come */
		else if ((rc = poll_once(d, err)) == 0) {
			/* nothing more has ended on the backend: take instant t */
			d->view.now = t;
			return finish_instant(d, t, err);
		}
		if (rc < 0)
			return rc;
	}
}
