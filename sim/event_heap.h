/* event_heap.h: the simulator's deterministic event queue. Events are ordered
 * by (time, insertion sequence), so two events at the same time come out in
 * the order they went in, as in libuv's timer heap. */
#ifndef TS_EVENT_HEAP_H
#define TS_EVENT_HEAP_H

#include "core/ts_error.h"
#include "core/ts_types.h"

struct ts_event {
	ts_ns t;
	uint64_t seq;       /* assigned by ts_event_heap_push */
	int32_t id;         /* payload: the launch id */
	ts_ns start;        /* payload: launch start */
	ts_ns steps_start;  /* payload: first step start (after a latent move) */
};

/* Caller-owned; zero-initialise before use. */
struct ts_event_heap {
	struct ts_event *a;
	size_t len, cap;
	uint64_t next_seq;
};

/* Inserts ev (its seq is overwritten with the next sequence number).
 * Returns TS_ENOMEM when the heap cannot grow. */
int ts_event_heap_push(struct ts_event_heap *h, struct ts_event ev);

/* Earliest event, or NULL when empty. */
const struct ts_event *ts_event_heap_peek(const struct ts_event_heap *h);

/* Removes the earliest event into *out; returns false when empty. */
bool ts_event_heap_pop(struct ts_event_heap *h, struct ts_event *out);

/* Frees the array; the heap is empty and reusable afterwards. */
void ts_event_heap_free(struct ts_event_heap *h);

#endif
