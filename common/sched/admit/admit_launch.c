/* admit_launch.c: the launches of one call, from the virtual schedule
 * (admit_place.c): placed requests whose plan starts now, for a chunk;
 * with fill, those launches widen onto idle GPUs for as long as nobody
 * else's plan needs them; deferred requests likewise, one step each. */
#include <string.h>

#include "core/gpuset.h"
#include "sched/admit/admit_state.h"

#define NEVER INT64_MAX

static int32_t left_of(const struct ts_sched_view *v, int32_t r)
{
	return v->req[r].steps - v->st[r].steps_done - v->st[r].steps_inflight;
}

static void job_add(struct admit *a, const struct ts_sched_view *v, int32_t r, uint64_t gpus,
		    int32_t q, ts_ns t, bool deferred)
{
	struct admit_job *j = &a->job[a->njob++];

	memset(j, 0, sizeof(*j));
	j->l = (struct ts_launch){ .nreq = 1, .req = { r }, .gpus = gpus, .nsteps = q };
	j->cls = v->req[r].cls;
	j->left = left_of(v, r);
	j->t_step = t;
	j->deferred = deferred;
	a->idle &= ~gpus;
}

/* Placed requests whose first phase starts now, on its GPUs, for a chunk. */
static void launch_planned(struct admit *a, const struct ts_sched_view *v)
{
	for (int32_t p = 0; p < a->npl; p++) {
		const struct admit_placed *x = &a->pl[p];
		const struct ts_admit_phase *h = &x->plan.ph[0];
		if (v->st[x->r].steps_inflight > 0 || h->start != a->now || (h->gpus & ~a->idle))
			continue;
		job_add(a, v, x->r, h->gpus, ts_admit_chunk_steps(a, h->t_step, h->steps), h->t_step, false);
	}
}

static void resv_insert(struct admit_resv *s, ts_ns t, int32_t o)
{
	if (o == s->o1) {
		s->t1 = t < s->t1 ? t : s->t1;
	} else if (o == s->o2) {
		s->t2 = t < s->t2 ? t : s->t2;
		if (s->t2 < s->t1)
			*s = (struct admit_resv){ .t1 = s->t2, .o1 = s->o2, .t2 = s->t1, .o2 = s->o1 };
	} else if (t < s->t1) {
		*s = (struct admit_resv){ .t1 = t, .o1 = o, .t2 = s->t1, .o2 = s->o1 };
	} else if (t < s->t2) {
		s->t2 = t;
		s->o2 = o;
	}
}

/* Per GPU, the earliest uses after now by two different placed requests. */
static void build_resv(struct admit *a)
{
	for (int32_t g = 0; g < a->gpus; g++)
		a->resv[g] = (struct admit_resv){ .t1 = NEVER, .t2 = NEVER, .o1 = -1, .o2 = -1 };
	for (int32_t p = 0; p < a->npl; p++) {
		const struct ts_admit_plan *pl = &a->pl[p].plan;
		for (int32_t h = 0; h < pl->n; h++) {
			if (pl->ph[h].start <= a->now)
				continue;
			for (uint64_t m = pl->ph[h].gpus; m; m &= m - 1)
				resv_insert(&a->resv[ts_gpus_first(m)], pl->ph[h].start, a->pl[p].r);
		}
	}
}

/* Until when the GPUs of `set` are free of everyone's plan but r's. */
static ts_ns free_until(const struct admit *a, uint64_t set, int32_t r)
{
	ts_ns t = NEVER;

	for (; set; set &= set - 1) {
		const struct admit_resv *s = &a->resv[ts_gpus_first(set)];
		ts_ns u = s->o1 == r ? s->t2 : s->t1;
		t = u < t ? u : t;
	}
	return t;
}

/* Steps of t_step that r may run on `set` from now: a chunk, at most
 * `limit`, ending before others need the GPUs; 0 when not even one. */
static int32_t room_steps(const struct admit *a, uint64_t set, int32_t r, ts_ns t, int32_t limit)
{
	ts_ns fu = free_until(a, set, r);
	int32_t q = ts_admit_chunk_steps(a, t, limit);

	if (fu != NEVER && (fu - a->now) / t < q)
		q = (int32_t)((fu - a->now) / t);
	return q;
}

/* The idle aligned block of width w where r runs most steps (ties: more of
 * its last GPUs, then lower); 0 when none gives a step. */
static uint64_t best_block(const struct admit *a, const struct ts_sched_view *v, int32_t r,
			   int32_t w, ts_ns t, int32_t *q)
{
	uint64_t best = 0, prev = v->st[r].gpus;
	int32_t bq = 0;

	for (int32_t base = 0; base + w <= a->gpus; base += w) {
		uint64_t b = ts_gpus_block(base, w);
		int32_t n;
		if ((b & ~a->idle) || (n = room_steps(a, b, r, t, left_of(v, r))) < 1)
			continue;
		if (n > bq || (n == bq && ts_gpus_count(b & prev) > ts_gpus_count(best & prev))) {
			best = b;
			bq = n;
		}
	}
	*q = bq;
	return best;
}

/* Doubling job j onto the aligned block twice as wide around it: the gain
 * (step time saved over its remaining steps), the block and the steps;
 * false when the class has no faster cell there or the other half is not
 * free for at least one step. */
static bool grow_option(const struct admit *a, const struct admit_job *j, int64_t *gain,
			uint64_t *block, int32_t *q)
{
	int32_t k = ts_gpus_count(j->l.gpus), d = ts_deg_index(2 * k);
	ts_ns t2;

	if (j->deferred || 2 * k > a->gpus || (t2 = a->step[j->cls][d]) <= 0 || t2 >= j->t_step)
		return false;
	*block = ts_gpus_block(ts_gpus_first(j->l.gpus) / (2 * k) * (2 * k), 2 * k);
	if (ts_gpus_first(*block) + 2 * k > a->gpus || ((*block & ~j->l.gpus) & ~a->idle))
		return false;
	*q = room_steps(a, *block, j->l.req[0], t2, j->left);
	*gain = (j->t_step - t2) * (int64_t)j->left;
	return *q >= 1;
}

/* While GPUs are idle, the launch that gains most doubles its width. */
static void grow_jobs(struct admit *a)
{
	while (a->idle) {
		int32_t best = -1, bq = 0;
		int64_t bgain = 0;
		uint64_t bblock = 0;
		for (int32_t i = 0; i < a->njob; i++) {
			int64_t gain;
			uint64_t block;
			int32_t q;
			if (grow_option(a, &a->job[i], &gain, &block, &q) && (best < 0 || gain > bgain)) {
				best = i;
				bgain = gain;
				bblock = block;
				bq = q;
			}
		}
		if (best < 0)
			return;
		struct admit_job *j = &a->job[best];
		int32_t k = ts_gpus_count(j->l.gpus);
		a->idle &= ~bblock;
		j->l.gpus = bblock;
		j->t_step = a->step[j->cls][ts_deg_index(2 * k)];
		j->l.nsteps = bq;
	}
}

/* Evicted requests kept by late=defer: one step each at their smallest
 * degree on idle GPUs nobody's plan needs before it ends. */
static void run_deferred(struct admit *a, const struct ts_sched_view *v)
{
	for (int32_t i = 0; i < a->ndeferred && a->idle; i++) {
		int32_t r = a->deferred[i], q;
		const ts_ns *step = a->step[v->req[r].cls];
		for (int32_t d = 0; d < TS_NDEG; d++) {
			if (step[d] <= 0)
				continue;
			uint64_t b = best_block(a, v, r, 1 << d, step[d], &q);
			if (b)
				job_add(a, v, r, b, 1, step[d], true);
			break;
		}
	}
}

void ts_admit_launch_all(struct admit *a, const struct ts_sched_view *v)
{
	a->njob = 0;
	launch_planned(a, v);
	build_resv(a);
	if (a->o.fill)
		grow_jobs(a);
	run_deferred(a, v);
}
