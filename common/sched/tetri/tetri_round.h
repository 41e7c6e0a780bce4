/* tetri_round.h: one round of TetriServe: the round options of a request,
 * their survival test, and the group-knapsack packing over GPUs
 * (Algorithm 1 of the paper). */
#ifndef TS_TETRI_ROUND_H
#define TS_TETRI_ROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "sched/tetri/tetri_gpuplan.h"

/* Options per request: "none" plus one per plan segment. */
#define TS_TETRI_MAX_OPT (TS_NDEG + 1)

/* The time frame of a planning call: decisions made at `now` last until the
 * next round boundary `end`; `boundary` is true when now is a round start. */
struct ts_tetri_frame {
	ts_ns now;
	ts_ns end;
	bool boundary;
};

/* One way to spend this round: q steps on `width` GPUs (width 0, q 0: none). */
struct ts_tetri_opt {
	int32_t width;
	int32_t q;
	bool survives;
};

/* The options of one request, option 0 is always "none", the others by
 * ascending width. */
struct ts_tetri_item {
	int32_t nopt;
	struct ts_tetri_opt opt[TS_TETRI_MAX_OPT];
};

/* Steps of time t_step that fit before f->end: floor((end - now) / t_step).
 * At a round boundary a step longer than a whole round still gets 1 (it runs
 * past the boundary), otherwise such a class could never run. */
int32_t ts_tetri_fit_steps(const struct ts_tetri_frame *f, ts_ns t_step);

/* Survival test of the paper: after running q of the `left` remaining steps
 * at t_step per step from f->now, can the request still make `deadline`?
 * When q == left it must finish by then (now + q*t_step <= deadline); else
 * its lower bound (left - q) * tmin counted from the next boundary must fit. */
bool ts_tetri_survives(const struct ts_tetri_frame *f, int32_t left, int32_t q, ts_ns t_step,
		       ts_ns tmin, ts_ns deadline);

/* Builds the round options of a request with `left` steps remaining and GPU
 * plan p: option 0 "none", then per segment m: q = min(steps_m, fit) at
 * width deg_m (dropped when q == 0), each with its survival flag. */
void ts_tetri_options(const struct ts_tetri_degs *d, const struct ts_tetri_plan *p, int32_t left,
		      ts_ns deadline, const struct ts_tetri_frame *f, struct ts_tetri_item *out);

/* Preallocated tables of the packing DP. */
struct ts_tetri_pack {
	int32_t max_items, max_gpus;
	int32_t *best;    /* [max_gpus + 1]: survivors using exactly c GPUs, -1: unreachable */
	int32_t *next;    /* the same for the next item */
	int8_t *choice;   /* [max_items][max_gpus + 1]: option taken, back-pointers */
};

/* Allocates tables for up to max_items requests and max_gpus GPUs.
 * Returns 0 or TS_ENOMEM / TS_EINVAL in err. */
int ts_tetri_pack_init(struct ts_tetri_pack *pk, int32_t max_items, int32_t max_gpus,
		       struct ts_error *err);

/* Frees the tables; safe on a zeroed struct. */
void ts_tetri_pack_free(struct ts_tetri_pack *pk);

/* Algorithm 1: picks one option per item (pick[i], an index into
 * items[i].opt) with total width <= gpus, maximising the number of items
 * whose picked option survives; among those, the fewest GPUs; among those,
 * scanning items from the last to the first, each takes the first option
 * (none, then narrower) that keeps the optimum. So with items in deadline
 * order, later deadlines yield GPUs first. O(n * gpus * options), no
 * allocation. Requires n <= max_items, gpus <= max_gpus. Returns the
 * survivors; *gpus_used receives the total width. */
int32_t ts_tetri_pack_solve(struct ts_tetri_pack *pk, const struct ts_tetri_item *items,
			    int32_t n, int32_t gpus, int32_t *pick, int32_t *gpus_used);

#endif
