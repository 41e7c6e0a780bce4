/* test_tetri_place.c: aligned GPU blocks, placement preservation, growth. */
#include <gsl/gsl_rng.h>

#include "core/ts_types.h"
#include "sched/tetri/tetri_place.h"
#include "test_util.h"

/* Whether mask is exactly one aligned block of a power-of-two width. */
static bool is_block(uint64_t mask)
{
	int32_t w = ts_gpus_count(mask);
	int32_t base;

	if (mask == 0 || ts_deg_index(w) < 0)
		return false;
	base = __builtin_ctzll(mask);
	return base % w == 0 && ts_gpus_block(base, w) == mask;
}

static void test_blocks(void)
{
	TS_CHECK(ts_gpus_block(4, 4) == 0xF0);
	TS_CHECK(ts_gpus_block(0, 64) == ~0ULL);
	TS_CHECK(is_block(0xF0) && is_block(0x4) && is_block(~0ULL));
	TS_CHECK(!is_block(0x3C));   /* 4 GPUs at 2..5: not aligned */
	TS_CHECK(!is_block(0x7) && !is_block(0));
	/* lowest free aligned block */
	TS_CHECK(ts_tetri_find_block(0xFF & ~0x1ULL, 8, 2, 0, 0) == 0xC);
	/* the previous block wins when free */
	TS_CHECK(ts_tetri_find_block(0xFF, 8, 2, 0x30, 0) == 0x30);
	/* avoid blocks others want back, then prefer overlap with prev */
	TS_CHECK(ts_tetri_find_block(0xFF, 8, 4, 0x1, 0x10) == 0x0F);
	TS_CHECK(ts_tetri_find_block(0xFF, 8, 2, 0x10, 0x3) == 0x30);
	/* the previous GPU stays unless it splits a bigger free block than the
	 * alternative: GPU 5 would split the free 4-block 4-7, GPU 1 nothing;
	 * with GPU 4 busy, GPU 5 splits nothing either and stays */
	TS_CHECK(ts_tetri_find_block(0xF3 & ~0x1ULL, 8, 1, 0x20, 0) == 0x2);
	TS_CHECK(ts_tetri_find_block(0xFF & ~0x1ULL, 8, 1, 0x20, 0) == 0x2);
	TS_CHECK(ts_tetri_find_block(0xFF & ~0x11ULL, 8, 1, 0x20, 0) == 0x20);
	/* a node of 6: no 4-block at 4..7 */
	TS_CHECK(ts_tetri_find_block(0x3F & ~0x1ULL, 6, 4, 0, 0) == 0);
	TS_CHECK(ts_tetri_find_block(0x3F, 6, 8, 0, 0) == 0);
}

/* On an idle node, any widths summing to <= N place, disjoint and aligned. */
static void test_place_random(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

	gsl_rng_set(rng, 3);
	for (int it = 0; it < 20000; it++) {
		int32_t gpus = 1 + (int32_t)gsl_rng_uniform_int(rng, 64);
		struct ts_tetri_slot s[TS_MAX_GPUS];
		int32_t n = 0, sum = 0;
		bool preserve = it % 2;
		uint64_t free = ts_gpus_block(0, gpus), seen = 0;
		while (n < TS_MAX_GPUS) {
			int32_t w = 1 << gsl_rng_uniform_int(rng, 7);
			if (sum + w > gpus)
				break;
			int32_t base = (int32_t)gsl_rng_uniform_int(rng, 64 / (unsigned)w) * w;
			uint64_t prev = gsl_rng_uniform(rng) < 0.7 && base + w <= gpus ? ts_gpus_block(base, w) : 0;
			s[n++] = (struct ts_tetri_slot){ .width = w, .prev = prev };
			sum += w;
		}
		TS_CHECK(ts_tetri_place(s, n, &free, gpus, preserve) == n);
		for (int32_t i = 0; i < n; i++) {
			TS_CHECK(is_block(s[i].gpus) && ts_gpus_count(s[i].gpus) == s[i].width);
			TS_CHECK((s[i].gpus & seen) == 0);
			TS_CHECK((s[i].gpus & ~ts_gpus_block(0, gpus)) == 0);
			seen |= s[i].gpus;
		}
		TS_CHECK(free == (ts_gpus_block(0, gpus) & ~seen));
	}
	gsl_rng_free(rng);
}

static void test_preservation(void)
{
	/* three requests that ran on 0-1, 2-3 and 4-7 keep their GPUs, even
	 * though lowest-first would shuffle them */
	struct ts_tetri_slot s[3] = {
		{ .width = 2, .prev = 0xC }, { .width = 2, .prev = 0x3 }, { .width = 4, .prev = 0xF0 },
	};
	uint64_t free = 0xFF;
	TS_CHECK(ts_tetri_place(s, 3, &free, 8, true) == 3);
	TS_CHECK(s[0].gpus == 0xC && s[1].gpus == 0x3 && s[2].gpus == 0xF0 && free == 0);
	/* without preservation the widest goes lowest */
	free = 0xFF;
	ts_tetri_place(s, 3, &free, 8, false);
	TS_CHECK(s[2].gpus == 0x0F && s[0].gpus == 0x30 && s[1].gpus == 0xC0);
	/* a 4-wide newcomer steers clear of a 1-wide request's old GPU */
	struct ts_tetri_slot t[2] = { { .width = 1, .prev = 0x2 }, { .width = 4, .prev = 0 } };
	free = 0xFF;
	ts_tetri_place(t, 2, &free, 8, true);
	TS_CHECK(t[1].gpus == 0xF0 && t[0].gpus == 0x2);
	/* busy GPUs can leave a slot unplaced */
	struct ts_tetri_slot u[1] = { { .width = 4 } };
	free = 0xFF & ~0x11ULL;
	TS_CHECK(ts_tetri_place(u, 1, &free, 8, true) == 0 && u[0].gpus == 0);
}

static void test_grow(void)
{
	/* buddy free: grow in place */
	TS_CHECK(ts_tetri_grow(0x2, 8, 0x1) == 0x3);
	TS_CHECK(ts_tetri_grow(0xF0 | 0xC, 8, 0x3) == 0xF);
	/* buddy busy: move to another free block of twice the width */
	TS_CHECK(ts_tetri_grow(0xF0, 8, 0x1) == 0x30);
	/* nothing free or wider than the node */
	TS_CHECK(ts_tetri_grow(0, 8, 0x1) == 0);
	TS_CHECK(ts_tetri_grow(0, 8, 0xFF) == 0);
	/* node of 6: GPUs 4-5 cannot grow to a 4-block */
	TS_CHECK(ts_tetri_grow(0x0F, 6, 0x30) == 0x0F);
	TS_CHECK(ts_tetri_grow(0x07, 6, 0x30) == 0);
}

int main(void)
{
	test_blocks();
	test_place_random();
	test_preservation();
	test_grow();
	return ts_test_result("tetri_place");
}
