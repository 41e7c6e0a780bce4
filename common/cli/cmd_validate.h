/* cmd_validate.h: the comparison `tetriserve validate` prints: two runs of
 * one trace (a simulation and a hardware run) against the validation
 * targets, each miss named with its request, launch and cause. The command
 * itself lives in exec/ (it also runs both sides: exec/ts_validate.h);
 * the form that compares two stored runs is here. */
#ifndef TS_CMD_VALIDATE_H
#define TS_CMD_VALIDATE_H

#include <stdbool.h>
#include <stdio.h>

#include "store/store_read.h"

/* The targets: median per-request latency error, its 95th percentile, SAR
 * difference in points; launch sequences should be identical. */
#define TS_VALIDATE_TARGET_MEDIAN 0.02
#define TS_VALIDATE_TARGET_P95 0.05
#define TS_VALIDATE_TARGET_SAR_PP 1.0

/* One comparison's figures, for a results table. */
struct ts_validate_result {
	double sar_sim, sar_exec;
	double median_err, p95_err;     /* NaN when no request finished in both */
	size_t requests;                /* finished in both */
	int64_t differ;                 /* requests whose launches differ */
	int64_t offwindow;              /* hardware launches outside the driver's window, by duration */
	int64_t driver_misses;          /* those the hardware run's driver recorded (issue to report) */
	bool met_median, met_p95, met_sar;
	char first_miss[1024];          /* "" when every target was met, else the first miss and its cause */
};

/* Prints the comparison of runs `sim` and `exec` of db to f: SAR and
 * outcomes, per-request latency error (median, p95) with the worst
 * requests and their causes, per-step time by cell, where the launch
 * sequences first differ and the last hardware launch outside the window
 * before that, then every missed target with the requests, launches and
 * causes behind it. Fills *res. TS_ENOTFOUND when no request finished in
 * both; TS_EINVAL when they are not runs of one trace. */
int ts_validate_report(struct ts_reader *db, int64_t sim, int64_t exec, FILE *f,
		       struct ts_validate_result *res, struct ts_error *err);

/* `tetriserve validate --db F --sim R1 --exec R2` (argv[0] == "validate").
 * Returns the exit status (0 ok, 1 error, 2 bad usage). */
int ts_cmd_validate_runs(int argc, char **argv);

/* The usage lines of the two-run form. */
void ts_validate_runs_usage(FILE *f);

#endif
