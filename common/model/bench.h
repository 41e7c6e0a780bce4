/* bench.h: component benchmarks that constrain the step-time model's fit
 * (`tetriserve profile model --fit P.csv --bench B.csv`): a CSV with
 * columns matched by name, '#' comments, one measured component a row:
 *
 *   kind       required columns            the time it is compared with
 *   gemm       m, n, k, ms                  max(2mnk / P, 2(mk + nk + mn) / M)
 *   attention  seq, heads, head_dim, ms     4 batch seq^2 head_dim heads / (A seq/(seq+S_half))
 *              (batch optional, 1)          (rows of another head_dim than the model's are ignored)
 *   alltoall   sp, bytes, ms                lat_sp + bytes (sp-1)/sp / busbw_sp
 *              (bytes: sent by each rank in one call)
 *
 * Format and use: docs/STEP_MODEL.md. */
#ifndef TS_BENCH_H
#define TS_BENCH_H

#include <stddef.h>

#include "core/ts_error.h"

enum ts_bench_kind { TS_BENCH_GEMM, TS_BENCH_ATTENTION, TS_BENCH_ALLTOALL };

struct ts_bench_row {
	enum ts_bench_kind kind;
	double m, n, k;                 /* gemm */
	double seq, heads, head_dim, batch; /* attention */
	int sp;                         /* alltoall */
	double bytes;                   /* alltoall */
	double ms;                      /* measured time of one call */
	int line;
};

struct ts_bench {
	struct ts_bench_row *rows;
	size_t n;
	char *path; /* owned */
};

/* Reads a bench CSV into *b. TS_EPARSE naming path:line and the field for
 * an unknown kind, a missing or non-positive value, an sp that is not a
 * power of two in 2..64; TS_EIO for an unreadable file. */
int ts_bench_load(struct ts_bench *b, const char *path, struct ts_error *err);

/* Frees what *b owns; safe on a zeroed struct. */
void ts_bench_free(struct ts_bench *b);

#endif
