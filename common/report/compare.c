/* compare.c: two runs of one trace side by side (see compare.h). */
#include "report/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gpuset.h"
#include "report/compare_internal.h"
#include "report/summary.h"

static int push_request(void *ctx, const struct ts_request_row *row, struct ts_error *err)
{
	struct ts_request_row *slot = vec_push(ctx);
	if (!slot)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading requests");
	*slot = *row;
	return 0;
}

int ts_cmp_row_by_id(const void *x, const void *y)
{
	int64_t a = ((const struct ts_request_row *)x)->request_id;
	int64_t b = ((const struct ts_request_row *)y)->request_id;
	return (a > b) - (a < b);
}

/* The request rows of a run, sorted by id. */
static int load_requests(struct ts_reader *r, int64_t run, struct vec *v, struct ts_error *err)
{
	*v = (struct vec){ .size = sizeof(struct ts_request_row) };
	int rc = ts_reader_each_request(r, run, push_request, v, err);
	if (!rc)
		qsort(v->a, v->n, v->size, ts_cmp_row_by_id);
	return rc;
}

static bool same_request(const struct ts_request_row *a, const struct ts_request_row *b)
{
	return a->height == b->height && a->width == b->width && a->steps == b->steps &&
	       llabs(a->arrival - b->arrival) <= 1000;
}

/* Refuses runs of different traces, naming the first request that differs. */
static int check_same_trace(const struct vec *va, const struct vec *vb, const char *path, int64_t a,
			    int64_t b, struct ts_error *err)
{
	const struct ts_request_row *x = va->a, *y = vb->a;
	size_t i = 0, j = 0, ndiff = 0;
	int64_t first = 0;
	while (i < va->n || j < vb->n) {
		bool both = i < va->n && j < vb->n && x[i].request_id == y[j].request_id;
		int64_t id = both || j >= vb->n || (i < va->n && x[i].request_id < y[j].request_id)
				     ? x[i].request_id : y[j].request_id;
		if (!both || !same_request(&x[i], &y[j]))
			first = ndiff++ ? first : id;
		i += i < va->n && x[i].request_id == id;
		j += j < vb->n && y[j].request_id == id;
	}
	if (!ndiff)
		return 0;
	return ts_err_set(err, TS_EINVAL,
			  "%s: runs %lld and %lld are not of one trace: %zu requests differ (first: request %lld)",
			  path, (long long)a, (long long)b, ndiff, (long long)first);
}

static int by_error_desc(const void *x, const void *y)
{
	double a = ((const struct ts_cmp_request *)x)->err, b = ((const struct ts_cmp_request *)y)->err;
	return (a < b) - (a > b);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static struct ts_cmp_request pair_of(const struct ts_request_row *a, const struct ts_request_row *b)
{
	double la = (double)(a->finish - a->arrival), lb = (double)(b->finish - b->arrival);
	return (struct ts_cmp_request){
		.id = a->request_id, .err = lb > 0 ? fabs(la - lb) / lb : 0,
		.dq = ((double)(a->start - a->arrival) - (double)(b->start - b->arrival)) / 1e9,
		.dx = ((double)(a->finish - a->start) - (double)(b->finish - b->start)) / 1e9,
	};
}

/* How each request ended in either run (same ids, same order by now). */
static void outcomes(const struct vec *va, const struct vec *vb, struct ts_cmp_outcomes *o)
{
	const struct ts_request_row *x = va->a, *y = vb->a;
	*o = (struct ts_cmp_outcomes){ 0 };
	for (size_t i = 0; i < va->n; i++) {
		o->count[x[i].status][y[i].status]++;
		if (x[i].status == y[i].status)
			continue;
		if (o->ndiffer == 0)
			o->first_id = x[i].request_id, o->first_a = x[i].status, o->first_b = y[i].status;
		if (o->ndiffer < TS_CMP_MAX_LISTED) {
			o->id[o->ndiffer] = x[i].request_id;
			o->a[o->ndiffer] = x[i].status;
			o->b[o->ndiffer] = y[i].status;
		}
		o->ndiffer++;
	}
}

/* Latency errors of the requests both runs finished (same ids by now). */
static int request_errors(const struct vec *va, const struct vec *vb, struct ts_comparison *c,
			  struct ts_error *err)
{
	const struct ts_request_row *x = va->a, *y = vb->a;
	c->req = malloc((va->n ? va->n : 1) * sizeof(*c->req));
	double *e = malloc((va->n ? va->n : 1) * sizeof(*e));
	if (!c->req || !e) {
		free(e);
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < va->n; i++)
		if (x[i].finish >= 0 && y[i].finish >= 0)
			c->req[c->nreq++] = pair_of(&x[i], &y[i]);
	for (size_t i = 0; i < c->nreq; i++)
		e[i] = c->req[i].err;
	qsort(e, c->nreq, sizeof(*e), cmp_double);
	c->median_err = ts_percentile_sorted(e, c->nreq, 50);
	c->p95_err = ts_percentile_sorted(e, c->nreq, 95);
	free(e);
	qsort(c->req, c->nreq, sizeof(*c->req), by_error_desc);
	return 0;
}

/* Per-cell sums while reading one run's segments. */
struct cell_sum {
	struct ts_cmp_cell cell;
	double ns[2];
	int64_t steps[2];
};

struct cell_reader {
	const struct vec *sizes;
	struct vec cells;   /* of struct cell_sum */
	int side;           /* 0: run a, 1: run b */
};

static struct cell_sum *cell_for(struct cell_reader *cr, int32_t h, int32_t w, int32_t k, int32_t b)
{
	struct cell_sum *c = cr->cells.a;
	for (size_t i = 0; i < cr->cells.n; i++)
		if (c[i].cell.height == h && c[i].cell.width == w && c[i].cell.degree == k &&
		    c[i].cell.batch == b)
			return &c[i];
	struct cell_sum *n = vec_push(&cr->cells);
	if (n)
		*n = (struct cell_sum){ .cell = { .height = h, .width = w, .degree = k, .batch = b } };
	return n;
}

static int add_cell_segment(void *ctx, const struct ts_segment *s, struct ts_error *err)
{
	struct cell_reader *cr = ctx;
	if (s->kind != TS_SEG_STEPS)
		return 0;
	struct ts_request_row key = { .request_id = s->request_id };
	const struct ts_request_row *q = bsearch(&key, cr->sizes->a, cr->sizes->n, cr->sizes->size,
						 ts_cmp_row_by_id);
	struct cell_sum *c = q ? cell_for(cr, q->height, q->width, ts_gpus_count(s->gpus), s->batch) : NULL;
	if (q && !c)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	if (c) {
		c->ns[cr->side] += (double)(s->end - s->start);
		c->steps[cr->side] += s->nsteps;
	}
	return 0;
}

static int by_cell(const void *x, const void *y)
{
	const struct ts_cmp_cell *a = x, *b = y;
	int64_t pa = (int64_t)a->height * a->width, pb = (int64_t)b->height * b->width;
	if (pa != pb)
		return (pa > pb) - (pa < pb);
	if (a->degree != b->degree)
		return a->degree - b->degree;
	return a->batch - b->batch;
}

static int step_cells(struct ts_reader *r, int64_t a, int64_t b, const struct vec *sizes,
		      struct ts_comparison *c, struct ts_error *err)
{
	struct cell_reader cr = { .sizes = sizes, .cells = { .size = sizeof(struct cell_sum) } };
	int rc = ts_reader_each_segment(r, a, TS_SEG_BY_START, add_cell_segment, &cr, err);
	cr.side = 1;
	if (!rc)
		rc = ts_reader_each_segment(r, b, TS_SEG_BY_START, add_cell_segment, &cr, err);
	c->cell = rc ? NULL : malloc((cr.cells.n ? cr.cells.n : 1) * sizeof(*c->cell));
	if (!rc && !c->cell)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	const struct cell_sum *s = cr.cells.a;
	for (size_t i = 0; !rc && i < cr.cells.n; i++) {
		c->cell[i] = s[i].cell;
		c->cell[i].a_ms = s[i].steps[0] ? s[i].ns[0] / s[i].steps[0] / 1e6 : NAN;
		c->cell[i].b_ms = s[i].steps[1] ? s[i].ns[1] / s[i].steps[1] / 1e6 : NAN;
		c->cell[i].b_steps = s[i].steps[1];
	}
	if (!rc) {
		c->ncell = cr.cells.n;
		qsort(c->cell, c->ncell, sizeof(*c->cell), by_cell);
	}
	free(cr.cells.a);
	return rc;
}

int ts_compare_runs(struct ts_reader *r, int64_t a, int64_t b, struct ts_comparison *out,
		    struct ts_error *err)
{
	struct vec va = { 0 }, vb = { 0 };
	memset(out, 0, sizeof(*out));
	int rc = load_requests(r, a, &va, err);
	if (!rc)
		rc = load_requests(r, b, &vb, err);
	if (!rc)
		rc = check_same_trace(&va, &vb, ts_reader_path(r), a, b, err);
	if (!rc) {
		outcomes(&va, &vb, &out->outcomes);
		rc = request_errors(&va, &vb, out, err);
	}
	if (!rc)
		rc = step_cells(r, a, b, &va, out, err);
	if (!rc)
		rc = ts_cmp_launches(r, a, b, &va, out, err);
	free(va.a);
	free(vb.a);
	if (rc)
		ts_comparison_free(out);
	return rc;
}

void ts_comparison_free(struct ts_comparison *c)
{
	free(c->req);
	free(c->cell);
	free(c->diff);
	free(c->launch_b);
	memset(c, 0, sizeof(*c));
}
