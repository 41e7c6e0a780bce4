/* step_loo.c: leave-one-out validation (step_loo.h). */
#include "model/step_loo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/classes.h"
#include "io/trace.h"
#include "model/step_predict.h"

int ts_hold_parse(const char *text, struct ts_hold *h, struct ts_error *err)
{
	memset(h, 0, sizeof(*h));
	char tail;
	if (!strcmp(text, "batch")) {
		h->kind = TS_HOLD_BATCH;
		return 0;
	}
	if (sscanf(text, "sp=%d%c", &h->value, &tail) == 1 && ts_deg_index(h->value) >= 0) {
		h->kind = TS_HOLD_SP;
		return 0;
	}
	int n = sscanf(text, "res=%dx%d%c", &h->height, &h->width, &tail);
	if (n == 1 && !strchr(text, 'x'))
		h->width = h->height, n = 2;
	if (n == 2 && h->height > 0 && h->width > 0) {
		h->kind = TS_HOLD_RES;
		return 0;
	}
	return ts_err_set(err, TS_EINVAL, "--hold '%s': must be sp=K (a power of two), res=N, "
				      "res=HxW or batch", text);
}

static bool held(const struct ts_hold *h, const struct ts_profile_row *r)
{
	if (h->kind == TS_HOLD_SP)
		return r->sp == h->value;
	if (h->kind == TS_HOLD_RES)
		return r->height == h->height && r->width == h->width;
	return r->batch > 1;
}

static bool fitted_kind(const struct ts_step_model *m, const struct ts_profile_row *r)
{
	return !r->modelled && !strcmp(r->model, m->model) && !strcmp(r->gpu, m->gpu);
}

/* The profile without the held-out cells (rows borrowed: free only .rows). */
static int training_profile(const struct ts_profile *p, const struct ts_hold *h,
			    struct ts_profile *train, struct ts_error *err)
{
	*train = *p;
	train->rows = malloc((p->n ? p->n : 1) * sizeof(*train->rows));
	if (!train->rows)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	train->n = 0;
	for (size_t i = 0; i < p->n; i++)
		if (!held(h, &p->rows[i]))
			train->rows[train->n++] = p->rows[i];
	return 0;
}

/* A trace of one request per held-out resolution, for ts_classes_build(). */
static int held_trace(const struct ts_loo_result *res, struct ts_trace *t, struct ts_error *err)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < res->n; i++) {
		struct ts_request q = { .id = (int64_t)i, .slo = TS_NS_PER_S, .steps = 1,
					.height = res->cells[i].row.height,
					.width = res->cells[i].row.width, .cls = -1 };
		q.seed = (uint64_t)q.id;
		int rc = ts_trace_append(t, &q, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* --interpolate's estimate of each held-out cell from the training rows. */
static int interpolate(struct ts_loo_result *res, const struct ts_profile *train,
		       struct ts_error *err)
{
	struct ts_trace t;
	struct ts_classes cs = { 0 };
	struct ts_classes_opts co = { res->fitted.model, res->fitted.gpu, 0, true };
	int rc = held_trace(res, &t, err);
	if (!rc)
		rc = ts_classes_build(&cs, &t, train, &co, err);
	for (size_t i = 0; !rc && i < res->n; i++) {
		const struct ts_profile_row *r = &res->cells[i].row;
		ts_ns ns = ts_class_step(&cs, t.req[i].cls, r->sp, r->batch);
		res->cells[i].interp_ms = ns < 0 ? -1.0 : (double)ns / TS_NS_PER_MS;
	}
	ts_classes_free(&cs);
	ts_trace_free(&t);
	return rc;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* Median and maximum of the |relative errors| of the estimates (< 0: none). */
static size_t error_stats(const struct ts_loo_result *res, bool model, double *median,
			  double *max)
{
	double *e = malloc((res->n + 1) * sizeof(*e));
	size_t k = 0;
	for (size_t i = 0; e && i < res->n; i++) {
		double est = model ? res->cells[i].model_ms : res->cells[i].interp_ms;
		if (est >= 0)
			e[k++] = fabs(est / res->cells[i].row.step_ms - 1);
	}
	*median = *max = NAN;
	if (k) {
		qsort(e, k, sizeof(*e), cmp_double);
		*median = k % 2 ? e[k / 2] : 0.5 * (e[k / 2 - 1] + e[k / 2]);
		*max = e[k - 1];
	}
	free(e);
	return k;
}

/* The held-out cells of the fitted model and GPU, with the model's prediction. */
static int predict_held(struct ts_loo_result *res, const struct ts_profile *p,
			const struct ts_hold *h, struct ts_error *err)
{
	res->cells = calloc(p->n + 1, sizeof(*res->cells));
	if (!res->cells)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		if (!held(h, r) || !fitted_kind(&res->fitted, r))
			continue;
		struct ts_loo_cell *c = &res->cells[res->n++];
		c->row = *r;
		int rc = ts_step_model_cell(&res->fitted, r->height, r->width, r->sp, r->batch,
					    &c->model_ms, err);
		if (rc)
			return ts_err_prefix(err, "%s:%d", p->path, r->line);
	}
	return 0;
}

int ts_step_loo(const struct ts_profile *p, const struct ts_step_fit_opts *o,
		const struct ts_hold *hold, struct ts_loo_result *res, struct ts_error *err)
{
	memset(res, 0, sizeof(*res));
	struct ts_profile train;
	int rc = training_profile(p, hold, &train, err);
	if (rc)
		return rc;
	rc = ts_step_fit(&train, o, &res->fitted, err);
	if (!rc)
		rc = predict_held(res, p, hold, err);
	if (!rc && res->n == 0)
		rc = ts_err_set(err, TS_EINVAL, "%s: --hold holds out no measured cell of %s on %s",
				p->path, res->fitted.model, res->fitted.gpu);
	if (!rc)
		rc = interpolate(res, &train, err);
	if (!rc) {
		error_stats(res, true, &res->model_median, &res->model_max);
		res->interp_n = error_stats(res, false, &res->interp_median, &res->interp_max);
	}
	free(train.rows);
	if (rc)
		ts_loo_result_free(res);
	return rc;
}

void ts_loo_result_free(struct ts_loo_result *res)
{
	ts_step_model_free(&res->fitted);
	free(res->cells);
	memset(res, 0, sizeof(*res));
}
