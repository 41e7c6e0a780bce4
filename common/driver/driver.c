/* driver.c: the driver loop (see driver.h). */
#include "driver/driver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/gpuset.h"

/* A launch in flight; at most one per GPU, so TS_MAX_GPUS slots suffice. */
struct inflight {
	struct ts_launch l;
	ts_ns due;    /* end predicted by the profile: launch time + nsteps x step */
	ts_ns step;   /* the profile's step time of the launch */
	bool used;
};

struct driver {
	const struct ts_driver_config *cfg;
	struct ts_run_result *res;
	struct ts_sched_view view;
	struct ts_plan plan;
	struct inflight slot[TS_MAX_GPUS];
	size_t next_arrival;     /* index of the next request to arrive */
	int64_t active;          /* arrived, not finished */
	int32_t inflight;
	ts_ns wake_at;
};

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
	for (int32_t i = 0; i < TS_MAX_GPUS; i++)
		if (!d->slot[i].used)
			return i;
	return -1; /* unreachable: every launch holds at least one GPU */
}

static int start_launch(struct driver *d, const struct ts_launch *l, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	int rc = check_launch(d, l, d->view.busy, err);
	if (rc)
		return rc;
	int32_t id = alloc_slot(d);
	rc = cfg->backend.ops->launch(cfg->backend.self, id, l, &d->view, err);
	if (rc)
		return rc;
	ts_ns step = ts_class_step(cfg->cls, d->view.req[l->req[0]].cls, ts_gpus_count(l->gpus), l->nreq);
	ts_ns due = d->view.now + step * l->nsteps;
	for (int i = 0; i < l->nreq; i++) {
		struct ts_req_state *s = &d->res->st[l->req[i]];
		if (s->gpus && (l->gpus & ~s->gpus))
			d->res->moves++; /* a subset already holds the latent */
		s->steps_inflight = l->nsteps;
		s->gpus = l->gpus;
		s->inflight_end = due;
	}
	d->slot[id] = (struct inflight){ .l = *l, .due = due, .step = step, .used = true };
	d->view.busy |= l->gpus;
	d->inflight++;
	d->res->launches++;
	return 0;
}

static int emit_segments(struct driver *d, int32_t r, const struct ts_launch *l,
			 const struct ts_completion *c, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	if (!cfg->sink || !cfg->sink->segment)
		return 0;
	const struct ts_req_state *s = &d->res->st[r];
	struct ts_segment seg = {
		.request_id = d->view.req[r].id, .gpus = l->gpus, .batch = l->nreq,
	};
	if (c->steps_start > c->start) {
		seg.kind = TS_SEG_MOVE;
		seg.first_step = s->steps_done;
		seg.start = c->start;
		seg.end = c->steps_start;
		int rc = cfg->sink->segment(cfg->sink_self, &seg, err);
		if (rc)
			return rc;
	}
	seg.kind = TS_SEG_STEPS;
	seg.first_step = s->steps_done;
	seg.nsteps = l->nsteps;
	seg.start = c->steps_start;
	seg.end = c->end;
	return cfg->sink->segment(cfg->sink_self, &seg, err);
}

/* Ends the launch of completion c; *due becomes the latest predicted end
 * of the launches ended so far in this batch of completions. */
static int finish_launch(struct driver *d, const struct ts_completion *c, ts_ns *due,
			 struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	if (c->launch_id < 0 || c->launch_id >= TS_MAX_GPUS || !d->slot[c->launch_id].used)
		return ts_err_set(err, TS_EINVAL, "backend reported unknown launch %d", c->launch_id);
	struct ts_launch l = d->slot[c->launch_id].l;
	if (d->slot[c->launch_id].due > *due)
		*due = d->slot[c->launch_id].due;
	d->slot[c->launch_id].used = false;
	d->view.busy &= ~l.gpus;
	d->inflight--;
	d->res->busy_gpu_ns += (int64_t)ts_gpus_count(l.gpus) * (c->end - c->start);
	if (c->end > d->res->makespan)
		d->res->makespan = c->end;
	for (int i = 0; i < l.nreq; i++) {
		int32_t r = l.req[i];
		struct ts_req_state *s = &d->res->st[r];
		int rc = emit_segments(d, r, &l, c, err);
		if (rc)
			return rc;
		if (s->start < 0)
			s->start = c->steps_start;
		s->steps_done += l.nsteps;
		s->steps_inflight = 0;
		s->inflight_end = -1;
		if (s->steps_done == d->view.req[r].steps) {
			s->finish = c->end;
			d->active--;
			if (cfg->sink && cfg->sink->request_done) {
				rc = cfg->sink->request_done(cfg->sink_self, &d->view.req[r], s, err);
				if (rc)
					return rc;
			}
		}
		if (cfg->policy.ops->on_launch_end)
			cfg->policy.ops->on_launch_end(cfg->policy.self, &d->view, r);
	}
	return 0;
}

static void admit_arrivals(struct driver *d)
{
	const struct ts_driver_config *cfg = d->cfg;
	while (d->next_arrival < d->view.nreq && d->view.req[d->next_arrival].arrival <= d->view.now) {
		int32_t r = (int32_t)d->next_arrival++;
		d->active++;
		if (cfg->policy.ops->on_arrival)
			cfg->policy.ops->on_arrival(cfg->policy.self, &d->view, r);
	}
}

static int run_plan(struct driver *d, struct ts_error *err)
{
	const struct ts_driver_config *cfg = d->cfg;
	d->plan.n = 0;
	d->plan.wake_at = -1;
	d->plan.round = false;
	int64_t t0 = ts_clock_ns();
	int rc = cfg->policy.ops->plan(cfg->policy.self, &d->view, &d->plan, err);
	int64_t plan_ns = ts_clock_ns() - t0;
	d->res->plan_calls++;
	if (rc)
		return ts_err_prefix(err, "policy %s at t=%.6f s", cfg->policy.ops->name,
				     ts_ns_to_s(d->view.now));
	d->wake_at = d->plan.wake_at;
	for (int32_t i = 0; i < d->plan.n; i++) {
		rc = start_launch(d, &d->plan.launch[i], err);
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

/* The next time the driver must act without a completion: an arrival or the
 * policy's timer. */
static ts_ns next_deadline(const struct driver *d)
{
	ts_ns until = INT64_MAX;
	if (d->next_arrival < d->view.nreq)
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
 * The caller stops settling at the next arrival or policy timer. */
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
		rc = finish_launch(d, &c, &due, err);
		if (rc)
			return rc;
		/* before planning, take every other completion of the same
		 * instant and those of the launches predicted to end with these */
		ts_ns settle = settle_until(d, due), stop = next_deadline(d);
		if (settle > stop)
			settle = stop; /* an arrival or the policy's timer ends settling */
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
		admit_arrivals(d);
		int rc = run_plan(d, err);
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
		res->st[i] = (struct ts_req_state){ .start = -1, .finish = -1, .inflight_end = -1 };
	struct driver d = {
		.cfg = cfg,
		.res = res,
		.view = { .now = cfg->backend.ops->now(cfg->backend.self), .gpus = cfg->gpus,
			  .req = cfg->trace->req, .st = res->st, .cls = cfg->cls, .nreq = n },
		.wake_at = -1,
	};
	int rc = driver_loop(&d, err);
	free(d.plan.launch);
	return rc;
}

void ts_run_result_free(struct ts_run_result *res)
{
	free(res->st);
	memset(res, 0, sizeof(*res));
}
