/* cmd_report.c: `tetriserve report` — summaries of stored runs, side by side. */
#include "cli/cmd_report.h"

#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "report/run_reader.h"

enum report_format { FMT_TABLE, FMT_CSV, FMT_MARKDOWN, FMT_JSON };

struct res_key {
	int32_t h, w;
};

static void report_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve report --db F [--run R | --compare R1,R2,...] [--format table|csv|markdown|json]\n"
		"Summarises stored runs (sim and exec alike) from their request and segment rows:\n"
		"SAR overall and per resolution, latency p50/p95/p99, GPU utilisation. Without\n"
		"--run or --compare every run in the file is listed.\n");
}

/* Parses "1,2,5" into ids; returns the count or -1 on a malformed list. */
static int parse_ids(const char *text, int64_t *ids, int max)
{
	int n = 0;
	const char *p = text;
	while (*p) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || v <= 0 || n == max || (*end && *end != ','))
			return -1;
		ids[n++] = v;
		p = *end ? end + 1 : end;
	}
	return n;
}

/* The union of resolutions over all runs, ascending in pixels. */
static int collect_resolutions(const struct ts_stored_run *runs, size_t n, struct res_key *keys, int max)
{
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < runs[i].sum.nres; j++) {
			struct res_key r = { runs[i].sum.res[j].height, runs[i].sum.res[j].width };
			int pos = 0;
			while (pos < k && (int64_t)keys[pos].h * keys[pos].w < (int64_t)r.h * r.w)
				pos++;
			if (pos < k && keys[pos].h == r.h && keys[pos].w == r.w)
				continue;
			if (k == max)
				continue;
			memmove(&keys[pos + 1], &keys[pos], (size_t)(k - pos) * sizeof(*keys));
			keys[pos] = r;
			k++;
		}
	}
	return k;
}

static double res_sar(const struct ts_summary *s, struct res_key r)
{
	for (int j = 0; j < s->nres; j++)
		if (s->res[j].height == r.h && s->res[j].width == r.w)
			return s->res[j].sar;
	return NAN;
}

static void print_cell_num(FILE *f, enum report_format fmt, const char *sep, double x, int width,
			   int prec)
{
	if (!isfinite(x))
		fprintf(f, "%s%*s", sep, fmt == FMT_TABLE ? width : 0, "-");
	else
		fprintf(f, "%s%*.*f", sep, fmt == FMT_TABLE ? width : 0, prec, x);
}

static void print_header(FILE *f, enum report_format fmt, const struct res_key *keys, int nk)
{
	const char *sep = fmt == FMT_CSV ? "," : fmt == FMT_MARKDOWN ? " | " : " ";
	int w = fmt == FMT_TABLE;
	if (fmt == FMT_MARKDOWN)
		fprintf(f, "| ");
	fprintf(f, "%*s%s%-*s%s%-*s%s%*s%s%*s%s%*s%s%*s", w ? 4 : 0, "run", sep, w ? 7 : 0, "backend",
		sep, w ? 22 : 0, "policy", sep, w ? 4 : 0, "gpus", sep, w ? 6 : 0, "reqs", sep,
		w ? 6 : 0, "met", sep, w ? 6 : 0, "sar");
	for (int i = 0; i < nk; i++) {
		char name[32];
		snprintf(name, sizeof(name), "sar_%dx%d", keys[i].h, keys[i].w);
		fprintf(f, "%s%*s", sep, w ? 13 : 0, name);
	}
	fprintf(f, "%s%*s%s%*s%s%*s%s%*s%s%*s", sep, w ? 8 : 0, "p50_s", sep, w ? 8 : 0, "p95_s", sep,
		w ? 8 : 0, "p99_s", sep, w ? 6 : 0, "util", sep, w ? 9 : 0, "completed");
	fprintf(f, fmt == FMT_MARKDOWN ? " |\n" : "\n");
	if (fmt == FMT_MARKDOWN) {
		fprintf(f, "|");
		for (int i = 0; i < 12 + nk; i++)
			fprintf(f, "---|");
		fprintf(f, "\n");
	}
}

static void print_row(FILE *f, enum report_format fmt, const struct ts_stored_run *r,
		      const struct res_key *keys, int nk)
{
	const char *sep = fmt == FMT_CSV ? "," : fmt == FMT_MARKDOWN ? " | " : " ";
	int w = fmt == FMT_TABLE;
	const struct ts_summary *s = &r->sum;
	if (fmt == FMT_MARKDOWN)
		fprintf(f, "| ");
	fprintf(f, "%*lld%s%-*s%s%-*s%s%*d%s%*lld%s%*lld", w ? 4 : 0, (long long)r->run_id, sep,
		w ? 7 : 0, r->backend, sep, w ? 22 : 0, r->policy, sep, w ? 4 : 0, r->gpus, sep,
		w ? 6 : 0, (long long)s->requests, sep, w ? 6 : 0, (long long)s->met);
	print_cell_num(f, fmt, sep, s->sar, 6, 3);
	for (int i = 0; i < nk; i++)
		print_cell_num(f, fmt, sep, res_sar(s, keys[i]), 13, 3);
	print_cell_num(f, fmt, sep, s->lat_p50_s, 8, 3);
	print_cell_num(f, fmt, sep, s->lat_p95_s, 8, 3);
	print_cell_num(f, fmt, sep, s->lat_p99_s, 8, 3);
	/* a run with no segments (e.g. a profile run) has no utilisation */
	print_cell_num(f, fmt, sep, s->makespan_s > 0 ? s->gpu_util : NAN, 6, 3);
	fprintf(f, "%s%*s", sep, w ? 9 : 0, r->completed ? "yes" : "no");
	fprintf(f, fmt == FMT_MARKDOWN ? " |\n" : "\n");
}

static void print_json(FILE *f, const struct ts_stored_run *runs, size_t n)
{
	static char buf[8192];
	fprintf(f, "[");
	for (size_t i = 0; i < n; i++) {
		ts_summary_json(&runs[i].sum, runs[i].policy, buf, sizeof(buf));
		/* splice run identity into the summary object */
		fprintf(f, "%s{\"run_id\":%lld,\"backend\":\"%s\",\"gpus\":%d,\"completed\":%s,%s", i ? "," : "",
			(long long)runs[i].run_id, runs[i].backend, runs[i].gpus,
			runs[i].completed ? "true" : "false", buf + 1);
	}
	fprintf(f, "]\n");
}

static void print_report(const struct ts_stored_run *runs, size_t n, enum report_format fmt)
{
	if (fmt == FMT_JSON) {
		print_json(stdout, runs, n);
		return;
	}
	struct res_key keys[TS_SUMMARY_MAX_RES];
	int nk = collect_resolutions(runs, n, keys, TS_SUMMARY_MAX_RES);
	print_header(stdout, fmt, keys, nk);
	for (size_t i = 0; i < n; i++)
		print_row(stdout, fmt, &runs[i], keys, nk);
}

static int parse_format(const char *s, enum report_format *fmt)
{
	static const char *names[] = { "table", "csv", "markdown", "json" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*fmt = (enum report_format)i;
			return 0;
		}
	return -1;
}

#define REPORT_MAX_RUNS 4096

int ts_cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },   { "run", required_argument, NULL, 'r' },
		{ "compare", required_argument, NULL, 'c' }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *db_path = NULL, *ids_text = NULL;
	enum report_format fmt = FMT_TABLE;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db_path = optarg; break;
		case 'r':
		case 'c': ids_text = optarg; break;
		case 'f':
			if (parse_format(optarg, &fmt)) {
				fprintf(stderr, "tetriserve report: --format must be table, csv, markdown or json, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': report_usage(stdout); return 0;
		default:
			return ts_cli_bad_option("tetriserve report", argv);
		}
	}
	if (!db_path) {
		fprintf(stderr, "tetriserve report: --db is required (see --help)\n");
		return 2;
	}
	int64_t *ids = NULL;
	size_t n = 0;
	struct ts_error err = { 0 };
	sqlite3 *db = NULL;
	struct ts_stored_run *runs = NULL;
	int status = 1;
	if (ids_text) {
		ids = malloc(REPORT_MAX_RUNS * sizeof(*ids));
		int k = ids ? parse_ids(ids_text, ids, REPORT_MAX_RUNS) : -1;
		if (k <= 0) {
			fprintf(stderr, "tetriserve report: run ids must be positive numbers separated by commas, got '%s'\n",
				ids_text);
			free(ids);
			return 2;
		}
		n = (size_t)k;
	}
	if (ts_reader_open(&db, db_path, &err))
		goto out;
	if (!ids_text && ts_reader_run_ids(db, db_path, &ids, &n, &err))
		goto out;
	runs = calloc(n ? n : 1, sizeof(*runs));
	if (!runs) {
		ts_err_set(&err, TS_ENOMEM, "out of memory for %zu runs", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (ts_reader_load(db, db_path, ids[i], &runs[i], &err))
			goto out;
	print_report(runs, n, fmt);
	status = 0;
out:
	if (status)
		fprintf(stderr, "tetriserve report: %s\n", err.msg);
	free(runs);
	free(ids);
	sqlite3_close(db);
	return status;
}
