/* queue.h: request queues used by the baseline policies: a FIFO of request
 * indices and a min-heap of request indices keyed by a time (EDF). */
#ifndef TS_QUEUE_H
#define TS_QUEUE_H

#include "core/ts_error.h"
#include "core/ts_types.h"

/* Growable ring buffer of request indices. Zero-initialise before use. */
struct ts_fifo {
	int32_t *buf;
	size_t cap, head, len;
};

/* Appends r at the tail; TS_ENOMEM on allocation failure. */
int ts_fifo_push(struct ts_fifo *q, int32_t r);
/* Head element; q must not be empty. */
int32_t ts_fifo_peek(const struct ts_fifo *q);
/* Removes and returns the head; q must not be empty. */
int32_t ts_fifo_pop(struct ts_fifo *q);
/* Frees the buffer and zeroes q. */
void ts_fifo_free(struct ts_fifo *q);

/* Binary min-heap of (key, request index); ties broken by the smaller index,
 * so the order is deterministic. Zero-initialise before use. */
struct ts_rheap_item {
	ts_ns key;
	int32_t r;
};
struct ts_rheap {
	struct ts_rheap_item *a;
	size_t len, cap;
};

/* Inserts r with key; TS_ENOMEM on allocation failure. */
int ts_rheap_push(struct ts_rheap *h, ts_ns key, int32_t r);
/* Smallest item; h must not be empty. */
struct ts_rheap_item ts_rheap_peek(const struct ts_rheap *h);
/* Removes and returns the smallest item; h must not be empty. */
struct ts_rheap_item ts_rheap_pop(struct ts_rheap *h);
/* Frees the array and zeroes h. */
void ts_rheap_free(struct ts_rheap *h);

/* The lowest-numbered block of k GPUs aligned to k (GPUs [j*k, j*k+k)) inside
 * 0..gpus-1 with none of its GPUs in busy; 0 when there is none. k must be a
 * power of two. */
uint64_t ts_free_aligned_block(uint64_t busy, int gpus, int k);

/* Mask of GPUs 0..gpus-1. */
static inline uint64_t ts_all_gpus(int gpus)
{
	return gpus >= 64 ? ~0ULL : ((1ULL << gpus) - 1);
}

#endif
