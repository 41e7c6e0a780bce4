/* trace.h: request traces (CSV) in memory, read and written.
 * Format: traces/README.md. */
#ifndef TS_TRACE_H
#define TS_TRACE_H

#include <stdio.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

/* Largest arrival time and SLO of a trace, in seconds (31.7 years): their
 * sum and every later sum of times stay far inside int64 nanoseconds. */
#define TS_TRACE_MAX_S 1e9

struct ts_trace {
	struct ts_request *req; /* sorted by (arrival, file order) */
	size_t n;
	size_t cap;
	char **models;          /* distinct names of the model column, first-seen order */
	int32_t nmodels;        /* 0 when the trace has no model column */
	char *path;             /* file it was read from (owned), or NULL */
	uint64_t hash;          /* FNV-1a 64 of the file's bytes, 0 if not from a file */
};

/* Reads the CSV trace at path into *t (which the call initialises).
 * Header row required, columns matched by name, extra columns ignored, '#'
 * comment lines and blank lines skipped. Requests are stably sorted by
 * arrival. On malformed input returns TS_EPARSE with a message
 * "path:line: field 'x': why"; a duplicate request_id is an error naming
 * both lines. On error *t holds nothing to free. */
int ts_trace_load(struct ts_trace *t, const char *path, struct ts_error *err);

/* Writes t as CSV (header, one row per request, model column when nmodels > 0)
 * so that ts_trace_load() reads back the same requests. Returns TS_EIO on a
 * write error. */
int ts_trace_write(const struct ts_trace *t, FILE *f, struct ts_error *err);

/* Appends one request (deadline computed from arrival + slo) growing the
 * array; returns TS_ENOMEM on allocation failure. */
int ts_trace_append(struct ts_trace *t, const struct ts_request *r, struct ts_error *err);

/* Interns a model name, returning its index (adds it when new), or < 0 on
 * allocation failure. */
int32_t ts_trace_model_index(struct ts_trace *t, const char *name);

/* Frees everything *t owns and zeroes it. Safe on a zeroed struct. */
void ts_trace_free(struct ts_trace *t);

#endif
