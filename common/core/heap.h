/* heap.h: the one binary min-heap of the project, ordered by (key,
 * sequence): the simulator's event queue (key = time, sequence = insertion
 * order, as libuv's timer heap) and the policies' deadline queues (key =
 * deadline, sequence = request index) use it. Deterministic: equal keys come
 * out in sequence order. */
#ifndef TS_HEAP_H
#define TS_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_heap_node {
	int64_t key;
	uint64_t seq;
	int64_t val;   /* payload: a request index, a launch id */
};

/* Caller-owned; zero-initialise before use. */
struct ts_heap {
	struct ts_heap_node *a;
	size_t len, cap;
	uint64_t next_seq;   /* sequence of the next ts_heap_push */
};

/* Inserts (key, next insertion sequence, val). Returns 0, or TS_ENOMEM
 * when the heap cannot grow (it is unchanged then). */
int ts_heap_push(struct ts_heap *h, int64_t key, int64_t val);

/* Inserts (key, seq, val) with a sequence chosen by the caller. */
int ts_heap_push_seq(struct ts_heap *h, int64_t key, uint64_t seq, int64_t val);

/* The smallest node, or NULL when the heap is empty. */
const struct ts_heap_node *ts_heap_peek(const struct ts_heap *h);

/* Removes the smallest node into *out; false when the heap is empty. */
bool ts_heap_pop(struct ts_heap *h, struct ts_heap_node *out);

/* Frees the array; the heap is empty and reusable afterwards. */
void ts_heap_free(struct ts_heap *h);

#endif
