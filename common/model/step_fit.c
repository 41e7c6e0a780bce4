/* step_fit.c: the step-time model's least-squares fit (step_fit.h). */
#include "model/step_fit.h"

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A free parameter: a scalar (target < TS_SP_COUNT) or the latency
 * (TS_SP_COUNT + 2d) or bus bandwidth (TS_SP_COUNT + 2d + 1) of degree 1 << d. */
struct fit_var {
	int target;
	bool logistic;   /* value = bound * logistic(u), else scale * exp(u) */
	double bound;    /* logistic: the upper bound; exp: the scale */
	const char *unit;
};

#define MAX_VARS (TS_SP_COUNT + 2 * TS_NDEG)

struct fit_ctx {
	struct ts_step_model *m;
	const struct ts_profile_row **rows; /* the cells fitted */
	struct ts_step_work *work;          /* their work */
	size_t n;
	const struct ts_bench *bench;
	int nbench;                         /* bench rows used */
	struct fit_var var[MAX_VARS];
	int nvar;
};

/* ---- parameters ---- */

static double var_value(const struct fit_var *v, double u)
{
	return v->logistic ? v->bound / (1.0 + exp(-u)) : v->bound * exp(u);
}

static double var_start(const struct fit_var *v, double frac)
{
	return v->logistic ? log(frac / (1.0 - frac)) : log(frac * 2.0);
}

static double *var_slot(struct ts_step_model *m, int target)
{
	if (target < TS_SP_COUNT)
		return &m->p[target].value;
	int d = (target - TS_SP_COUNT) / 2;
	return (target - TS_SP_COUNT) % 2 ? &m->a2a[d].busbw_gbps : &m->a2a[d].lat_us;
}

static void apply(struct fit_ctx *c, const gsl_vector *u)
{
	for (int i = 0; i < c->nvar; i++)
		*var_slot(c->m, c->var[i].target) = var_value(&c->var[i], gsl_vector_get(u, i));
}

static void add_var(struct fit_ctx *c, int target, bool logistic, double bound, const char *unit)
{
	c->var[c->nvar++] = (struct fit_var){ target, logistic, bound, unit };
}

/* ---- residuals ---- */

static bool bench_used(const struct fit_ctx *c, const struct ts_bench_row *r)
{
	return r->kind != TS_BENCH_ATTENTION || r->head_dim == c->m->cfg.head_dim;
}

/* The model's time (ms) of one benchmarked component. */
static double bench_predict(const struct ts_step_model *m, const struct ts_bench_row *r)
{
	if (r->kind == TS_BENCH_GEMM) {
		struct ts_gemm_shape g = { r->m, r->n, r->k, 1 };
		return 1e3 * fmax(ts_gemm_flops(&g) / (m->p[TS_SP_GEMM_TFLOPS].value * 1e12),
				  ts_gemm_bytes(&g) / (m->p[TS_SP_MEM_GBPS].value * 1e9));
	}
	if (r->kind == TS_BENCH_ATTENTION) {
		double rate = m->p[TS_SP_ATTN_TFLOPS].value * 1e12 * r->seq /
			      (r->seq + m->p[TS_SP_ATTN_S_HALF].value);
		return 1e3 * 4.0 * r->batch * r->seq * r->seq * r->head_dim * r->heads / rate;
	}
	const struct ts_a2a_value *a = &m->a2a[ts_deg_index(r->sp)];
	return a->lat_us * 1e-3 + 1e3 * r->bytes * (r->sp - 1) / r->sp / (a->busbw_gbps * 1e9);
}

static int residuals(const gsl_vector *u, void *arg, gsl_vector *f)
{
	struct fit_ctx *c = arg;
	apply(c, u);
	size_t i = 0;
	for (; i < c->n; i++) {
		double ms = 0;
		ts_step_model_predict(c->m, &c->work[i], &ms, NULL, NULL);
		gsl_vector_set(f, i, ms / c->rows[i]->step_ms - 1.0);
	}
	for (size_t j = 0; c->bench && j < c->bench->n; j++)
		if (bench_used(c, &c->bench->rows[j]))
			gsl_vector_set(f, i++, bench_predict(c->m, &c->bench->rows[j]) /
						       c->bench->rows[j].ms - 1.0);
	return GSL_SUCCESS;
}

/* ---- the free parameters of this profile and bench ---- */

static bool bench_has(const struct ts_bench *b, enum ts_bench_kind kind, int sp, double hd)
{
	for (size_t j = 0; b && j < b->n; j++)
		if (b->rows[j].kind == kind && (kind != TS_BENCH_ALLTOALL || b->rows[j].sp == sp) &&
		    (kind != TS_BENCH_ATTENTION || b->rows[j].head_dim == hd))
			return true;
	return false;
}

/* Cells of degree sp among the fitted rows. */
static int cells_at(const struct fit_ctx *c, int sp)
{
	int n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += c->rows[i]->sp == sp;
	return n;
}

/* Chooses the free parameters; the others keep the assumed values set by
 * set_assumed(). */
static void choose_vars(struct fit_ctx *c)
{
	const struct ts_device_spec *d = &c->m->dev;
	const struct ts_bench *b = c->bench;
	add_var(c, TS_SP_GEMM_TFLOPS, true, d->peak_tflops, "TFLOP/s");
	add_var(c, TS_SP_ATTN_TFLOPS, true, d->peak_tflops, "TFLOP/s");
	add_var(c, TS_SP_OVERHEAD_MS, false, 1.0, "ms");
	if (bench_has(b, TS_BENCH_ATTENTION, 0, c->m->cfg.head_dim))
		add_var(c, TS_SP_ATTN_S_HALF, false, TS_STEP_DEFAULT_S_HALF, "tokens");
	if (bench_has(b, TS_BENCH_GEMM, 0, 0))
		add_var(c, TS_SP_MEM_GBPS, true, d->hbm_gbps, "GB/s");
	for (int deg = 1; deg < TS_NDEG; deg++) {
		if (!cells_at(c, 1 << deg) && !bench_has(b, TS_BENCH_ALLTOALL, 1 << deg, 0))
			continue;
		c->m->a2a[deg].set = true;
		add_var(c, TS_SP_COUNT + 2 * deg, false, 20.0, "us");
		add_var(c, TS_SP_COUNT + 2 * deg + 1, true, d->link_gbps, "GB/s");
	}
}

/* ---- choosing the rows ---- */

/* The only distinct value of the model (or gpu) field among measured rows
 * matching `gpu` (any when NULL); TS_EINVAL listing them when several. */
static int only_value(const struct ts_profile *p, bool model, const char *gpu, const char **out,
		      struct ts_error *err)
{
	*out = NULL;
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		const char *v = model ? r->model : r->gpu;
		if (r->modelled || (gpu && strcmp(r->gpu, gpu)))
			continue;
		if (*out && strcmp(*out, v))
			return ts_err_set(err, TS_EINVAL,
					  "%s has several %s ('%s', '%s', ...): choose one with %s",
					  p->path, model ? "models" : "GPUs", *out, v,
					  model ? "--model" : "--gpu-type");
		*out = v;
	}
	if (!*out)
		return ts_err_set(err, TS_EINVAL, "%s has no measured rows%s%s", p->path,
				  gpu ? " for gpu " : "", gpu ? gpu : "");
	return 0;
}

/* Points c->rows at the measured rows of (model, gpu) and counts their work. */
static int select_cells(struct fit_ctx *c, const struct ts_profile *p, const char *model,
			const char *gpu, struct ts_error *err)
{
	c->rows = calloc(p->n + 1, sizeof(*c->rows));
	c->work = calloc(p->n + 1, sizeof(*c->work));
	if (!c->rows || !c->work)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", p->path);
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		if (r->modelled || strcmp(r->model, model) || strcmp(r->gpu, gpu))
			continue;
		int rc = ts_step_work_of(&c->m->cfg, r->height, r->width, r->sp, r->batch,
					 &c->work[c->n], err);
		if (rc)
			return ts_err_prefix(err, "%s:%d", p->path, r->line);
		c->rows[c->n++] = r;
	}
	if (c->n == 0)
		return ts_err_set(err, TS_EINVAL, "%s has no measured rows of model '%s' on gpu '%s'",
				  p->path, model, gpu);
	return 0;
}

/* Model, GPU, preset and device of the fit. */
static int resolve_target(struct fit_ctx *c, const struct ts_profile *p,
			  const struct ts_step_fit_opts *o, struct ts_error *err)
{
	const char *gpu = o->gpu, *model = o->model;
	int rc = gpu ? 0 : only_value(p, false, NULL, &gpu, err);
	if (!rc && !model)
		rc = only_value(p, true, gpu, &model, err);
	if (!rc)
		rc = ts_dit_config_lookup(model, &c->m->cfg, err);
	if (!rc)
		rc = ts_device_spec_lookup(gpu, &o->given, &c->m->dev, err);
	if (rc)
		return ts_err_prefix(err, "%s", p->path);
	snprintf(c->m->model, sizeof(c->m->model), "%s", model);
	snprintf(c->m->gpu, sizeof(c->m->gpu), "%s", gpu);
	return select_cells(c, p, model, gpu, err);
}

/* ---- checks before and after ---- */

static int check_size(const struct fit_ctx *c, const struct ts_profile *p, struct ts_error *err)
{
	size_t nres = c->n + (size_t)c->nbench;
	if (nres < (size_t)c->nvar + 1)
		return ts_err_set(err, TS_EINVAL,
				  "%s: too small to fit: %zu cells of %s on %s (and %d bench rows) for "
				  "%d free parameters; the fit needs at least %d",
				  p->path, c->n, c->m->model, c->m->gpu, c->nbench, c->nvar, c->nvar + 1);
	for (int d = 1; d < TS_NDEG; d++) {
		int k = 1 << d, n = cells_at(c, k);
		if (n == 1 && !bench_has(c->bench, TS_BENCH_ALLTOALL, k, 0))
			return ts_err_set(err, TS_EINVAL,
					  "%s: too small to fit: one cell at sp %d cannot give both its "
					  "all-to-all latency and bandwidth (measure a second size, or add "
					  "alltoall rows at sp %d with --bench)", p->path, k, k);
	}
	return 0;
}

/* The cell with the largest |relative error|, into buf. */
static void worst_cell(const struct fit_ctx *c, char *buf, size_t size)
{
	double worst = -1, ms = 0;
	size_t at = 0;
	for (size_t i = 0; i < c->n; i++) {
		ts_step_model_predict(c->m, &c->work[i], &ms, NULL, NULL);
		double e = fabs(ms / c->rows[i]->step_ms - 1);
		if (e > worst)
			worst = e, at = i;
	}
	const struct ts_profile_row *r = c->rows[at];
	ts_step_model_predict(c->m, &c->work[at], &ms, NULL, NULL);
	snprintf(buf, size, "line %d (%dx%d, sp %d, batch %d): measured %.3f ms, model %.3f ms",
		 r->line, r->height, r->width, r->sp, r->batch, r->step_ms, ms);
}

/* A logistic parameter within 0.5% of its bound or 0.1% of zero. */
static int check_physical(const struct fit_ctx *c, const struct ts_profile *p, bool keep,
			  struct ts_error *err)
{
	for (int i = 0; i < c->nvar; i++) {
		const struct fit_var *v = &c->var[i];
		double x = *var_slot(c->m, v->target);
		if (!v->logistic || (x < 0.995 * v->bound && x > 1e-3 * v->bound))
			continue;
		char name[48], cell[200];
		if (v->target < TS_SP_COUNT)
			snprintf(name, sizeof(name), "%s", ts_step_param_name(v->target));
		else
			snprintf(name, sizeof(name), "a2a busbw at sp %d",
				 1 << ((v->target - TS_SP_COUNT) / 2));
		worst_cell(c, cell, sizeof(cell));
		struct ts_error e;
		ts_err_set(&e, TS_ERANGE,
				  "%s: non-physical fit: %s = %.4g %s is pinned %s (bound %.4g %s of %s); "
				  "worst cell %s",
				  p->path, name, x, v->unit, x > 1e-3 * v->bound ? "at the device's peak" : "at zero",
				  v->bound, v->unit, c->m->dev.source, cell);
		if (!keep)
			return err ? (*err = e).code : e.code;
		snprintf(c->m->warning, sizeof(c->m->warning), "%.600s", e.msg);
		return 0;
	}
	return 0;
}

/* ---- solving ---- */

/* One Levenberg-Marquardt run from the start where every logistic
 * parameter is at `frac` of its bound; returns the sum of squares (the
 * solution in u), or HUGE_VAL when GSL failed. */
static double solve_from(struct fit_ctx *c, double frac, gsl_vector *u)
{
	size_t n = c->n + (size_t)c->nbench, np = (size_t)c->nvar;
	gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
	gsl_multifit_nlinear_workspace *w =
		gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, n, np);
	if (!w)
		return HUGE_VAL;
	gsl_multifit_nlinear_fdf fdf = { .f = residuals, .n = n, .p = np, .params = c };
	for (int i = 0; i < c->nvar; i++)
		gsl_vector_set(u, (size_t)i, var_start(&c->var[i], frac));
	int info = 0;
	double cost = HUGE_VAL;
	if (gsl_multifit_nlinear_init(u, &fdf, w) == GSL_SUCCESS &&
	    gsl_multifit_nlinear_driver(400, 1e-12, 1e-12, 0.0, NULL, NULL, &info, w) != GSL_EBADFUNC) {
		gsl_vector *f = gsl_multifit_nlinear_residual(w);
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += gsl_vector_get(f, i) * gsl_vector_get(f, i);
		gsl_vector_memcpy(u, gsl_multifit_nlinear_position(w));
		cost = isfinite(s) ? s : HUGE_VAL;
	}
	gsl_multifit_nlinear_free(w);
	return cost;
}

/* The best of three starts (rates at 20%, 50%, 80% of their bounds). */
static int solve(struct fit_ctx *c, const struct ts_profile *p, struct ts_error *err)
{
	static const double fracs[] = { 0.5, 0.2, 0.8 };
	gsl_vector *u = gsl_vector_alloc((size_t)c->nvar), *best = gsl_vector_alloc((size_t)c->nvar);
	double best_cost = HUGE_VAL;
	int rc = 0;
	if (!u || !best) {
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory fitting", p->path);
		goto out_free;
	}
	gsl_set_error_handler_off();
	for (int s = 0; s < 3; s++) {
		double cost = solve_from(c, fracs[s], u);
		if (cost < best_cost)
			best_cost = cost, gsl_vector_memcpy(best, u);
	}
	if (best_cost == HUGE_VAL)
		rc = ts_err_set(err, TS_ERANGE, "%s: the fit of %s on %s did not converge", p->path,
				c->m->model, c->m->gpu);
	else
		apply(c, best);
out_free:
	gsl_vector_free(u);
	gsl_vector_free(best);
	return rc;
}

/* ---- the fitted model ---- */

static void set_assumed(struct ts_step_model *m)
{
	m->p[TS_SP_ATTN_S_HALF].value = TS_STEP_DEFAULT_S_HALF;
	snprintf(m->p[TS_SP_ATTN_S_HALF].source, TS_STEP_SOURCE,
		 "assumed: %.0f tokens (cuDNN SDPA on H200, experiments/bench_step/results/attn_1xH200_v4.log)",
		 TS_STEP_DEFAULT_S_HALF);
	m->p[TS_SP_MEM_GBPS].value = TS_STEP_DEFAULT_MEM_SHARE * m->dev.hbm_gbps;
	snprintf(m->p[TS_SP_MEM_GBPS].source, TS_STEP_SOURCE,
		 "assumed: %.0f%% of the HBM peak %.0f GB/s (%s)", 100 * TS_STEP_DEFAULT_MEM_SHARE,
		 m->dev.hbm_gbps, m->dev.source);
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* Sources of the fitted values; the fit's error statistics. */
static void describe_fit(struct fit_ctx *c)
{
	struct ts_step_model *m = c->m;
	char what[TS_STEP_SOURCE];
	snprintf(what, sizeof(what), "fit: %s (%zu cells)%s%s", m->profile, c->n,
		 c->nbench ? " and bench " : "", c->nbench ? m->bench : "");
	for (int i = 0; i < c->nvar; i++) {
		int t = c->var[i].target;
		if (t < TS_SP_COUNT) {
			snprintf(m->p[t].source, TS_STEP_SOURCE, "%s", what);
			continue;
		}
		int d = (t - TS_SP_COUNT) / 2, k = 1 << d, cells = cells_at(c, k);
		bool bench = bench_has(c->bench, TS_BENCH_ALLTOALL, k, 0);
		if (cells)
			snprintf(m->a2a[d].source, TS_STEP_SOURCE, "fit: %d cells at sp %d%s%s", cells,
				 k, bench ? " and alltoall rows of " : "", bench ? m->bench : "");
		else
			snprintf(m->a2a[d].source, TS_STEP_SOURCE,
				 "measured: alltoall rows of %s (no cell at sp %d)", m->bench, k);
	}
	double *e = malloc((c->n + 1) * sizeof(*e)), ms = 0;
	m->fit_max_err = m->fit_median_err = 0;
	for (size_t i = 0; e && i < c->n; i++) {
		ts_step_model_predict(m, &c->work[i], &ms, NULL, NULL);
		e[i] = fabs(ms / c->rows[i]->step_ms - 1);
		m->fit_max_err = fmax(m->fit_max_err, e[i]);
	}
	if (e && c->n) {
		qsort(e, c->n, sizeof(*e), cmp_double);
		m->fit_median_err = c->n % 2 ? e[c->n / 2] : 0.5 * (e[c->n / 2 - 1] + e[c->n / 2]);
	}
	free(e);
}

/* Copies the fitted cells into the model and records where it may predict. */
static int keep_cells(struct fit_ctx *c, struct ts_error *err)
{
	struct ts_step_model *m = c->m;
	m->cells = malloc(c->n * sizeof(*m->cells));
	if (!m->cells)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	m->ncells = c->n;
	m->range = (struct ts_step_range){ INT64_MAX, 0, 1, 1 };
	for (size_t i = 0; i < c->n; i++) {
		m->cells[i] = *c->rows[i];
		int64_t t = c->work[i].image_tokens;
		m->range.min_tokens = t < m->range.min_tokens ? t : m->range.min_tokens;
		m->range.max_tokens = t > m->range.max_tokens ? t : m->range.max_tokens;
		m->range.max_sp = c->rows[i]->sp > m->range.max_sp ? c->rows[i]->sp : m->range.max_sp;
		m->range.max_batch = c->rows[i]->batch > m->range.max_batch ? c->rows[i]->batch
									     : m->range.max_batch;
	}
	return 0;
}

static void count_bench(struct fit_ctx *c)
{
	for (size_t j = 0; c->bench && j < c->bench->n; j++)
		c->nbench += bench_used(c, &c->bench->rows[j]);
}

int ts_step_fit(const struct ts_profile *p, const struct ts_step_fit_opts *o,
		struct ts_step_model *out, struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	struct fit_ctx c = { .m = out, .bench = o->bench };
	out->host_max = o->host_max;
	snprintf(out->profile, sizeof(out->profile), "%s", p->path);
	snprintf(out->bench, sizeof(out->bench), "%s", o->bench ? o->bench->path : "");
	out->profile_hash = p->hash;
	int rc = resolve_target(&c, p, o, err);
	if (!rc) {
		set_assumed(out);
		count_bench(&c);
		choose_vars(&c);
		rc = check_size(&c, p, err);
	}
	if (!rc)
		rc = solve(&c, p, err);
	if (!rc)
		rc = check_physical(&c, p, o->keep_pinned, err);
	if (!rc) {
		out->fit_cells = (int)c.n;
		out->fit_bench_rows = c.nbench;
		describe_fit(&c);
		rc = keep_cells(&c, err);
	}
	free(c.rows);
	free(c.work);
	if (rc)
		ts_step_model_free(out);
	return rc;
}
