/* cmd_validate.c: the comparison `tetriserve validate` prints (see
 * cmd_validate.h): how far a simulated run was from a run of the same trace
 * on hardware (or any two runs), against the targets, with the request,
 * launch and cause of every miss. The figures: report/compare.h. */
#include "cli/cmd_validate.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "core/gpuset.h"
#include "driver/timing.h"
#include "report/compare.h"
#include "report/stored_run.h"

#define VALIDATE_WORST 5

/* How the requests ended in each run, and where the two disagree. */
static void print_outcomes(FILE *f, const struct ts_cmp_outcomes *o)
{
	int64_t a[4] = { 0 }, b[4] = { 0 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			a[i] += o->count[i][j], b[j] += o->count[i][j];
	fprintf(f, "outcomes (met/late/dropped/unfinished): sim %lld/%lld/%lld/%lld, exec %lld/%lld/%lld/%lld",
		(long long)a[0], (long long)a[1], (long long)a[2], (long long)a[3], (long long)b[0],
		(long long)b[1], (long long)b[2], (long long)b[3]);
	if (o->ndiffer)
		fprintf(f, "; %lld requests differ (first: request %lld, sim %s, exec %s)\n", (long long)o->ndiffer,
			(long long)o->first_id, ts_request_status_name(o->first_a),
			ts_request_status_name(o->first_b));
	else
		fprintf(f, "; the same for every request\n");
}

static void print_request_errors(FILE *f, const struct ts_comparison *c)
{
	char cause[600];
	fprintf(f, "per-request latency error |sim-exec|/exec over %zu requests: median %.2f%%, p95 %.2f%% "
		"(targets: median <= %.0f%%: %s, p95 <= %.0f%%: %s)\n",
		c->nreq, 100 * c->median_err, 100 * c->p95_err, 100 * TS_VALIDATE_TARGET_MEDIAN,
		c->median_err <= TS_VALIDATE_TARGET_MEDIAN ? "met" : "MISSED", 100 * TS_VALIDATE_TARGET_P95,
		c->p95_err <= TS_VALIDATE_TARGET_P95 ? "met" : "MISSED");
	fprintf(f, "worst requests:\n  %10s %8s %12s %12s  %s\n", "request", "error", "queueing s", "execution s",
		"cause");
	for (size_t i = 0; i < c->nreq && i < VALIDATE_WORST; i++) {
		const struct ts_cmp_request *p = &c->req[i];
		ts_compare_cause_text(c, p, cause, sizeof(cause));
		fprintf(f, "  %10lld %7.2f%% %+12.4f %+12.4f  %s\n", (long long)p->id, 100 * p->err, p->dq, p->dx,
			cause);
	}
}

static void print_step_errors(FILE *f, const struct ts_comparison *c)
{
	fprintf(f, "per-step time by cell (mean over all steps run in it):\n  %11s %3s %5s %10s %10s %8s %7s\n",
		"resolution", "sp", "batch", "sim ms", "exec ms", "error", "steps");
	for (size_t i = 0; i < c->ncell; i++) {
		const struct ts_cmp_cell *k = &c->cell[i];
		if (isnan(k->a_ms) || isnan(k->b_ms))
			continue; /* a cell only one of the runs used */
		char res[24];
		snprintf(res, sizeof(res), "%dx%d", k->height, k->width);
		fprintf(f, "  %11s %3d %5d %10.3f %10.3f %7.2f%% %7lld\n", res, k->degree, k->batch, k->a_ms,
			k->b_ms, 100 * fabs(k->a_ms - k->b_ms) / k->b_ms, (long long)k->b_steps);
	}
}

/* Why the schedules diverged: the last hardware launch outside the window
 * (by its duration) before the first differing launch, else the first one
 * the hardware run's driver recorded outside it (from issue to report), or
 * none (then the decisions differed on equal times: a fault of the
 * model-time rule). */
static void divergence_cause(const struct ts_comparison *c, char *buf, size_t len)
{
	char l[300];
	if (!c->has_cause) {
		snprintf(buf, len, "no hardware launch before it ran outside the window (max(%.0f ms, %.0f%%) of its "
			 "modelled time): the decisions differed on equal times, a fault of the model-time rule",
			 (double)TS_WINDOW_ABS_NS / 1e6, 100 * TS_WINDOW_REL);
		return;
	}
	const struct ts_cmp_offwindow *o = &c->cause;
	ts_compare_launch_text(&o->l, true, l, sizeof(l));
	snprintf(buf, len, "the hardware launch of request %lld, %s, %s %.3f ms against %.3f ms modelled "
		 "(%+.1f%%, outside the window): decisions after it follow the hardware's times",
		 (long long)o->l.req, l,
		 o->issued ? "the first the driver recorded outside its window, ended (from the driver issuing "
			     "it: a late start counts) after" : "took",
		 o->observed_ms, o->modelled_ms, 100 * (o->observed_ms - o->modelled_ms) / o->modelled_ms);
}

/* Where the schedules first differ: the GPU set or step count of a launch,
 * or a launch only one run made, and why. Moves are not compared: they
 * follow from the launches. */
static void print_divergence(FILE *f, const struct ts_comparison *c)
{
	const struct ts_cmp_divergence *d = &c->div;
	char a[300], b[300], why[700];
	fprintf(f, "hardware launches outside the driver's window: %lld of %zu by their durations", (long long)c->offwindow,
		c->nlaunch_b);
	if (c->driver_misses)
		fprintf(f, "; %lld recorded by the driver (from issue to report)", (long long)c->driver_misses);
	fputc('\n', f);
	if (d->nreq == 0) {
		fprintf(f, "schedules: the same launches (GPU set, steps) for every request\n");
		return;
	}
	ts_compare_launch_text(&d->a, d->has_a, a, sizeof(a));
	ts_compare_launch_text(&d->b, d->has_b, b, sizeof(b));
	divergence_cause(c, why, sizeof(why));
	fprintf(f, "schedules differ for %lld request(s); first at t=%.4f s, request %lld:\n  sim:  %s\n  exec: %s\n"
		"  cause: %s\n", (long long)d->nreq, ts_ns_to_s(d->t), (long long)d->req, a, b, why);
}

/* The cause of request id's difference, also when it finished in one run only. */
static void request_cause(const struct ts_comparison *c, int64_t id, char *buf, size_t len)
{
	for (size_t i = 0; i < c->nreq; i++)
		if (c->req[i].id == id) {
			ts_compare_cause_text(c, &c->req[i], buf, len);
			return;
		}
	struct ts_cmp_request p = { .id = id, .dq = 1 }; /* no latency pair: the schedule, else queueing */
	ts_compare_cause_text(c, &p, buf, len);
}

/* Every missed target with the requests, launches and causes behind it;
 * the first miss, in short, into res->first_miss. */
static void print_misses(FILE *f, const struct ts_comparison *c, struct ts_validate_result *res)
{
	char cause[600];
	int listed = 0;
	if (!res->met_sar) {
		fprintf(f, "MISSED SAR within %.0f point(s): %lld request(s) ended differently:\n",
			TS_VALIDATE_TARGET_SAR_PP, (long long)c->outcomes.ndiffer);
		for (int64_t i = 0; i < c->outcomes.ndiffer && i < TS_CMP_MAX_LISTED; i++) {
			request_cause(c, c->outcomes.id[i], cause, sizeof(cause));
			fprintf(f, "  request %lld: sim %s, exec %s; %s\n", (long long)c->outcomes.id[i],
				ts_request_status_name(c->outcomes.a[i]), ts_request_status_name(c->outcomes.b[i]),
				cause);
			if (!listed++)
				snprintf(res->first_miss, sizeof(res->first_miss), "SAR: request %lld %s/%s; %s",
					 (long long)c->outcomes.id[i], ts_request_status_name(c->outcomes.a[i]),
					 ts_request_status_name(c->outcomes.b[i]), cause);
		}
	}
	if (res->met_median && res->met_p95)
		return;
	if (res->met_p95 && c->nreq) /* no request above 5%: the worst ones are listed above */
		fprintf(f, "MISSED median latency error <= %.0f%%: no request above %.0f%%; the worst are listed "
			"above\n", 100 * TS_VALIDATE_TARGET_MEDIAN, 100 * TS_VALIDATE_TARGET_P95);
	else
		fprintf(f, "MISSED latency error targets: the requests above %.0f%%:\n", 100 * TS_VALIDATE_TARGET_P95);
	for (size_t i = 0; i < c->nreq && c->req[i].err > TS_VALIDATE_TARGET_P95; i++) {
		ts_compare_cause_text(c, &c->req[i], cause, sizeof(cause));
		fprintf(f, "  request %lld: %.2f%%; %s\n", (long long)c->req[i].id, 100 * c->req[i].err, cause);
		if (!listed++)
			snprintf(res->first_miss, sizeof(res->first_miss), "latency: request %lld %.1f%%; %s",
				 (long long)c->req[i].id, 100 * c->req[i].err, cause);
	}
	if (!listed && c->nreq) { /* median missed, no request above 5%: the worst one */
		ts_compare_cause_text(c, &c->req[0], cause, sizeof(cause));
		snprintf(res->first_miss, sizeof(res->first_miss), "latency: request %lld %.1f%%; %s",
			 (long long)c->req[0].id, 100 * c->req[0].err, cause);
	}
}

static void fill_result(const struct ts_stored_run *rs, const struct ts_stored_run *re,
			const struct ts_comparison *c, struct ts_validate_result *res)
{
	*res = (struct ts_validate_result){
		.sar_sim = rs->sum.sar, .sar_exec = re->sum.sar, .median_err = c->median_err,
		.p95_err = c->p95_err, .requests = c->nreq, .differ = c->div.nreq, .offwindow = c->offwindow,
		.driver_misses = c->driver_misses,
		.met_median = c->median_err <= TS_VALIDATE_TARGET_MEDIAN,
		.met_p95 = c->p95_err <= TS_VALIDATE_TARGET_P95,
		.met_sar = fabs(100 * (rs->sum.sar - re->sum.sar)) <= TS_VALIDATE_TARGET_SAR_PP,
	};
}

static void print_comparison(FILE *f, int64_t sim, int64_t exec, const struct ts_stored_run *rs,
			     const struct ts_stored_run *re, const struct ts_comparison *c,
			     struct ts_validate_result *res)
{
	fill_result(rs, re, c, res);
	fprintf(f, "sim run %lld (%s, %s, %s) vs exec run %lld (%s, %s, %s)\n", (long long)sim,
		ts_text(rs->row.backend), ts_text(rs->row.policy), ts_text(rs->row.trace_name), (long long)exec,
		ts_text(re->row.backend), ts_text(re->row.policy), ts_text(re->row.trace_name));
	double dpp = 100 * (rs->sum.sar - re->sum.sar);
	fprintf(f, "SAR: sim %.3f, exec %.3f, difference %+.2f points (target: within %.0f: %s)\n", rs->sum.sar,
		re->sum.sar, dpp, TS_VALIDATE_TARGET_SAR_PP, res->met_sar ? "met" : "MISSED");
	print_outcomes(f, &c->outcomes);
	print_request_errors(f, c);
	print_step_errors(f, c);
	print_divergence(f, c);
	print_misses(f, c, res);
	if (!res->first_miss[0] && c->div.nreq) {
		char why[700];
		divergence_cause(c, why, sizeof(why));
		snprintf(res->first_miss, sizeof(res->first_miss), "launches differ from request %lld; %s",
			 (long long)c->div.req, why);
	}
}

int ts_validate_report(struct ts_reader *db, int64_t sim, int64_t exec, FILE *f,
		       struct ts_validate_result *res, struct ts_error *err)
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
	if (!rc)
		print_comparison(f, sim, exec, &rs, &re, &c, res);
	ts_comparison_free(&c);
	ts_stored_run_free(&rs);
	ts_stored_run_free(&re);
	return rc;
}

void ts_validate_runs_usage(FILE *f)
{
	fprintf(f, "usage: tetriserve validate --db F --sim RUN --exec RUN\n"
		   "Compares two stored runs of one trace (a simulation and a hardware run): per-request\n"
		   "latency error (median, p95), per-step time error per (resolution, degree, batch),\n"
		   "SAR difference in points, the worst requests with their cause, the first launch where\n"
		   "the schedules differ (GPU set or step count) and the last hardware launch before it\n"
		   "that ran outside the driver's window (or the first its driver recorded outside it,\n"
		   "a late start included); then every missed target (median <= 2%%,\n"
		   "p95 <= 5%%, SAR within 1 point) with its requests, launches and causes.\n");
}

int ts_cmd_validate_runs(int argc, char **argv)
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
			ts_validate_runs_usage(stdout);
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
	struct ts_validate_result res;
	int rc = ts_reader_open(&db, db_path, &err);
	if (!rc)
		rc = ts_validate_report(db, sim, exec, stdout, &res, &err);
	ts_reader_close(db);
	if (rc) {
		fprintf(stderr, "tetriserve validate: %s\n", err.msg);
		return 1;
	}
	return 0;
}
