/* admit_policy.c: the admit policy: a virtual schedule of every admitted
 * request, rebuilt at each call, with admission and eviction, and launches
 * in chunks so that the next call can change its mind at a step boundary.
 *
 * A call: requests that cannot finish even alone at their fastest degree
 * are evicted; the others are placed in deadline order on the virtual
 * schedule (admit_place.c), evicting by the Moore-Hodgson rule where they
 * do not fit; then the launches (admit_launch.c). Evicted requests are
 * dropped (late=drop) or run on GPUs nobody needs (late=defer). Pure: no
 * clock, no I/O, no allocation after init. */
#include "sched/admit/admit_policy.h"

#include <string.h>

#include "core/gpuset.h"
#include "sched/admit/admit_state.h"

/* ---- queue ---- */

static void admit_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct admit *a = self;

	(void)v;
	if (r < 0 || (size_t)r >= a->nreq || a->pos[r] >= 0)
		return;
	a->pos[r] = a->nactive;
	a->active[a->nactive++] = r;
}

/* Takes r out of the queue (finished or dropped). */
static void admit_remove(struct admit *a, int32_t r)
{
	if (r < 0 || (size_t)r >= a->nreq || a->pos[r] < 0)
		return;
	int32_t i = a->pos[r], last = a->active[--a->nactive];
	a->active[i] = last;
	a->pos[last] = i;
	a->pos[r] = -1;
}

static void admit_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	if (v->st[r].finish >= 0)
		admit_remove(self, r);
}

static void admit_on_drop(void *self, const struct ts_sched_view *v, int32_t r)
{
	(void)v;
	admit_remove(self, r);
}

/* ---- helpers of the stages ---- */

struct ts_admit_job ts_admit_job_of(const struct admit *a, const struct ts_sched_view *v, int32_t r,
				    ts_ns ready)
{
	const struct ts_request *q = &v->req[r];
	return (struct ts_admit_job){
		.step = a->step[q->cls],
		.left = q->steps - v->st[r].steps_done - v->st[r].steps_inflight,
		.ready = ready,
		.deadline = q->deadline,
		.prev = v->st[r].gpus,
		.grow = a->o.grow,
	};
}

int32_t ts_admit_chunk_steps(const struct admit *a, ts_ns t_step, int32_t limit)
{
	int64_t q = a->chunk / t_step;

	if (q < 1)
		q = 1;
	return q < limit ? (int32_t)q : limit;
}

/* ---- one call ---- */

/* Keys: by deadline, then index. */
static bool key_before(const struct ts_sched_view *v, int32_t x, int32_t y)
{
	ts_ns dx = v->req[x].deadline, dy = v->req[y].deadline;
	return dx != dy ? dx < dy : x < y;
}

/* Bottom-up merge sort of a[0..n) through tmp (qsort may allocate). */
static void sort_by_deadline(const struct ts_sched_view *v, int32_t *a, int32_t *tmp, int32_t n)
{
	int32_t *src = a, *dst = tmp, *swap;

	for (int32_t w = 1; w < n; w *= 2) {
		for (int32_t lo = 0; lo < n; lo += 2 * w) {
			int32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			int32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = key_before(v, src[j], src[i]) ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

/* The virtual schedule before anyone is placed: idle GPUs free now, busy
 * ones at the predicted end of their launch (unknown: just after now). */
static void init_avail(struct admit *a, const struct ts_sched_view *v)
{
	for (int32_t g = 0; g < a->gpus; g++)
		a->avail[g] = v->busy >> g & 1 ? a->now + 1 : a->now;
	for (int32_t i = 0; i < a->nactive; i++) {
		const struct ts_req_state *s = &v->st[a->active[i]];
		if (s->steps_inflight <= 0 || s->inflight_end <= a->now)
			continue;
		for (uint64_t m = s->gpus & v->busy; m; m &= m - 1)
			a->avail[ts_gpus_first(m)] = s->inflight_end;
	}
}

/* Would r miss its deadline even alone at its fastest degree? */
static bool hopeless(const struct admit *a, const struct ts_sched_view *v, int32_t r)
{
	const struct ts_request *q = &v->req[r];
	const struct ts_req_state *s = &v->st[r];
	ts_ns ready = s->steps_inflight > 0 && s->inflight_end > a->now ? s->inflight_end : a->now;
	int64_t left = q->steps - s->steps_done - s->steps_inflight;
	return ready + left * a->tmin[q->cls] > q->deadline;
}

/* Sorts the requests to place into keys; evicts the hopeless ones; drops
 * (or defers) evicted requests that are idle. */
static int collect(struct admit *a, const struct ts_sched_view *v, struct ts_plan *out,
		   struct ts_error *err)
{
	a->nkeys = a->ndeferred = 0;
	for (int32_t i = 0; i < a->nactive; i++) {
		int32_t r = a->active[i];
		const struct ts_req_state *s = &v->st[r];
		int32_t left = v->req[r].steps - s->steps_done - s->steps_inflight;
		if (ts_req_done(s) || left <= 0)
			continue;
		if (!a->evicted[r] && hopeless(a, v, r))
			a->evicted[r] = true;
		if (!a->evicted[r])
			a->keys[a->nkeys++] = r;
		else if (s->steps_inflight == 0 && a->o.late == ADMIT_LATE_DROP && ts_plan_drop(out, r, err))
			return TS_ENOMEM;
		else if (s->steps_inflight == 0 && a->o.late == ADMIT_LATE_DEFER)
			a->deferred[a->ndeferred++] = r;
	}
	sort_by_deadline(v, a->keys, a->keys_tmp, a->nkeys);
	sort_by_deadline(v, a->deferred, a->keys_tmp, a->ndeferred);
	return 0;
}

/* Requests evicted while this call placed them, when idle: dropped, or
 * deferred after those deferred before. */
static int drop_new_evictions(struct admit *a, const struct ts_sched_view *v, struct ts_plan *out,
			      struct ts_error *err)
{
	for (int32_t k = 0; k < a->nkeys; k++) {
		int32_t r = a->keys[k];
		if (!a->evicted[r] || v->st[r].steps_inflight > 0)
			continue;
		if (a->o.late == ADMIT_LATE_DEFER)
			a->deferred[a->ndeferred++] = r;
		else if (ts_plan_drop(out, r, err))
			return TS_ENOMEM;
	}
	return 0;
}

static int admit_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct admit *a = self;

	out->wake_at = -1;
	a->now = v->now;
	a->idle = a->all & ~v->busy;
	if (a->nactive == 0 || a->idle == 0)
		return 0;
	if (collect(a, v, out, err))
		return TS_ENOMEM;
	init_avail(a, v);
	ts_admit_place_all(a, v);
	if (drop_new_evictions(a, v, out, err))
		return TS_ENOMEM;
	ts_admit_launch_all(a, v);
	for (int32_t i = 0; i < a->njob; i++) {
		int rc = ts_plan_push(out, &a->job[i].l, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct ts_policy_ops ts_policy_admit = {
	.name = "admit",
	.summary = "admission by a virtual schedule with Moore-Hodgson eviction, launches in chunks (docs/SCHEDULER.md)",
	.options = ts_admit_option_table,
	.init = ts_admit_init,
	.on_arrival = admit_on_arrival,
	.on_launch_end = admit_on_launch_end,
	.on_drop = admit_on_drop,
	.plan = admit_plan,
	.describe = ts_admit_describe,
	.close = ts_admit_close,
};
