#include "event_heap.h"

#include <stdlib.h>

static bool ev_before(const struct ts_event *a, const struct ts_event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

int ts_event_heap_push(struct ts_event_heap *h, struct ts_event ev)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct ts_event *a = realloc(h->a, cap * sizeof(*a));
		if (!a)
			return TS_ENOMEM;
		h->a = a;
		h->cap = cap;
	}
	ev.seq = h->next_seq++;
	size_t i = h->len++;
	while (i > 0 && ev_before(&ev, &h->a[(i - 1) / 2])) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = ev;
	return 0;
}

const struct ts_event *ts_event_heap_peek(const struct ts_event_heap *h)
{
	return h->len ? &h->a[0] : NULL;
}

bool ts_event_heap_pop(struct ts_event_heap *h, struct ts_event *out)
{
	if (!h->len)
		return false;
	*out = h->a[0];
	struct ts_event last = h->a[--h->len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const struct ts_event *best = &last;
		if (l < h->len && ev_before(&h->a[l], best)) {
			m = l;
			best = &h->a[l];
		}
		if (l + 1 < h->len && ev_before(&h->a[l + 1], best))
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

void ts_event_heap_free(struct ts_event_heap *h)
{
	free(h->a);
	h->a = NULL;
	h->len = h->cap = 0;
}
