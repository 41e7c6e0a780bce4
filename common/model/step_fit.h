/* step_fit.h: fitting the step-time model (model/step_model.h) on a measured
 * profile, optionally with component benchmarks (model/bench.h).
 *
 * Nonlinear least squares on the relative errors of the cells (and bench
 * rows), GSL's gsl_multifit_nlinear (Levenberg-Marquardt trust region,
 * finite-difference Jacobian): the roofline max() and the attention rate's
 * saturation make the model nonlinear in its parameters, and the bounds are
 * kept by the parametrisation, not by the solver: a rate or bandwidth is
 * bound * logistic(u), so it stays in (0, device peak), and a time or size
 * is scale * exp(u) > 0. A fit whose rate ends pinned at its bound (the
 * data cannot be explained by physical rates) is refused. */
#ifndef TS_STEP_FIT_H
#define TS_STEP_FIT_H

#include <stdbool.h>

#include "core/ts_error.h"
#include "io/profile.h"
#include "model/bench.h"
#include "model/device.h"
#include "model/step_model.h"

struct ts_step_fit_opts {
	const char *model;            /* the profile's model to fit; NULL: its only model */
	const char *gpu;              /* the profile's gpu; NULL: its only gpu */
	bool host_max;                /* t = max(t0, t_gpu) instead of t0 + t_gpu */
	struct ts_device_spec given;  /* > 0 fields replace the datasheet's */
	const struct ts_bench *bench; /* NULL: none */
	bool keep_pinned;             /* keep a non-physical fit, its message in out->warning */
};

/* Default of S_half (tokens) and of M as a share of the HBM peak when no
 * bench row constrains them (docs/STEP_MODEL.md says where they come from). */
#define TS_STEP_DEFAULT_S_HALF 1000.0
#define TS_STEP_DEFAULT_MEM_SHARE 0.85

/* Fits *out on the measured rows (source "measured") of one model and GPU
 * of profile p. Errors (TS_EINVAL unless said), each naming the file:
 * an ambiguous or absent model or GPU, a model without a preset, fewer
 * cells than the free parameters + 1 or a degree with a single cell and no
 * bench row ("too small to fit"), a GPU without peak figures
 * (TS_ENOTFOUND), a fit that did not converge or whose rate or bandwidth is
 * pinned at zero or at the device's peak ("non-physical", naming the
 * parameter and the worst cell; with keep_pinned the fit is kept and the
 * message goes to out->warning). *out is zeroed on error. */
int ts_step_fit(const struct ts_profile *p, const struct ts_step_fit_opts *o,
		struct ts_step_model *out, struct ts_error *err);

#endif
