/* heap.c: the (key, sequence) min-heap (see heap.h). */
#include "core/heap.h"

#include <stdlib.h>

#include "core/ts_error.h"

static bool node_before(const struct ts_heap_node *a, const struct ts_heap_node *b)
{
	return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

int ts_heap_push_seq(struct ts_heap *h, int64_t key, uint64_t seq, int64_t val)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct ts_heap_node *a = realloc(h->a, cap * sizeof(*a));
		if (!a)
			return TS_ENOMEM;
		h->a = a;
		h->cap = cap;
	}
	struct ts_heap_node n = { .key = key, .seq = seq, .val = val };
	size_t i = h->len++;
	while (i > 0 && node_before(&n, &h->a[(i - 1) / 2])) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = n;
	return 0;
}

int ts_heap_push(struct ts_heap *h, int64_t key, int64_t val)
{
	int rc = ts_heap_push_seq(h, key, h->next_seq, val);
	if (!rc)
		h->next_seq++;
	return rc;
}

const struct ts_heap_node *ts_heap_peek(const struct ts_heap *h)
{
	return h->len ? &h->a[0] : NULL;
}

bool ts_heap_pop(struct ts_heap *h, struct ts_heap_node *out)
{
	if (!h->len)
		return false;
	*out = h->a[0];
	struct ts_heap_node last = h->a[--h->len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const struct ts_heap_node *best = &last;
		if (l < h->len && node_before(&h->a[l], best)) {
			m = l;
			best = &h->a[l];
		}
		if (l + 1 < h->len && node_before(&h->a[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		h->a[i] = h->a[m];
		i = m;
	}
	if (h->len)
		h->a[i] = last;
	return true;
}

void ts_heap_free(struct ts_heap *h)
{
	free(h->a);
	*h = (struct ts_heap){ 0 };
}
