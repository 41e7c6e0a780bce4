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
 * tetri_options.c, the queues' heap in tetri_queue.c. Pure: no clock, no
 * I/O, no allocation after init. */
#include "sched/tetri/tetri_policy.h"

#include <stdlib.h>
#include <string.h>

#include "sched/tetri/tetri_place.h"
#include "sched/tetri/tetri_state.h"

/* ---- queue ---- */

/* Puts idle request r in the queue of idle requests it belongs to: ok (and
 * turn), to be moved to late by collect once now passes late_at[r]. */
static void queue_idle(struct tetri *tp, const struct ts_sched_view *v, int32_t r)
{
	const struct ts_request *q = &v->req[r];
	int64_t need;

	if (__builtin_mul_overflow((int64_t)(q->steps - v->st[r].steps_done),
				   tp->degs[q->cls].tmin, &need) ||
	    __builtin_sub_overflow(q->deadline, need, &tp->late_at[r]))
		tp->late_at[r] = INT64_MIN;  /* cannot make it: late from the start */
	tp->deadline[r] = q->deadline;
	tetri_iheap_push(&tp->ok, r);
	tetri_iheap_push(&tp->turn, r);
}

static void unqueue_idle(struct tetri *tp, int32_t r)
{
	tetri_iheap_remove(&tp->ok, r);
	tetri_iheap_remove(&tp->turn, r);
	tetri_iheap_remove(&tp->late, r);
}

static void tetri_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct tetri *tp = self;

	if (r < 0 || (size_t)r >= tp->nreq || tp->queued[r])
		return;
	tp->queued[r] = 1;
	tp->nactive++;
	if (r >= tp->arrived)
		tp->arrived = r + 1;
	queue_idle(tp, v, r);
}

/* Takes request r out of the queue (it finished or was dropped). */
static void tetri_remove(struct tetri *tp, int32_t r)
{
	if (r < 0 || (size_t)r >= tp->nreq || !tp->queued[r])
		return;
	unqueue_idle(tp, r);
	tp->queued[r] = 0;
	tp->nactive--;
}

static void tetri_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct tetri *tp = self;

	if (r < 0 || (size_t)r >= tp->nreq || !tp->queued[r])
		return;
	if (ts_req_done(&v->st[r]))
		tetri_remove(tp, r);
	else if (v->st[r].steps_inflight == 0 && !tetri_iheap_has(&tp->ok, r) &&
		 !tetri_iheap_has(&tp->late, r))
		queue_idle(tp, v, r);
}

static void tetri_on_drop(void *self, const struct ts_sched_view *v, int32_t r)
{
	(void)v;
	tetri_remove(self, r);
}

/* ---- candidates ---- */

/* Moves the idle requests that turned late by now from ok to late. */
static void turn_late(struct tetri *tp, ts_ns now)
{
	int32_t r;

	while ((r = tetri_iheap_top(&tp->turn)) >= 0 && tp->late_at[r] < now) {
		tetri_iheap_pop(&tp->turn);
		tetri_iheap_remove(&tp->ok, r);
		tetri_iheap_push(&tp->late, r);
	}
}

static void add_cand(struct tetri *tp, const struct ts_sched_view *v, int32_t r, bool late)
{
	struct tetri_cand *c = &tp->cand[tp->ncand++];

	c->r = r;
	c->left = v->req[r].steps - v->st[r].steps_done;
	c->late = late;
	c->started = false;
	c->planned = false;
	tp->nontl += !late;
}

/* Moves the requests that turned late to their queue; with late=drop
 * drops every late one instead. Returns 0 or TS_ENOMEM. */
static int sweep_late(struct tetri *tp, ts_ns now, struct ts_plan *out, struct ts_error *err)
{
	int32_t r;

	turn_late(tp, now);
	while (tp->o.late == TETRI_LATE_DROP && (r = tetri_iheap_pop(&tp->late)) >= 0)
		if (ts_plan_drop(out, r, err))
			return TS_ENOMEM;
	return 0;
}

/* Between boundaries, whether no launch can start: no idle request that is
 * not late, and no late one whose step at its smallest degree (the one it
 * starts at) fits before the boundary (fill_late would not start it). */
static bool fill_futile(const struct tetri *tp, const struct ts_tetri_frame *f)
{
	return !f->boundary && tetri_iheap_top(&tp->ok) < 0 &&
	       (tetri_iheap_top(&tp->late) < 0 || f->end - f->now < tp->late_step_min);
}

/* Fills tp->cand with the idle requests: up to TS_TETRI_WINDOW non-late
 * ones, then up to one late one per GPU, each group by (deadline, index),
 * taking them out of their queues (requeue puts back those not started).
 * Call sweep_late first. */
static void collect(struct tetri *tp, const struct ts_sched_view *v)
{
	int32_t r;

	tp->ncand = tp->nontl = 0;
	while (tp->nontl < TS_TETRI_WINDOW && (r = tetri_iheap_pop(&tp->ok)) >= 0) {
		tetri_iheap_remove(&tp->turn, r);
		add_cand(tp, v, r, false);
	}
	while (tp->ncand - tp->nontl < tp->gpus && (r = tetri_iheap_pop(&tp->late)) >= 0)
		add_cand(tp, v, r, true);
}

/* Puts the candidates that did not start back in their queues. */
static void requeue(struct tetri *tp)
{
	for (int32_t i = 0; i < tp->ncand; i++) {
		const struct tetri_cand *c = &tp->cand[i];
		if (c->started)
			continue;
		if (c->late) {
			tetri_iheap_push(&tp->late, c->r);
			continue;
		}
		tetri_iheap_push(&tp->ok, c->r);
		tetri_iheap_push(&tp->turn, c->r);
	}
	tp->ncand = tp->nontl = 0;
}

/* At a due boundary: is a launch of the last round about to end (within
 * 5% of a round, e.g. delayed by a latent move)? Then the round waits for
 * it instead of planning without its GPUs. */
static bool round_draining(const struct tetri *tp, const struct ts_sched_view *v)
{
	ts_ns slack = tp->tau / 20;

	for (uint64_t busy = v->busy; busy; busy &= busy - 1) {
		const struct ts_req_state *s = &v->st[tp->run_req[__builtin_ctzll(busy)]];
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

/* The solo launch (docs/SCHEDULER.md): a request alone in the queue, at
 * the degree every call gives it on an idle node (solo_deg), on GPUs that
 * hold its latent, runs all its remaining steps in this launch when nothing
 * arrives (and its client does not give up) before they end: the calls of
 * the rounds in between would launch its steps back to back on the same
 * GPUs, so only the number of launches changes, not when and where each
 * step runs. The next call comes with its end (no timer). */
static void solo_extend(struct tetri *tp, const struct ts_sched_view *v, struct ts_plan *out)
{
	struct tetri_job *j = &tp->job[0];
	const struct ts_request *q = &v->req[j->l.req[0]];
	uint64_t prev = v->st[j->l.req[0]].gpus;
	ts_ns end;

	if (tp->njob != 1 || tp->nactive != 1 || j->l.nreq != 1 || j->late ||
	    ts_gpus_count(j->l.gpus) != tp->solo_deg[j->cls] || (prev && (j->l.gpus & ~prev)))
		return;
	if (__builtin_mul_overflow((int64_t)j->left, j->t_step, &end) ||
	    __builtin_add_overflow(end, v->now, &end))
		return;
	if ((size_t)tp->arrived < v->nreq && v->req[tp->arrived].arrival <= end)
		return;
	if (q->cancel_after > 0 && q->arrival + q->cancel_after <= end)
		return;
	j->l.nsteps = j->left;
	out->wake_at = -1;
}

/* Notes which request each GPU of this call's launches runs. */
static void note_running(struct tetri *tp)
{
	for (int32_t i = 0; i < tp->njob; i++)
		for (uint64_t g = tp->job[i].l.gpus; g; g &= g - 1)
			tp->run_req[__builtin_ctzll(g)] = tp->job[i].l.req[0];
}

static int tetri_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct tetri *tp = self;
	struct ts_tetri_frame f;
	uint64_t idle;
	int rc;

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
	if (sweep_late(tp, f.now, out, err))
		return TS_ENOMEM;
	if (fill_futile(tp, &f))
		return 0;
	collect(tp, v);
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
	if (tp->o.solo)
		solo_extend(tp, v, out);
	note_running(tp);
	rc = ts_tetri_emit(tp, out, err);
	requeue(tp);
	return rc;
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
