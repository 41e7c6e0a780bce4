/* cmd_validate.c: `tetriserve validate` — compare a simulated run with a run
 * of the same trace on hardware (or any two runs): per-request latency error,
 * per-step time error by (resolution, degree, batch), SAR difference, the
 * worst requests with their cause (queueing or execution), and the first
 * launch where the two schedules differ. */
#include "cli/cmd_validate.h"

#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "report/run_reader.h"

#define VALIDATE_WORST 5

/* Targets of the validation (issue: median per-request error <= 2%, SAR
 * within 1 point). */
#define TARGET_MEDIAN_ERR 0.02
#define TARGET_SAR_PP 1.0

struct req_pair {
	int64_t id;
	double err;        /* |L_sim - L_exec| / L_exec */
	double dq, dx;     /* queueing and execution differences, sim - exec, seconds */
};

static const char pairs_sql[] =
	"SELECT s.request_id, s.arrival_ns, s.start_ns, s.finish_ns, e.arrival_ns, e.start_ns, e.finish_ns"
	" FROM requests s JOIN requests e ON e.request_id = s.request_id"
	" WHERE s.run_id = ?1 AND e.run_id = ?2 AND s.finish_ns IS NOT NULL AND e.finish_ns IS NOT NULL"
	" ORDER BY s.request_id";

static const char cells_sql[] =
	"SELECT r.height, r.width, g.degree, g.batch,"
	" SUM(CASE WHEN g.run_id = ?1 THEN g.end_ns - g.start_ns END) * 1.0 /"
	"  SUM(CASE WHEN g.run_id = ?1 THEN g.nsteps END),"
	" SUM(CASE WHEN g.run_id = ?2 THEN g.end_ns - g.start_ns END) * 1.0 /"
	"  SUM(CASE WHEN g.run_id = ?2 THEN g.nsteps END),"
	" SUM(CASE WHEN g.run_id = ?2 THEN g.nsteps END)"
	" FROM segments g JOIN requests r ON r.run_id = g.run_id AND r.request_id = g.request_id"
	" WHERE g.run_id IN (?1, ?2) AND g.kind = 'steps'"
	" GROUP BY r.height, r.width, g.degree, g.batch ORDER BY r.height * r.width, g.degree, g.batch";

/* Requests of the two runs that are not the same request: missing from one
 * run, or with another size, step count or arrival (1 us apart at most: an
 * exec run's --time-scale and a pre-scaled trace file round differently). */
static const char same_trace_sql[] =
	"SELECT COUNT(*), MIN(request_id) FROM ("
	" SELECT s.request_id FROM requests s LEFT JOIN requests e"
	"  ON e.run_id = ?2 AND e.request_id = s.request_id WHERE s.run_id = ?1"
	"  AND (e.request_id IS NULL OR e.height != s.height OR e.width != s.width"
	"   OR e.steps != s.steps OR abs(e.arrival_ns - s.arrival_ns) > 1000)"
	" UNION ALL SELECT e.request_id FROM requests e LEFT JOIN requests s"
	"  ON s.run_id = ?1 AND s.request_id = e.request_id WHERE e.run_id = ?2 AND s.request_id IS NULL)";

/* Refuses to compare runs of different traces, naming a request that differs. */
static int check_same_trace(sqlite3 *db, const char *path, int64_t sim, int64_t exec, struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, same_trace_sql, -1, &st, NULL) != SQLITE_OK)
		return ts_err_set(err, TS_EIO, "%s: comparing requests: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, sim);
	sqlite3_bind_int64(st, 2, exec);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		rc = ts_err_set(err, TS_EINVAL,
				"%s: runs %lld and %lld are not of one trace: %lld requests differ (first: request %lld)",
				path, (long long)sim, (long long)exec, (long long)sqlite3_column_int64(st, 0),
				(long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return rc;
}

/* Steps segments (the launches) of a run, request by request in step order. */
static const char launches_sql[] =
	"SELECT request_id, gpus, first_step, nsteps, start_ns FROM segments"
	" WHERE run_id = ?1 AND kind = 'steps' ORDER BY request_id, first_step";

/* One launch of one request as the schedule chose it. */
struct launch_row {
	int64_t req;
	uint64_t gpus;
	int32_t first, nsteps;
	ts_ns start;
};

/* The first place where the schedules differ: request `req`, where one run
 * has launch s (or none) and the other launch e (or none). */
struct divergence {
	int64_t req;
	const struct launch_row *s, *e;
	ts_ns t;           /* the earlier start of the two */
	int64_t nreq;      /* requests whose launches differ */
};

/* Ends a read of statement st whose last sqlite3_step() returned step:
 * finalizes it and, unless an earlier error rc is set, turns a read that
 * stopped before SQLITE_DONE (a busy or damaged file) into TS_EIO, so a
 * short read never passes for a complete one. */
static int finish_read(sqlite3 *db, sqlite3_stmt *st, int step, int rc, const char *path,
		       struct ts_error *err)
{
	if (!rc && step != SQLITE_DONE)
		rc = ts_err_set(err, TS_EIO, "%s: reading segments: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static int load_launches(sqlite3 *db, const char *path, int64_t run, struct launch_row **out, size_t *n,
			 struct ts_error *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, launches_sql, -1, &st, NULL) != SQLITE_OK)
		return ts_err_set(err, TS_EIO, "%s: reading segments: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, run);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			struct launch_row *p = realloc(*out, cap * sizeof(*p));
			if (!p) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
				break;
			}
			*out = p;
		}
		(*out)[(*n)++] = (struct launch_row){
			.req = sqlite3_column_int64(st, 0), .gpus = (uint64_t)sqlite3_column_int64(st, 1),
			.first = sqlite3_column_int(st, 2), .nsteps = sqlite3_column_int(st, 3),
			.start = sqlite3_column_int64(st, 4),
		};
	}
	return finish_read(db, st, step, rc, path, err);
}

static bool same_launch(const struct launch_row *a, const struct launch_row *b)
{
	return a->gpus == b->gpus && a->first == b->first && a->nsteps == b->nsteps;
}

/* Walks both runs' launches request by request (both lists sorted by
 * request, then step) and keeps the earliest first difference. */
static void find_divergence(const struct launch_row *s, size_t ns, const struct launch_row *e, size_t ne,
			    struct divergence *d)
{
	size_t i = 0, j = 0;
	*d = (struct divergence){ .t = INT64_MAX };
	while (i < ns || j < ne) {
		int64_t r = i < ns && (j >= ne || s[i].req <= e[j].req) ? s[i].req : e[j].req;
		bool differs = false;
		for (; i < ns && s[i].req == r && j < ne && e[j].req == r; i++, j++)
			if (!same_launch(&s[i], &e[j]))
				break;
		const struct launch_row *a = i < ns && s[i].req == r ? &s[i] : NULL;
		const struct launch_row *b = j < ne && e[j].req == r ? &e[j] : NULL;
		if (a || b) {
			ts_ns t = a && (!b || a->start < b->start) ? a->start : b->start;
			differs = true;
			if (t < d->t)
				*d = (struct divergence){ .req = r, .s = a, .e = b, .t = t, .nreq = d->nreq };
		}
		d->nreq += differs;
		while (i < ns && s[i].req == r)
			i++;
		while (j < ne && e[j].req == r)
			j++;
	}
}

/* "4 steps from step 9 on GPUs 0,1,2,3 at 19.7018 s", or "no launch". */
static void describe_launch(char *buf, size_t len, const struct launch_row *l)
{
	int w;
	if (!l) {
		snprintf(buf, len, "no launch");
		return;
	}
	w = snprintf(buf, len, "%d steps from step %d on GPUs ", l->nsteps, l->first);
	for (int g = 0; g < 64 && w > 0 && (size_t)w < len; g++)
		if (l->gpus >> g & 1)
			w += snprintf(buf + w, len - (size_t)w, "%s%d", (l->gpus & ((1ULL << g) - 1)) ? "," : "", g);
	if (w > 0 && (size_t)w < len)
		snprintf(buf + w, len - (size_t)w, " at %.4f s", ts_ns_to_s(l->start));
}

/* Prints where the schedules first differ: the GPU set or step count of a
 * launch, or a launch only one run made. Moves are not compared: they
 * follow from the launches. */
static int print_divergence(sqlite3 *db, const char *path, int64_t sim, int64_t exec, struct ts_error *err)
{
	struct launch_row *s = NULL, *e = NULL;
	size_t ns = 0, ne = 0;
	struct divergence d;
	char a[160], b[160];
	int rc = load_launches(db, path, sim, &s, &ns, err);
	if (!rc)
		rc = load_launches(db, path, exec, &e, &ne, err);
	if (rc)
		goto out_free;
	find_divergence(s, ns, e, ne, &d);
	if (d.nreq == 0) {
		printf("schedules: the same launches (GPU set, steps) for every request\n");
		goto out_free;
	}
	describe_launch(a, sizeof(a), d.s);
	describe_launch(b, sizeof(b), d.e);
	printf("schedules differ for %lld request(s); first at t=%.4f s, request %lld:\n  sim:  %s\n  exec: %s\n",
	       (long long)d.nreq, ts_ns_to_s(d.t), (long long)d.req, a, b);
out_free:
	free(s);
	free(e);
	return rc;
}

static int cmp_err_desc(const void *a, const void *b)
{
	double x = ((const struct req_pair *)a)->err, y = ((const struct req_pair *)b)->err;
	return (x < y) - (x > y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int load_pairs(sqlite3 *db, const char *path, int64_t sim, int64_t exec, struct req_pair **out,
		      size_t *n, struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, pairs_sql, -1, &st, NULL) != SQLITE_OK)
		return ts_err_set(err, TS_EIO, "%s: reading requests: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, sim);
	sqlite3_bind_int64(st, 2, exec);
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			struct req_pair *p = realloc(*out, cap * sizeof(*p));
			if (!p) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
				break;
			}
			*out = p;
		}
		double sa = (double)sqlite3_column_int64(st, 1), ss = (double)sqlite3_column_int64(st, 2);
		double sf = (double)sqlite3_column_int64(st, 3), ea = (double)sqlite3_column_int64(st, 4);
		double es = (double)sqlite3_column_int64(st, 5), ef = (double)sqlite3_column_int64(st, 6);
		double ls = sf - sa, le = ef - ea;
		(*out)[(*n)++] = (struct req_pair){
			.id = sqlite3_column_int64(st, 0), .err = le > 0 ? fabs(ls - le) / le : 0,
			.dq = ((ss - sa) - (es - ea)) / 1e9, .dx = ((sf - ss) - (ef - es)) / 1e9,
		};
	}
	return finish_read(db, st, step, rc, path, err);
}

static void print_request_errors(struct req_pair *p, size_t n)
{
	double *e = malloc((n ? n : 1) * sizeof(*e));
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		e[i] = p[i].err;
	qsort(e, n, sizeof(*e), cmp_double);
	double med = ts_percentile_sorted(e, n, 50), p95 = ts_percentile_sorted(e, n, 95);
	printf("per-request latency error |sim-exec|/exec over %zu requests: median %.2f%%, p95 %.2f%% (target: median <= %.0f%%: %s)\n",
	       n, 100 * med, 100 * p95, 100 * TARGET_MEDIAN_ERR, med <= TARGET_MEDIAN_ERR ? "met" : "MISSED");
	free(e);
	qsort(p, n, sizeof(*p), cmp_err_desc);
	printf("worst requests:\n  %10s %8s %12s %12s  %s\n", "request", "error", "queueing s", "execution s",
	       "cause");
	for (size_t i = 0; i < n && i < VALIDATE_WORST; i++)
		printf("  %10lld %7.2f%% %+12.4f %+12.4f  %s\n", (long long)p[i].id, 100 * p[i].err, p[i].dq,
		       p[i].dx, fabs(p[i].dq) >= fabs(p[i].dx) ? "queueing" : "execution");
}

static int print_step_errors(sqlite3 *db, const char *path, int64_t sim, int64_t exec, struct ts_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, cells_sql, -1, &st, NULL) != SQLITE_OK)
		return ts_err_set(err, TS_EIO, "%s: reading segments: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, sim);
	sqlite3_bind_int64(st, 2, exec);
	printf("per-step time by cell (mean over all steps run in it):\n  %11s %3s %5s %10s %10s %8s %7s\n",
	       "resolution", "sp", "batch", "sim ms", "exec ms", "error", "steps");
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 4) == SQLITE_NULL || sqlite3_column_type(st, 5) == SQLITE_NULL)
			continue; /* a cell only one of the runs used */
		double s = sqlite3_column_double(st, 4) / 1e6, e = sqlite3_column_double(st, 5) / 1e6;
		char res[24];
		snprintf(res, sizeof(res), "%dx%d", sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
		printf("  %11s %3d %5d %10.3f %10.3f %7.2f%% %7lld\n", res, sqlite3_column_int(st, 2),
		       sqlite3_column_int(st, 3), s, e, 100 * fabs(s - e) / e,
		       (long long)sqlite3_column_int64(st, 6));
	}
	return finish_read(db, st, step, 0, path, err);
}

static int validate(sqlite3 *db, const char *path, int64_t sim, int64_t exec, struct ts_error *err)
{
	struct ts_stored_run rs, re;
	int rc = ts_reader_load(db, path, sim, &rs, err);
	if (!rc)
		rc = ts_reader_load(db, path, exec, &re, err);
	if (!rc)
		rc = check_same_trace(db, path, sim, exec, err);
	if (rc)
		return rc;
	printf("sim run %lld (%s, %s, %s) vs exec run %lld (%s, %s, %s)\n", (long long)sim, rs.backend,
	       rs.policy, rs.trace, (long long)exec, re.backend, re.policy, re.trace);
	double dpp = 100 * (rs.sum.sar - re.sum.sar);
	printf("SAR: sim %.3f, exec %.3f, difference %+.2f points (target: within %.0f: %s)\n", rs.sum.sar,
	       re.sum.sar, dpp, TARGET_SAR_PP, fabs(dpp) <= TARGET_SAR_PP ? "met" : "MISSED");
	struct req_pair *p = NULL;
	size_t n = 0;
	rc = load_pairs(db, path, sim, exec, &p, &n, err);
	if (rc)
		return rc;
	if (n == 0) {
		free(p);
		return ts_err_set(err, TS_ENOTFOUND, "%s: runs %lld and %lld share no finished request",
				  path, (long long)sim, (long long)exec);
	}
	print_request_errors(p, n);
	free(p);
	rc = print_step_errors(db, path, sim, exec, err);
	return rc ? rc : print_divergence(db, path, sim, exec, err);
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
	sqlite3 *db = NULL;
	int rc = ts_reader_open(&db, db_path, &err);
	if (!rc)
		rc = validate(db, db_path, sim, exec, &err);
	sqlite3_close(db);
	if (rc) {
		fprintf(stderr, "tetriserve validate: %s\n", err.msg);
		return 1;
	}
	return 0;
}
