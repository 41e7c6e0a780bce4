/* driver_drop.c: requests that leave without finishing: dropped by their
 * policy (ts_plan_drop), or cancelled by their client (the trace's
 * cancel_s) at the first step boundary at or after the cancel time (see
 * driver_internal.h). */
#include "driver/driver_internal.h"

int ts_drv_drop(struct driver *d, int32_t r, ts_ns t, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	struct ts_req_state *s = &d->res->st[r];
	s->dropped = t;
	d->active--;
	d->res->dropped++;
	if (cfg->policy.ops->on_drop)
		cfg->policy.ops->on_drop(cfg->policy.self, &d->view, r);
	if (cfg->sink && cfg->sink->request_done)
		return cfg->sink->request_done(cfg->sink_self, &d->view.req[r], s, err);
	return 0;
}

int ts_drv_apply_plan_drops(struct driver *d, struct ts_error *err)
{
	for (int32_t i = 0; i < d->plan.ndrop; i++) {
		int32_t r = d->plan.drop[i];
		if (r < 0 || (size_t)r >= d->next_arrival)
			return ts_err_set(err, TS_EPOLICY, "drop of request index %d, which has not arrived", r);
		const struct ts_req_state *s = &d->res->st[r];
		if (ts_req_done(s) || s->steps_inflight > 0)
			return ts_err_set(err, TS_EPOLICY, "drop of request %lld, which is %s",
					  (long long)d->view.req[r].id,
					  s->steps_inflight > 0 ? "running" : "finished or dropped");
		int rc = ts_drv_drop(d, r, ts_drv_wall(d), err);
		if (rc)
			return rc;
	}
	return 0;
}

int ts_drv_watch_cancel(struct driver *d, int32_t r, struct ts_error *err)
{
	const struct ts_request *q = &d->view.req[r];
	if (q->cancel_after <= 0)
		return 0;
	if (ts_heap_push_seq(&d->cancels, q->arrival + q->cancel_after, (uint64_t)r, r))
		return ts_err_set(err, TS_ENOMEM, "out of memory for cancel times");
	return 0;
}

ts_ns ts_drv_next_cancel(const struct driver *d)
{
	const struct ts_heap_node *top = ts_heap_peek(&d->cancels);
	return top ? top->key : INT64_MAX;
}

/* The launch slot of running request r, -1 when none. */
static int32_t slot_of(const struct driver *d, int32_t r)
{
	for (int32_t i = 0; i < d->cfg->gpus; i++) {
		const struct inflight *f = &d->slot[i];
		for (int j = 0; f->used && j < f->l.nreq; j++)
			if (f->l.req[j] == r)
				return i;
	}
	return -1;
}

/* Request r's client gives up now. */
static int cancel_one(struct driver *d, int32_t r, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	const struct ts_req_state *s = &d->res->st[r];
	if (ts_req_done(s))
		return 0;
	if (s->steps_inflight == 0)
		return ts_drv_drop(d, r, ts_drv_wall(d), err);
	int32_t id = slot_of(d, r);
	/* alone in its launch: cut it at the next step boundary; in a batch the
	 * others go on, and r leaves when the batch ends (driver_launch.c). A
	 * launch the backend has already reported (held until model time
	 * reaches its end) is not cut again: its end drops r if due. */
	if (id >= 0 && !d->slot[id].ended && d->slot[id].l.nreq == 1 && cfg->backend.ops->cancel)
		return cfg->backend.ops->cancel(cfg->backend.self, id, d->view.now, err);
	return 0;
}

int ts_drv_cancels_due(struct driver *d, struct ts_error *err)
{
	struct ts_heap_node n;
	while (ts_drv_next_cancel(d) <= d->view.now) {
		ts_heap_pop(&d->cancels, &n);
		int rc = cancel_one(d, (int32_t)n.val, err);
		if (rc)
			return rc;
	}
	return 0;
}
