/* Event heap: ordering by time, ties in insertion order, interleaved use. */
#include <gsl/gsl_rng.h>

#include "event_heap.h"
#include "test_util.h"

static void test_sorted_output(void)
{
	struct ts_event_heap h = { 0 };
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	for (int i = 0; i < 5000; i++) {
		/* few distinct times, so many ties */
		struct ts_event ev = { .t = (ts_ns)gsl_rng_uniform_int(rng, 50), .id = i };
		TS_CHECK(ts_event_heap_push(&h, ev) == 0);
	}
	struct ts_event prev = { .t = -1 }, ev;
	int n = 0;
	while (ts_event_heap_pop(&h, &ev)) {
		TS_CHECK(ev.t >= prev.t);
		if (ev.t == prev.t) {
			TS_CHECK(ev.seq > prev.seq);
			TS_CHECK(ev.id > prev.id); /* ids were pushed in order */
		}
		prev = ev;
		n++;
	}
	TS_CHECK(n == 5000);
	TS_CHECK(ts_event_heap_peek(&h) == NULL);
	ts_event_heap_free(&h);
	gsl_rng_free(rng);
}

static void test_interleaved(void)
{
	/* pushes between pops keep the order of (t, seq) */
	struct ts_event_heap h = { 0 };
	ts_event_heap_push(&h, (struct ts_event){ .t = 10, .id = 1 });
	ts_event_heap_push(&h, (struct ts_event){ .t = 5, .id = 2 });
	struct ts_event ev;
	TS_CHECK(ts_event_heap_pop(&h, &ev) && ev.id == 2);
	ts_event_heap_push(&h, (struct ts_event){ .t = 10, .id = 3 });
	ts_event_heap_push(&h, (struct ts_event){ .t = 7, .id = 4 });
	TS_CHECK(ts_event_heap_pop(&h, &ev) && ev.id == 4);
	TS_CHECK(ts_event_heap_pop(&h, &ev) && ev.id == 1); /* same t as 3, pushed first */
	TS_CHECK(ts_event_heap_pop(&h, &ev) && ev.id == 3);
	TS_CHECK(!ts_event_heap_pop(&h, &ev));
	ts_event_heap_free(&h);
}

int main(void)
{
	test_sorted_output();
	test_interleaved();
	return ts_test_result("event_heap");
}
