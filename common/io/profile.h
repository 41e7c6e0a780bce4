/* profile.h: step-latency profiles (CSV) and the per-resolution step tables
 * that policies and the simulator use. Format: traces/README.md. */
#ifndef TS_PROFILE_H
#define TS_PROFILE_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "io/trace.h"

/* The step times a profile row may hold, ms: whole nanoseconds, and a
 * request of many steps stays within TS_TIME_MAX (checked when the trace
 * meets the profile, io/classes.h). */
#define TS_PROFILE_STEP_MS_MIN 1e-6
#define TS_PROFILE_STEP_MS_MAX 1e9
/* The largest coefficient of variation a row may hold. */
#define TS_PROFILE_CV_MAX 10.0

struct ts_profile_row {
	char model[48];
	char gpu[48];
	int32_t height, width;
	int32_t sp;        /* SP degree */
	int32_t batch;     /* 1 when the column is absent */
	double step_ms;    /* mean step time */
	double p50_ms, p99_ms, cv; /* NaN / 0 when absent */
	int64_t samples;   /* 0 when absent */
	bool modelled;     /* source column "modelled": predicted by the step-time model, not measured */
	int32_t line;      /* line in the file, for messages */
};

struct ts_profile {
	struct ts_profile_row *rows;
	size_t n;
	char *path;        /* owned */
	uint64_t hash;     /* FNV-1a 64 of the file's bytes */
};

/* Reads a profile CSV into *p. Header row required, columns matched by name
 * (model,gpu,height,width,sp,step_ms required; p50_ms,p99_ms,cv,samples,batch,
 * source optional; source is "measured" (also when empty or absent) or
 * "modelled"), '#' comments allowed. A duplicate (model,gpu,height,width,sp,batch)
 * cell, a non-power-of-two sp, a step_ms outside TS_PROFILE_STEP_MS_MIN..MAX,
 * or a cv outside 0..TS_PROFILE_CV_MAX is TS_EPARSE naming path:line and
 * field. */
int ts_profile_load(struct ts_profile *p, const char *path, struct ts_error *err);

/* Frees what *p owns; safe on a zeroed struct. */
void ts_profile_free(struct ts_profile *p);

#endif
