/* admit_place.c: the virtual schedule of one call, with admission and
 * eviction: a Moore-Hodgson rule generalised to moldable requests on
 * several GPUs. Requests are placed in deadline order, each on its least
 * GPU-time plan that meets its deadline given those placed before it
 * (admit_vsched.h). One that does not fit first tries a repair: one of the
 * last `widen` requests placed takes another width (e.g. a 512^2 image on
 * 2 GPUs beside a 2048^2 one that then keeps the other 2, instead of on 1
 * GPU for longer); if no repair fits everyone, the placed request that
 * ranks highest by the evict option is evicted when that lets it and every
 * request placed after the victim fit; else it is evicted itself. Every
 * attempt is paid from the call's repair budget. */
#include <string.h>

#include "core/gpuset.h"
#include "sched/admit/admit_state.h"

/* When r can take its next step: now, or the end of its running launch. */
static ts_ns ready_of(const struct admit *a, const struct ts_sched_view *v, int32_t r)
{
	ts_ns e = v->st[r].inflight_end;
	return v->st[r].steps_inflight > 0 && e > a->now ? e : a->now;
}

/* What evicting r frees: the GPU time of its remaining steps at its
 * cheapest degree. */
static int64_t cost_of(const struct admit *a, const struct ts_sched_view *v, int32_t r)
{
	const struct ts_request *q = &v->req[r];
	return (int64_t)(q->steps - v->st[r].steps_done - v->st[r].steps_inflight) * a->cmin[q->cls];
}

/* Places r on availability `avail` into *p; true when it meets its deadline. */
static bool place(const struct admit *a, const struct ts_sched_view *v, const ts_ns *avail,
		  int32_t r, struct admit_placed *p)
{
	struct ts_admit_job j = ts_admit_job_of(a, v, r, ready_of(a, v, r));
	p->r = r;
	if (r == a->force_r)
		j.width = a->force_w;
	return ts_admit_best_plan(&a->blocks, avail, &j, &p->plan);
}

/* Does x rank above y as a victim by the evict option: more remaining GPU
 * time (Moore-Hodgson), or a later arrival (ties: the later index)? */
static bool ranks_above(const struct admit *a, const struct ts_sched_view *v, int32_t x, int32_t y)
{
	if (a->o.evict == ADMIT_EVICT_LARGEST)
		return cost_of(a, v, x) > cost_of(a, v, y);
	if (v->req[x].arrival != v->req[y].arrival)
		return v->req[x].arrival > v->req[y].arrival;
	return x > y;
}

/* The placed request (index) that r evicts, -1 for r itself: the one that
 * ranks highest, if it ranks above r; ties: the later in deadline order. */
static int32_t victim(const struct admit *a, const struct ts_sched_view *v, int32_t r)
{
	int32_t best = -1;

	for (int32_t p = 0; p < a->npl; p++) {
		int32_t x = a->pl[p].r;
		if (ranks_above(a, v, x, r) && (best < 0 || !ranks_above(a, v, a->pl[best].r, x)))
			best = p;
	}
	return best;
}

/* Places the requests seq[0..n) in order from placed position `from` on;
 * when every one fits, they replace the placements from there on. Costs n
 * placements of the call's repair budget; not tried when it cannot pay. */
static bool try_sequence(struct admit *a, const struct ts_sched_view *v, int32_t from,
			 const int32_t *seq, int32_t n)
{
	size_t bytes = (size_t)a->gpus * sizeof(ts_ns);
	ts_ns avail[TS_MAX_GPUS];

	if (n > a->budget)
		return false;
	a->budget -= n;
	memcpy(avail, a->snap[from], bytes);
	for (int32_t i = 0; i < n; i++) {
		if (!place(a, v, avail, seq[i], &a->pl_tmp[i]))
			return false;
		ts_admit_commit(avail, &a->pl_tmp[i].plan);
	}
	for (int32_t i = 0; i < n; i++) {
		int32_t p = from + i;
		a->pl[p] = a->pl_tmp[i];
		memcpy(a->snap[p + 1], a->snap[p], bytes);
		ts_admit_commit(a->snap[p + 1], &a->pl[p].plan);
	}
	a->npl = from + n;
	return true;
}

/* Repair for r, which does not fit: one of the last `widen` placed (most
 * recent first) on another width its class has, then those after it and
 * r, all in time? */
static bool try_widths(struct admit *a, const struct ts_sched_view *v, int32_t r)
{
	bool ok = false;

	for (int32_t p = a->npl - 1; p >= 0 && p >= a->npl - a->o.widen && !ok; p--) {
		int32_t x = a->pl[p].r, cur = ts_gpus_count(a->pl[p].plan.block), n = 0;
		for (int32_t q = p; q < a->npl; q++)
			a->seq[n++] = a->pl[q].r;
		a->seq[n++] = r;
		a->force_r = x;
		for (int32_t d = 0; d < TS_NDEG && !ok; d++) {
			if ((1 << d) == cur || a->step[v->req[x].cls][d] <= 0)
				continue;
			a->force_w = 1 << d;
			ok = try_sequence(a, v, p, a->seq, n);
		}
		a->force_r = -1;
	}
	return ok;
}

/* Does evicting placed request `gone` let r and everyone after it fit? */
static bool try_evict(struct admit *a, const struct ts_sched_view *v, int32_t gone, int32_t r)
{
	int32_t n = 0;

	for (int32_t p = gone + 1; p < a->npl; p++)
		a->seq[n++] = a->pl[p].r;
	a->seq[n++] = r;
	return try_sequence(a, v, gone, a->seq, n);
}

void ts_admit_place_all(struct admit *a, const struct ts_sched_view *v)
{
	size_t bytes = (size_t)a->gpus * sizeof(ts_ns);

	a->npl = 0;
	a->force_r = -1;
	a->budget = a->o.budget;
	memcpy(a->snap[0], a->avail, bytes);
	for (int32_t k = 0; k < a->nkeys && a->npl < TS_ADMIT_WINDOW; k++) {
		int32_t r = a->keys[k], p = a->npl, gone, x;
		if (place(a, v, a->snap[p], r, &a->pl[p])) {
			memcpy(a->snap[p + 1], a->snap[p], bytes);
			ts_admit_commit(a->snap[p + 1], &a->pl[p].plan);
			a->npl++;
			continue;
		}
		if (try_widths(a, v, r))
			continue;
		gone = victim(a, v, r);
		x = gone >= 0 ? a->pl[gone].r : r;
		if (gone >= 0 && !try_evict(a, v, gone, r))
			x = r;
		a->evicted[x] = true;
	}
}
