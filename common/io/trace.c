#include "io/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"

enum trace_col { C_ID, C_ARRIVAL, C_HEIGHT, C_WIDTH, C_STEPS, C_SLO, C_MODEL, C_SEED, C_CANCEL,
		 C_NCOLS };

static const struct ts_csv_col trace_schema[C_NCOLS] = {
	[C_ID] = { "request_id", true, -1 },
	[C_ARRIVAL] = { "arrival_s", true, -1 },
	[C_HEIGHT] = { "height", true, -1 },
	[C_WIDTH] = { "width", true, -1 },
	[C_STEPS] = { "steps", true, -1 },
	[C_SLO] = { "slo_s", true, -1 },
	[C_MODEL] = { "model", false, -1 },
	[C_SEED] = { "seed", false, -1 },
	[C_CANCEL] = { "cancel_s", false, -1 },
};

int ts_trace_append(struct ts_trace *t, const struct ts_request *r, struct ts_error *err)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct ts_request *bigger = realloc(t->req, cap * sizeof(*bigger));
		if (!bigger)
			return ts_err_set(err, TS_ENOMEM, "out of memory growing a trace to %zu requests", cap);
		t->req = bigger;
		t->cap = cap;
	}
	struct ts_request *dst = &t->req[t->n++];
	*dst = *r;
	dst->deadline = r->arrival + r->slo;
	return 0;
}

int32_t ts_trace_model_index(struct ts_trace *t, const char *name)
{
	for (int32_t i = 0; i < t->nmodels; i++)
		if (strcmp(t->models[i], name) == 0)
			return i;
	char *copy = strdup(name);
	char **bigger = realloc(t->models, (size_t)(t->nmodels + 1) * sizeof(*bigger));
	if (!copy || !bigger) {
		free(copy);
		if (bigger)
			t->models = bigger;
		return TS_ENOMEM;
	}
	t->models = bigger;
	t->models[t->nmodels] = copy;
	return t->nmodels++;
}

void ts_trace_free(struct ts_trace *t)
{
	free(t->req);
	for (int32_t i = 0; i < t->nmodels; i++)
		free(t->models[i]);
	free(t->models);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

static int parse_steps(const struct ts_csv *c, const struct ts_csv_col *col,
		       int32_t *out, struct ts_error *err)
{
	int64_t v;
	int rc = ts_csv_int64(c, col, &v, err);
	if (rc)
		return rc;
	if (v < 1 || v > INT32_MAX)
		return ts_csv_field_error(c, col, err, "%" PRId64 ": must be at least 1", v);
	*out = (int32_t)v;
	return 0;
}

/* The model names seen while loading, hashed (open addressing over
 * indices into t->models), so a trace of many distinct names loads in
 * linear time. */
struct name_table {
	int32_t *slot;   /* model index, -1 empty */
	size_t size;     /* power of two, at least twice the names */
};

static size_t name_hash(const char *s, size_t size)
{
	return (size_t)ts_fnv1a64(s, strlen(s)) & (size - 1);
}

static int32_t *name_slot(const struct name_table *nt, const struct ts_trace *t, const char *name)
{
	size_t i = name_hash(name, nt->size);
	while (nt->slot[i] >= 0 && strcmp(t->models[nt->slot[i]], name) != 0)
		i = (i + 1) & (nt->size - 1);
	return &nt->slot[i];
}

/* Doubles the table when it is half full (and makes the first one). */
static int name_table_grow(struct name_table *nt, const struct ts_trace *t)
{
	if (nt->size && (size_t)t->nmodels * 2 < nt->size)
		return 0;
	struct name_table big = { .size = nt->size ? nt->size * 2 : 64 };
	big.slot = malloc(big.size * sizeof(*big.slot));
	if (!big.slot)
		return TS_ENOMEM;
	memset(big.slot, 0xff, big.size * sizeof(*big.slot));
	for (int32_t m = 0; m < t->nmodels; m++)
		*name_slot(&big, t, t->models[m]) = m;
	free(nt->slot);
	*nt = big;
	return 0;
}

static int parse_model(struct ts_trace *t, struct name_table *nt, const struct ts_csv *c,
		       const struct ts_csv_col *col, int32_t *out, struct ts_error *err)
{
	const char *name = ts_csv_text(c, col);
	if (*name == '\0')
		return ts_csv_field_error(c, col, err, "empty model name");
	if (name_table_grow(nt, t))
		return ts_err_set(err, TS_ENOMEM, "%s:%d: out of memory", c->path, c->line);
	int32_t *slot = name_slot(nt, t, name);
	if (*slot < 0) {
		char *copy = strdup(name);
		char **bigger = copy ? realloc(t->models, (size_t)(t->nmodels + 1) * sizeof(*bigger)) : NULL;
		if (!bigger) {
			free(copy);
			return ts_err_set(err, TS_ENOMEM, "%s:%d: out of memory", c->path, c->line);
		}
		t->models = bigger;
		t->models[t->nmodels] = copy;
		*slot = t->nmodels++;
	}
	*out = *slot;
	return 0;
}

/* The optional cancel_s column: empty (never) or seconds > 0 after arrival. */
static int parse_cancel(const struct ts_csv *c, const struct ts_csv_col *col, ts_ns *out,
			struct ts_error *err)
{
	*out = 0;
	if (col->idx < 0 || *ts_csv_text(c, col) == '\0')
		return 0;
	int rc = ts_csv_seconds(c, col, out, err);
	if (!rc && *out <= 0)
		rc = ts_csv_field_error(c, col, err, "'%s': must be > 0 (or empty: never)",
					ts_csv_text(c, col));
	return rc;
}

/* Parses the current row into *r. */
static int parse_row(struct ts_trace *t, struct name_table *nt, const struct ts_csv *c,
		     const struct ts_csv_col *col, struct ts_request *r,
		     struct ts_error *err)
{
	int rc = ts_csv_check_width(c, err);
	if (!rc)
		rc = ts_csv_int64(c, &col[C_ID], &r->id, err);
	if (!rc)
		rc = ts_csv_seconds(c, &col[C_ARRIVAL], &r->arrival, err);
	if (!rc && r->arrival < 0)
		rc = ts_csv_field_error(c, &col[C_ARRIVAL], err, "'%s': must be >= 0",
					ts_csv_text(c, &col[C_ARRIVAL]));
	if (!rc)
		rc = ts_csv_pixels(c, &col[C_HEIGHT], &r->height, err);
	if (!rc)
		rc = ts_csv_pixels(c, &col[C_WIDTH], &r->width, err);
	if (!rc)
		rc = parse_steps(c, &col[C_STEPS], &r->steps, err);
	if (!rc)
		rc = ts_csv_seconds(c, &col[C_SLO], &r->slo, err);
	if (!rc && r->slo <= 0)
		rc = ts_csv_field_error(c, &col[C_SLO], err, "'%s': must be > 0",
					ts_csv_text(c, &col[C_SLO]));
	if (rc)
		return rc;
	r->model = 0;
	if (col[C_MODEL].idx >= 0) {
		rc = parse_model(t, nt, c, &col[C_MODEL], &r->model, err);
		if (rc)
			return rc;
	}
	r->seed = (uint64_t)r->id;
	if (col[C_SEED].idx >= 0)
		rc = ts_csv_uint64(c, &col[C_SEED], &r->seed, err);
	if (!rc)
		rc = parse_cancel(c, &col[C_CANCEL], &r->cancel_after, err);
	r->cls = -1;
	return rc;
}

/* Growable array of the file line of each request, for duplicate messages. */
struct line_list {
	int32_t *line;
	size_t n, cap;
};

static int line_list_push(struct line_list *l, int32_t line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		int32_t *bigger = realloc(l->line, cap * sizeof(*bigger));
		if (!bigger)
			return TS_ENOMEM;
		l->line = bigger;
		l->cap = cap;
	}
	l->line[l->n++] = line;
	return 0;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static bool ids_increasing(const struct ts_trace *t)
{
	for (size_t i = 1; i < t->n; i++)
		if (t->req[i].id <= t->req[i - 1].id)
			return false;
	return true;
}

/* Finds the first request (in file order) whose id repeats an earlier one,
 * with an open-addressing table of request indices. Increasing ids (the
 * usual case) cannot repeat, and skip the table's cache misses. */
static int check_unique_ids(const struct ts_trace *t, const struct line_list *lines,
			    struct ts_error *err)
{
	if (ids_increasing(t))
		return 0;
	size_t size = 16;
	while (size < 2 * t->n)
		size *= 2;
	int64_t *slot = malloc(size * sizeof(*slot));
	if (!slot)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory checking ids", t->path);
	memset(slot, 0xff, size * sizeof(*slot)); /* -1: empty */
	int rc = 0;
	for (size_t i = 0; i < t->n && !rc; i++) {
		size_t h = mix64((uint64_t)t->req[i].id) & (size - 1);
		while (slot[h] >= 0 && t->req[slot[h]].id != t->req[i].id)
			h = (h + 1) & (size - 1);
		if (slot[h] < 0)
			slot[h] = (int64_t)i;
		else
			rc = ts_err_set(err, TS_EPARSE,
					"%s:%d: field 'request_id': duplicate id %" PRId64
					" (first on line %d)",
					t->path, lines->line[i], t->req[i].id, lines->line[slot[h]]);
	}
	free(slot);
	return rc;
}

static bool sorted_by_arrival(const struct ts_request *r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (r[i].arrival < r[i - 1].arrival)
			return false;
	return true;
}

/* Merges the sorted runs a[lo, mid) and a[mid, hi) into out, stably. */
static void merge_runs(const struct ts_request *a, struct ts_request *out,
		       size_t lo, size_t mid, size_t hi)
{
	size_t i = lo, j = mid, k = lo;
	while (i < mid && j < hi)
		out[k++] = a[j].arrival < a[i].arrival ? a[j++] : a[i++];
	while (i < mid)
		out[k++] = a[i++];
	while (j < hi)
		out[k++] = a[j++];
}

/* Stable bottom-up merge sort of the requests by arrival. */
static int sort_by_arrival(struct ts_trace *t, struct ts_error *err)
{
	if (sorted_by_arrival(t->req, t->n))
		return 0;
	struct ts_request *tmp = malloc(t->n * sizeof(*tmp));
	if (!tmp)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory sorting", t->path);
	struct ts_request *src = t->req, *dst = tmp;
	for (size_t width = 1; width < t->n; width *= 2) {
		for (size_t lo = 0; lo < t->n; lo += 2 * width) {
			size_t mid = lo + width < t->n ? lo + width : t->n;
			size_t hi = lo + 2 * width < t->n ? lo + 2 * width : t->n;
			merge_runs(src, dst, lo, mid, hi);
		}
		struct ts_request *swap = src;
		src = dst;
		dst = swap;
	}
	if (src != t->req)
		memcpy(t->req, src, t->n * sizeof(*tmp));
	free(tmp);
	return 0;
}

/* Allocates room for n requests and their lines at once (n: lines left in
 * the file), so large traces do not grow by copying. */
static int reserve_rows(struct ts_trace *t, struct line_list *lines, size_t n,
			struct ts_error *err)
{
	if (n == 0)
		return 0;
	t->req = malloc(n * sizeof(*t->req));
	lines->line = malloc(n * sizeof(*lines->line));
	if (!t->req || !lines->line)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory for %zu requests", t->path, n);
	t->cap = n;
	lines->cap = n;
	return 0;
}

/* Reads every data row of c into t, recording each row's line. */
static int read_rows(struct ts_trace *t, struct ts_csv *c, const struct ts_csv_col *col,
		     struct line_list *lines, struct ts_error *err)
{
	int rc;
	struct name_table nt = { 0 };
	while ((rc = ts_csv_next(c, err)) == 1) {
		struct ts_request r;
		rc = parse_row(t, &nt, c, col, &r, err);
		if (rc)
			break;
		rc = ts_trace_append(t, &r, err);
		if (!rc && line_list_push(lines, c->line))
			rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", c->path);
		if (rc)
			break;
	}
	free(nt.slot);
	return rc;
}

int ts_trace_load(struct ts_trace *t, const char *path, struct ts_error *err)
{
	memset(t, 0, sizeof(*t));
	struct ts_csv c;
	int rc = ts_csv_open(&c, path, err);
	if (rc)
		return rc;
	struct ts_csv_col col[C_NCOLS];
	memcpy(col, trace_schema, sizeof(col));
	struct line_list lines = { 0 };
	rc = ts_csv_map_header(&c, col, C_NCOLS, err);
	if (rc)
		goto out_close;
	t->path = strdup(path);
	if (!t->path) {
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	rc = reserve_rows(t, &lines, ts_csv_lines_left(&c), err);
	if (!rc)
		rc = read_rows(t, &c, col, &lines, err);
	if (!rc)
		rc = check_unique_ids(t, &lines, err);
	if (!rc)
		rc = sort_by_arrival(t, err);
	t->hash = c.hash;
out_close:
	free(lines.line);
	ts_csv_close(&c);
	if (rc)
		ts_trace_free(t);
	return rc;
}

/* Writes ns as seconds with exactly the decimals needed (no trailing zeros),
 * so that parsing the text gives back the same ns. */
static int write_seconds(FILE *f, ts_ns v)
{
	const char *sign = v < 0 ? "-" : "";
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t whole = a / TS_NS_PER_S, frac = a % TS_NS_PER_S;
	if (frac == 0)
		return fprintf(f, "%s%" PRIu64, sign, whole);
	int digits = 9;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	return fprintf(f, "%s%" PRIu64 ".%0*" PRIu64, sign, whole, digits, frac);
}

/* The cancel_s column is written only when some request has one. */
static bool trace_has_cancels(const struct ts_trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->req[i].cancel_after > 0)
			return true;
	return false;
}

/* The seed column is written only when some seed differs from the id. */
static bool trace_needs_seed(const struct ts_trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->req[i].seed != (uint64_t)t->req[i].id)
			return true;
	return false;
}

static int write_row(const struct ts_trace *t, const struct ts_request *r,
		     bool with_seed, bool with_cancel, FILE *f)
{
	if (fprintf(f, "%" PRId64 ",", r->id) < 0 || write_seconds(f, r->arrival) < 0 ||
	    fprintf(f, ",%d,%d,%d,", r->height, r->width, r->steps) < 0 ||
	    write_seconds(f, r->slo) < 0)
		return -1;
	if (t->nmodels > 0 && fprintf(f, ",%s", t->models[r->model]) < 0)
		return -1;
	if (with_seed && fprintf(f, ",%" PRIu64, r->seed) < 0)
		return -1;
	if (with_cancel && (fputc(',', f) == EOF || (r->cancel_after > 0 && write_seconds(f, r->cancel_after) < 0)))
		return -1;
	return fputc('\n', f) == EOF ? -1 : 0;
}

/* Rejects a request whose model index has no name to write, and names
 * that would break the CSV (no quoting: commas and line breaks). */
static int check_models(const struct ts_trace *t, struct ts_error *err)
{
	for (int32_t m = 0; m < t->nmodels; m++)
		if (t->models[m][0] == '\0' || strpbrk(t->models[m], ",\n\r"))
			return ts_err_set(err, TS_EINVAL,
					  "writing trace: model name '%s' is empty or holds a comma or line break",
					  t->models[m]);
	for (size_t i = 0; i < t->n && t->nmodels > 0; i++)
		if (t->req[i].model < 0 || t->req[i].model >= t->nmodels)
			return ts_err_set(err, TS_EINVAL,
					  "writing trace: request %" PRId64 " has model index %d of %d",
					  t->req[i].id, t->req[i].model, t->nmodels);
	return 0;
}

int ts_trace_write(const struct ts_trace *t, FILE *f, struct ts_error *err)
{
	int rc = check_models(t, err);
	if (rc)
		return rc;
	bool with_seed = trace_needs_seed(t), with_cancel = trace_has_cancels(t);
	int bad = fprintf(f, "request_id,arrival_s,height,width,steps,slo_s%s%s%s\n",
			  t->nmodels > 0 ? ",model" : "", with_seed ? ",seed" : "",
			  with_cancel ? ",cancel_s" : "") < 0;
	for (size_t i = 0; i < t->n && !bad; i++)
		bad = write_row(t, &t->req[i], with_seed, with_cancel, f);
	if (!bad)
		bad = fflush(f) == EOF;
	if (bad || ferror(f))
		return ts_err_set(err, TS_EIO, "writing trace: %s", errno ? strerror(errno) : "write error");
	return 0;
}
