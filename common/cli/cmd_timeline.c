/* cmd_timeline.c: `tetriserve timeline` — a run's segments as Chrome
 * trace-event JSON (viewable in Perfetto or chrome://tracing): one track per
 * GPU, one slice per segment on each GPU of its set, labelled with request,
 * resolution and degree. Works for sim and exec runs alike. The document is
 * streamed, one event at a time, so a run of millions of segments needs no
 * more memory than its request sizes. */
#include "cli/cmd_timeline.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_util.h"
#include "core/gpuset.h"
#include "report/stored_run.h"

/* Request sizes by id, for the slice labels. */
struct sizes {
	struct ts_request_row *row;
	size_t n, cap;
};

static int add_size(void *ctx, const struct ts_request_row *row, struct ts_error *err)
{
	struct sizes *s = ctx;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct ts_request_row *p = realloc(s->row, cap * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory reading requests");
		s->row = p;
		s->cap = cap;
	}
	s->row[s->n++] = *row;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	int64_t x = ((const struct ts_request_row *)a)->request_id;
	int64_t y = ((const struct ts_request_row *)b)->request_id;
	return (x > y) - (x < y);
}

static const struct ts_request_row *find_size(const struct sizes *s, int64_t id)
{
	struct ts_request_row key = { .request_id = id };
	return bsearch(&key, s->row, s->n, sizeof(*s->row), by_id);
}

/* Prints one event object, preceded by ",\n" unless it is the first. */
static int print_event(json_t *ev, bool *first)
{
	char *text = ts_json_text(ev);
	if (!text)
		return TS_ENOMEM;
	printf("%s%s", *first ? "" : ",\n", text);
	*first = false;
	free(text);
	return 0;
}

static int print_track_names(int gpus, bool *first)
{
	for (int g = 0; g < gpus; g++) {
		char name[16];
		snprintf(name, sizeof(name), "GPU %d", g);
		int rc = print_event(json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph",
					       "M", "pid", 1, "tid", g, "args", "name", name), first);
		if (rc)
			return rc;
	}
	return 0;
}

struct timeline {
	struct sizes sizes;
	bool first;
};

/* An instant event (process-wide) for each request that was dropped. */
static int print_drops(struct timeline *tl)
{
	for (size_t i = 0; i < tl->sizes.n; i++) {
		const struct ts_request_row *q = &tl->sizes.row[i];
		if (q->status != TS_REQ_DROPPED)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "r%lld %dx%d dropped", (long long)q->request_id, q->height,
			 q->width);
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:{s:I}}", "name", name, "cat",
				       "drop", "ph", "i", "s", "p", "pid", 1, "tid", 0, "ts",
				       (double)(q->dropped >= 0 ? q->dropped : 0) / 1e3, "args", "request",
				       (json_int_t)q->request_id);
		if (print_event(ev, &tl->first))
			return TS_ENOMEM;
	}
	return 0;
}

/* One complete event ("ph":"X") per GPU of the segment; times in us. */
static int print_segment(void *ctx, const struct ts_segment *seg, struct ts_error *err)
{
	struct timeline *tl = ctx;
	const struct ts_request_row *q = find_size(&tl->sizes, seg->request_id);
	bool move = seg->kind == TS_SEG_MOVE;
	char name[96], steps[32];
	snprintf(name, sizeof(name), "r%lld %dx%d sp%d%s", (long long)seg->request_id, q ? q->height : 0,
		 q ? q->width : 0, ts_gpus_count(seg->gpus), move ? " move" : "");
	snprintf(steps, sizeof(steps), "%d-%d", seg->first_step, seg->first_step + seg->nsteps - 1);
	for (uint64_t set = seg->gpus; set; set &= set - 1) {
		json_t *ev = json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:{s:I, s:s, s:i}}", "name", name,
				       "cat", move ? "move" : "steps", "ph", "X", "pid", 1, "tid",
				       ts_gpus_first(set), "ts", (double)seg->start / 1e3, "dur",
				       (double)(seg->end - seg->start) / 1e3, "args", "request",
				       (json_int_t)seg->request_id, "steps", steps, "batch", seg->batch);
		if (print_event(ev, &tl->first))
			return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	return 0;
}

static int write_timeline(struct ts_reader *db, int64_t run, struct ts_error *err)
{
	struct ts_run_row row;
	struct timeline tl = { .first = true };
	int rc = ts_reader_run(db, run, &row, err);
	if (rc)
		return rc;
	rc = ts_reader_each_request(db, run, add_size, &tl.sizes, err);
	if (rc)
		goto out;
	qsort(tl.sizes.row, tl.sizes.n, sizeof(*tl.sizes.row), by_id);
	char *head = ts_json_text(json_pack("{s:I, s:s?, s:s?}", "run", (json_int_t)run, "backend",
					    row.backend, "policy", row.policy));
	if (!head) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	printf("{\"displayTimeUnit\":\"ms\",\"otherData\":%s,\n\"traceEvents\":[\n", head);
	free(head);
	rc = print_track_names(row.gpus, &tl.first) ? ts_err_set(err, TS_ENOMEM, "out of memory") : 0;
	if (!rc)
		rc = ts_reader_each_segment(db, run, TS_SEG_BY_START, print_segment, &tl, err);
	if (!rc && print_drops(&tl))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	if (!rc) /* a failed read leaves the document unclosed: never a valid but short file */
		printf("\n]}\n");
out:
	free(tl.sizes.row);
	ts_run_row_free(&row);
	return rc;
}

int ts_cmd_timeline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' }, { "run", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },     { NULL, 0, NULL, 0 },
	};
	const char *db_path = NULL;
	long long run = 0;
	struct ts_error err = { 0 };
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd') {
			db_path = optarg;
		} else if (opt == 'r') {
			if (ts_cli_parse_int(optarg, 1, INT64_MAX, &run, "--run", &err)) {
				fprintf(stderr, "tetriserve timeline: %s\n", err.msg);
				return 2;
			}
		} else if (opt == 'h') {
			printf("usage: tetriserve timeline --db F --run R > trace.json\n"
			       "Writes run R's segments as Chrome trace-event JSON (open it in Perfetto):\n"
			       "one track per GPU, one slice per segment, labelled request, resolution, degree.\n");
			return 0;
		} else {
			return ts_cli_bad_option("tetriserve timeline", argv);
		}
	}
	if (!db_path || run == 0) {
		fprintf(stderr, "tetriserve timeline: --db and --run are required (see --help)\n");
		return 2;
	}
	struct ts_reader *db = NULL;
	int rc = ts_reader_open(&db, db_path, &err);
	if (!rc)
		rc = write_timeline(db, run, &err);
	ts_reader_close(db);
	if (rc) {
		fprintf(stderr, "tetriserve timeline: %s\n", err.msg);
		return 1;
	}
	return 0;
}
