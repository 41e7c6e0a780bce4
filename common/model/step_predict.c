/* step_predict.c: profiles from a fitted model (step_predict.h). */
#include "model/step_predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest degree with fitted or given (not assumed) all-to-all figures; 1 if none. */
static int known_sp(const struct ts_step_model *m)
{
	int k = 1;
	for (int d = 1; d < TS_NDEG; d++)
		if (m->a2a[d].set && !m->a2a[d].assumed)
			k = 1 << d;
	return k;
}

int ts_step_model_check_range(const struct ts_step_model *m, int height, int width, int sp,
			      int batch, bool force, struct ts_error *err)
{
	int64_t t = (int64_t)(height / 16) * (width / 16);
	const struct ts_step_range *r = &m->range;
	const char *what = NULL;
	char limit[96] = "";
	if (t > TS_STEP_TOKEN_FACTOR * r->max_tokens || t * TS_STEP_TOKEN_FACTOR < r->min_tokens) {
		what = "image tokens";
		snprintf(limit, sizeof(limit), "%lld, outside %lld..%lld",
			 (long long)t, (long long)(r->min_tokens / TS_STEP_TOKEN_FACTOR),
			 (long long)(r->max_tokens * TS_STEP_TOKEN_FACTOR));
	} else if (sp > TS_STEP_SP_FACTOR * known_sp(m)) {
		what = "sp";
		snprintf(limit, sizeof(limit), "above %d (twice the largest degree with fitted or "
			 "given all-to-all figures)", TS_STEP_SP_FACTOR * known_sp(m));
	} else if (batch > TS_STEP_BATCH_FACTOR * r->max_batch) {
		what = "batch";
		snprintf(limit, sizeof(limit), "above %d", TS_STEP_BATCH_FACTOR * r->max_batch);
	}
	if (!what || force)
		return 0;
	return ts_err_set(err, TS_ERANGE,
			  "model of %s on %s (fitted on %s): cell %dx%d, sp %d, batch %d: %s %s "
			  "is beyond what the model may extrapolate (measured: %lld..%lld tokens, "
			  "sp <= %d, batch <= %d); pass --force to predict it anyway",
			  m->model, m->gpu, m->profile, height, width, sp, batch, what, limit,
			  (long long)r->min_tokens, (long long)r->max_tokens, r->max_sp, r->max_batch);
}

int ts_step_model_cell(struct ts_step_model *m, int height, int width, int sp, int batch,
		       double *ms, struct ts_error *err)
{
	struct ts_step_work w;
	int rc = ts_step_work_of(&m->cfg, height, width, sp, batch, &w, err);
	if (!rc)
		rc = ts_step_model_assume_a2a(m, sp, err);
	return rc ? rc : ts_step_model_predict(m, &w, ms, NULL, err);
}

static const struct ts_profile_row *find_row(const struct ts_profile_row *rows, size_t n, int h,
					     int w, int sp, int b)
{
	for (size_t i = 0; i < n; i++) {
		const struct ts_profile_row *r = &rows[i];
		if (r->height == h && r->width == w && r->sp == sp && r->batch == b)
			return r;
	}
	return NULL;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct ts_profile_row *a = pa, *b = pb;
	int64_t ta = (int64_t)a->height * a->width, tb = (int64_t)b->height * b->width;
	if (a->batch != b->batch)
		return a->batch < b->batch ? -1 : 1;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	if (a->height != b->height)
		return a->height < b->height ? -1 : 1;
	return (a->sp > b->sp) - (a->sp < b->sp);
}

static int predicted_row(struct ts_step_model *m, int h, int w, int sp, int b, bool force,
			 struct ts_profile_row *r, struct ts_error *err)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->model, sizeof(r->model), "%s", m->model);
	snprintf(r->gpu, sizeof(r->gpu), "%s", m->gpu);
	r->height = h, r->width = w, r->sp = sp, r->batch = b;
	r->p50_ms = r->p99_ms = NAN;
	r->modelled = true;
	int rc = ts_step_model_cell(m, h, w, sp, b, &r->step_ms, err);
	if (!rc)
		rc = ts_step_model_check_range(m, h, w, sp, b, force, err);
	/* the reader keeps step times to 1 ns: round to it */
	r->step_ms = round(r->step_ms * 1e6) / 1e6;
	return rc;
}

int ts_step_model_profile(struct ts_step_model *m, const struct ts_step_grid *g,
			  struct ts_profile_row **rows, size_t *n, struct ts_error *err)
{
	int nb = g->nbatch ? g->nbatch : 1;
	size_t cap = m->ncells + (size_t)g->nres * g->nsp * nb;
	struct ts_profile_row *out = malloc((cap ? cap : 1) * sizeof(*out));
	if (!out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < m->ncells; i++)
		out[k++] = m->cells[i];
	int rc = 0;
	for (int r = 0; r < g->nres && !rc; r++)
		for (int s = 0; s < g->nsp && !rc; s++)
			for (int b = 0; b < nb && !rc; b++) {
				int batch = g->nbatch ? g->batch[b] : 1;
				bool small = !g->batch_res_max || (int64_t)g->height[r] * g->width[r] <=
									   (int64_t)g->batch_res_max * g->batch_res_max;
				if ((batch == 1 || small) && !find_row(out, k, g->height[r], g->width[r], g->sp[s], batch))
					rc = predicted_row(m, g->height[r], g->width[r], g->sp[s],
							   batch, g->force, &out[k++], err);
			}
	if (rc) {
		free(out);
		return rc;
	}
	qsort(out, k, sizeof(*out), cmp_rows);
	*rows = out;
	*n = k;
	return 0;
}
