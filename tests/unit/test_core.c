/* The shared vocabulary of common/core: the (key, sequence) heap, GPU sets,
 * the request FIFO of the baselines. */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "core/gpuset.h"
#include "core/heap.h"
#include "test_util.h"

/* Many equal keys: output by key, ties in insertion order. */
static void test_heap_sorted(void)
{
	struct ts_heap h = { 0 };
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	for (int i = 0; i < 5000; i++)
		TS_CHECK(ts_heap_push(&h, (int64_t)gsl_rng_uniform_int(rng, 50), i) == 0);
	struct ts_heap_node prev = { .key = -1 }, n;
	int count = 0;
	while (ts_heap_pop(&h, &n)) {
		TS_CHECK(n.key >= prev.key);
		if (n.key == prev.key)
			TS_CHECK(n.seq > prev.seq && n.val > prev.val); /* vals were pushed in order */
		prev = n;
		count++;
	}
	TS_CHECK(count == 5000);
	TS_CHECK(ts_heap_peek(&h) == NULL);
	ts_heap_free(&h);
	gsl_rng_free(rng);
}

/* Pushes between pops keep the (key, seq) order. */
static void test_heap_interleaved(void)
{
	struct ts_heap h = { 0 };
	struct ts_heap_node n;
	ts_heap_push(&h, 10, 1);
	ts_heap_push(&h, 5, 2);
	TS_CHECK(ts_heap_pop(&h, &n) && n.val == 2);
	ts_heap_push(&h, 10, 3);
	ts_heap_push(&h, 7, 4);
	TS_CHECK(ts_heap_pop(&h, &n) && n.val == 4);
	TS_CHECK(ts_heap_pop(&h, &n) && n.val == 1); /* same key as 3, pushed first */
	TS_CHECK(ts_heap_pop(&h, &n) && n.val == 3);
	TS_CHECK(!ts_heap_pop(&h, &n));
	ts_heap_free(&h);
}

/* A caller-chosen sequence (a deadline queue: ties by request index). */
static void test_heap_explicit_seq(void)
{
	struct ts_heap h = { 0 };
	int64_t keys[] = { 50, 10, 30, 10, 20, 50, 0 };
	for (int i = 6; i >= 0; i--) /* pushed in reverse: the sequence decides ties */
		TS_CHECK(ts_heap_push_seq(&h, keys[i], (uint64_t)i, i) == 0);
	int expect[] = { 6, 1, 3, 4, 2, 0, 5 };
	struct ts_heap_node n;
	for (int i = 0; i < 7; i++)
		TS_CHECK(ts_heap_pop(&h, &n) && n.val == expect[i]);
	ts_heap_free(&h);
}

static void test_gpu_sets(void)
{
	TS_CHECK(ts_gpus_find_free_block(0, 8, 4) == 0x0f);
	TS_CHECK(ts_gpus_find_free_block(0x01, 8, 4) == 0xf0);
	TS_CHECK(ts_gpus_find_free_block(0x11, 8, 4) == 0);
	TS_CHECK(ts_gpus_find_free_block(0x05, 8, 2) == 0x30); /* 0-1 and 2-3 are taken */
	TS_CHECK(ts_gpus_find_free_block(0, 6, 4) == 0x0f);
	TS_CHECK(ts_gpus_find_free_block(0x0f, 6, 4) == 0);   /* 4-7 is not inside 6 GPUs */
	TS_CHECK(ts_gpus_find_free_block(0, 64, 64) == ~0ULL);
	TS_CHECK(ts_gpus_all(64) == ~0ULL && ts_gpus_all(3) == 7 && ts_gpus_all(0) == 0);
	TS_CHECK(ts_gpus_block(4, 4) == 0xF0 && ts_gpus_block(0, 64) == ~0ULL);
	TS_CHECK(ts_gpus_is_aligned_block(0xF0) && ts_gpus_is_aligned_block(0x4) &&
		 ts_gpus_is_aligned_block(~0ULL));
	TS_CHECK(!ts_gpus_is_aligned_block(0x6) && !ts_gpus_is_aligned_block(0x7) &&
		 !ts_gpus_is_aligned_block(0));
	char buf[200];
	TS_CHECK(ts_gpus_format(0x23, buf, sizeof(buf)) == 5 && !strcmp(buf, "0,1,5"));
	TS_CHECK(ts_gpus_format(1ULL << 63 | 1ULL << 10, buf, sizeof(buf)) == 5 && !strcmp(buf, "10,63"));
	TS_CHECK(ts_gpus_format(~0ULL, buf, sizeof(buf)) == 181 && strlen(buf) == 181);
	TS_CHECK(ts_gpus_format(0x23, buf, 3) == 5 && !strcmp(buf, "0,")); /* cut, terminated */
	TS_CHECK(ts_gpus_format(0, buf, sizeof(buf)) == 0 && buf[0] == '\0');
}

int main(void)
{
	test_heap_sorted();
	test_heap_interleaved();
	test_heap_explicit_seq();
	test_gpu_sets();
	return ts_test_result("core");
}
