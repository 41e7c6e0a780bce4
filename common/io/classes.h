/* classes.h: the per-resolution step tables that policies and the
 * simulator use, built from a trace and a profile (io/profile.h). */
#ifndef TS_CLASSES_H
#define TS_CLASSES_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/profile.h"
#include "io/trace.h"

struct ts_classes_opts {
	const char *model;      /* model for requests of a trace without a model column;
	                           NULL: the profile's only model (error if several) */
	const char *gpu;        /* GPU name to select rows; NULL: the profile's only GPU (error if several) */
	int max_degree;         /* cells with sp > max_degree are ignored (the cluster's GPU count) */
	bool interpolate;       /* fill missing (batch, degree) cells, see ts_classes_build() */
};

/* Builds one ts_class per distinct (model, height, width) of the trace,
 * filling step/cv from the profile and setting every t->req[i].cls.
 * Missing cells stay -1 (policies check the cells they need with
 * ts_classes_require()). With opts->interpolate, a missing cell of degree k
 * and batch b is estimated by log-log interpolation of step time against
 * token count between the nearest measured resolutions at the same (k, b)
 * (extrapolating from the two nearest when outside), and marked interpolated.
 * Errors: a model not in the profile, an ambiguous model or GPU; an
 * estimate outside the step times a profile row may hold (TS_ERANGE naming
 * the cell); a request whose steps at its slowest cell, or a trace whose
 * requests one after another from its last arrival, take more than
 * TS_TIME_MAX (TS_ERANGE naming the request). */
int ts_classes_build(struct ts_classes *out, struct ts_trace *t,
		     const struct ts_profile *p, const struct ts_classes_opts *opts,
		     struct ts_error *err);

/* Checks that class c has a step time at SP degree `degree` and batch 1.
 * Returns 0, or TS_ENOTFOUND with a message naming the missing cell
 * (model, height, width, sp) and the profile file, suggesting --interpolate
 * (or, when the classes were built with it, saying it cannot help). */
int ts_classes_require(const struct ts_classes *cs, int32_t c, int degree,
		       struct ts_error *err);

/* Frees what *cs owns; safe on a zeroed struct. */
void ts_classes_free(struct ts_classes *cs);

/* The cells of the classes (any class, degree, batch) whose step time came
 * from a profile row of source "modelled" (predicted by the step-time model,
 * docs/STEP_MODEL.md), not measured; 0 for an all-measured profile. */
int32_t ts_classes_modelled_cells(const struct ts_classes *cs);

/* Mean step time of class c at SP degree k and batch size b (1, 2, 4, 8);
 * -1 when the profile has no such cell or k, b or c are out of range. The
 * one step-time lookup of the project. */
ts_ns ts_class_step(const struct ts_classes *cs, int32_t c, int k, int b);

#endif
