/* classes.c: the step tables of a run: one class per distinct (model,
 * height, width) of the trace, step times from the profile's rows, missing
 * cells optionally estimated (see classes.h). */
#include "io/classes.h"
#include "io/classes_interp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- classes: choosing the GPU and the models ---- */

/* The profile's rows sorted by (gpu, model, row), so the lookups below
 * cost O(log n) and the listings O(n log n), whatever the number of names
 * (tens of thousands of GPU or model names stay fast). */
struct name_index {
	const struct ts_profile *p;
	size_t *ix;
};

static const struct ts_profile *sort_profile;

static int cmp_names(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct ts_profile_row *x = &sort_profile->rows[a], *y = &sort_profile->rows[b];
	int c = strcmp(x->gpu, y->gpu);
	if (!c)
		c = strcmp(x->model, y->model);
	return c ? c : (a > b) - (a < b);
}

static int cmp_size(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return (a > b) - (a < b);
}

static int name_index_build(struct name_index *ni, const struct ts_profile *p, struct ts_error *err)
{
	ni->p = p;
	ni->ix = malloc((p->n ? p->n : 1) * sizeof(*ni->ix));
	if (!ni->ix)
		return ts_err_set(err, TS_ENOMEM, "out of memory indexing profile %s", p->path);
	for (size_t i = 0; i < p->n; i++)
		ni->ix[i] = i;
	sort_profile = p;
	qsort(ni->ix, p->n, sizeof(*ni->ix), cmp_names);
	return 0;
}

/* Compares row r with (gpu, model); model NULL compares the gpu alone. */
static int cmp_key(const struct ts_profile_row *r, const char *gpu, const char *model)
{
	int c = strcmp(r->gpu, gpu);
	return c || !model ? c : strcmp(r->model, model);
}

/* The first position in the index at or after (gpu, model). */
static size_t lower_bound(const struct name_index *ni, const char *gpu, const char *model)
{
	size_t lo = 0, hi = ni->p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_key(&ni->p->rows[ni->ix[mid]], gpu, model) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool profile_has(const struct name_index *ni, const char *model, const char *gpu)
{
	size_t i = lower_bound(ni, gpu, model);
	return i < ni->p->n && cmp_key(&ni->p->rows[ni->ix[i]], gpu, model) == 0;
}

/* Appends the distinct values of the model (or gpu) field, among rows of
 * gpu (any gpu when NULL), to buf as "a, b, c" in first-seen order.
 * Returns how many (or TS_ENOMEM). */
static int list_distinct(const struct name_index *ni, bool models, const char *gpu, char *buf,
			 size_t size)
{
	const struct ts_profile *p = ni->p;
	size_t from = gpu ? lower_bound(ni, gpu, NULL) : 0, count = 0;
	size_t *first = malloc((p->n ? p->n : 1) * sizeof(*first));
	buf[0] = '\0';
	if (!first)
		return TS_ENOMEM;
	for (size_t i = from; i < p->n && (!gpu || !strcmp(p->rows[ni->ix[i]].gpu, gpu)); i++) {
		const struct ts_profile_row *r = &p->rows[ni->ix[i]], *prev;
		prev = i > from ? &p->rows[ni->ix[i - 1]] : NULL;
		if (prev && !strcmp(prev->gpu, r->gpu) && (!models || !strcmp(prev->model, r->model))) {
			if (ni->ix[i] < first[count - 1])
				first[count - 1] = ni->ix[i];   /* a gpu's rows are not in file order */
			continue;
		}
		first[count++] = ni->ix[i];
	}
	qsort(first, count, sizeof(*first), cmp_size);
	for (size_t k = 0; k < count; k++) {
		size_t used = strlen(buf);
		const struct ts_profile_row *r = &p->rows[first[k]];
		snprintf(buf + used, size - used, "%s%s", k ? ", " : "", models ? r->model : r->gpu);
	}
	free(first);
	return (int)count;
}

/* The GPU whose rows are used: opts->gpu, else the profile's only GPU. */
static int resolve_gpu(const struct name_index *ni, const char *want, const char **gpu,
		       struct ts_error *err)
{
	const struct ts_profile *p = ni->p;
	char names[512];
	int n = list_distinct(ni, false, NULL, names, sizeof(names));
	if (n < 0)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading profile %s", p->path);
	if (n == 0)
		return ts_err_set(err, TS_ENOTFOUND, "profile %s has no rows", p->path);
	if (want) {
		if (!profile_has(ni, NULL, want))
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
static int default_model(const struct name_index *ni, const char *gpu, const char *want,
			 const char **model, struct ts_error *err)
{
	const struct ts_profile *p = ni->p;
	if (want) {
		*model = want;
		return 0;
	}
	char names[512];
	int n = list_distinct(ni, true, gpu, names, sizeof(names));
	if (n < 0)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading profile %s", p->path);
	if (n > 1)
		return ts_err_set(err, TS_EINVAL,
				  "profile %s has several models for gpu '%s' (%s): choose one with --model",
				  p->path, gpu, names);
	size_t i = lower_bound(ni, gpu, NULL);
	if (i < p->n && !strcmp(p->rows[ni->ix[i]].gpu, gpu)) {
		*model = p->rows[ni->ix[i]].model;
		return 0;
	}
	return ts_err_set(err, TS_ENOTFOUND, "profile %s has no rows for gpu '%s'", p->path, gpu);
}

static int add_model(struct ts_classes *cs, const struct name_index *ni, const char *gpu,
		     const char *name, struct ts_error *err)
{
	if (!profile_has(ni, name, gpu)) {
		char names[512];
		list_distinct(ni, true, gpu, names, sizeof(names));
		return ts_err_set(err, TS_ENOTFOUND,
				  "model '%s' is not in profile %s for gpu '%s' (models: %s)",
				  name, ni->p->path, gpu, names);
	}
	char *copy = strdup(name);
	if (!copy)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	cs->models[cs->nmodels++] = copy;
	return 0;
}

/* Fills cs->models so that its indices match ts_request.model. */
static int resolve_models(struct ts_classes *cs, const struct ts_trace *t,
			  const struct name_index *ni, const char *gpu, const char *want,
			  struct ts_error *err)
{
	int32_t n = t->nmodels > 0 ? t->nmodels : 1;
	cs->models = calloc((size_t)n, sizeof(*cs->models));
	if (!cs->models)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	if (t->nmodels == 0) {
		const char *model;
		int rc = default_model(ni, gpu, want, &model, err);
		return rc ? rc : add_model(cs, ni, gpu, model, err);
	}
	for (int32_t i = 0; i < t->nmodels; i++) {
		int rc = add_model(cs, ni, gpu, t->models[i], err);
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
static int32_t *select_rows(const struct ts_classes *cs, const struct name_index *ni,
			    const char *gpu, int max_degree)
{
	const struct ts_profile *p = ni->p;
	int32_t *sel = malloc((p->n ? p->n : 1) * sizeof(*sel));
	if (!sel)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		sel[i] = -1;
	for (int32_t m = 0; m < cs->nmodels; m++)
		for (size_t i = lower_bound(ni, gpu, cs->models[m]);
		     i < p->n && !cmp_key(&p->rows[ni->ix[i]], gpu, cs->models[m]); i++)
			if (max_degree <= 0 || p->rows[ni->ix[i]].sp <= max_degree)
				sel[ni->ix[i]] = m;
	return sel;
}

/* The class of (model, height, width) by binary search (the classes are
 * sorted by cmp_class), NULL when the trace has none. */
static struct ts_class *find_class(struct ts_classes *cs, int32_t model, int32_t h, int32_t w)
{
	struct ts_class key = { .model = model, .height = h, .width = w,
				.tokens = (int64_t)(h / 16) * (w / 16) };
	return bsearch(&key, cs->cls, (size_t)cs->n, sizeof(*cs->cls), cmp_class);
}

static void fill_measured(struct ts_classes *cs, const struct ts_profile *p, const int32_t *sel)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct ts_profile_row *r = &p->rows[i];
		struct ts_class *k = sel[i] >= 0 ? find_class(cs, sel[i], r->height, r->width) : NULL;
		if (!k)
			continue;
		int b = ts_deg_index(r->batch), d = ts_deg_index(r->sp);
		k->step[b][d] = ts_ns_from_ms(r->step_ms);
		k->cv[b][d] = r->cv;
		k->modelled[b][d] = r->modelled;
	}
}

/* The slowest step of class k at any degree and batch; 0 without cells. */
static ts_ns slowest_step(const struct ts_class *k)
{
	ts_ns m = 0;
	for (int b = 0; b < TS_NBATCH; b++)
		for (int d = 0; d < TS_NDEG; d++)
			if (k->step[b][d] > m)
				m = k->step[b][d];
	return m;
}

/* Refuses a trace whose simulated time could pass TS_TIME_MAX: a request
 * whose steps at its slowest cell take longer, or a trace whose requests,
 * run one after another at their slowest cells from its last arrival, end
 * later (no schedule of it ends later than that, bar a policy's waits);
 * on a node of `gpus` GPUs that span is 2^62 / gpus at most, so the GPU
 * time of a run (GPUs x time) fits int64 too. */
static int check_time_bounds(const struct ts_classes *cs, const struct ts_trace *t, int gpus,
			     struct ts_error *err)
{
	ts_ns total = t->n ? t->req[t->n - 1].arrival : 0, work;
	ts_ns limit = gpus > 1 && ((ts_ns)1 << 62) / gpus < TS_TIME_MAX ? ((ts_ns)1 << 62) / gpus
									: TS_TIME_MAX;

	for (size_t i = 0; i < t->n; i++) {
		const struct ts_request *r = &t->req[i];
		const struct ts_class *k = &cs->cls[r->cls];
		ts_ns step = slowest_step(k);
		if (__builtin_mul_overflow((ts_ns)r->steps, step, &work) || work > TS_TIME_MAX)
			return ts_err_set(err, TS_ERANGE,
					  "%s: request_id %lld: %d steps of up to %.6g ms (model '%s' "
					  "%dx%d, profile %s) take %.3g years, more than the %.0f years "
					  "of simulated time tetriserve represents",
					  t->path ? t->path : "trace", (long long)r->id, r->steps,
					  (double)step / 1e6, cs->models[k->model], k->height, k->width,
					  cs->profile_path, (double)r->steps * (double)step / 3.15576e16,
					  (double)TS_TIME_MAX / 3.15576e16);
		if (__builtin_add_overflow(total, work, &total) || total > limit)
			return ts_err_set(err, TS_ERANGE,
					  "%s: its requests run one after another at their slowest "
					  "steps would end more than %.1f years after it starts (passed "
					  "at request_id %lld): more simulated time than tetriserve "
					  "represents on %d GPUs",
					  t->path ? t->path : "trace", (double)limit / 3.15576e16,
					  (long long)r->id, gpus > 1 ? gpus : 1);
	}
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
	struct name_index ni = { 0 };
	int32_t *sel = NULL;
	int rc = name_index_build(&ni, p, err);
	if (!rc)
		rc = resolve_gpu(&ni, opts->gpu, &gpu, err);
	if (!rc)
		rc = resolve_models(out, t, &ni, gpu, opts->model, err);
	if (!rc)
		rc = collect_classes(out, t, err);
	if (!rc)
		rc = sort_classes(out, t, err);
	if (!rc && !(sel = select_rows(out, &ni, gpu, opts->max_degree)))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory building classes");
	free(ni.ix);
	if (rc)
		goto out_free;
	fill_measured(out, p, sel);
	if (opts->interpolate)
		rc = ts_classes_interpolate(out, p, sel, err);
	free(sel);
	if (!rc)
		rc = check_time_bounds(out, t, opts->max_degree, err);
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
				  : "measure it, or pass --interpolate to estimate it (from two or more "
				    "resolutions the profile measures at that degree)");
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
