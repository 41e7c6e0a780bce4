/* ts_attention_common.cuh: device helpers shared by the two attention
 * kernels (ts_attention.cu: mma.sync; ts_attention_sm90.cu: wgmma):
 * async copies, exp2, bf16 packing, and the token addressing and key mask
 * of the Ulysses layout described in ts_attention.h. Internal to exec/cuda. */
#ifndef TS_ATTENTION_COMMON_CUH
#define TS_ATTENTION_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "ts_attention.h"
}

__device__ static __forceinline__ uint32_t ts_smem_addr(const void *p)
{
	return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16-byte async copy; src_bytes = 0 zero-fills the destination. */
__device__ static __forceinline__ void ts_cp_async16(uint32_t dst, const void *src, int src_bytes)
{
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
		     "r"(src_bytes));
}

__device__ static __forceinline__ void ts_cp_async_commit(void)
{
	asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ static __forceinline__ void ts_cp_async_wait(void)
{
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* 2^x on the special-function unit (ex2.approx: 2 ulp; 2^-inf = 0). */
__device__ static __forceinline__ float ts_exp2(float x)
{
	float y;
	asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
	return y;
}

__device__ static __forceinline__ uint32_t ts_pack_bf16(float lo, float hi)
{
	__nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
	return *(uint32_t *)&v;
}

/* Element offset of token j (0 .. chunks*chunk_tokens-1) of (sample s, head h). */
__device__ static __forceinline__ int64_t ts_attn_row(const struct ts_attn_args &a, int64_t j,
						      int s, int h)
{
	/* 32-bit division: token counts stay far below 2^31 (checked at launch). */
	uint32_t ct = (uint32_t)a.chunk_tokens;
	int64_t c = (uint32_t)j / ct, t = (uint32_t)j % ct;
	return (((c * a.batch + s) * a.chunk_tokens + t) * a.heads + h) * a.head_dim;
}

/* Whether key token j of n is a real (not padding) token. */
__device__ static __forceinline__ bool ts_key_valid(const struct ts_attn_args &a, int64_t j,
						    int64_t n)
{
	if (j >= n)
		return false;
	uint32_t ct = (uint32_t)a.chunk_tokens;
	int64_t c = (uint32_t)j / ct, t = (uint32_t)j % ct;
	if (t < a.txt_tokens)
		return c * a.txt_tokens + t < a.txt_valid;
	return c * (a.chunk_tokens - a.txt_tokens) + (t - a.txt_tokens) < a.img_valid;
}

/* Whether rows j0 .. j0+rows-1 lie in one SP chunk and below n, so that
 * their addresses are linear in the row (almost always). */
__device__ static __forceinline__ bool ts_rows_linear(const struct ts_attn_args &a, int64_t j0,
						      int rows, int64_t n)
{
	const uint32_t ct = (uint32_t)a.chunk_tokens;
	return j0 + rows <= n && (uint32_t)j0 / ct == (uint32_t)(j0 + rows - 1) / ct;
}

/* The wgmma kernel (ts_attention_sm90.cu) for head_dim 64 or 128; the
 * caller has checked the shape and that the device is sm_90. TS_EINVAL when
 * the build has no sm_90a code. */
int ts_attention_wgmma(const struct ts_attn_args *a, cudaStream_t st, struct ts_error *err);

#endif
