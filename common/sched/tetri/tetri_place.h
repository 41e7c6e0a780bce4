/* tetri_place.h: concrete GPU sets for chosen SP widths.
 *
 * Allowed sets are aligned power-of-two blocks: width k sits on GPUs
 * [j*k, (j+1)*k). On NVLink-paired and NVSwitch nodes these are the groups
 * whose members share the closest links, one NCCL communicator per block can
 * be built ahead of time, and (as in a buddy allocator) placing widths in
 * descending order never fragments: any set of widths whose sum fits the
 * free GPUs of an otherwise idle node finds blocks. */
#ifndef TS_TETRI_PLACE_H
#define TS_TETRI_PLACE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/gpuset.h"

/* An aligned block of `width` GPUs (a power of two) among GPUs 0..gpus-1,
 * all of them in `idle`; 0 when none. The choice among the blocks: fewest GPUs
 * in `avoid`, then most GPUs of `prev`, then lowest index. The block equal
 * to `prev` wins over that choice unless taking it would split a larger
 * all-free aligned block than the choice does (so keeping a request in
 * place never costs a wider request its block). */
uint64_t ts_tetri_find_block(uint64_t idle, int32_t gpus, int32_t width, uint64_t prev,
			     uint64_t avoid);

/* One request to place: in `width` and `prev` (its last GPU set, 0 if none),
 * out `gpus` (0 when it could not be placed). */
struct ts_tetri_slot {
	int32_t width;
	uint64_t prev;
	uint64_t gpus;
};

/* Places the n (<= 64) slots in descending width (ties: lower index first),
 * removing the chosen blocks from *idle. With `preserve` each slot prefers
 * its previous block and avoids the previous blocks of slots not yet placed
 * (placement preservation); without it, lowest free block first. Returns the
 * number placed: all of them when *idle was a union of aligned blocks at
 * least as wide as every slot (e.g. an idle node) and the widths fit. */
int32_t ts_tetri_place(struct ts_tetri_slot *s, int32_t n, uint64_t *idle, int32_t gpus,
		       bool preserve);

/* A block of twice the width of block `cur` for a scale-up: the aligned
 * block containing cur when its other half is free, else any free one
 * (idle | cur counted as idle); 0 when none or the width would pass gpus. */
uint64_t ts_tetri_grow(uint64_t idle, int32_t gpus, uint64_t cur);

#endif
