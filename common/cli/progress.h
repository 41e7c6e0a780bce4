/* progress.h: the progress line of a long run on stderr: requests decided
 * (finished or dropped) of the total, SAR so far, the backend's time
 * (simulated or wall), wall time spent and an estimate of what is left.
 * On a terminal one line is rewritten in place (at most 10 times a second);
 * elsewhere a plain line is written every `every_s` seconds. It is fed as a
 * driver sink (ts_progress_sink) beside the results store. */
#ifndef TS_PROGRESS_H
#define TS_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "driver/backend.h"

struct ts_progress {
	FILE *out;
	bool tty;          /* rewrite one line ("\r"), else plain periodic lines */
	double delay_s;    /* nothing is shown before this much wall time */
	double every_s;    /* seconds between plain lines (terminal: 0.1) */
	const char *label; /* the policy spec of the run */
	const char *clock; /* "sim" or "wall": what the backend's time is */
	double (*now_s)(void); /* monotonic wall clock; tests replace it */
	/* state of the current run */
	size_t total, decided, met;
	long long backend_ns; /* latest backend time seen */
	double start_s, last_s;
	bool shown;           /* a line has been written this run */
};

/* Settings: `delay_s` before the first line (sim: 2, exec: 0), `every_s`
 * between plain lines, terminal or not. Writes to out (normally stderr). */
void ts_progress_init(struct ts_progress *p, FILE *out, bool tty, double delay_s, double every_s,
		      const char *clock);

/* Starts a run of `total` requests under policy `label` (kept, not copied). */
void ts_progress_begin(struct ts_progress *p, const char *label, size_t total);

/* Ends the run: on a terminal the line is finished with a newline when one
 * was shown; a plain final line is written when any line was shown. */
void ts_progress_end(struct ts_progress *p);

/* The driver sink that feeds p (segments move the clock; finished and
 * dropped requests count). Its callbacks never fail. */
extern const struct ts_sink_ops ts_progress_sink;

#endif
