/* tetri_place.c: aligned power-of-two GPU blocks. */
#include "sched/tetri/tetri_place.h"

#include "core/ts_types.h"

/* Width of the largest aligned all-idle block around block b (at least its
 * own width): taking b splits that block. */
static int32_t idle_span(uint64_t idle, int32_t gpus, uint64_t b)
{
	int32_t w = ts_gpus_count(b), base = __builtin_ctzll(b);

	while (2 * w <= gpus) {
		int32_t up = base - base % (2 * w);
		uint64_t big = ts_gpus_block(up, 2 * w);
		if (up + 2 * w > gpus || (big & idle) != big)
			break;
		w *= 2;
		base = up;
	}
	return w;
}

uint64_t ts_tetri_find_block(uint64_t idle, int32_t gpus, int32_t width, uint64_t prev,
			     uint64_t avoid)
{
	uint64_t best = 0;
	int32_t best_avoid = 0, best_keep = 0;
	bool prev_idle = false;

	if (width <= 0 || width > gpus)
		return 0;
	for (int32_t base = 0; base + width <= gpus; base += width) {
		uint64_t b = ts_gpus_block(base, width);
		int32_t av, keep;
		if ((b & idle) != b)
			continue;
		if (b == prev) {
			prev_idle = true;
			continue;
		}
		av = ts_gpus_count(b & avoid);
		keep = ts_gpus_count(b & prev);
		if (best != 0 && (av > best_avoid || (av == best_avoid && keep <= best_keep)))
			continue;
		best = b;
		best_avoid = av;
		best_keep = keep;
	}
	if (prev_idle && (best == 0 || idle_span(idle, gpus, prev) <= idle_span(idle, gpus, best)))
		return prev;
	return best;
}

/* Slot indices in descending width, stable. */
static void place_order(const struct ts_tetri_slot *s, int32_t n, int32_t *order)
{
	for (int32_t i = 0; i < n; i++) {
		int32_t j = i;
		while (j > 0 && s[order[j - 1]].width < s[i].width) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

int32_t ts_tetri_place(struct ts_tetri_slot *s, int32_t n, uint64_t *idle, int32_t gpus,
		       bool preserve)
{
	int32_t order[TS_MAX_GPUS];
	int32_t placed = 0;

	if (n > TS_MAX_GPUS)
		n = TS_MAX_GPUS;
	place_order(s, n, order);
	for (int32_t i = 0; i < n; i++) {
		struct ts_tetri_slot *x = &s[order[i]];
		uint64_t prev = preserve ? x->prev : 0;
		uint64_t avoid = 0;

		/* keep clear of the blocks the slots still to come want back */
		for (int32_t j = i + 1; preserve && j < n; j++)
			avoid |= s[order[j]].prev;
		x->gpus = ts_tetri_find_block(*idle, gpus, x->width, prev, avoid & ~prev);
		if (x->gpus == 0)
			continue;
		*idle &= ~x->gpus;
		placed++;
	}
	return placed;
}

uint64_t ts_tetri_grow(uint64_t idle, int32_t gpus, uint64_t cur)
{
	int32_t w = ts_gpus_count(cur);
	int32_t up;
	uint64_t buddy;

	if (cur == 0 || 2 * w > gpus)
		return 0;
	up = __builtin_ctzll(cur);
	up -= up % (2 * w);
	buddy = ts_gpus_block(up, 2 * w);
	if (up + 2 * w <= gpus && ((idle | cur) & buddy) == buddy)
		return buddy;
	return ts_tetri_find_block(idle | cur, gpus, 2 * w, cur, 0);
}
