/* tetri_queue.c: the indexed min-heap of idle requests (tetri_queue.h). */
#include "sched/tetri/tetri_queue.h"

#include <stdlib.h>

#include "core/ts_error.h"

int tetri_iheap_init(struct tetri_iheap *h, size_t n, const ts_ns *key)
{
	*h = (struct tetri_iheap){ .key = key };
	h->a = malloc((n ? n : 1) * sizeof(*h->a));
	h->pos = malloc((n ? n : 1) * sizeof(*h->pos));
	if (!h->a || !h->pos) {
		tetri_iheap_free(h);
		return TS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		h->pos[i] = -1;
	return 0;
}

void tetri_iheap_free(struct tetri_iheap *h)
{
	free(h->a);
	free(h->pos);
	*h = (struct tetri_iheap){ 0 };
}

static bool before(const struct tetri_iheap *h, int32_t x, int32_t y)
{
	return h->key[x] < h->key[y] || (h->key[x] == h->key[y] && x < y);
}

static void place(struct tetri_iheap *h, int32_t i, int32_t r)
{
	h->a[i] = r;
	h->pos[r] = i;
}

static void sift_up(struct tetri_iheap *h, int32_t i)
{
	int32_t r = h->a[i];

	while (i > 0 && before(h, r, h->a[(i - 1) / 2])) {
		place(h, i, h->a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	place(h, i, r);
}

static void sift_down(struct tetri_iheap *h, int32_t i)
{
	int32_t r = h->a[i];

	for (;;) {
		int32_t l = 2 * i + 1, m = l;
		if (l >= h->len)
			break;
		if (l + 1 < h->len && before(h, h->a[l + 1], h->a[l]))
			m = l + 1;
		if (!before(h, h->a[m], r))
			break;
		place(h, i, h->a[m]);
		i = m;
	}
	place(h, i, r);
}

void tetri_iheap_push(struct tetri_iheap *h, int32_t r)
{
	place(h, h->len++, r);
	sift_up(h, h->len - 1);
}

void tetri_iheap_remove(struct tetri_iheap *h, int32_t r)
{
	int32_t i = h->pos[r], last;

	if (i < 0)
		return;
	h->pos[r] = -1;
	last = h->a[--h->len];
	if (i == h->len)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, h->pos[last]);
}

int32_t tetri_iheap_pop(struct tetri_iheap *h)
{
	int32_t r = tetri_iheap_top(h);

	if (r >= 0)
		tetri_iheap_remove(h, r);
	return r;
}
