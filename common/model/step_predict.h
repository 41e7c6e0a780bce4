/* step_predict.h: a profile from a fitted step-time model: the measured
 * cells it was fitted on, copied unchanged, and predicted cells (source
 * "modelled") for a grid of resolutions, SP degrees and batch sizes. */
#ifndef TS_STEP_PREDICT_H
#define TS_STEP_PREDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ts_error.h"
#include "io/profile.h"
#include "model/step_model.h"

/* How far past its measured cells a model predicts without --force:
 * token counts within [min / 4, 4 max], degrees up to twice the largest
 * one with fitted or given all-to-all figures, batches up to twice the
 * largest measured one. */
#define TS_STEP_TOKEN_FACTOR 4
#define TS_STEP_SP_FACTOR 2
#define TS_STEP_BATCH_FACTOR 2

#define TS_STEP_GRID_MAX 32

struct ts_step_grid {
	int height[TS_STEP_GRID_MAX], width[TS_STEP_GRID_MAX];
	int nres;
	int sp[TS_NDEG], nsp;
	int batch[TS_NBATCH], nbatch;  /* nbatch 0: batch 1 only */
	int batch_res_max;             /* > 0: batches > 1 only where height x width <= this^2 */
	bool force;                    /* predict beyond the limits above */
};

/* Checks that (height x width, sp, batch) is within the model's limits, or
 * force. TS_ERANGE naming the cell, the limit and --force otherwise. */
int ts_step_model_check_range(const struct ts_step_model *m, int height, int width, int sp,
			      int batch, bool force, struct ts_error *err);

/* Fills *rows (malloc'ed, *n of them) with the model's measured cells and,
 * for every grid cell not measured, a predicted one (modelled = true, cv 0,
 * no percentiles, samples 0), sorted by (batch, tokens, height, width, sp).
 * Degrees without all-to-all figures get ts_step_model_assume_a2a()'s (so m
 * changes). Errors: a cell beyond the limits (TS_ERANGE), a degree that
 * does not divide the heads or has no figures. */
int ts_step_model_profile(struct ts_step_model *m, const struct ts_step_grid *g,
			  struct ts_profile_row **rows, size_t *n, struct ts_error *err);

/* The predicted step (ms) of one cell, a2a assumed as above, no range check. */
int ts_step_model_cell(struct ts_step_model *m, int height, int width, int sp, int batch,
		       double *ms, struct ts_error *err);

#endif
