/* tetri_queue.h: private to the tetriserve policy: a min-heap of request
 * indices with removal by index, ordered by (key[r], r), for the queues
 * of idle requests (by deadline, and by the time each turns late). All
 * memory is allocated by init, so the plan call never allocates. */
#ifndef TS_TETRI_QUEUE_H
#define TS_TETRI_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ts_types.h"

struct tetri_iheap {
	int32_t *a;          /* heap of request indices */
	int32_t *pos;        /* pos[r]: index of r in a, -1 when absent */
	int32_t len;
	const ts_ns *key;    /* key[r], owned by the caller */
};

/* Room for requests 0..n-1 keyed by key[] (which must outlive the heap).
 * Returns 0 or TS_ENOMEM. */
int tetri_iheap_init(struct tetri_iheap *h, size_t n, const ts_ns *key);

/* Frees the arrays; safe on a zeroed heap. */
void tetri_iheap_free(struct tetri_iheap *h);

/* Whether r is in the heap. */
static inline bool tetri_iheap_has(const struct tetri_iheap *h, int32_t r)
{
	return h->pos[r] >= 0;
}

/* Inserts r (not in the heap) with its current key[r]. */
void tetri_iheap_push(struct tetri_iheap *h, int32_t r);

/* The request of least (key, index), -1 when empty. */
static inline int32_t tetri_iheap_top(const struct tetri_iheap *h)
{
	return h->len ? h->a[0] : -1;
}

/* Removes r when it is in the heap. */
void tetri_iheap_remove(struct tetri_iheap *h, int32_t r);

/* Removes and returns the top, -1 when empty. */
int32_t tetri_iheap_pop(struct tetri_iheap *h);

#endif
