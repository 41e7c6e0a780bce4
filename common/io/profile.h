/* profile.h: step-latency profiles (CSV) and the per-resolution step tables
 * that policies and the simulator use. Format: traces/README.md. */
#ifndef TS_PROFILE_H
#define TS_PROFILE_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/trace.h"

struct ts_profile_row {
	char model[48];
	char gpu[48];
	int32_t height, width;
	int32_t sp;        /* SP degree */
	int32_t batch;     /* 1 when the column is absent */
	double step_ms;    /* mean step time */
	double p50_ms, p99_ms, cv; /* NaN / 0 when absent */
	int64_t samples;   /* 0 when absent */
	int32_t line;      /* line in the file, for messages */
};

struct ts_profile {
	struct ts_profile_row *rows;
	size_t n;
	char *path;        /* owned */
	uint64_t hash;     /* FNV-1a 64 of the file's bytes */
};

/* Reads a profile CSV into *p. Header row required, columns matched by name
 * (model,gpu,height,width,sp,step_ms required; p50_ms,p99_ms,cv,samples,batch
 * optional), '#' comments allowed. A duplicate (model,gpu,height,width,sp,batch)
 * cell, a non-power-of-two sp, or a non-positive step_ms is TS_EPARSE naming
 * path:line and field. */
int ts_profile_load(struct ts_profile *p, const char *path, struct ts_error *err);

/* Frees what *p owns; safe on a zeroed struct. */
void ts_profile_free(struct ts_profile *p);

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
 * Errors: a model not in the profile, an ambiguous model or GPU. */
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

#endif
