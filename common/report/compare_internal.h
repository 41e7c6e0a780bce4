/* compare_internal.h: what compare.c (requests, cells) and
 * compare_launch.c (launches, divergence, causes) share. Private to
 * common/report. */
#ifndef TS_COMPARE_INTERNAL_H
#define TS_COMPARE_INTERNAL_H

#include <stdlib.h>

#include "report/compare.h"

/* A growable array of fixed-size items. */
struct vec {
	void *a;
	size_t n, cap, size;
};

/* A new zeroed-size slot at the end of v, NULL when out of memory. */
static inline void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 256;
		void *p = realloc(v->a, cap * v->size);
		if (!p)
			return NULL;
		v->a = p;
		v->cap = cap;
	}
	return (char *)v->a + v->size * v->n++;
}

/* qsort/bsearch order of struct ts_request_row by request id. */
int ts_cmp_row_by_id(const void *x, const void *y);

/* The launches of runs a and b (sizes: run a's request rows by id): where
 * the schedules differ (c->div, c->diff), run b's launches (c->launch_b),
 * those outside the window and the cause of the divergence; needs c->cell. */
int ts_cmp_launches(struct ts_reader *r, int64_t a, int64_t b, const struct vec *sizes,
		    struct ts_comparison *c, struct ts_error *err);

#endif
