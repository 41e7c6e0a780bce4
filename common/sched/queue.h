/* queue.h: the FIFO of request indices the baselines serve in arrival
 * order (deadline order uses core/heap.h). */
#ifndef TS_QUEUE_H
#define TS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

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

#endif
