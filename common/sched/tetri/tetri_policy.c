/* tetri_policy.c: the TetriServe round-based scheduler (policy "tetriserve").
 *
 * Each call works on the requests that are arrived, unfinished and idle:
 *   at a round boundary: plan (GPU-time-minimal) -> options -> packing DP ->
 *     placement -> work-conserving fill -> batching -> elastic scale-up ->
 *     late requests -> their scale-up;
 *   between boundaries: the same without the DP and batching, on idle GPUs
 *     only, with launches that end by the next boundary (a non-late request
 *     whose next step does not fit may run that one step across it).
 * This file: the queue, the round clock and the pipeline; the launch-building
 * stages are in tetri_launch.c, the options and construction in
 * tetri_options.c. Pure: no clock, no I/O, no allocation after init. */
#include "sched/tetri/tetri_policy.h"

#include <stdlib.h>
#include <string.h>

#include "sched/tetri/tetri_place.h"
#include "sched/tetri/tetri_state.h"

/* ---- queue ---- */

static void tetri_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct tetri *tp = self;

	(void)v;
	if (r < 0 || (size_t)r >= tp->nreq || tp->pos[r] >= 0)
		return;
	tp->pos[r] = tp->nactive;
	tp->active[tp->nactive++] = r;
}

/* Takes request r out of the queue (it finished or was dropped). */
static void tetri_remove(struct tetri *tp, int32_t r)
{
	int32_t i, last;

	if (r < 0 || (size_t)r >= tp->nreq || tp->pos[r] < 0)
		return;
	i = tp->pos[r];
	last = tp->active[--tp->nactive];
	tp->active[i] = last;
	tp->pos[last] = i;
	tp->pos[r] = -1;
}

static void tetri_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	if (v->st[r].finish >= 0)
		tetri_remove(self, r);
}

static void tetri_on_drop(void *self, const struct ts_sched_view *v, int32_t r)
{
	(void)v;
	tetri_remove(self, r);
}

/* ---- candidates ---- */

/* Candidate order: non-late first, then deadline, then index (total). */
static bool key_before(const struct tetri_key *x, const struct tetri_key *y)
{
	if (x->late != y->late)
		return x->late < y->late;
	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return x->r < y->r;
}

/* Bottom-up merge sort of a[0..n) through the preallocated tmp[0..n):
 * qsort() may call malloc() for large arrays, and plan must not allocate. */
static void sort_keys(struct tetri_key *a, struct tetri_key *tmp, int32_t n)
{
	struct tetri_key *src = a, *dst = tmp, *swap;

	for (int32_t w = 1; w < n; w *= 2) {
		for (int32_t lo = 0; lo < n; lo += 2 * w) {
			int32_t mid = lo + w < n ? lo + w : n;
			int32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			int32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = key_before(&src[j], &src[i]) ? src[j++] : src[i++];
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

/* Sorts the idle requests and fills tp->cand: up to TS_TETRI_WINDOW non-late
 * ones, then up to one late one per GPU. With late=drop the late ones are
 * dropped instead. */
static int collect(struct tetri *tp, const struct ts_sched_view *v, const struct ts_tetri_frame *f,
		   struct ts_plan *out, struct ts_error *err)
{
	int32_t nk = 0;

	for (int32_t i = 0; i < tp->nactive; i++) {
		int32_t r = tp->active[i];
		const struct ts_request *q = &v->req[r];
		int32_t left = q->steps - v->st[r].steps_done;
		if (v->st[r].steps_inflight > 0 || ts_req_done(&v->st[r]) || left <= 0)
			continue;
		bool late = f->now + (int64_t)left * tp->degs[q->cls].tmin > q->deadline;
		if (late && tp->o.late == TETRI_LATE_DROP) {
			if (ts_plan_drop(out, r, err))
				return TS_ENOMEM;
			continue;
		}
		tp->keys[nk++] = (struct tetri_key){ .deadline = q->deadline, .r = r, .late = late };
	}
	sort_keys(tp->keys, tp->keys_tmp, nk);
	tp->ncand = tp->nontl = 0;
	for (int32_t k = 0; k < nk; k++) {
		const struct ts_request *q = &v->req[tp->keys[k].r];
		struct tetri_cand *c;
		if (!tp->keys[k].late && tp->nontl >= TS_TETRI_WINDOW)
			continue;
		if (tp->keys[k].late && tp->ncand - tp->nontl >= tp->gpus)
			break;
		c = &tp->cand[tp->ncand++];
		c->r = tp->keys[k].r;
		c->left = q->steps - v->st[c->r].steps_done;
		c->late = tp->keys[k].late;
		c->started = false;
		c->planned = false;
		tp->nontl += !c->late;
	}
	return 0;
}

/* At a due boundary: is a launch of the last round about to end (within
 * 5% of a round, e.g. delayed by a latent move)? Then the round waits for
 * it instead of planning without its GPUs. */
static bool round_draining(const struct tetri *tp, const struct ts_sched_view *v)
{
	ts_ns slack = tp->tau / 20;

	for (int32_t i = 0; i < tp->nactive; i++) {
		const struct ts_req_state *s = &v->st[tp->active[i]];
		if (s->steps_inflight > 0 && s->inflight_end >= 0 && s->inflight_end <= v->now + slack)
			return true;
	}
	return false;
}

/* Decides whether this call is a round boundary, a fill between
 * boundaries, or must wait; fills *f. Returns false when nothing may start. */
static bool frame_for_call(struct tetri *tp, const struct ts_sched_view *v, struct ts_plan *out,
			   struct ts_tetri_frame *f)
{
	if (tp->in_round && v->now < tp->round_end) {
		*f = (struct ts_tetri_frame){ .now = v->now, .end = tp->round_end };
		out->wake_at = tp->round_end;
		return true;
	}
	if (tp->in_round && round_draining(tp, v))
		return false;   /* the launch end calls plan again */
	tp->in_round = true;
	tp->round_end = v->now + tp->tau;
	*f = (struct ts_tetri_frame){ .now = v->now, .end = tp->round_end, .boundary = true };
	out->wake_at = tp->round_end;
	out->round = true;
	return true;
}

static int tetri_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct tetri *tp = self;
	struct ts_tetri_frame f;
	uint64_t idle;

	out->wake_at = -1;
	if (tp->nactive == 0) {
		tp->in_round = false;  /* the next arrival starts a fresh round */
		return 0;
	}
	idle = tp->all & ~v->busy;
	/* busy_boundary=wait: with every GPU busy the round clock is left alone,
	 * so a due boundary is taken by the launch end that frees a GPU */
	if (idle == 0 && tp->o.busy_boundary == TETRI_BOUNDARY_WAIT)
		return 0;
	if (!frame_for_call(tp, v, out, &f))
		return 0;
	if (idle == 0)
		return 0;
	tp->njob = 0;
	if (collect(tp, v, &f, out, err))
		return TS_ENOMEM;
	if (f.boundary)
		ts_tetri_pack_round(tp, v, &f, &idle);
	ts_tetri_fill_waiting(tp, v, &f, &idle);
	if (f.boundary && tp->o.batching)
		ts_tetri_batch_waiting(tp, v, &f);
	/* late requests only get what the others leave idle */
	if (tp->o.elastic)
		ts_tetri_scale_up(tp, &f, &idle, false);
	ts_tetri_fill_late(tp, v, &f, &idle);
	if (tp->o.elastic)
		ts_tetri_scale_up(tp, &f, &idle, true);
	return ts_tetri_emit(tp, out, err);
}

const struct ts_policy_ops ts_policy_tetriserve = {
	.name = "tetriserve",
	.summary = "TetriServe's round-based step-level scheduler (docs/SCHEDULER.md)",
	.options = ts_tetri_option_table,
	.flags = ts_tetri_flag_table,
	.init = ts_tetri_init,
	.on_arrival = tetri_on_arrival,
	.on_launch_end = tetri_on_launch_end,
	.on_drop = tetri_on_drop,
	.plan = tetri_plan,
	.describe = ts_tetri_describe,
	.close = ts_tetri_close,
};
