/* bench.c: the component-benchmark CSV reader (bench.h). */
#include "model/bench.h"

#include <stdlib.h>
#include <string.h>

#include "core/ts_types.h"
#include "io/csv.h"

enum bench_col { B_KIND, B_MS, B_M, B_N, B_K, B_SEQ, B_HEADS, B_HD, B_BATCH, B_SP, B_BYTES, B_NCOLS };

static const struct ts_csv_col bench_schema[B_NCOLS] = {
	[B_KIND] = { "kind", true, -1 },   [B_MS] = { "ms", true, -1 },
	[B_M] = { "m", false, -1 },        [B_N] = { "n", false, -1 },
	[B_K] = { "k", false, -1 },        [B_SEQ] = { "seq", false, -1 },
	[B_HEADS] = { "heads", false, -1 }, [B_HD] = { "head_dim", false, -1 },
	[B_BATCH] = { "batch", false, -1 }, [B_SP] = { "sp", false, -1 },
	[B_BYTES] = { "bytes", false, -1 },
};

/* A value > 0 of column i; "absent" is an error naming the kind. */
static int positive(const struct ts_csv *c, const struct ts_csv_col *col, int i, const char *kind,
		    double *out, struct ts_error *err)
{
	if (!*ts_csv_text(c, &col[i]))
		return ts_csv_field_error(c, &col[i], err, "a %s row needs it", kind);
	int rc = ts_csv_double(c, &col[i], out, err);
	if (!rc && !(*out > 0))
		rc = ts_csv_field_error(c, &col[i], err, "%s: must be > 0", ts_csv_text(c, &col[i]));
	return rc;
}

static int parse_gemm(const struct ts_csv *c, const struct ts_csv_col *col,
		      struct ts_bench_row *r, struct ts_error *err)
{
	int rc = positive(c, col, B_M, "gemm", &r->m, err);
	if (!rc)
		rc = positive(c, col, B_N, "gemm", &r->n, err);
	return rc ? rc : positive(c, col, B_K, "gemm", &r->k, err);
}

static int parse_attention(const struct ts_csv *c, const struct ts_csv_col *col,
			   struct ts_bench_row *r, struct ts_error *err)
{
	r->batch = 1;
	int rc = positive(c, col, B_SEQ, "attention", &r->seq, err);
	if (!rc)
		rc = positive(c, col, B_HEADS, "attention", &r->heads, err);
	if (!rc)
		rc = positive(c, col, B_HD, "attention", &r->head_dim, err);
	if (!rc && *ts_csv_text(c, &col[B_BATCH]))
		rc = positive(c, col, B_BATCH, "attention", &r->batch, err);
	return rc;
}

static int parse_alltoall(const struct ts_csv *c, const struct ts_csv_col *col,
			  struct ts_bench_row *r, struct ts_error *err)
{
	double sp;
	int rc = positive(c, col, B_SP, "alltoall", &sp, err);
	if (!rc && (sp < 2 || sp > TS_MAX_GPUS || ts_deg_index((int)sp) < 0 || sp != (int)sp))
		rc = ts_csv_field_error(c, &col[B_SP], err, "%s: must be a power of two in 2..%d",
					ts_csv_text(c, &col[B_SP]), TS_MAX_GPUS);
	r->sp = (int)sp;
	return rc ? rc : positive(c, col, B_BYTES, "alltoall", &r->bytes, err);
}

static int parse_row(const struct ts_csv *c, const struct ts_csv_col *col, struct ts_bench_row *r,
		     struct ts_error *err)
{
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	int rc = ts_csv_check_width(c, err);
	if (!rc)
		rc = positive(c, col, B_MS, "bench", &r->ms, err);
	if (rc)
		return rc;
	const char *kind = ts_csv_text(c, &col[B_KIND]);
	if (!strcmp(kind, "gemm"))
		return r->kind = TS_BENCH_GEMM, parse_gemm(c, col, r, err);
	if (!strcmp(kind, "attention"))
		return r->kind = TS_BENCH_ATTENTION, parse_attention(c, col, r, err);
	if (!strcmp(kind, "alltoall"))
		return r->kind = TS_BENCH_ALLTOALL, parse_alltoall(c, col, r, err);
	return ts_csv_field_error(c, &col[B_KIND], err, "'%s': must be gemm, attention or alltoall",
				  kind);
}

int ts_bench_load(struct ts_bench *b, const char *path, struct ts_error *err)
{
	memset(b, 0, sizeof(*b));
	struct ts_csv c;
	int rc = ts_csv_open(&c, path, err);
	if (rc)
		return rc;
	struct ts_csv_col col[B_NCOLS];
	memcpy(col, bench_schema, sizeof(col));
	rc = ts_csv_map_header(&c, col, B_NCOLS, err);
	size_t cap = ts_csv_lines_left(&c) + 1;
	b->path = strdup(path);
	b->rows = calloc(cap, sizeof(*b->rows));
	if (!rc && (!b->path || !b->rows))
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	while (!rc && (rc = ts_csv_next(&c, err)) == 1 && b->n < cap)
		rc = parse_row(&c, col, &b->rows[b->n++], err);
	ts_csv_close(&c);
	if (rc)
		ts_bench_free(b);
	return rc;
}

void ts_bench_free(struct ts_bench *b)
{
	free(b->rows);
	free(b->path);
	memset(b, 0, sizeof(*b));
}
