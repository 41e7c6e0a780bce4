/* classes.c: the step tables of a run: one class per distinct (model,
 * height, width) of the trace, step times from the profile's rows, missing
 * cells optionally estimated (see classes.h). */
#include "io/classes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- classes: choosing the GPU and the models ---- */

/* Appends the distinct values of the model (or gpu) field, among rows of
 * gpu (any gpu when NULL), to buf as "a, b, c". Returns how many. */
static int list_distinct(const struct ts_profile *p, bool models, const char *gpu,
			 char *buf, size_t size)
{
	int count = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		const char *v = models ? r->model : r->gpu;
		if (gpu && strcmp(r->gpu, gpu) != 0)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = (!gpu || !strcmp(p->rows[j].gpu, gpu)) &&
			       !strcmp(models ? p->rows[j].model : p->rows[j].gpu, v);
		if (seen)
			continue;
		size_t used = strlen(buf);
		snprintf(buf + used, size - used, "%s%s", count ? ", " : "", v);
		count++;
	}
	return count;
}

static bool profile_has(const struct ts_profile *p, const char *model, const char *gpu)
{
	for (size_t i = 0; i < p->n; i++)
		if ((!model || !strcmp(p->rows[i].model, model)) && !strcmp(p->rows[i].gpu, gpu))
			return true;
	return false;
}

/* The GPU whose rows are used: opts->gpu, else the profile's only GPU. */
static int resolve_gpu(const struct ts_profile *p, const char *want, const char **gpu,
		       struct ts_error *err)
{
	char names[512];
	int n = list_distinct(p, false, NULL, names, sizeof(names));
	if (n == 0)
		return ts_err_set(err, TS_ENOTFOUND, "profile %s has no rows", p->path);
	if (want) {
		if (!profile_has(p, NULL, want))
			return ts_err_set(err, TS_ENOTFOUND,
					  "profile %s has no rows for gpu '%s' (gpus: %s)",
					  p->path, want, names);
		*gpu = want;
		return 0;
	}
	if (n > 1)
		return ts_err_set(err, TS_EINVAL,
				  "profile %s has rows for several GPUs (%s): choose one with --gpu-type",
				  p->path, names);
	*gpu = p->rows[0].gpu;
	return 0;
}

/* The model of a trace without a model column: opts->model, else the
 * profile's only model for gpu. */
static int default_model(const struct ts_profile *p, const char *gpu, const char *want,
			 const char **model, struct ts_error *err)
{
	if (want) {
		*model = want;
		return 0;
	}
	char names[512];
	if (list_distinct(p, true, gpu, names, sizeof(names)) > 1)
		return ts_err_set(err, TS_EINVAL,
				  "profile %s has several models for gpu '%s' (%s): choose one with --model",
				  p->path, gpu, names);
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->rows[i].gpu, gpu)) {
			*model = p->rows[i].model;
			return 0;
		}
	return ts_err_set(err, TS_ENOTFOUND, "profile %s has no rows for gpu '%s'", p->path, gpu);
}

static int add_model(struct ts_classes *cs, const struct ts_profile *p, const char *gpu,
		     const char *name, struct ts_error *err)
{
	if (!profile_has(p, name, gpu)) {
		char names[512];
		list_distinct(p, true, gpu, names, sizeof(names));
		return ts_err_set(err, TS_ENOTFOUND,
				  "model '%s' is not in profile %s for gpu '%s' (models: %s)",
				  name, p->path, gpu, names);
	}
	char *copy = strdup(name);
	if (!copy)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	cs->models[cs->nmodels++] = copy;
	return 0;
}

/* Fills cs->models so that its indices match ts_request.model. */
static int resolve_models(struct ts_classes *cs, const struct ts_trace *t,
			  const struct ts_profile *p, const char *gpu, const char *want,
			  struct ts_error *err)
{
	int32_t n = t->nmodels > 0 ? t->nmodels : 1;
	cs->models = calloc((size_t)n, sizeof(*cs->models));
	if (!cs->models)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	if (t->nmodels == 0) {
		const char *model;
		int rc = default_model(p, gpu, want, &model, err);
		return rc ? rc : add_model(cs, p, gpu, model, err);
	}
	for (int32_t i = 0; i < t->nmodels; i++) {
		int rc = add_model(cs, p, gpu, t->models[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- classes: one per distinct (model, height, width) ---- */

struct class_table {
	int32_t *slot; /* class index, -1 empty */
	size_t size;   /* power of two */
};

static size_t class_hash(int32_t model, int32_t h, int32_t w, size_t size)
{
	uint64_t x = ((uint64_t)(uint32_t)model << 40) ^ ((uint64_t)(uint32_t)h << 20) ^
		     (uint64_t)(uint32_t)w;
	x *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 32) & (size - 1);
}

static int32_t *class_slot(const struct class_table *tab, const struct ts_class *cls,
			   int32_t model, int32_t h, int32_t w)
{
	size_t i = class_hash(model, h, w, tab->size);
	while (tab->slot[i] >= 0) {
		const struct ts_class *c = &cls[tab->slot[i]];
		if (c->model == model && c->height == h && c->width == w)
			break;
		i = (i + 1) & (tab->size - 1);
	}
	return &tab->slot[i];
}

/* Doubles the table and the class array once the table is half full. */
static int grow_classes(struct ts_classes *cs, struct class_table *tab)
{
	size_t size = tab->size * 2;
	int32_t *slot = malloc(size * sizeof(*slot));
	struct ts_class *cls = realloc(cs->cls, size / 2 * sizeof(*cls));
	if (cls)
		cs->cls = cls;
	if (!slot || !cls) {
		free(slot);
		return TS_ENOMEM;
	}
	free(tab->slot);
	tab->slot = slot;
	tab->size = size;
	memset(slot, 0xff, size * sizeof(*slot));
	for (int32_t i = 0; i < cs->n; i++)
		*class_slot(tab, cs->cls, cs->cls[i].model, cs->cls[i].height, cs->cls[i].width) = i;
	return 0;
}

static void init_class(struct ts_class *c, const struct ts_request *r)
{
	memset(c, 0, sizeof(*c));
	c->model = r->model;
	c->height = r->height;
	c->width = r->width;
	c->tokens = (int64_t)(r->height / 16) * (r->width / 16);
	for (int b = 0; b < TS_NBATCH; b++)
		for (int d = 0; d < TS_NDEG; d++)
			c->step[b][d] = -1;
}

/* Finds or adds the class of each request, in first-seen order. */
static int collect_classes(struct ts_classes *cs, struct ts_trace *t, struct ts_error *err)
{
	struct class_table tab = { NULL, 8 };
	int rc = 0;
	if (grow_classes(cs, &tab))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory building classes");
	for (size_t i = 0; i < t->n && !rc; i++) {
		struct ts_request *r = &t->req[i];
		if (r->model < 0 || r->model >= cs->nmodels) {
			rc = ts_err_set(err, TS_EINVAL, "request %lld has model index %d of %d",
					(long long)r->id, r->model, cs->nmodels);
			break;
		}
		int32_t *slot = class_slot(&tab, cs->cls, r->model, r->height, r->width);
		if (*slot < 0) {
			init_class(&cs->cls[cs->n], r);
			*slot = cs->n++;
			r->cls = *slot; /* before growing: growth frees the table slot points into */
			if ((size_t)cs->n * 2 >= tab.size && grow_classes(cs, &tab))
				rc = ts_err_set(err, TS_ENOMEM, "out of memory building classes");
			continue;
		}
		r->cls = *slot;
	}
	free(tab.slot);
	return rc;
}

static int cmp_class(const void *pa, const void *pb)
{
	const struct ts_class *a = pa, *b = pb;
	if (a->model != b->model)
		return a->model < b->model ? -1 : 1;
	if (a->tokens != b->tokens)
		return a->tokens < b->tokens ? -1 : 1;
	if (a->height != b->height)
		return a->height < b->height ? -1 : 1;
	return (a->width > b->width) - (a->width < b->width);
}

/* A class with its index before sorting. */
struct class_order {
	struct ts_class cls;
	int32_t old;
};

static int cmp_class_order(const void *pa, const void *pb)
{
	const struct class_order *a = pa, *b = pb;
	return cmp_class(&a->cls, &b->cls);
}

/* Orders classes by (model, tokens, height, width) so class indices do not
 * depend on arrival order, and renumbers the requests. */
static int sort_classes(struct ts_classes *cs, struct ts_trace *t, struct ts_error *err)
{
	size_t n = (size_t)cs->n;
	if (n == 0)
		return 0;
	struct class_order *order = malloc(n * sizeof(*order));
	int32_t *rank = malloc(n * sizeof(*rank));
	int rc = 0;
	if (!order || !rank) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory sorting classes");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (struct class_order){ cs->cls[i], (int32_t)i };
	qsort(order, n, sizeof(*order), cmp_class_order);
	for (size_t j = 0; j < n; j++) {
		cs->cls[j] = order[j].cls;
		rank[order[j].old] = (int32_t)j;
	}
	for (size_t i = 0; i < t->n; i++)
		t->req[i].cls = rank[t->req[i].cls];
out_free:
	free(rank);
	free(order);
	return rc;
}

/* ---- classes: step times ---- */

/* Model index of each profile row usable for this run (right GPU, degree
 * within max_degree), else -1. */
static int32_t *select_rows(const struct ts_classes *cs, const struct ts_profile *p,
			    const char *gpu, int max_degree)
{
	int32_t *sel = malloc((p->n ? p->n : 1) * sizeof(*sel));
	if (!sel)
		return NULL;
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		sel[i] = -1;
		if (strcmp(r->gpu, gpu) != 0 || (max_degree > 0 && r->sp > max_degree))
			continue;
		for (int32_t m = 0; m < cs->nmodels; m++)
			if (!strcmp(r->model, cs->models[m]))
				sel[i] = m;
	}
	return sel;
}

static ts_ns ns_from_ms(double ms)
{
	return (ts_ns)llround(ms * (double)TS_NS_PER_MS);
}

static void fill_measured(struct ts_classes *cs, const struct ts_profile *p, const int32_t *sel)
{
	for (int32_t c = 0; c < cs->n; c++) {
		struct ts_class *k = &cs->cls[c];
		for (size_t i = 0; i < p->n; i++) {
			const struct ts_profile_row *r = &p->rows[i];
			if (sel[i] != k->model || r->height != k->height || r->width != k->width)
				continue;
			int b = ts_deg_index(r->batch), d = ts_deg_index(r->sp);
			k->step[b][d] = ns_from_ms(r->step_ms);
			k->cv[b][d] = r->cv;
			k->modelled[b][d] = r->modelled;
		}
	}
}

/* A measured point of the step-time curve of one (model, sp, batch). */
struct curve_point {
	double tokens, log_ms, cv;
	int n; /* rows merged into this point (same token count) */
};

static int cmp_point(const void *pa, const void *pb)
{
	const struct curve_point *a = pa, *b = pb;
	return (a->tokens > b->tokens) - (a->tokens < b->tokens);
}

/* Collects the measured points of (model, sp, batch) sorted by tokens; rows
 * of equal token count (other aspect ratios) merge by geometric mean.
 * Returns the number of distinct points. */
static size_t gather_curve(const struct ts_profile *p, const int32_t *sel, int32_t model,
			   int sp, int batch, struct curve_point *pt)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		if (sel[i] != model || r->sp != sp || r->batch != batch)
			continue;
		pt[n++] = (struct curve_point){ (double)(r->height / 16) * (r->width / 16),
						log(r->step_ms), r->cv, 1 };
	}
	qsort(pt, n, sizeof(*pt), cmp_point);
	size_t out = 0;
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
	return out;
}

/* Log-log interpolation at x between the bracketing points, or the two
 * nearest ones at either end. Needs n >= 2. Sets the cv estimate to the
 * larger cv of the two points. */
static double interpolate_curve(const struct curve_point *pt, size_t n, double x, double *cv)
{
	size_t hi = 1;
	while (hi < n - 1 && pt[hi].tokens < x)
		hi++;
	const struct curve_point *a = &pt[hi - 1], *b = &pt[hi];
	double slope = (b->log_ms - a->log_ms) / (log(b->tokens) - log(a->tokens));
	*cv = fmax(a->cv, b->cv);
	return exp(a->log_ms + slope * (log(x) - log(a->tokens)));
}

static int fill_interpolated(struct ts_classes *cs, const struct ts_profile *p,
			     const int32_t *sel, struct ts_error *err)
{
	struct curve_point *pt = malloc((p->n ? p->n : 1) * sizeof(*pt));
	if (!pt)
		return ts_err_set(err, TS_ENOMEM, "out of memory interpolating");
	for (int32_t c = 0; c < cs->n; c++) {
		struct ts_class *k = &cs->cls[c];
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++) {
				if (k->step[b][d] >= 0)
					continue;
				size_t n = gather_curve(p, sel, k->model, 1 << d, 1 << b, pt);
				if (n < 2)
					continue;
				double ms = interpolate_curve(pt, n, (double)k->tokens, &k->cv[b][d]);
				k->step[b][d] = ns_from_ms(ms);
				k->interpolated[b][d] = true;
			}
	}
	free(pt);
	return 0;
}

int ts_classes_build(struct ts_classes *out, struct ts_trace *t,
		     const struct ts_profile *p, const struct ts_classes_opts *opts,
		     struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	out->profile_path = p->path;
	out->interpolated_cells = opts->interpolate;
	const char *gpu;
	int rc = resolve_gpu(p, opts->gpu, &gpu, err);
	if (!rc)
		rc = resolve_models(out, t, p, gpu, opts->model, err);
	if (!rc)
		rc = collect_classes(out, t, err);
	if (!rc)
		rc = sort_classes(out, t, err);
	if (rc)
		goto out_free;
	int32_t *sel = select_rows(out, p, gpu, opts->max_degree);
	if (!sel) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory building classes");
		goto out_free;
	}
	fill_measured(out, p, sel);
	if (opts->interpolate)
		rc = fill_interpolated(out, p, sel, err);
	free(sel);
	if (!rc)
		return 0;
out_free:
	ts_classes_free(out);
	for (size_t i = 0; i < t->n; i++)
		t->req[i].cls = -1;
	return rc;
}

int ts_classes_require(const struct ts_classes *cs, int32_t c, int degree,
		       struct ts_error *err)
{
	if (c < 0 || c >= cs->n)
		return ts_err_set(err, TS_EINVAL, "class %d out of range (%d classes)", c, cs->n);
	int d = ts_deg_index(degree);
	if (d < 0)
		return ts_err_set(err, TS_EINVAL, "SP degree %d is not a power of two in 1..%d",
				  degree, TS_MAX_GPUS);
	const struct ts_class *k = &cs->cls[c];
	if (k->step[0][d] >= 0)
		return 0;
	return ts_err_set(err, TS_ENOTFOUND,
			  "profile %s has no step time for model '%s', height %d, width %d, "
			  "sp %d (batch 1): %s",
			  cs->profile_path ? cs->profile_path : "(none)",
			  cs->models[k->model], k->height, k->width, degree,
			  cs->interpolated_cells
				  ? "--interpolate cannot estimate it (fewer than two resolutions measured at that degree)"
				  : "pass --interpolate to estimate it");
}

void ts_classes_free(struct ts_classes *cs)
{
	free(cs->cls);
	for (int32_t i = 0; i < cs->nmodels; i++)
		free(cs->models[i]);
	free(cs->models);
	memset(cs, 0, sizeof(*cs));
}

int32_t ts_classes_modelled_cells(const struct ts_classes *cs)
{
	int32_t n = 0;
	for (int32_t c = 0; c < cs->n; c++)
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++)
				n += cs->cls[c].step[b][d] >= 0 && cs->cls[c].modelled[b][d];
	return n;
}

ts_ns ts_class_step(const struct ts_classes *cs, int32_t c, int k, int b)
{
	int d = ts_deg_index(k);
	int bi = ts_deg_index(b);
	if (c < 0 || c >= cs->n || d < 0 || d >= TS_NDEG || bi < 0 || bi >= TS_NBATCH)
		return -1;
	return cs->cls[c].step[bi][d];
}
