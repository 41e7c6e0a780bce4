/* cmd_validate.c: `tetriserve validate` — compare a simulated run with a run
 * of the same trace on hardware (or any two runs): per-request latency error,
 * per-step time error by (resolution, degree, batch), SAR difference, the
 * worst requests with their cause (queueing or execution), and the first
 * launch where the two schedules differ. The figures: report/compare.h. */
#include "cli/cmd_validate.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_util.h"
#include "core/gpuset.h"
#include "report/compare.h"
#include "report/stored_run.h"

#define VALIDATE_WORST 5

/* Targets of the validation: median per-request error <= 2%, SAR within 1 point. */
#define TARGET_MEDIAN_ERR 0.02
#define TARGET_SAR_PP 1.0

/* How the requests ended in each run, and where the two disagree. */
static void print_outcomes(const struct ts_cmp_outcomes *o)
{
	int64_t a[4] = { 0 }, b[4] = { 0 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			a[i] += o->count[i][j], b[j] += o->count[i][j];
	printf("outcomes (met/late/dropped/unfinished): sim %lld/%lld/%lld/%lld, exec %lld/%lld/%lld/%lld",
	       (long long)a[0], (long long)a[1], (long long)a[2], (long long)a[3], (long long)b[0],
	       (long long)b[1], (long long)b[2], (long long)b[3]);
	if (o->ndiffer)
		printf("; %lld requests differ (first: request %lld, sim %s, exec %s)\n", (long long)o->ndiffer,
		       (long long)o->first_id, ts_request_status_name(o->first_a),
		       ts_request_status_name(o->first_b));
	else
		printf("; the same for every request\n");
}

static void print_request_errors(const struct ts_comparison *c)
{
	printf("per-request latency error |sim-exec|/exec over %zu requests: median %.2f%%, p95 %.2f%% (target: median <= %.0f%%: %s)\n",
	       c->nreq, 100 * c->median_err, 100 * c->p95_err, 100 * TARGET_MEDIAN_ERR,
	       c->median_err <= TARGET_MEDIAN_ERR ? "met" : "MISSED");
	printf("worst requests:\n  %10s %8s %12s %12s  %s\n", "request", "error", "queueing s", "execution s",
	       "cause");
	for (size_t i = 0; i < c->nreq && i < VALIDATE_WORST; i++) {
		const struct ts_cmp_request *p = &c->req[i];
		printf("  %10lld %7.2f%% %+12.4f %+12.4f  %s\n", (long long)p->id, 100 * p->err, p->dq, p->dx,
		       fabs(p->dq) >= fabs(p->dx) ? "queueing" : "execution");
	}
}

static void print_step_errors(const struct ts_comparison *c)
{
	printf("per-step time by cell (mean over all steps run in it):\n  %11s %3s %5s %10s %10s %8s %7s\n",
	       "resolution", "sp", "batch", "sim ms", "exec ms", "error", "steps");
	for (size_t i = 0; i < c->ncell; i++) {
		const struct ts_cmp_cell *k = &c->cell[i];
		if (isnan(k->a_ms) || isnan(k->b_ms))
			continue; /* a cell only one of the runs used */
		char res[24];
		snprintf(res, sizeof(res), "%dx%d", k->height, k->width);
		printf("  %11s %3d %5d %10.3f %10.3f %7.2f%% %7lld\n", res, k->degree, k->batch, k->a_ms,
		       k->b_ms, 100 * fabs(k->a_ms - k->b_ms) / k->b_ms, (long long)k->b_steps);
	}
}

/* "4 steps from step 9 on GPUs 0,1,2,3 at 19.7018 s", or "no launch". */
static void describe_launch(char *buf, size_t len, const struct ts_cmp_launch *l, bool has)
{
	char gpus[200];
	if (!has) {
		snprintf(buf, len, "no launch");
		return;
	}
	ts_gpus_format(l->gpus, gpus, sizeof(gpus));
	snprintf(buf, len, "%d steps from step %d on GPUs %s at %.4f s", l->nsteps, l->first, gpus,
		 ts_ns_to_s(l->start));
}

/* Where the schedules first differ: the GPU set or step count of a launch,
 * or a launch only one run made. Moves are not compared: they follow from
 * the launches. */
static void print_divergence(const struct ts_cmp_divergence *d)
{
	char a[300], b[300];
	if (d->nreq == 0) {
		printf("schedules: the same launches (GPU set, steps) for every request\n");
		return;
	}
	describe_launch(a, sizeof(a), &d->a, d->has_a);
	describe_launch(b, sizeof(b), &d->b, d->has_b);
	printf("schedules differ for %lld request(s); first at t=%.4f s, request %lld:\n  sim:  %s\n  exec: %s\n",
	       (long long)d->nreq, ts_ns_to_s(d->t), (long long)d->req, a, b);
}

static int validate(struct ts_reader *db, int64_t sim, int64_t exec, struct ts_error *err)
{
	struct ts_stored_run rs = { 0 }, re = { 0 };
	struct ts_comparison c = { 0 };
	int rc = ts_stored_run_load(db, sim, &rs, err);
	if (!rc)
		rc = ts_stored_run_load(db, exec, &re, err);
	if (!rc)
		rc = ts_compare_runs(db, sim, exec, &c, err);
	if (!rc && c.nreq == 0)
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: runs %lld and %lld share no finished request",
				ts_reader_path(db), (long long)sim, (long long)exec);
	if (!rc) {
		printf("sim run %lld (%s, %s, %s) vs exec run %lld (%s, %s, %s)\n", (long long)sim,
		       ts_text(rs.row.backend), ts_text(rs.row.policy), ts_text(rs.row.trace_name),
		       (long long)exec, ts_text(re.row.backend), ts_text(re.row.policy),
		       ts_text(re.row.trace_name));
		double dpp = 100 * (rs.sum.sar - re.sum.sar);
		printf("SAR: sim %.3f, exec %.3f, difference %+.2f points (target: within %.0f: %s)\n",
		       rs.sum.sar, re.sum.sar, dpp, TARGET_SAR_PP, fabs(dpp) <= TARGET_SAR_PP ? "met" : "MISSED");
		print_outcomes(&c.outcomes);
		print_request_errors(&c);
		print_step_errors(&c);
		print_divergence(&c.div);
	}
	ts_comparison_free(&c);
	ts_stored_run_free(&rs);
	ts_stored_run_free(&re);
	return rc;
}

int ts_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },   { "sim", required_argument, NULL, 's' },
		{ "exec", required_argument, NULL, 'e' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db_path = NULL;
	long long sim = 0, exec = 0;
	struct ts_error err = { 0 };
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd') {
			db_path = optarg;
		} else if (opt == 's' || opt == 'e') {
			if (ts_cli_parse_int(optarg, 1, INT64_MAX, opt == 's' ? &sim : &exec,
					     opt == 's' ? "--sim" : "--exec", &err)) {
				fprintf(stderr, "tetriserve validate: %s\n", err.msg);
				return 2;
			}
		} else if (opt == 'h') {
			printf("usage: tetriserve validate --db F --sim RUN --exec RUN\n"
			       "Compares two runs of one trace (a simulation and a hardware run): per-request\n"
			       "latency error (median, p95), per-step time error per (resolution, degree, batch),\n"
			       "SAR difference in points, the worst requests with their cause, and the first\n"
			       "launch where the schedules differ (GPU set or step count).\n");
			return 0;
		} else {
			return ts_cli_bad_option("tetriserve validate", argv);
		}
	}
	if (!db_path || !sim || !exec) {
		fprintf(stderr, "tetriserve validate: --db, --sim and --exec are required (see --help)\n");
		return 2;
	}
	struct ts_reader *db = NULL;
	int rc = ts_reader_open(&db, db_path, &err);
	if (!rc)
		rc = validate(db, sim, exec, &err);
	ts_reader_close(db);
	if (rc) {
		fprintf(stderr, "tetriserve validate: %s\n", err.msg);
		return 1;
	}
	return 0;
}
