/* tetri_round.c: round options, survival and the packing DP. */
#include "sched/tetri/tetri_round.h"

#include <stdlib.h>
#include <string.h>

int32_t ts_tetri_fit_steps(const struct ts_tetri_frame *f, ts_ns t_step)
{
	ts_ns room = f->end - f->now;
	int64_t q;

	if (t_step <= 0 || room <= 0)
		return 0;
	q = room / t_step;
	if (q == 0 && f->boundary)
		q = 1;
	return q > INT32_MAX ? INT32_MAX : (int32_t)q;
}

bool ts_tetri_survives(const struct ts_tetri_frame *f, int32_t left, int32_t q, ts_ns t_step,
		       ts_ns tmin, ts_ns deadline)
{
	if (q >= left)
		return f->now + (int64_t)left * t_step <= deadline;
	return f->end + (int64_t)(left - q) * tmin <= deadline;
}

/* Inserts o keeping options 1.. sorted by ascending width. */
static void item_insert(struct ts_tetri_item *it, struct ts_tetri_opt o)
{
	int32_t i = it->nopt;

	while (i > 1 && it->opt[i - 1].width > o.width) {
		it->opt[i] = it->opt[i - 1];
		i--;
	}
	it->opt[i] = o;
	it->nopt++;
}

void ts_tetri_options(const struct ts_tetri_degs *d, const struct ts_tetri_plan *p, int32_t left,
		      ts_ns deadline, const struct ts_tetri_frame *f, struct ts_tetri_item *out)
{
	out->nopt = 1;
	out->opt[0] = (struct ts_tetri_opt){
		.width = 0, .q = 0,
		.survives = ts_tetri_survives(f, left, 0, 0, d->tmin, deadline),
	};
	for (int32_t m = 0; m < p->n; m++) {
		ts_ns t = ts_tetri_degs_step(d, p->seg[m].deg);
		int32_t q = ts_tetri_fit_steps(f, t);
		if (q > p->seg[m].steps)
			q = p->seg[m].steps;
		if (q <= 0)
			continue;
		item_insert(out, (struct ts_tetri_opt){
			.width = p->seg[m].deg, .q = q,
			.survives = ts_tetri_survives(f, left, q, t, d->tmin, deadline),
		});
	}
}

int ts_tetri_pack_init(struct ts_tetri_pack *pk, int32_t max_items, int32_t max_gpus,
		       struct ts_error *err)
{
	memset(pk, 0, sizeof(*pk));
	if (max_items < 1 || max_gpus < 1 || max_gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "tetriserve: packing table of %d items x %d GPUs",
				  max_items, max_gpus);
	pk->best = calloc((size_t)max_gpus + 1, sizeof(*pk->best));
	pk->next = calloc((size_t)max_gpus + 1, sizeof(*pk->next));
	pk->choice = calloc((size_t)max_items * ((size_t)max_gpus + 1), sizeof(*pk->choice));
	if (!pk->best || !pk->next || !pk->choice) {
		ts_tetri_pack_free(pk);
		return ts_err_set(err, TS_ENOMEM, "tetriserve: packing table of %d items x %d GPUs",
				  max_items, max_gpus);
	}
	pk->max_items = max_items;
	pk->max_gpus = max_gpus;
	return 0;
}

void ts_tetri_pack_free(struct ts_tetri_pack *pk)
{
	free(pk->best);
	free(pk->next);
	free(pk->choice);
	memset(pk, 0, sizeof(*pk));
}

/* dp step for item i: next[c] = max over options of best[c - w] + survives,
 * the first option (none, then narrower) winning ties. */
static void pack_item(struct ts_tetri_pack *pk, const struct ts_tetri_item *it, int32_t i,
		      int32_t gpus)
{
	int8_t *ch = pk->choice + (size_t)i * ((size_t)pk->max_gpus + 1);

	for (int32_t c = 0; c <= gpus; c++) {
		int32_t v = -1;
		int8_t arg = -1;
		for (int32_t o = 0; o < it->nopt; o++) {
			int32_t w = it->opt[o].width;
			if (w > c || pk->best[c - w] < 0)
				continue;
			if (pk->best[c - w] + it->opt[o].survives > v) {
				v = pk->best[c - w] + it->opt[o].survives;
				arg = (int8_t)o;
			}
		}
		pk->next[c] = v;
		ch[c] = arg;
	}
	memcpy(pk->best, pk->next, ((size_t)gpus + 1) * sizeof(*pk->best));
}

int32_t ts_tetri_pack_solve(struct ts_tetri_pack *pk, const struct ts_tetri_item *items,
			    int32_t n, int32_t gpus, int32_t *pick, int32_t *gpus_used)
{
	int32_t c_best = 0;

	pk->best[0] = 0;
	for (int32_t c = 1; c <= gpus; c++)
		pk->best[c] = -1;
	for (int32_t i = 0; i < n; i++)
		pack_item(pk, &items[i], i, gpus);
	/* most survivors, then fewest GPUs */
	for (int32_t c = 1; c <= gpus; c++)
		if (pk->best[c] > pk->best[c_best])
			c_best = c;
	*gpus_used = c_best;
	for (int32_t i = n - 1, c = c_best; i >= 0; i--) {
		int8_t o = pk->choice[(size_t)i * ((size_t)pk->max_gpus + 1) + c];
		pick[i] = o;
		c -= items[i].opt[o].width;
	}
	return pk->best[c_best];
}
