/* Baseline queues and GPU-block search. */
#include "sched/queue.h"
#include "test_util.h"

static void test_fifo(void)
{
	struct ts_fifo q = { 0 };
	for (int i = 0; i < 100; i++)
		TS_CHECK(ts_fifo_push(&q, i) == 0);
	for (int i = 0; i < 60; i++)
		TS_CHECK(ts_fifo_pop(&q) == i);
	for (int i = 100; i < 300; i++) /* grows while wrapped */
		TS_CHECK(ts_fifo_push(&q, i) == 0);
	for (int i = 60; i < 300; i++)
		TS_CHECK(ts_fifo_pop(&q) == i);
	TS_CHECK(q.len == 0);
	ts_fifo_free(&q);
}

static void test_rheap(void)
{
	struct ts_rheap h = { 0 };
	ts_ns keys[] = { 50, 10, 30, 10, 20, 50, 0 };
	for (int i = 0; i < 7; i++)
		TS_CHECK(ts_rheap_push(&h, keys[i], i) == 0);
	int expect[] = { 6, 1, 3, 4, 2, 0, 5 }; /* by key, ties by index */
	for (int i = 0; i < 7; i++)
		TS_CHECK(ts_rheap_pop(&h).r == expect[i]);
	ts_rheap_free(&h);
}

static void test_blocks(void)
{
	TS_CHECK(ts_free_aligned_block(0, 8, 4) == 0x0f);
	TS_CHECK(ts_free_aligned_block(0x01, 8, 4) == 0xf0);
	TS_CHECK(ts_free_aligned_block(0x11, 8, 4) == 0);
	TS_CHECK(ts_free_aligned_block(0x05, 8, 2) == 0x30); /* 0-1 and 2-3 are taken */
	TS_CHECK(ts_free_aligned_block(0, 6, 4) == 0x0f);
	TS_CHECK(ts_free_aligned_block(0x0f, 6, 4) == 0);   /* 4-7 is not inside 6 GPUs */
	TS_CHECK(ts_free_aligned_block(0, 64, 64) == ~0ULL);
	TS_CHECK(ts_all_gpus(64) == ~0ULL && ts_all_gpus(3) == 7);
}

int main(void)
{
	test_fifo();
	test_rheap();
	test_blocks();
	return ts_test_result("sched_queue");
}
