/* tetri_gpuplan.c: exact GPU-time-minimal step plans (branch and bound). */
#include "sched/tetri/tetri_gpuplan.h"

#include <math.h>
#include <string.h>

/* Keeps the degrees that are not dominated: sorted by time, a degree is kept
 * only when it is strictly cheaper in GPU time than every faster one. */
static void degs_pareto(struct ts_tetri_degs *d)
{
	int32_t order[TS_NDEG];

	for (int32_t i = 0; i < d->nall; i++)
		order[i] = i;
	/* insertion sort by (time, degree): at most 7 entries */
	for (int32_t i = 1; i < d->nall; i++) {
		int32_t x = order[i], j = i;
		while (j > 0 && d->all_t[order[j - 1]] > d->all_t[x]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
	d->np = 0;
	for (int32_t i = 0; i < d->nall; i++) {
		int32_t k = d->all_deg[order[i]];
		ts_ns t = d->all_t[order[i]];
		int64_t c = (int64_t)k * t;
		if (d->np > 0 && c >= d->c[d->np - 1])
			continue;
		d->deg[d->np] = k;
		d->t[d->np] = t;
		d->c[d->np] = c;
		d->np++;
	}
}

/* Whether a -> b -> p turns strictly left in the (time, cost) plane, so b
 * stays on the lower hull; exact (128-bit) because a wrongly dropped hull
 * point would make the LP bound too high and prune the optimum. */
static bool hull_keeps(const struct ts_tetri_degs *d, int a, int b, int p)
{
	__extension__ __int128 bx = d->t[b] - d->t[a], by = d->c[b] - d->c[a];
	__extension__ __int128 px = d->t[p] - d->t[a], py = d->c[p] - d->c[a];

	return bx * py - by * px > 0;
}

/* Lower convex hull (monotone chain) of options j..np-1 for the LP bound. */
static void degs_hulls(struct ts_tetri_degs *d)
{
	for (int32_t j = 0; j < d->np; j++) {
		int8_t *h = d->hull[j];
		int32_t m = 0;
		for (int32_t p = j; p < d->np; p++) {
			while (m >= 2 && !hull_keeps(d, h[m - 2], h[m - 1], p))
				m--;
			h[m++] = (int8_t)p;
		}
		d->nhull[j] = m;
	}
}

int32_t ts_tetri_degs_build(struct ts_tetri_degs *d, const ts_ns step[TS_NDEG], int max_gpus)
{
	memset(d, 0, sizeof(*d));
	d->tmin = -1;
	for (int32_t i = 0; i < TS_NDEG && (1 << i) <= max_gpus; i++) {
		if (step[i] <= 0)
			continue;
		d->all_deg[d->nall] = 1 << i;
		d->all_t[d->nall] = step[i];
		d->nall++;
	}
	if (d->nall == 0)
		return 0;
	degs_pareto(d);
	degs_hulls(d);
	d->tmin = d->t[0];
	return d->nall;
}

ts_ns ts_tetri_degs_step(const struct ts_tetri_degs *d, int32_t k)
{
	for (int32_t i = 0; i < d->nall; i++)
		if (d->all_deg[i] == k)
			return d->all_t[i];
	return -1;
}

/* Search state of one plan call. */
struct bb {
	const struct ts_tetri_degs *d;
	int32_t cnt[TS_NDEG];
	int32_t best_cnt[TS_NDEG];
	int64_t best_cost;
	ts_ns best_time;
	bool found;
};

/* LP lower bound on the GPU time of r steps within budget b using options
 * j..np-1: r times the suffix's lower convex hull at mean step time b / r.
 * INFINITY when even the fastest of them cannot fit. */
static double lp_bound(const struct ts_tetri_degs *d, int32_t j, int32_t r, ts_ns b)
{
	const int8_t *h = d->hull[j];
	int32_t m = d->nhull[j];

	if (r == 0)
		return 0.0;
	if ((int64_t)r * d->t[h[0]] > b)
		return INFINITY;
	if ((int64_t)r * d->t[h[m - 1]] <= b)
		return (double)r * (double)d->c[h[m - 1]];
	for (int32_t i = 0; i + 1 < m; i++) {
		int a = h[i], z = h[i + 1];
		if ((int64_t)r * d->t[z] <= b)
			continue;
		/* r*t_a <= b < r*t_z: mix a and z along the hull edge */
		double frac = ((double)b - (double)r * (double)d->t[a]) /
			      (double)(d->t[z] - d->t[a]);
		return (double)r * (double)d->c[a] - frac * (double)(d->c[a] - d->c[z]);
	}
	return (double)r * (double)d->c[h[m - 1]];
}

static void bb_leaf(struct bb *s, int32_t j, int32_t r, ts_ns budget, int64_t cost, ts_ns time)
{
	const struct ts_tetri_degs *d = s->d;

	if ((int64_t)r * d->t[j] > budget)
		return;
	cost += (int64_t)r * d->c[j];
	time += (int64_t)r * d->t[j];
	if (s->found && (cost > s->best_cost || (cost == s->best_cost && time >= s->best_time)))
		return;
	s->cnt[j] = r;
	memcpy(s->best_cnt, s->cnt, sizeof(s->cnt));
	s->best_cost = cost;
	s->best_time = time;
	s->found = true;
}

/* Chooses how many of the r remaining steps use option j (then j+1, ...).
 * Fewer steps on the expensive fast option come first, so the first leaf is
 * already near the optimum and the bounds prune the rest. */
static void bb_search(struct bb *s, int32_t j, int32_t r, ts_ns budget, int64_t cost, ts_ns time)
{
	const struct ts_tetri_degs *d = s->d;
	int64_t cmin = d->c[d->np - 1];
	int64_t need, n0 = 0;

	if (j == d->np - 1) {
		bb_leaf(s, j, r, budget, cost, time);
		return;
	}
	/* the steps not on j run at best at t[j+1]: at least n0 must use j */
	need = (int64_t)r * d->t[j + 1] - budget;
	if (need > 0)
		n0 = (need + (d->t[j + 1] - d->t[j]) - 1) / (d->t[j + 1] - d->t[j]);
	for (int64_t n = n0; n <= r; n++) {
		int64_t here = cost + n * d->c[j];
		ts_ns left = budget - n * d->t[j];
		double lb;

		/* n*c[j] + (r-n)*cmin grows with n: nothing further can win */
		if (s->found && here + (r - n) * cmin > s->best_cost)
			break;
		lb = lp_bound(d, j + 1, (int32_t)(r - n), left);
		if (s->found && (double)here + lb > (double)s->best_cost * (1.0 + 1e-12) + 2.0)
			continue;
		s->cnt[j] = (int32_t)n;
		bb_search(s, j + 1, (int32_t)(r - n), left, here, time + n * d->t[j]);
	}
	s->cnt[j] = 0;
}

/* Writes the counts of s as segments in ascending degree. */
static void plan_from_counts(const struct bb *s, struct ts_tetri_plan *out)
{
	const struct ts_tetri_degs *d = s->d;

	out->n = 0;
	for (int32_t j = 0; j < d->np; j++) {
		struct ts_tetri_seg seg = { .steps = s->best_cnt[j], .deg = d->deg[j] };
		int32_t i = out->n;
		if (seg.steps == 0)
			continue;
		while (i > 0 && out->seg[i - 1].deg > seg.deg) {
			out->seg[i] = out->seg[i - 1];
			i--;
		}
		out->seg[i] = seg;
		out->n++;
	}
	out->gpu_ns = s->best_cost;
	out->time = s->best_time;
}

bool ts_tetri_min_gpu_plan(const struct ts_tetri_degs *d, int32_t steps, ts_ns budget,
			   struct ts_tetri_plan *out)
{
	struct bb s = { .d = d };

	memset(out, 0, sizeof(*out));
	if (d->np == 0 || steps <= 0 || (int64_t)steps * d->tmin > budget)
		return false;
	/* the cheapest option alone fits: nothing can beat it */
	if ((int64_t)steps * d->t[d->np - 1] <= budget) {
		out->n = 1;
		out->seg[0] = (struct ts_tetri_seg){ .steps = steps, .deg = d->deg[d->np - 1] };
		out->gpu_ns = (int64_t)steps * d->c[d->np - 1];
		out->time = (int64_t)steps * d->t[d->np - 1];
		return true;
	}
	bb_search(&s, 0, steps, budget, 0, 0);
	plan_from_counts(&s, out);
	return s.found;
}
