/* cmd_report.c: `tetriserve report` — summaries of stored runs, side by side. */
#include "cli/cmd_report.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "report/stored_run.h"

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
	fprintf(f, "%*s%s%-*s%s%-*s%s%*s%s%*s%s%*s%s%*s%s%*s", w ? 4 : 0, "run", sep, w ? 7 : 0, "backend",
		sep, w ? 22 : 0, "policy", sep, w ? 4 : 0, "gpus", sep, w ? 6 : 0, "reqs", sep,
		w ? 6 : 0, "met", sep, w ? 6 : 0, "drop", sep, w ? 6 : 0, "sar");
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
		for (int i = 0; i < 13 + nk; i++)
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
	fprintf(f, "%*lld%s%-*s%s%-*s%s%*d%s%*lld%s%*lld%s%*lld", w ? 4 : 0, (long long)r->row.run_id, sep,
		w ? 7 : 0, ts_text(r->row.backend), sep, w ? 22 : 0, ts_text(r->row.policy), sep,
		w ? 4 : 0, r->row.gpus, sep, w ? 6 : 0, (long long)s->requests, sep, w ? 6 : 0,
		(long long)s->met, sep, w ? 6 : 0, (long long)s->dropped);
	print_cell_num(f, fmt, sep, s->sar, 6, 3);
	for (int i = 0; i < nk; i++)
		print_cell_num(f, fmt, sep, res_sar(s, keys[i]), 13, 3);
	print_cell_num(f, fmt, sep, s->lat_p50_s, 8, 3);
	print_cell_num(f, fmt, sep, s->lat_p95_s, 8, 3);
	print_cell_num(f, fmt, sep, s->lat_p99_s, 8, 3);
	/* a run with no segments (e.g. a profile run) has no utilisation */
	print_cell_num(f, fmt, sep, s->makespan_s > 0 ? s->gpu_util : NAN, 6, 3);
	fprintf(f, "%s%*s", sep, w ? 9 : 0, r->row.completed ? "yes" : "no");
	fprintf(f, fmt == FMT_MARKDOWN ? " |\n" : "\n");
}

/* One JSON object a run: its identity, then its summary. */
static int print_json(FILE *f, const struct ts_stored_run *runs, size_t n)
{
	json_t *all = json_array();
	for (size_t i = 0; all && i < n; i++) {
		const struct ts_run_row *row = &runs[i].row;
		json_t *o = json_pack("{s:I, s:s?, s:i, s:b}", "run_id", (json_int_t)row->run_id,
				      "backend", row->backend, "gpus", row->gpus, "completed", row->completed);
		json_t *sum = ts_summary_to_json(&runs[i].sum, row->policy);
		if (!o || !sum || json_object_update(o, sum) || json_array_append_new(all, o)) {
			json_decref(o);
			json_decref(sum);
			json_decref(all);
			return TS_ENOMEM;
		}
		json_decref(sum);
	}
	char *text = ts_json_text(all);
	if (!text)
		return TS_ENOMEM;
	fprintf(f, "%s\n", text);
	free(text);
	return 0;
}

/* Names the runs timed by a profile with modelled step times (CSV has no
 * room for a note: JSON carries modelled_cells). */
static void print_modelled_note(const struct ts_stored_run *runs, size_t n)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (runs[i].sum.modelled_cells <= 0)
			continue;
		printf("%s%lld", any ? ", " : "note: step times partly MODELLED, not measured, in runs ",
		       (long long)runs[i].row.run_id);
		any = true;
	}
	if (any)
		printf(" (docs/STEP_MODEL.md)\n");
}

static int print_report(const struct ts_stored_run *runs, size_t n, enum report_format fmt)
{
	if (fmt == FMT_JSON)
		return print_json(stdout, runs, n);
	struct res_key keys[TS_SUMMARY_MAX_RES];
	int nk = collect_resolutions(runs, n, keys, TS_SUMMARY_MAX_RES);
	print_header(stdout, fmt, keys, nk);
	for (size_t i = 0; i < n; i++)
		print_row(stdout, fmt, &runs[i], keys, nk);
	if (fmt != FMT_CSV)
		print_modelled_note(runs, n);
	return 0;
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

struct report_args {
	const char *db;
	enum report_format fmt;
	int64_t *ids; /* --run/--compare, else NULL: every run */
	size_t n;
};

/* Returns 0 to report, 1 when --help was printed, 2 on bad usage. */
static int parse_report_args(struct report_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },   { "run", required_argument, NULL, 'r' },
		{ "compare", required_argument, NULL, 'c' }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *ids_text = NULL;
	int opt;
	*a = (struct report_args){ .fmt = FMT_TABLE };
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd') {
			a->db = optarg;
		} else if (opt == 'r' || opt == 'c') {
			ids_text = optarg;
		} else if (opt == 'f' && parse_format(optarg, &a->fmt)) {
			fprintf(stderr, "tetriserve report: --format must be table, csv, markdown or json, not '%s'\n", optarg);
			return 2;
		} else if (opt == 'h') {
			report_usage(stdout);
			return 1;
		} else if (opt != 'f') {
			return ts_cli_bad_option("tetriserve report", argv);
		}
	}
	if (!a->db) {
		fprintf(stderr, "tetriserve report: --db is required (see --help)\n");
		return 2;
	}
	if (!ids_text)
		return 0;
	a->ids = malloc(REPORT_MAX_RUNS * sizeof(*a->ids));
	int k = a->ids ? parse_ids(ids_text, a->ids, REPORT_MAX_RUNS) : -1;
	if (k > 0) {
		a->n = (size_t)k;
		return 0;
	}
	fprintf(stderr, "tetriserve report: run ids must be positive numbers separated by commas, got '%s'\n",
		ids_text);
	free(a->ids);
	return 2;
}

/* Loads the runs a names (every run of the file without --run) and prints them. */
static int report(struct report_args *a, struct ts_error *err)
{
	struct ts_reader *db = NULL;
	struct ts_stored_run *runs = NULL;
	size_t loaded = 0;
	int rc = ts_reader_open(&db, a->db, err);
	if (!rc && !a->ids)
		rc = ts_reader_run_ids(db, &a->ids, &a->n, err);
	if (!rc && !(runs = calloc(a->n ? a->n : 1, sizeof(*runs))))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory for %zu runs", a->n);
	for (; !rc && loaded < a->n; loaded++)
		rc = ts_stored_run_load(db, a->ids[loaded], &runs[loaded], err);
	if (!rc && print_report(runs, a->n, a->fmt))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	for (size_t i = 0; i < loaded; i++)
		ts_stored_run_free(&runs[i]);
	free(runs);
	ts_reader_close(db);
	return rc;
}

int ts_cmd_report(int argc, char **argv)
{
	struct report_args a;
	struct ts_error err = { 0 };
	int prc = parse_report_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	int rc = report(&a, &err);
	free(a.ids);
	if (rc) {
		fprintf(stderr, "tetriserve report: %s\n", err.msg);
		return 1;
	}
	return 0;
}
