/* tetri_launch.c: the stages that turn one plan call's candidates into
 * launches: packing and placement at a boundary, work-conserving fill,
 * selective batching, late requests, elastic scale-up. */
#include <string.h>

#include "sched/tetri/tetri_place.h"
#include "sched/tetri/tetri_state.h"

/* Step time of class c at degree k and batch b, -1 without a cell or when k
 * exceeds the node. */
static ts_ns tetri_step(const struct tetri *tp, int32_t c, int32_t k, int32_t b)
{
	return k <= tp->gpus ? ts_class_step(tp->cs, c, k, b) : -1;
}

/* The GPU-time-minimal plan of non-late candidate c, computed on first use
 * (between boundaries the fill usually runs out of GPUs long before the end
 * of the queue). */
static const struct ts_tetri_plan *tetri_cand_plan(struct tetri *tp, const struct ts_sched_view *v,
					     const struct ts_tetri_frame *f, struct tetri_cand *c)
{
	const struct ts_request *q = &v->req[c->r];

	if (!c->planned) {
		ts_tetri_min_gpu_plan(&tp->degs[q->cls], c->left, q->deadline - f->now, &c->plan);
		c->planned = true;
	}
	return &c->plan;
}

static void job_add(struct tetri *tp, const struct ts_sched_view *v, struct tetri_cand *c,
		    uint64_t gpus, int32_t q, ts_ns t_step)
{
	struct tetri_job *j = &tp->job[tp->njob++];

	memset(j, 0, sizeof(*j));
	j->l.nreq = 1;
	j->l.req[0] = c->r;
	j->l.gpus = gpus;
	j->l.nsteps = q;
	j->cls = v->req[c->r].cls;
	j->left = c->left;
	j->t_step = t_step;
	j->late = c->late;
	c->started = true;
}

/* Starts c on a free block of exactly k GPUs for min(limit, fit) steps, at
 * least one unless c is late; false when k has no cell, a late request's
 * step does not fit, or no block is free. */
static bool try_start(struct tetri *tp, const struct ts_sched_view *v,
		      const struct ts_tetri_frame *f, struct tetri_cand *c, int32_t k,
		      int32_t limit, uint64_t *idle)
{
	ts_ns t = tetri_step(tp, v->req[c->r].cls, k, 1);
	uint64_t prev = tp->o.placement ? v->st[c->r].gpus : 0;
	uint64_t b;
	int32_t q;

	if (t <= 0)
		return false;
	q = ts_tetri_fit_steps(f, t);
	/* no step fits before the boundary: rather than idle, a request that
	 * can still make it runs one step across it (its GPUs then count as
	 * busy for that round); a late one waits for the boundary */
	if (q == 0 && !c->late)
		q = 1;
	if (q > limit)
		q = limit;
	if (q < 1)
		return false;
	b = ts_tetri_find_block(*idle, tp->gpus, k, prev, 0);
	if (b == 0)
		return false;
	*idle &= ~b;
	job_add(tp, v, c, b, q, t);
	return true;
}

/* Starts c on the widest degree below `below` that has a free block. */
static bool start_narrower(struct tetri *tp, const struct ts_sched_view *v,
			   const struct ts_tetri_frame *f, struct tetri_cand *c, int32_t below,
			   uint64_t *idle)
{
	const struct ts_tetri_degs *d = &tp->degs[v->req[c->r].cls];

	for (int32_t i = d->nall - 1; i >= 0; i--)
		if (d->all_deg[i] < below && try_start(tp, v, f, c, d->all_deg[i], c->left, idle))
			return true;
	return false;
}

/* Round boundary: options, Algorithm 1, placement of the picked widths. */
void ts_tetri_pack_round(struct tetri *tp, const struct ts_sched_view *v,
			 const struct ts_tetri_frame *f, uint64_t *idle)
{
	struct ts_tetri_slot slot[TS_MAX_GPUS];
	int32_t who[TS_MAX_GPUS];
	int32_t ns = 0, used;

	for (int32_t i = 0; i < tp->nontl; i++) {
		const struct ts_request *q = &v->req[tp->cand[i].r];
		ts_tetri_options(&tp->degs[q->cls], tetri_cand_plan(tp, v, f, &tp->cand[i]),
				 tp->cand[i].left, q->deadline, f, &tp->items[i]);
	}
	ts_tetri_pack_solve(&tp->pack, tp->items, tp->nontl, ts_gpus_count(*idle), tp->pick, &used);
	for (int32_t i = 0; i < tp->nontl; i++) {
		const struct ts_tetri_opt *o = &tp->items[i].opt[tp->pick[i]];
		if (o->width == 0)
			continue;
		slot[ns] = (struct ts_tetri_slot){ .width = o->width, .prev = v->st[tp->cand[i].r].gpus };
		who[ns++] = i;
	}
	ts_tetri_place(slot, ns, idle, tp->gpus, tp->o.placement);
	for (int32_t s = 0; s < ns; s++) {
		struct tetri_cand *c = &tp->cand[who[s]];
		const struct ts_tetri_opt *o = &tp->items[who[s]].opt[tp->pick[who[s]]];
		if (slot[s].gpus == 0) {
			/* busy GPUs fragmented the node: run narrower rather than wait */
			start_narrower(tp, v, f, c, o->width, idle);
			continue;
		}
		job_add(tp, v, c, slot[s].gpus, o->q,
			tetri_step(tp, v->req[c->r].cls, o->width, 1));
	}
}

/* Work conservation: idle non-late requests in deadline order take free
 * GPUs, at their plan's widest segment that has a free block (its steps are
 * the ones that need many GPUs, which may be busy later), else at the
 * widest degree still free. */
void ts_tetri_fill_waiting(struct tetri *tp, const struct ts_sched_view *v,
			   const struct ts_tetri_frame *f, uint64_t *idle)
{
	for (int32_t i = 0; i < tp->nontl && *idle; i++) {
		struct tetri_cand *c = &tp->cand[i];
		const struct ts_tetri_plan *p;
		bool ok = false;
		if (c->started)
			continue;
		p = tetri_cand_plan(tp, v, f, c);
		for (int32_t m = p->n - 1; m >= 0 && !ok; m--)
			ok = try_start(tp, v, f, c, p->seg[m].deg, p->seg[m].steps, idle);
		if (!ok)
			start_narrower(tp, v, f, c, TS_MAX_GPUS + 1, idle);
	}
}

/* Late requests, in deadline order, get the smallest profiled degree (one
 * GPU in a complete profile) on GPUs nobody else took. */
void ts_tetri_fill_late(struct tetri *tp, const struct ts_sched_view *v,
			const struct ts_tetri_frame *f, uint64_t *idle)
{
	for (int32_t i = tp->nontl; i < tp->ncand && *idle; i++) {
		struct tetri_cand *c = &tp->cand[i];
		const struct ts_tetri_degs *d = &tp->degs[v->req[c->r].cls];
		try_start(tp, v, f, c, d->all_deg[0], c->left, idle);
	}
}

/* Would adding the members to job j with batch step tb keep every survivor
 * (the lead with its solo launch, members waiting) alive even if the batch
 * ran all their remaining steps? A batch is re-formed at every boundary, so
 * surviving only its first q steps (then the fastest degree) is not enough:
 * FLUX 256^2 in batches of 2 at SP 1 would pass that test round after round
 * and finish 50 steps in 1.95 s against a 1.5 s SLO. */
static bool batch_harmless(const struct tetri *tp, const struct ts_sched_view *v,
			   const struct ts_tetri_frame *f, const struct tetri_job *j,
			   struct tetri_cand *const *mem, int32_t nm, ts_ns tb)
{
	const struct ts_request *lead = &v->req[j->l.req[0]];
	ts_ns tmin = tp->degs[j->cls].tmin;

	if (ts_tetri_survives(f, j->left, j->l.nsteps, j->t_step, tmin, lead->deadline) &&
	    !ts_tetri_survives(f, j->left, j->left, tb, tmin, lead->deadline))
		return false;
	for (int32_t i = 0; i < nm; i++) {
		ts_ns dl = v->req[mem[i]->r].deadline;
		if (ts_tetri_survives(f, mem[i]->left, 0, 0, tmin, dl) &&
		    !ts_tetri_survives(f, mem[i]->left, mem[i]->left, tb, tmin, dl))
			return false;
	}
	return true;
}

/* Tries to grow solo job j into a batch of 8, 4 or 2 with waiting requests
 * of its class; true when it did. */
static bool batch_job(struct tetri *tp, const struct ts_sched_view *v,
		      const struct ts_tetri_frame *f, struct tetri_job *j)
{
	struct tetri_cand *mem[TS_MAX_BATCH - 1];
	int32_t nm = 0;
	int32_t k = ts_gpus_count(j->l.gpus);

	for (int32_t i = 0; i < tp->nontl && nm < TS_MAX_BATCH - 1; i++)
		if (!tp->cand[i].started && v->req[tp->cand[i].r].cls == j->cls)
			mem[nm++] = &tp->cand[i];
	for (int32_t b = TS_MAX_BATCH; b >= 2; b /= 2) {
		ts_ns tb = tetri_step(tp, j->cls, k, b);
		int32_t q = j->l.nsteps;
		if (b - 1 > nm || tb <= 0 || tb >= (int64_t)b * j->t_step)
			continue;
		for (int32_t i = 0; i < b - 1; i++)
			if (mem[i]->left < q)
				q = mem[i]->left;
		if (ts_tetri_fit_steps(f, tb) < q)
			q = ts_tetri_fit_steps(f, tb);
		if (q < 1 || !batch_harmless(tp, v, f, j, mem, b - 1, tb))
			continue;
		for (int32_t i = 0; i < b - 1; i++) {
			j->l.req[1 + i] = mem[i]->r;
			mem[i]->started = true;
			if (mem[i]->left < j->left)
				j->left = mem[i]->left;
		}
		j->l.nreq = b;
		j->l.nsteps = q;
		j->t_step = tb;
		return true;
	}
	return false;
}

/* Selective batching: requests left waiting ride along in launches of
 * identical requests where the profile has the batch cell, the batch is
 * cheaper than running them apart, and no survivor stops surviving. */
void ts_tetri_batch_waiting(struct tetri *tp, const struct ts_sched_view *v,
			    const struct ts_tetri_frame *f)
{
	for (int32_t i = 0; i < tp->njob; i++)
		if (!tp->job[i].late && tp->job[i].l.nreq == 1)
			batch_job(tp, v, f, &tp->job[i]);
}

/* The doubling of job j's width: its benefit (step time saved over its
 * remaining steps) and the new block; false when it cannot grow. */
static bool grow_option(const struct tetri *tp, const struct tetri_job *j, uint64_t idle,
			int64_t *benefit, uint64_t *block, ts_ns *t2)
{
	int32_t k = ts_gpus_count(j->l.gpus);

	*t2 = tetri_step(tp, j->cls, 2 * k, j->l.nreq);
	if (*t2 <= 0 || *t2 >= j->t_step)
		return false;
	*block = ts_tetri_grow(idle, tp->gpus, j->l.gpus);
	if (*block == 0)
		return false;
	*benefit = (j->t_step - *t2) * (int64_t)j->left;
	return true;
}

/* Elastic scale-up: while GPUs are free, double the width of the launch
 * (of the late requests, or of the others) that gains most; ties to the
 * earlier launch. */
void ts_tetri_scale_up(struct tetri *tp, const struct ts_tetri_frame *f, uint64_t *idle, bool late)
{
	while (*idle) {
		int32_t best = -1;
		int64_t best_gain = 0;
		uint64_t best_block = 0;
		ts_ns best_t2 = 0;
		for (int32_t i = 0; i < tp->njob; i++) {
			int64_t gain;
			uint64_t block;
			ts_ns t2;
			if (tp->job[i].late != late ||
			    !grow_option(tp, &tp->job[i], *idle, &gain, &block, &t2))
				continue;
			if (best >= 0 && gain <= best_gain)
				continue;
			best = i;
			best_gain = gain;
			best_block = block;
			best_t2 = t2;
		}
		if (best < 0)
			return;
		struct tetri_job *j = &tp->job[best];
		int32_t q = ts_tetri_fit_steps(f, best_t2);
		*idle = (*idle | j->l.gpus) & ~best_block;
		j->l.gpus = best_block;
		j->t_step = best_t2;
		/* a launch crossing the boundary keeps its single step */
		j->l.nsteps = q < 1 ? 1 : q < j->left ? q : j->left;
	}
}

int ts_tetri_emit(const struct tetri *tp, struct ts_plan *out, struct ts_error *err)
{
	for (int32_t i = 0; i < tp->njob; i++) {
		int rc = ts_plan_push(out, &tp->job[i].l, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}
