/* admit_vsched.c: plans on the virtual schedule (see admit_vsched.h). */
#include "sched/admit/admit_vsched.h"

#include <string.h>

#include "core/gpuset.h"

void ts_admit_blocks_init(struct ts_admit_blocks *b, int32_t gpus)
{
	memset(b, 0, sizeof(*b));
	b->gpus = gpus;
	for (int32_t d = 0; d < TS_NDEG && (1 << d) <= gpus; d++) {
		int32_t w = 1 << d;
		b->off[d] = b->n;
		for (int32_t base = 0; base + w <= gpus; base += w) {
			b->mask[b->n] = ts_gpus_block(base, w);
			b->level[b->n] = (int8_t)d;
			b->n++;
		}
		b->nlevel = d + 1;
	}
	b->off[b->nlevel] = b->n;
	for (int32_t i = 0; i < b->n; i++) {
		int32_t d = b->level[i], j = i - b->off[d];
		/* level d + 1 has gpus >> (d + 1) blocks (none past the node) */
		b->parent[i] = (int16_t)(j / 2 < (gpus >> (d + 1)) ? b->off[d + 1] + j / 2 : -1);
	}
}

/* Per-call tables of one job: when each block is all free (not before the
 * job is ready), and the block inside each block where the job can start
 * soonest at a degree it has a cell for (-1: none). */
struct scan {
	ts_ns free_at[TS_ADMIT_MAX_BLOCKS];
	int16_t first[TS_ADMIT_MAX_BLOCKS];
};

static void scan_blocks(const struct ts_admit_blocks *b, const ts_ns *avail,
			const struct ts_admit_job *j, struct scan *s)
{
	for (int32_t i = 0; i < b->n; i++) {
		int32_t d = b->level[i];
		if (d == 0) {
			ts_ns a = avail[ts_gpus_first(b->mask[i])];
			s->free_at[i] = a > j->ready ? a : j->ready;
		} else {
			int32_t c = b->off[d - 1] + 2 * (i - b->off[d]);
			s->free_at[i] = s->free_at[c] > s->free_at[c + 1] ? s->free_at[c] : s->free_at[c + 1];
		}
		int16_t best = j->step[d] > 0 ? (int16_t)i : -1;
		for (int32_t k = 0; j->grow && d > 0 && k < 2; k++) {
			int16_t f = s->first[b->off[d - 1] + 2 * (i - b->off[d]) + k];
			/* sooner, or as soon and wider; else the lower one */
			if (f >= 0 && (best < 0 || s->free_at[f] < s->free_at[best] ||
				       (s->free_at[f] == s->free_at[best] && b->level[f] > b->level[best])))
				best = f;
		}
		s->first[i] = best;
	}
}

static void add_phase(struct ts_admit_plan *p, uint64_t gpus, int32_t level, int32_t steps,
		      ts_ns start, ts_ns t)
{
	p->ph[p->n++] = (struct ts_admit_phase){ .gpus = gpus, .steps = steps, .start = start, .t_step = t };
	p->gpu_ns += ((int64_t)steps * t) << level;
	p->block = gpus;
	p->finish = start + (int64_t)steps * t;
}

/* The next block above i, up to `top`, that the job has a cell for; -1. */
static int32_t next_up(const struct ts_admit_blocks *b, const struct ts_admit_job *j, int32_t i,
		       int32_t top)
{
	while (i != top && (i = b->parent[i]) >= 0)
		if (j->step[b->level[i]] > 0)
			return i;
	return -1;
}

/* The plan ending on block `top` that starts on block `from` inside it (or
 * `top` itself): run there until the next wider block is all free, move
 * up, and so on. */
static void grow_plan(const struct ts_admit_blocks *b, const struct scan *s,
		      const struct ts_admit_job *j, int32_t from, int32_t top, struct ts_admit_plan *p)
{
	int32_t cur = from, left = j->left;
	ts_ns t = s->free_at[cur];

	p->n = 0;
	p->gpu_ns = 0;
	while (left > 0) {
		ts_ns step = j->step[b->level[cur]];
		int32_t up = next_up(b, j, cur, top);
		int64_t n = left;
		if (up >= 0 && s->free_at[up] - t < n * step)
			n = (s->free_at[up] - t) / step;
		if (n > 0)
			add_phase(p, b->mask[cur], b->level[cur], (int32_t)n, t, step);
		left -= (int32_t)n;
		if (left == 0 || up < 0)
			break;
		t = t + n * step > s->free_at[up] ? t + n * step : s->free_at[up];
		cur = up;
	}
}

/* Is plan x better than plan y for job j? In time first; then the least
 * GPU time, the earlier finish, more of the GPUs it used last. */
static bool better(const struct ts_admit_plan *x, const struct ts_admit_plan *y,
		   const struct ts_admit_job *j)
{
	bool xin = x->finish <= j->deadline, yin = y->finish <= j->deadline;

	if (xin != yin)
		return xin;
	if (xin && x->gpu_ns != y->gpu_ns)
		return x->gpu_ns < y->gpu_ns;
	if (x->finish != y->finish)
		return x->finish < y->finish;
	return ts_gpus_count(x->block & j->prev) > ts_gpus_count(y->block & j->prev);
}

/* Keeps *cand as the best plan so far when it beats *best (swapping the
 * two buffers). */
static void keep_better(struct ts_admit_plan **best, struct ts_admit_plan **cand,
			const struct ts_admit_job *j)
{
	if ((*cand)->n > 0 && (!*best || better(*cand, *best, j))) {
		struct ts_admit_plan *t = *best;
		*best = *cand;
		*cand = t ? t : *cand + 1;
	}
}

bool ts_admit_best_plan(const struct ts_admit_blocks *b, const ts_ns *avail,
			const struct ts_admit_job *j, struct ts_admit_plan *out)
{
	struct scan s;
	struct ts_admit_plan buf[2], *best = NULL, *cand = &buf[0];

	scan_blocks(b, avail, j, &s);
	for (int32_t i = 0; i < b->n; i++) {
		if (j->step[b->level[i]] <= 0 || (j->width > 0 && (1 << b->level[i]) != j->width))
			continue;
		/* on the whole block when it is all free, and grown into it from
		 * the block inside that is free soonest */
		grow_plan(b, &s, j, i, i, cand);
		keep_better(&best, &cand, j);
		if (s.first[i] == i)
			continue;
		grow_plan(b, &s, j, s.first[i], i, cand);
		keep_better(&best, &cand, j);
	}
	if (!best) {
		out->n = 0;
		return false;
	}
	*out = *best;
	return out->finish <= j->deadline;
}

void ts_admit_commit(ts_ns *avail, const struct ts_admit_plan *p)
{
	for (uint64_t m = p->block; m; m &= m - 1)
		avail[ts_gpus_first(m)] = p->finish;
}
