/* driver_launch.c: the driver checks every launch a policy returns, starts
 * it on the backend, and ends it when the backend reports it (see
 * driver_internal.h). */
#include <stdint.h>
#include <string.h>

#include "core/gpuset.h"
#include "driver/driver_internal.h"

static int check_request(const struct driver *d, const struct ts_launch *l, int i, struct ts_error *err)
{
	const struct ts_sched_view *v = &d->view;
	int32_t r = l->req[i];
	if (r < 0 || (size_t)r >= v->nreq)
		return ts_err_set(err, TS_EPOLICY, "launch names request index %d outside the trace", r);
	const struct ts_request *q = &v->req[r];
	const struct ts_req_state *s = &v->st[r];
	if ((size_t)r >= d->next_arrival)
		return ts_err_set(err, TS_EPOLICY, "request %lld launched before its arrival",
				  (long long)q->id);
	if (s->finish >= 0)
		return ts_err_set(err, TS_EPOLICY, "request %lld launched after it finished",
				  (long long)q->id);
	if (s->dropped >= 0)
		return ts_err_set(err, TS_EPOLICY, "request %lld launched after it was dropped",
				  (long long)q->id);
	if (s->steps_inflight > 0)
		return ts_err_set(err, TS_EPOLICY, "request %lld launched while already running",
				  (long long)q->id);
	if (l->nsteps > q->steps - s->steps_done)
		return ts_err_set(err, TS_EPOLICY, "request %lld: %d steps launched, %d remain",
				  (long long)q->id, l->nsteps, q->steps - s->steps_done);
	if (q->cls != v->req[l->req[0]].cls)
		return ts_err_set(err, TS_EPOLICY, "batch mixes resolutions (requests %lld and %lld)",
				  (long long)v->req[l->req[0]].id, (long long)q->id);
	for (int j = 0; j < i; j++)
		if (l->req[j] == r)
			return ts_err_set(err, TS_EPOLICY, "request %lld appears twice in one batch",
					  (long long)q->id);
	return 0;
}

/* Enforces the launch rules of driver.h. */
static int check_launch(const struct driver *d, const struct ts_launch *l, uint64_t busy,
			struct ts_error *err)
{
	const struct ts_sched_view *v = &d->view;
	int k = ts_gpus_count(l->gpus);
	if (ts_deg_index(k) < 0 || (l->gpus & ~ts_gpus_all(v->gpus)))
		return ts_err_set(err, TS_EPOLICY,
				  "launch GPU set 0x%llx is not a power-of-two set of GPUs 0..%d",
				  (unsigned long long)l->gpus, v->gpus - 1);
	if (l->gpus & busy)
		return ts_err_set(err, TS_EPOLICY, "launch on busy GPUs (set 0x%llx, busy 0x%llx)",
				  (unsigned long long)l->gpus, (unsigned long long)busy);
	if (l->nreq < 1 || l->nreq > TS_MAX_BATCH || ts_deg_index(l->nreq) < 0)
		return ts_err_set(err, TS_EPOLICY, "batch size %d is not 1, 2, 4 or 8", l->nreq);
	if (l->nsteps < 1)
		return ts_err_set(err, TS_EPOLICY, "launch of %d steps", l->nsteps);
	for (int i = 0; i < l->nreq; i++) {
		int rc = check_request(d, l, i, err);
		if (rc)
			return rc;
	}
	const struct ts_request *q = &v->req[l->req[0]];
	if (ts_class_step(v->cls, q->cls, k, l->nreq) <= 0)
		return ts_err_set(err, TS_EPOLICY,
				  "no profile cell for %dx%d at sp=%d batch=%d (request %lld)", q->height,
				  q->width, k, l->nreq, (long long)q->id);
	return 0;
}

static int32_t alloc_slot(struct driver *d)
{
	for (int32_t i = 0; i < d->cfg->gpus; i++)
		if (!d->slot[i].used)
			return i;
	return -1; /* unreachable: every launch holds at least one GPU */
}

int ts_drv_start_launch(struct driver *d, const struct ts_launch *l, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	const struct ts_backend_ops *be = cfg->backend.ops;
	int rc = check_launch(d, l, d->view.busy, err);
	if (rc)
		return rc;
	ts_ns step = ts_class_step(cfg->cls, d->view.req[l->req[0]].cls, ts_gpus_count(l->gpus), l->nreq);
	ts_ns due;
	/* inputs are bounded at load (TS_TIME_MAX); a policy that waits past
	 * them is refused here, never wrapped around */
	if (__builtin_mul_overflow(step, (ts_ns)l->nsteps, &due) ||
	    __builtin_add_overflow(due, d->view.now, &due) || due > 2 * TS_TIME_MAX)
		return ts_err_set(err, TS_ERANGE, "launch of request %lld at t=%.0f s: its %d steps would end "
				  "past the simulated time tetriserve represents",
				  (long long)d->view.req[l->req[0]].id, ts_ns_to_s(d->view.now), l->nsteps);
	int32_t id = alloc_slot(d);
	ts_ns move = be->move_ns ? be->move_ns(cfg->backend.self, l, &d->view) : 0;
	ts_ns wall = ts_drv_wall(d);
	rc = be->launch(cfg->backend.self, id, l, &d->view, err);
	if (rc)
		return rc;
	due += move; /* the modelled latent move comes first */
	for (int i = 0; i < l->nreq; i++) {
		struct ts_req_state *s = &d->res->st[l->req[i]];
		if (s->gpus && (l->gpus & ~s->gpus))
			d->res->moves++; /* a subset already holds the latent */
		s->steps_inflight = l->nsteps;
		s->gpus = l->gpus;
		s->inflight_end = due;
	}
	ts_ns modelled = due - d->view.now;
	d->slot[id] = (struct inflight){ .l = *l, .seq = d->seq++, .start = d->view.now, .wall = wall,
					 .move = move, .step = step, .due = due, .used = true,
					 .bound = wall + modelled + ts_window_ns(&d->window, modelled) };
	d->view.busy |= l->gpus;
	d->inflight++;
	d->res->launches++;
	return 0;
}

/* The segments of request r for completion c: a move when the latent moved,
 * then the steps that ran (none when a cancel cut the launch before its
 * first step ended). */
static int emit_segments(struct driver *d, int32_t r, const struct ts_launch *l,
			 const struct ts_completion *c, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	if (!cfg->sink || !cfg->sink->segment)
		return 0;
	const struct ts_req_state *s = &d->res->st[r];
	struct ts_segment seg = {
		.request_id = d->view.req[r].id, .gpus = l->gpus, .batch = l->nreq,
		.first_step = s->steps_done,
	};
	if (c->steps_start > c->start) {
		seg.kind = TS_SEG_MOVE;
		seg.start = c->start;
		seg.end = c->steps_start;
		int rc = cfg->sink->segment(cfg->sink_self, &seg, err);
		if (rc)
			return rc;
	}
	if (c->nsteps == 0)
		return 0;
	seg.kind = TS_SEG_STEPS;
	seg.nsteps = c->nsteps;
	seg.start = c->steps_start;
	seg.end = c->end;
	return cfg->sink->segment(cfg->sink_self, &seg, err);
}

/* When request r's client gives up; INT64_MAX: never. */
static ts_ns cancel_time(const struct driver *d, int32_t r)
{
	const struct ts_request *q = &d->view.req[r];
	return q->cancel_after > 0 ? q->arrival + q->cancel_after : INT64_MAX;
}

/* Where request r stands after its part of the launch that ended at model
 * time end with completion c: finished (its last step ended, in model time
 * and as recorded, by its client's cancel time, if any), dropped (the
 * launch ended at or after the cancel time without finishing it by then),
 * or waiting for more steps. */
static int settle_request(struct driver *d, int32_t r, const struct ts_completion *c, ts_ns end,
			  struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	struct ts_req_state *s = &d->res->st[r];
	if (s->start < 0 && c->nsteps > 0)
		s->start = c->steps_start;
	s->steps_done += c->nsteps;
	s->steps_inflight = 0;
	s->inflight_end = -1;
	bool complete = s->steps_done == d->view.req[r].steps;
	/* the later of the model end and the recorded one: a request is never
	 * recorded finished after its client gave up */
	ts_ns by = end > c->end ? end : c->end;
	if (cancel_time(d, r) <= by && !(complete && by == cancel_time(d, r)))
		return ts_drv_drop(d, r, c->end, err);
	if (complete) {
		s->finish = c->end;
		d->active--;
		if (cfg->sink && cfg->sink->request_done)
			return cfg->sink->request_done(cfg->sink_self, &d->view.req[r], s, err);
	}
	return 0;
}

int ts_drv_finish_launch(struct driver *d, int32_t id, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	struct inflight *f = &d->slot[id];
	const struct ts_completion c = f->c;
	const struct ts_launch l = f->l;
	ts_ns end = f->end;
	f->used = false;
	d->held--;
	d->view.busy &= ~l.gpus;
	d->inflight--;
	d->res->busy_gpu_ns += (int64_t)ts_gpus_count(l.gpus) * (c.end - c.start);
	if (c.end > d->res->makespan)
		d->res->makespan = c.end;
	for (int i = 0; i < l.nreq; i++) {
		int32_t r = l.req[i];
		int rc = emit_segments(d, r, &l, &c, err);
		if (!rc)
			rc = settle_request(d, r, &c, end, err);
		if (rc)
			return rc;
		if (cfg->policy.ops->on_launch_end)
			cfg->policy.ops->on_launch_end(cfg->policy.self, &d->view, r);
	}
	return 0;
}
