/* ts_kernels_common.cuh: what the element-wise and layout kernels
 * (ts_kernels.cu, ts_attn_layout.cu) share: the bf16 type, the block size,
 * a grid size and a warp sum. Internal to exec/cuda. */
#ifndef TS_KERNELS_COMMON_CUH
#define TS_KERNELS_COMMON_CUH

#include <cuda_bf16.h>
#include <stddef.h>

typedef __nv_bfloat16 bf16;

#define TS_THREADS 256

/* Blocks of per_block threads covering n items, at least 1; capped, so
 * kernels loop over what one grid does not cover. */
static inline unsigned int ts_blocks(size_t n, unsigned int per_block)
{
	size_t b = (n + per_block - 1) / per_block;
	return (unsigned int)(b < 1 ? 1 : (b > 65535u * 16u ? 65535u * 16u : b));
}

/* The sum of v over the 32 lanes of a warp, in every lane. */
__device__ static __forceinline__ float ts_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

#endif
