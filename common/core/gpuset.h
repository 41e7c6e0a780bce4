/* gpuset.h: the vocabulary of GPU sets, written once. A set is a 64-bit
 * mask (bit g = GPU g); the SP groups the schedulers use are aligned
 * power-of-two blocks, GPUs [j*k, (j+1)*k). */
#ifndef TS_GPUSET_H
#define TS_GPUSET_H

#include <stdbool.h>
#include <stdint.h>

/* GPUs in a set. Without the popcnt instruction (a generic x86-64 build)
 * __builtin_popcountll is a call into libgcc, a few percent of a simulation
 * of many launches: counted in registers instead. */
static inline int ts_gpus_count(uint64_t set)
{
#ifdef __POPCNT__
	return __builtin_popcountll(set);
#else
	set -= (set >> 1) & 0x5555555555555555ULL;
	set = (set & 0x3333333333333333ULL) + ((set >> 2) & 0x3333333333333333ULL);
	set = (set + (set >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (int)((set * 0x0101010101010101ULL) >> 56);
#endif
}

/* Lowest GPU of a non-empty set. */
static inline int ts_gpus_first(uint64_t set)
{
	return __builtin_ctzll(set);
}

/* The block of `width` GPUs starting at GPU `base` (width 0..64). */
static inline uint64_t ts_gpus_block(int base, int width)
{
	uint64_t ones = width >= 64 ? ~0ULL : (1ULL << width) - 1;
	return ones << base;
}

/* GPUs 0..n-1 of a node of n GPUs. */
static inline uint64_t ts_gpus_all(int n)
{
	return ts_gpus_block(0, n);
}

/* Is `set` an aligned block: a power-of-two count k starting at a multiple of k? */
static inline bool ts_gpus_is_aligned_block(uint64_t set)
{
	int k = ts_gpus_count(set);
	return k > 0 && (k & (k - 1)) == 0 && ts_gpus_first(set) % k == 0 &&
	       set == ts_gpus_block(ts_gpus_first(set), k);
}

/* The lowest aligned block of k GPUs (k a power of two) inside GPUs
 * 0..gpus-1 with none of its GPUs in `busy`; 0 when there is none. */
uint64_t ts_gpus_find_free_block(uint64_t busy, int gpus, int k);

/* Writes the GPU numbers of `set` as "0,1,2,3" into buf (always
 * NUL-terminated); returns the length the whole list needs. */
int ts_gpus_format(uint64_t set, char *buf, int size);

#endif
