/* tetri_gpuplan.h: the GPU-hour-minimal step plan of one request (TetriServe
 * "GPU-hour minimisation"): which SP degree each remaining step should use so
 * that the request meets its deadline with the least GPU time. */
#ifndef TS_TETRI_GPUPLAN_H
#define TS_TETRI_GPUPLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_types.h"

/* The SP degrees of one class a planner may use, precomputed once per class.
 * "Options" are the Pareto-optimal degrees: no other degree is both at least
 * as fast and at least as cheap in GPU time (k * T(k)). */
struct ts_tetri_degs {
	int32_t nall;               /* degrees with a profile cell, <= the GPU count */
	int32_t all_deg[TS_NDEG];   /* those degrees, ascending */
	ts_ns all_t[TS_NDEG];       /* their step times */
	int32_t np;                 /* Pareto options */
	int32_t deg[TS_NDEG];       /* option degrees, step time ascending */
	ts_ns t[TS_NDEG];           /* option step times, ascending */
	int64_t c[TS_NDEG];         /* option GPU time per step, k * t, descending */
	int32_t nhull[TS_NDEG];     /* lower convex hull of options j..np-1 ... */
	int8_t hull[TS_NDEG][TS_NDEG]; /* ... as option indices, time ascending */
	ts_ns tmin;                 /* fastest step time, t[0]; -1 when nall == 0 */
};

/* Fills *d from step[i] = step time at degree 1 << i (-1: no cell), keeping
 * degrees <= max_gpus. Returns d->nall (0: the class cannot run at all). */
int32_t ts_tetri_degs_build(struct ts_tetri_degs *d, const ts_ns step[TS_NDEG], int max_gpus);

/* Step time at degree k, or -1 when k is not one of d's degrees. */
ts_ns ts_tetri_degs_step(const struct ts_tetri_degs *d, int32_t k);

/* One piece of a plan: `steps` consecutive steps at SP degree `deg`. */
struct ts_tetri_seg {
	int32_t steps;
	int32_t deg;
};

/* A step plan: segments with distinct degrees, ascending degree. The order
 * of execution does not change its total time or GPU time. */
struct ts_tetri_plan {
	int32_t n;
	struct ts_tetri_seg seg[TS_NDEG];
	int64_t gpu_ns;   /* sum of steps * deg * T(deg) */
	ts_ns time;       /* sum of steps * T(deg) */
};

/* Exact GPU-time-minimal plan for `steps` (>= 1) remaining steps within
 * `budget` ns: minimises gpu_ns subject to time <= budget, ties broken by the
 * smaller time. Move costs between degrees are not modelled (a latent move
 * is ~0.05% of a step). Returns true and fills *out when a plan exists,
 * which is exactly when steps * d->tmin <= budget; else false, *out empty.
 * Branch and bound over the Pareto options with the LP (convex hull) bound;
 * see docs/SCHEDULER.md for why two hull degrees are not enough. */
bool ts_tetri_min_gpu_plan(const struct ts_tetri_degs *d, int32_t steps, ts_ns budget,
			   struct ts_tetri_plan *out);

#endif
