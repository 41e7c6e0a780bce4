#include "sched/queue.h"

#include <assert.h>
#include <stdlib.h>

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

static int rheap_less(const struct ts_rheap_item *a, const struct ts_rheap_item *b)
{
	return a->key < b->key || (a->key == b->key && a->r < b->r);
}

static void rheap_swap(struct ts_rheap *h, size_t i, size_t j)
{
	struct ts_rheap_item t = h->a[i];
	h->a[i] = h->a[j];
	h->a[j] = t;
}

int ts_rheap_push(struct ts_rheap *h, ts_ns key, int32_t r)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct ts_rheap_item *a = realloc(h->a, cap * sizeof(*a));
		if (!a)
			return TS_ENOMEM;
		h->a = a;
		h->cap = cap;
	}
	size_t i = h->len++;
	h->a[i] = (struct ts_rheap_item){ .key = key, .r = r };
	while (i > 0 && rheap_less(&h->a[i], &h->a[(i - 1) / 2])) {
		rheap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

struct ts_rheap_item ts_rheap_peek(const struct ts_rheap *h)
{
	assert(h->len > 0);
	return h->a[0];
}

struct ts_rheap_item ts_rheap_pop(struct ts_rheap *h)
{
	struct ts_rheap_item top = ts_rheap_peek(h);
	h->a[0] = h->a[--h->len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->len && rheap_less(&h->a[l], &h->a[m]))
			m = l;
		if (r < h->len && rheap_less(&h->a[r], &h->a[m]))
			m = r;
		if (m == i)
			break;
		rheap_swap(h, i, m);
		i = m;
	}
	return top;
}

void ts_rheap_free(struct ts_rheap *h)
{
	free(h->a);
	*h = (struct ts_rheap){0};
}

uint64_t ts_free_aligned_block(uint64_t busy, int gpus, int k)
{
	uint64_t block = k >= 64 ? ~0ULL : ((1ULL << k) - 1);
	for (int start = 0; start + k <= gpus; start += k) {
		uint64_t m = block << start;
		if (!(m & busy))
			return m;
	}
	return 0;
}
