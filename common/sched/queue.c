#include "sched/queue.h"

#include <assert.h>
#include <stdlib.h>

#include "core/ts_error.h"

int ts_fifo_push(struct ts_fifo *q, int32_t r)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		int32_t *b = malloc(cap * sizeof(*b));
		if (!b)
			return TS_ENOMEM;
		/* unwrap the ring into the new buffer */
		for (size_t i = 0; i < q->len; i++)
			b[i] = q->buf[(q->head + i) % q->cap];
		free(q->buf);
		q->buf = b;
		q->cap = cap;
		q->head = 0;
	}
	q->buf[(q->head + q->len) % q->cap] = r;
	q->len++;
	return 0;
}

int32_t ts_fifo_peek(const struct ts_fifo *q)
{
	assert(q->len > 0);
	return q->buf[q->head];
}

int32_t ts_fifo_pop(struct ts_fifo *q)
{
	int32_t r = ts_fifo_peek(q);
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return r;
}

void ts_fifo_free(struct ts_fifo *q)
{
	free(q->buf);
	*q = (struct ts_fifo){0};
}
