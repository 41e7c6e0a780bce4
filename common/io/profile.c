/* profile.c: the profile CSV reader (format: traces/README.md). */
#include "io/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"

enum profile_col {
	P_MODEL, P_GPU, P_HEIGHT, P_WIDTH, P_SP, P_STEP, P_P50, P_P99, P_CV, P_SAMPLES,
	P_BATCH, P_SOURCE, P_NCOLS
};

static const struct ts_csv_col profile_schema[P_NCOLS] = {
	[P_MODEL] = { "model", true, -1 },
	[P_GPU] = { "gpu", true, -1 },
	[P_HEIGHT] = { "height", true, -1 },
	[P_WIDTH] = { "width", true, -1 },
	[P_SP] = { "sp", true, -1 },
	[P_STEP] = { "step_ms", true, -1 },
	[P_P50] = { "p50_ms", false, -1 },
	[P_P99] = { "p99_ms", false, -1 },
	[P_CV] = { "cv", false, -1 },
	[P_SAMPLES] = { "samples", false, -1 },
	[P_BATCH] = { "batch", false, -1 },
	[P_SOURCE] = { "source", false, -1 },
};

/* ---- loading ---- */

/* Copies a non-empty name that fits the fixed-size row field. */
static int parse_name(const struct ts_csv *c, const struct ts_csv_col *col,
		      char *dst, size_t size, struct ts_error *err)
{
	const char *s = ts_csv_text(c, col);
	size_t n = strlen(s);
	if (n == 0)
		return ts_csv_field_error(c, col, err, "empty value");
	if (n >= size)
		return ts_csv_field_error(c, col, err, "'%s' is longer than %zu characters",
					  s, size - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

/* Parses a power of two in 1..max. */
static int parse_pow2(const struct ts_csv *c, const struct ts_csv_col *col, int max,
		      int32_t *out, struct ts_error *err)
{
	int64_t v;
	int rc = ts_csv_int64(c, col, &v, err);
	if (rc)
		return rc;
	if (v < 1 || v > max || (v & (v - 1)))
		return ts_csv_field_error(c, col, err, "%lld: must be a power of two in 1..%d",
					  (long long)v, max);
	*out = (int32_t)v;
	return 0;
}

/* Parses a number > 0 (or >= 0 when zero_ok); an empty optional field
 * leaves *out at its default. */

static int parse_positive(const struct ts_csv *c, const struct ts_csv_col *col,
			  bool zero_ok, double *out, struct ts_error *err)
{
	if (!col->required && *ts_csv_text(c, col) == '\0')
		return 0;
	double v;
	int rc = ts_csv_double(c, col, &v, err);
	if (rc)
		return rc;
	if (v < 0 || (v == 0 && !zero_ok))
		return ts_csv_field_error(c, col, err, "%s: must be %s", ts_csv_text(c, col),
					  zero_ok ? ">= 0" : "> 0");
	*out = v;
	return 0;
}

static int parse_optional_ints(const struct ts_csv *c, const struct ts_csv_col *col,
			       struct ts_profile_row *r, struct ts_error *err)
{
	r->batch = 1;
	r->samples = 0;
	int rc = 0;
	if (*ts_csv_text(c, &col[P_BATCH]) != '\0')
		rc = parse_pow2(c, &col[P_BATCH], TS_MAX_BATCH, &r->batch, err);
	if (!rc && *ts_csv_text(c, &col[P_SAMPLES]) != '\0') {
		rc = ts_csv_int64(c, &col[P_SAMPLES], &r->samples, err);
		if (!rc && r->samples < 0)
			rc = ts_csv_field_error(c, &col[P_SAMPLES], err, "%lld: must be >= 0",
						(long long)r->samples);
	}
	return rc;
}

/* The optional source column: measured (or empty) or modelled. */
static int parse_source(const struct ts_csv *c, const struct ts_csv_col *col, bool *modelled,
			struct ts_error *err)
{
	const char *s = ts_csv_text(c, col);
	*modelled = !strcmp(s, "modelled");
	if (*modelled || !*s || !strcmp(s, "measured"))
		return 0;
	return ts_csv_field_error(c, col, err, "'%s': must be measured or modelled", s);
}

static int parse_profile_row(const struct ts_csv *c, const struct ts_csv_col *col,
			     struct ts_profile_row *r, struct ts_error *err)
{
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	r->p50_ms = NAN;
	r->p99_ms = NAN;
	int rc = ts_csv_check_width(c, err);
	if (!rc)
		rc = parse_name(c, &col[P_MODEL], r->model, sizeof(r->model), err);
	if (!rc)
		rc = parse_name(c, &col[P_GPU], r->gpu, sizeof(r->gpu), err);
	if (!rc)
		rc = ts_csv_pixels(c, &col[P_HEIGHT], &r->height, err);
	if (!rc)
		rc = ts_csv_pixels(c, &col[P_WIDTH], &r->width, err);
	if (!rc)
		rc = parse_pow2(c, &col[P_SP], TS_MAX_GPUS, &r->sp, err);
	if (!rc)
		rc = parse_positive(c, &col[P_STEP], false, &r->step_ms, err);
	/* a step of 1 ns .. 1e9 ms: whole nanoseconds, and sums of millions of
	 * steps stay inside int64 */
	if (!rc && (r->step_ms < TS_PROFILE_STEP_MS_MIN || r->step_ms > TS_PROFILE_STEP_MS_MAX))
		rc = ts_csv_field_error(c, &col[P_STEP], err, "%s: must be between %g and %g ms",
					ts_csv_text(c, &col[P_STEP]), TS_PROFILE_STEP_MS_MIN,
					TS_PROFILE_STEP_MS_MAX);
	if (!rc)
		rc = parse_positive(c, &col[P_P50], false, &r->p50_ms, err);
	if (!rc)
		rc = parse_positive(c, &col[P_P99], false, &r->p99_ms, err);
	if (!rc)
		rc = parse_positive(c, &col[P_CV], true, &r->cv, err);
	/* a deviation of more than ten means is no measurement; the simulator's
	 * noise draws stay far inside int64 below it */
	if (!rc && r->cv > TS_PROFILE_CV_MAX)
		rc = ts_csv_field_error(c, &col[P_CV], err, "%s: must be at most %g",
					ts_csv_text(c, &col[P_CV]), TS_PROFILE_CV_MAX);
	if (!rc)
		rc = parse_optional_ints(c, col, r, err);
	if (!rc)
		rc = parse_source(c, &col[P_SOURCE], &r->modelled, err);
	return rc;
}

static int append_row(struct ts_profile *p, size_t *cap, const struct ts_profile_row *r,
		      struct ts_error *err)
{
	if (p->n == *cap) {
		size_t bigger_cap = *cap ? *cap * 2 : 64;
		struct ts_profile_row *bigger = realloc(p->rows, bigger_cap * sizeof(*bigger));
		if (!bigger)
			return ts_err_set(err, TS_ENOMEM, "%s: out of memory", p->path);
		p->rows = bigger;
		*cap = bigger_cap;
	}
	p->rows[p->n++] = *r;
	return 0;
}

/* Orders rows by cell key, then by line. */
static int cmp_cell(const void *pa, const void *pb)
{
	const struct ts_profile_row *a = *(const struct ts_profile_row *const *)pa;
	const struct ts_profile_row *b = *(const struct ts_profile_row *const *)pb;
	int d = strcmp(a->model, b->model);
	if (!d)
		d = strcmp(a->gpu, b->gpu);
	if (!d)
		d = (a->height > b->height) - (a->height < b->height);
	if (!d)
		d = (a->width > b->width) - (a->width < b->width);
	if (!d)
		d = (a->sp > b->sp) - (a->sp < b->sp);
	if (!d)
		d = (a->batch > b->batch) - (a->batch < b->batch);
	if (!d)
		d = (a->line > b->line) - (a->line < b->line);
	return d;
}

static bool same_cell(const struct ts_profile_row *a, const struct ts_profile_row *b)
{
	return !strcmp(a->model, b->model) && !strcmp(a->gpu, b->gpu) &&
	       a->height == b->height && a->width == b->width && a->sp == b->sp &&
	       a->batch == b->batch;
}

/* Reports the earliest line that repeats a (model,gpu,height,width,sp,batch) cell. */
static int check_unique_cells(const struct ts_profile *p, struct ts_error *err)
{
	if (p->n < 2)
		return 0;
	const struct ts_profile_row **by = malloc(p->n * sizeof(*by));
	if (!by)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", p->path);
	for (size_t i = 0; i < p->n; i++)
		by[i] = &p->rows[i];
	qsort(by, p->n, sizeof(*by), cmp_cell);
	const struct ts_profile_row *first = NULL, *dup = NULL;
	for (size_t i = 1; i < p->n; i++)
		if (same_cell(by[i - 1], by[i]) && (!dup || by[i]->line < dup->line)) {
			dup = by[i];
			first = by[i - 1];
		}
	int rc = 0;
	if (dup)
		rc = ts_err_set(err, TS_EPARSE,
				"%s:%d: field 'sp': duplicate cell model '%s', gpu '%s', %dx%d, "
				"sp %d, batch %d (first on line %d)",
				p->path, dup->line, dup->model, dup->gpu, dup->height, dup->width,
				dup->sp, dup->batch, first->line);
	free(by);
	return rc;
}

static int read_profile_rows(struct ts_profile *p, struct ts_csv *c,
			     const struct ts_csv_col *col, struct ts_error *err)
{
	size_t cap = 0;
	int rc;
	while ((rc = ts_csv_next(c, err)) == 1) {
		struct ts_profile_row r;
		rc = parse_profile_row(c, col, &r, err);
		if (!rc)
			rc = append_row(p, &cap, &r, err);
		if (rc)
			return rc;
	}
	return rc;
}

int ts_profile_load(struct ts_profile *p, const char *path, struct ts_error *err)
{
	memset(p, 0, sizeof(*p));
	struct ts_csv c;
	int rc = ts_csv_open(&c, path, err);
	if (rc)
		return rc;
	struct ts_csv_col col[P_NCOLS];
	memcpy(col, profile_schema, sizeof(col));
	rc = ts_csv_map_header(&c, col, P_NCOLS, err);
	if (rc)
		goto out_close;
	p->path = strdup(path);
	if (!p->path) {
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	rc = read_profile_rows(p, &c, col, err);
	if (!rc)
		rc = check_unique_cells(p, err);
	p->hash = c.hash;
out_close:
	ts_csv_close(&c);
	if (rc)
		ts_profile_free(p);
	return rc;
}

void ts_profile_free(struct ts_profile *p)
{
	free(p->rows);
	free(p->path);
	memset(p, 0, sizeof(*p));
}
