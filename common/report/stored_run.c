/* stored_run.c: runs read back with their summaries (see stored_run.h). */
#include "report/stored_run.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The trace and per-request state of a run, rebuilt from its request rows. */
struct rebuilt {
	struct ts_trace trace;
	struct ts_run_result res;
	size_t cap;
};

static int add_request(void *ctx, const struct ts_request_row *row, struct ts_error *err)
{
	struct rebuilt *b = ctx;
	struct ts_request q = {
		.id = row->request_id, .height = row->height, .width = row->width, .steps = row->steps,
		.arrival = row->arrival, .slo = row->deadline - row->arrival,
	};
	int rc = ts_trace_append(&b->trace, &q, err);
	if (rc)
		return rc;
	if (b->res.n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct ts_req_state *p = realloc(b->res.st, cap * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory reading requests");
		b->res.st = p;
		b->cap = cap;
	}
	b->res.st[b->res.n++] = (struct ts_req_state){ .start = row->start, .finish = row->finish,
						       .dropped = row->status == TS_REQ_DROPPED
								  ? (row->dropped >= 0 ? row->dropped : 0) : -1 };
	return 0;
}

/* The options' modelled_cells (0 when absent: runs before the step-time model). */
/* Rounds of a run stored without its rounds rows (sim/exec without
 * --store-rounds): the count its summary recorded, 0 when it has none. */
static int64_t summary_rounds(const char *summary)
{
	json_t *o = summary ? json_loads(summary, 0, NULL) : NULL;
	json_int_t n = json_integer_value(json_object_get(o, "rounds"));
	json_decref(o);
	return n;
}

static int64_t modelled_cells(const char *options)
{
	json_t *o = options ? json_loads(options, 0, NULL) : NULL;
	json_int_t n = json_integer_value(json_object_get(o, "modelled_cells"));
	json_decref(o);
	return n;
}

int ts_stored_run_load(struct ts_reader *r, int64_t id, struct ts_stored_run *out,
		       struct ts_error *err)
{
	struct rebuilt b = { 0 };
	struct ts_run_totals t;
	memset(out, 0, sizeof(*out));
	int rc = ts_reader_run(r, id, &out->row, err);
	if (!rc)
		rc = ts_reader_each_request(r, id, add_request, &b, err);
	if (!rc)
		rc = ts_reader_run_totals(r, id, &t, err);
	if (!rc) {
		b.res.busy_gpu_ns = t.busy_gpu_ns;
		b.res.makespan = t.makespan;
		b.res.launches = t.launches;
		b.res.moves = t.moves;
		b.res.rounds = t.rounds ? t.rounds : summary_rounds(out->row.summary);
		rc = ts_summary_compute(&out->sum, &b.trace, &b.res,
					out->row.gpus > 0 ? out->row.gpus : 1, err);
	}
	if (!rc) {
		out->sum.modelled_cells = modelled_cells(out->row.options);
		if (!ts_summary_window_misses(out->row.summary, &out->sum.window_misses,
					      &out->sum.first_miss))
			out->sum.window_misses = 0; /* a count without its first miss is not shown */
	}
	free(b.res.st);
	ts_trace_free(&b.trace);
	return rc;
}

void ts_stored_run_free(struct ts_stored_run *s)
{
	ts_run_row_free(&s->row);
	memset(s, 0, sizeof(*s));
}
