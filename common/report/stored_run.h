/* stored_run.h: a run read back from a results file with its summary
 * recomputed from its rows (tetriserve report, timeline, validate), by the
 * same code that summarises a run as it ends. */
#ifndef TS_STORED_RUN_H
#define TS_STORED_RUN_H

#include "report/summary.h"
#include "store/store_read.h"

struct ts_stored_run {
	struct ts_run_row row;  /* the runs row */
	struct ts_summary sum;  /* from its request rows (SAR, latencies) and segment totals */
};

/* Loads run `id` (TS_ENOTFOUND when there is none). Utilisation = sum of
 * degree x duration / batch over gpus x makespan. Free with
 * ts_stored_run_free. */
int ts_stored_run_load(struct ts_reader *r, int64_t id, struct ts_stored_run *out,
		       struct ts_error *err);

/* Frees what ts_stored_run_load made; safe on a zeroed struct. */
void ts_stored_run_free(struct ts_stored_run *s);

/* text, or "" when it is NULL (a column stored as NULL). */
static inline const char *ts_text(const char *text)
{
	return text ? text : "";
}

#endif
