/* classes_interp.c: --interpolate (classes_interp.h). The usable profile
 * rows are grouped by (model, degree, batch) once; each group's curve is
 * built the first time a class needs it, and each class finds its bracket
 * by binary search, so a profile and a trace of many resolutions cost
 * O(n log n), not O(n^2). */
#include "io/classes_interp.h"

#include <stdlib.h>

/* A measured point of the step-time curve of one (model, sp, batch). */
struct curve_point {
	double tokens, log_ms, cv;
	int n; /* rows merged into this point (same token count) */
};

/* The rows of one (model, sp, batch), and its curve once built. */
struct group {
	int32_t model, sp, batch;
	size_t first, nrows;        /* range of the sorted row indices */
	struct curve_point *pt;     /* the curve, inside the shared array; NULL until built */
	size_t npt;
};

struct interp {
	const struct ts_profile *p;
	const int32_t *sel;
	size_t *row;                /* usable row indices by (model, sp, batch, row) */
	struct group *g;
	size_t ng;
	struct curve_point *pts;    /* room for every row's point */
};

static const struct interp *sort_ctx;

static int cmp_rows(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct ts_profile_row *x = &sort_ctx->p->rows[a], *y = &sort_ctx->p->rows[b];
	if (sort_ctx->sel[a] != sort_ctx->sel[b])
		return sort_ctx->sel[a] < sort_ctx->sel[b] ? -1 : 1;
	if (x->sp != y->sp)
		return x->sp < y->sp ? -1 : 1;
	if (x->batch != y->batch)
		return x->batch < y->batch ? -1 : 1;
	return (a > b) - (a < b);   /* file order within a group */
}

/* Sorts the usable rows and cuts them into groups. */
static int build_groups(struct interp *in)
{
	const struct ts_profile *p = in->p;
	size_t n = 0;
	in->row = malloc((p->n ? p->n : 1) * sizeof(*in->row));
	in->g = malloc((p->n ? p->n : 1) * sizeof(*in->g));
	in->pts = malloc((p->n ? p->n : 1) * sizeof(*in->pts));
	if (!in->row || !in->g || !in->pts)
		return TS_ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (in->sel[i] >= 0)
			in->row[n++] = i;
	sort_ctx = in;
	qsort(in->row, n, sizeof(*in->row), cmp_rows);
	for (size_t i = 0; i < n; i++) {
		const struct ts_profile_row *r = &p->rows[in->row[i]];
		struct group *last = in->ng ? &in->g[in->ng - 1] : NULL;
		if (last && last->model == in->sel[in->row[i]] && last->sp == r->sp &&
		    last->batch == r->batch) {
			last->nrows++;
			continue;
		}
		in->g[in->ng++] = (struct group){ .model = in->sel[in->row[i]], .sp = r->sp,
						  .batch = r->batch, .first = i, .nrows = 1 };
	}
	return 0;
}

static struct group *find_group(struct interp *in, int32_t model, int sp, int batch)
{
	size_t lo = 0, hi = in->ng;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct group *g = &in->g[mid];
		int c = g->model != model ? (g->model < model ? -1 : 1) :
			g->sp != sp ? (g->sp < sp ? -1 : 1) : (g->batch > batch) - (g->batch < batch);
		if (c == 0)
			return &in->g[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_point(const void *pa, const void *pb)
{
	const struct curve_point *a = pa, *b = pb;
	return (a->tokens > b->tokens) - (a->tokens < b->tokens);
}

/* The curve of g: its rows' points sorted by tokens; rows of equal token
 * count (other aspect ratios) merge by geometric mean. */
static void build_curve(struct interp *in, struct group *g)
{
	struct curve_point *pt = in->pts + g->first;
	size_t n = g->nrows, out = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ts_profile_row *r = &in->p->rows[in->row[g->first + i]];
		pt[i] = (struct curve_point){ (double)(r->height / 16) * (r->width / 16),
					      log(r->step_ms), r->cv, 1 };
	}
	qsort(pt, n, sizeof(*pt), cmp_point);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && pt[out - 1].tokens == pt[i].tokens) {
			struct curve_point *q = &pt[out - 1];
			q->log_ms = (q->log_ms * q->n + pt[i].log_ms) / (q->n + 1);
			q->cv = fmax(q->cv, pt[i].cv);
			q->n++;
		} else {
			pt[out++] = pt[i];
		}
	}
	g->pt = pt;
	g->npt = out;
}

/* Log-log interpolation at x between the bracketing points (the first at
 * or above x, found by binary search), or the two nearest ones at either
 * end. Needs n >= 2. Sets the cv estimate to the larger cv of the two. */
static double interpolate_curve(const struct curve_point *pt, size_t n, double x, double *cv)
{
	size_t lo = 1, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pt[mid].tokens < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct curve_point *a = &pt[lo - 1], *b = &pt[lo];
	double slope = (b->log_ms - a->log_ms) / (log(b->tokens) - log(a->tokens));
	*cv = fmax(a->cv, b->cv);
	return exp(a->log_ms + slope * (log(x) - log(a->tokens)));
}

/* Refuses an estimate outside the step times a profile row may hold. */
static int check_estimate(const struct ts_classes *cs, const struct ts_class *k, int b, int d,
			  double ms, struct ts_error *err)
{
	if (isfinite(ms) && ms >= TS_PROFILE_STEP_MS_MIN && ms <= TS_PROFILE_STEP_MS_MAX)
		return 0;
	return ts_err_set(err, TS_ERANGE,
			  "profile %s: --interpolate estimates %.3g ms for model '%s' %dx%d sp %d "
			  "batch %d from the resolutions measured at that degree, outside the %g..%g ms "
			  "a step may take: measure that cell (or closer resolutions)",
			  cs->profile_path, ms, cs->models[k->model], k->height, k->width, 1 << d,
			  1 << b, TS_PROFILE_STEP_MS_MIN, TS_PROFILE_STEP_MS_MAX);
}

/* Estimates the missing cells of class k. */
static int fill_class(struct interp *in, struct ts_classes *cs, struct ts_class *k,
		      struct ts_error *err)
{
	for (int b = 0; b < TS_NBATCH; b++)
		for (int d = 0; d < TS_NDEG; d++) {
			if (k->step[b][d] >= 0)
				continue;
			struct group *g = find_group(in, k->model, 1 << d, 1 << b);
			if (g && !g->pt)
				build_curve(in, g);
			if (!g || g->npt < 2)
				continue;
			double ms = interpolate_curve(g->pt, g->npt, (double)k->tokens, &k->cv[b][d]);
			int rc = check_estimate(cs, k, b, d, ms, err);
			if (rc)
				return rc;
			k->step[b][d] = ts_ns_from_ms(ms);
			k->interpolated[b][d] = true;
		}
	return 0;
}

int ts_classes_interpolate(struct ts_classes *cs, const struct ts_profile *p, const int32_t *sel,
			   struct ts_error *err)
{
	struct interp in = { .p = p, .sel = sel };
	int rc = build_groups(&in);
	if (rc)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory interpolating");
	for (int32_t c = 0; c < cs->n && !rc; c++)
		rc = fill_class(&in, cs, &cs->cls[c], err);
	free(in.row);
	free(in.g);
	free(in.pts);
	return rc;
}
