/* summary.h: the figures a run is judged by: SLO attainment (overall and per
 * resolution), latency percentiles, GPU utilisation. */
#ifndef TS_SUMMARY_H
#define TS_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "driver/driver.h"

#define TS_SUMMARY_MAX_RES 32

struct ts_res_summary {
	int32_t height, width;
	int64_t requests, met, dropped;
	double sar;
};

struct ts_summary {
	int64_t requests;     /* in the trace */
	int64_t finished;
	int64_t met;          /* finished by the deadline */
	int64_t dropped;      /* dropped by the policy or cancelled by the client (missed) */
	double sar;           /* met / requests */
	struct ts_res_summary res[TS_SUMMARY_MAX_RES]; /* by resolution, ascending pixels */
	int nres;             /* distinct resolutions (those past TS_SUMMARY_MAX_RES are folded into none) */
	double lat_p50_s, lat_p95_s, lat_p99_s, lat_mean_s; /* finish - arrival of finished requests; NaN if none */
	double gpu_util;      /* busy GPU-time / (gpus x makespan) */
	double makespan_s;
	int64_t launches, moves, rounds;
	int64_t modelled_cells; /* step-table cells the run took from modelled profile rows (0: all measured) */
	int64_t window_misses;  /* launches whose model end followed the backend's clock (driver.h) */
	struct ts_window_miss first_miss; /* the first of them; valid when window_misses > 0 */
};

/* Computes the summary of a run of trace t on `gpus` GPUs. Percentiles use
 * linear interpolation between closest ranks (numpy's default). Returns
 * TS_ENOMEM if the latency array cannot be allocated. */
int ts_summary_compute(struct ts_summary *s, const struct ts_trace *t,
		       const struct ts_run_result *res, int gpus, struct ts_error *err);

/* p-th percentile (0..100) of sorted values v[0..n-1] by linear
 * interpolation between closest ranks (GSL's quantile, numpy's default);
 * NaN when n == 0. */
double ts_percentile_sorted(const double *v, size_t n, double p);

/* s as a JSON object (policy, requests, finished, met, sar,
 * sar_by_resolution, latency_s, gpu_utilisation, makespan_s, launches,
 * latent_moves, rounds, modelled_cells, window_misses, first_window_miss:
 * null or {request, first_step, steps, gpus (mask), start_s (model time),
 * issued_s (backend clock), observed_ms, modelled_ms}; NaN figures as
 * null); a new reference, NULL when out of memory. */
json_t *ts_summary_to_json(const struct ts_summary *s, const char *policy);

/* The driver's window misses of summary JSON text as ts_summary_to_json
 * wrote them: the count into *n (0 for NULL text or files written before
 * they were recorded) and the first into *first; whether a complete first
 * miss was read (a non-negative issue time and observed time, a positive
 * modelled time). */
bool ts_summary_window_misses(const char *summary_json, int64_t *n, struct ts_window_miss *first);

/* The compact text of j (numbers to 17 significant digits), malloc'ed;
 * takes j's reference (NULL j gives NULL, as does out of memory). */
char *ts_json_text(json_t *j);

/* Prints the header of the comparison table, the policy column
 * policy_width characters wide. */
void ts_summary_print_header(FILE *f, const struct ts_summary *s, int policy_width);

/* Prints one row of the table for a policy. */
void ts_summary_print_row(FILE *f, const struct ts_summary *s, const char *policy, int policy_width);

#endif
