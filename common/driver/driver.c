/* driver.c: the driver loop (see driver.h). */
#include "driver/driver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "driver/driver_internal.h"

static int admit_arrivals(struct driver *d, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	while (d->next_arrival < d->view.nreq && d->view.req[d->next_arrival].arrival <= d->view.now) {
		int32_t r = (int32_t)d->next_arrival++;
		d->active++;
		if (cfg->policy.ops->on_arrival)
			cfg->policy.ops->on_arrival(cfg->policy.self, &d->view, r);
		int rc = ts_drv_watch_cancel(d, r, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int run_plan(struct driver *d, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	d->plan.n = 0;
	d->plan.ndrop = 0;
	d->plan.wake_at = -1;
	d->plan.round = false;
	/* timed only for a sink that records rounds (a clock read costs as much
	 * as a small plan call) */
	bool timed = cfg->sink && cfg->sink->round;
	int64_t t0 = timed ? ts_clock_ns() : 0;
	int rc = cfg->policy.ops->plan(cfg->policy.self, &d->view, &d->plan, err);
	int64_t plan_ns = timed ? ts_clock_ns() - t0 : 0;
	d->res->plan_calls++;
	if (rc)
		return ts_err_prefix(err, "policy %s at t=%.6f s", cfg->policy.ops->name,
				     ts_ns_to_s(d->view.now));
	d->wake_at = d->plan.wake_at;
	rc = ts_drv_apply_plan_drops(d, err);
	if (rc)
		return ts_err_prefix(err, "policy %s at t=%.6f s", cfg->policy.ops->name,
				     ts_ns_to_s(d->view.now));
	for (int32_t i = 0; i < d->plan.n; i++) {
		rc = ts_drv_start_launch(d, &d->plan.launch[i], err);
		if (rc)
			return ts_err_prefix(err, "policy %s at t=%.6f s", cfg->policy.ops->name,
					     ts_ns_to_s(d->view.now));
	}
	if (d->plan.round) {
		d->res->rounds++;
		if (cfg->sink && cfg->sink->round) {
			struct ts_round_rec rr = { .t = d->view.now, .active = (int32_t)d->active,
						   .launched = d->plan.n, .plan_wall_ns = plan_ns };
			return cfg->sink->round(cfg->sink_self, &rr, err);
		}
	}
	return 0;
}

/* The next time the driver must act without a completion: an arrival, the
 * policy's timer, or a client's cancel time. */
static ts_ns next_deadline(const struct driver *d)
{
	ts_ns until = ts_drv_next_cancel(d);
	if (d->next_arrival < d->view.nreq && d->view.req[d->next_arrival].arrival < until)
		until = d->view.req[d->next_arrival].arrival;
	if (d->wake_at > d->view.now && d->wake_at < until)
		until = d->wake_at;
	return until;
}

/* How long to wait, after launches predicted to end by `due` have ended,
 * for the others in flight that the profile says end by `due` too: each
 * gets up to one of its steps past its predicted end. On hardware, launches
 * the profile says end together (same start, steps and step time) finish a
 * fraction of a millisecond apart, in either order; planning at the first
 * would decide on part of the GPUs that the simulator, where they end at
 * the same instant, decides on together. Returns -1 when none is pending.
 * The caller stops settling at the next arrival, policy timer or cancel. */
static ts_ns settle_until(const struct driver *d, ts_ns due)
{
	ts_ns until = -1;
	for (int32_t i = 0; i < TS_MAX_GPUS; i++) {
		const struct inflight *f = &d->slot[i];
		if (f->used && f->due <= due && f->due + f->step > until)
			until = f->due + f->step;
	}
	return until;
}

static int drain_completions(struct driver *d, ts_ns until, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	struct ts_completion c;
	ts_ns due = INT64_MIN;
	int rc = cfg->backend.ops->wait(cfg->backend.self, until, &c, err);
	while (rc == 1) {
		d->view.now = cfg->backend.ops->now(cfg->backend.self);
		rc = ts_drv_finish_launch(d, &c, &due, err);
		if (rc)
			return rc;
		/* before planning, take every other completion of the same
		 * instant and those of the launches predicted to end with these */
		ts_ns settle = settle_until(d, due), stop = next_deadline(d);
		if (settle > stop)
			settle = stop; /* an arrival, the policy's timer or a cancel ends settling */
		rc = cfg->backend.ops->wait(cfg->backend.self, settle > d->view.now ? settle : d->view.now,
					&c, err);
	}
	d->view.now = cfg->backend.ops->now(cfg->backend.self);
	return rc;
}

static int driver_loop(struct driver *d, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	for (;;) {
		if (cfg->stop && *cfg->stop)
			return ts_err_set(err, TS_EINTR, "interrupted at t=%.3f s",
					  ts_ns_to_s(d->view.now));
		int rc = admit_arrivals(d, err);
		if (!rc)
			rc = ts_drv_cancels_due(d, err);
		if (!rc)
			rc = run_plan(d, err);
		if (rc)
			return rc;
		if (d->next_arrival == d->view.nreq && d->active == 0 && d->inflight == 0)
			return 0;
		ts_ns until = next_deadline(d);
		if (d->inflight == 0 && until == INT64_MAX)
			return ts_err_set(err, TS_EPOLICY,
					  "policy %s left %lld requests waiting with every GPU idle and no timer at t=%.6f s",
					  cfg->policy.ops->name, (long long)d->active, ts_ns_to_s(d->view.now));
		rc = drain_completions(d, until, err);
		if (rc < 0)
			return rc;
	}
}

int ts_driver_run(const struct ts_driver_config *cfg, struct ts_run_result *res,
		  struct ts_error *err)
{
	memset(res, 0, sizeof(*res));
	if (cfg->gpus < 1 || cfg->gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "GPU count %d outside 1..%d", cfg->gpus, TS_MAX_GPUS);
	size_t n = cfg->trace->n;
	res->st = malloc((n ? n : 1) * sizeof(*res->st));
	if (!res->st)
		return ts_err_set(err, TS_ENOMEM, "out of memory for %zu request states", n);
	res->n = n;
	for (size_t i = 0; i < n; i++)
		res->st[i] = (struct ts_req_state){ .start = -1, .finish = -1, .inflight_end = -1,
						    .dropped = -1 };
	struct driver d = {
		.cfg = cfg,
		.res = res,
		.view = { .now = cfg->backend.ops->now(cfg->backend.self), .gpus = cfg->gpus,
			  .req = cfg->trace->req, .st = res->st, .cls = cfg->cls, .nreq = n },
		.wake_at = -1,
	};
	int rc = driver_loop(&d, err);
	free(d.plan.launch);
	free(d.plan.drop);
	ts_heap_free(&d.cancels);
	return rc;
}

void ts_run_result_free(struct ts_run_result *res)
{
	free(res->st);
	memset(res, 0, sizeof(*res));
}
