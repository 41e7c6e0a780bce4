/* step_loo.h: leave-one-out validation of the step-time model: fit on the
 * cells of a profile that a rule does not hold out, predict the held-out
 * ones, and estimate the same cells with today's --interpolate (the step
 * tables' log-log interpolation, io/classes.h) for comparison. */
#ifndef TS_STEP_LOO_H
#define TS_STEP_LOO_H

#include <stddef.h>

#include "core/ts_error.h"
#include "io/profile.h"
#include "model/step_fit.h"
#include "model/step_model.h"

/* Which cells are held out: every cell at SP degree `value`, at
 * resolution height x width, or of batch > 1. */
enum ts_hold_kind { TS_HOLD_SP, TS_HOLD_RES, TS_HOLD_BATCH };

struct ts_hold {
	enum ts_hold_kind kind;
	int value, height, width;
};

/* Parses "sp=K", "res=N" (N x N), "res=HxW" or "batch" into *h. TS_EINVAL
 * naming --hold otherwise. */
int ts_hold_parse(const char *text, struct ts_hold *h, struct ts_error *err);

struct ts_loo_cell {
	struct ts_profile_row row;   /* the measured, held-out cell */
	double model_ms;             /* the model's prediction */
	double interp_ms;            /* --interpolate's estimate; < 0: it has none */
};

struct ts_loo_result {
	struct ts_step_model fitted; /* fitted on the cells not held out */
	struct ts_loo_cell *cells;
	size_t n;
	double model_median, model_max;   /* |relative error| */
	double interp_median, interp_max; /* over the cells it could estimate */
	size_t interp_n;
};

/* Runs the validation on profile p (the model and GPU chosen as by
 * ts_step_fit()). Errors: those of the fit, and TS_EINVAL when the rule
 * holds out no cell or every cell. */
int ts_step_loo(const struct ts_profile *p, const struct ts_step_fit_opts *o,
		const struct ts_hold *hold, struct ts_loo_result *res, struct ts_error *err);

/* Frees what *res owns; safe on a zeroed struct. */
void ts_loo_result_free(struct ts_loo_result *res);

#endif
