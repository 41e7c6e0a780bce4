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

ts_ns ts_drv_next_external(const struct driver *d)
{
	ts_ns until = ts_drv_next_cancel(d);
	if (d->next_arrival < d->view.nreq && d->view.req[d->next_arrival].arrival < until)
		until = d->view.req[d->next_arrival].arrival;
	return until;
}

ts_ns ts_drv_wall(const struct driver *d)
{
	return d->cfg->backend.ops->now(d->cfg->backend.self);
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
		rc = ts_drv_advance(d, err);
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
		.view = { .now = 0, .gpus = cfg->gpus, /* model time starts at 0, as the backend's clock */
			  .req = cfg->trace->req, .st = res->st, .cls = cfg->cls, .nreq = n },
		.wake_at = -1,
		.window = cfg->window,
	};
	if (d.window.abs_ns <= 0 && d.window.rel <= 0)
		d.window = (struct ts_window){ .abs_ns = TS_WINDOW_ABS_NS, .rel = TS_WINDOW_REL };
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
