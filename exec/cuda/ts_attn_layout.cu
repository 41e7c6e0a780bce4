/* ts_attn_layout.cu: the layouts around attention: q/k RMSNorm, RoPE and
 * the Ulysses send layout before it (ts_k_qkv_prepare), the inverse after
 * it (ts_k_attn_unscatter). See ts_kernels.h. */
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "ts_cuda_check.cuh"
#include "ts_kernels_common.cuh"

extern "C" {
#include "ts_kernels.h"
}

/* Row (sample s, local token t) of a two-segment token layout. */
__device__ static int64_t ts_seg_row(int64_t s, int64_t t, int64_t txt_tokens,
				     int64_t txt_sample_rows, int64_t img_sample_rows,
				     int *is_img)
{
	*is_img = t >= txt_tokens;
	return *is_img ? s * img_sample_rows + (t - txt_tokens) : s * txt_sample_rows + t;
}

/* Up to 4 elements of one head vector per lane (head_dim <= 128). */
#define TS_QK_MAX 4
/* A warp's work should come to at least this many warps per call, so that
 * short sequences still fill the GPU (heads are then split across warps). */
#define TS_QK_MIN_WARPS 32768

/* What k_qkv_prepare needs beyond the caller's struct: the inverse RoPE
 * frequency of each pair (computed once, in double, on the host) and how
 * many heads one warp prepares. */
struct ts_qkv_kernel {
	struct ts_qkv_prep p;
	int heads_per_warp;
	float inv_freq[TS_QK_MAX * 32 / 2];
};

__device__ static void ts_rms_norm_lane(float *v, int e, const bf16 *w, int d0, int head_dim)
{
	float sq = 0.0f;
	for (int i = 0; i < e; i++)
		sq += v[i] * v[i];
	float r = rsqrtf(ts_warp_sum(sq) / head_dim + 1e-6f);
	for (int i = 0; i < e; i++)
		v[i] = v[i] * r * __bfloat162float(w[d0 + i]);
}

/* FLUX RoPE: the pair (d, d+1) of axis a rotates by pos[a] * inv_freq[pair],
 * inv_freq = theta^(-2j/dim_a), j the pair's index within its axis. The
 * cos and sin of the lane's pairs, the same for every head and for q and k. */
__device__ static void ts_rope_angles(float *cs, float *sn, int e, int d0, const int64_t pos[3],
				      const struct ts_qkv_kernel *k)
{
	for (int i = 0; i < e; i += 2) {
		int pair = (d0 + i) / 2, a = 0, start = 0;
		while (a < 2 && pair >= start + k->p.rope_axes[a] / 2) {
			start += k->p.rope_axes[a] / 2;
			a++;
		}
		sincosf((float)pos[a] * k->inv_freq[pair], &sn[i / 2], &cs[i / 2]);
	}
}

__device__ static void ts_rope_apply(float *v, int e, const float *cs, const float *sn)
{
	for (int i = 0; i < e; i += 2) {
		float x0 = v[i], x1 = v[i + 1];
		v[i] = x0 * cs[i / 2] - x1 * sn[i / 2];
		v[i + 1] = x0 * sn[i / 2] + x1 * cs[i / 2];
	}
}

/* E (2 or 4) consecutive bf16 of a lane as floats: one 4- or 8-byte access
 * when VEC (the caller checked the alignment), else element by element. */
template <int E, bool VEC>
__device__ static void ts_load_lane(float *v, const bf16 *at)
{
	if (VEC) {
		union { uint2 u; __nv_bfloat162 h[2]; } x;
		if (E == 4)
			x.u = *(const uint2 *)at;
		else
			x.u.x = *(const unsigned int *)at;
		for (int i = 0; i < E / 2; i++) {
			float2 f = __bfloat1622float2(x.h[i]);
			v[2 * i] = f.x, v[2 * i + 1] = f.y;
		}
	} else {
		for (int i = 0; i < E; i++)
			v[i] = __bfloat162float(at[i]);
	}
}

template <int E, bool VEC>
__device__ static void ts_store_lane(bf16 *at, const float *v)
{
	if (VEC) {
		union { uint2 u; __nv_bfloat162 h[2]; } x;
		for (int i = 0; i < E / 2; i++)
			x.h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
		if (E == 4)
			*(uint2 *)at = x.u;
		else
			*(unsigned int *)at = x.u.x;
	} else {
		for (int i = 0; i < E; i++)
			at[i] = __float2bfloat16(v[i]);
	}
}

/* One warp per (sample, token, group of heads_per_warp heads): the RoPE
 * angles depend on the token only, so they are computed once for the
 * group's q and k (per head and per q/k, sincosf and powf dominated the
 * kernel: 48 ms of a 710 ms FLUX 2048² step). E elements per lane, read
 * and written as one access each when VEC. */
template <int E, bool VEC>
__global__ static void k_qkv_prepare(struct ts_qkv_kernel k)
{
	const struct ts_qkv_prep *p = &k.p;
	int64_t tokens = p->txt_tokens + p->img_tokens;
	int groups = p->heads / k.heads_per_warp;
	int64_t w = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
	int lane = threadIdx.x & 31;
	if (w >= (int64_t)p->batch * tokens * groups)
		return;
	int h0 = (int)(w % groups) * k.heads_per_warp;
	int64_t t = (w / groups) % tokens, s = w / groups / tokens;
	int is_img;
	int64_t row = ts_seg_row(s, t, p->txt_tokens, p->txt_sample_rows, p->img_sample_rows, &is_img);
	const bf16 *src = (const bf16 *)(is_img ? p->src_img : p->src_txt) + row * p->src_ld;
	int d0 = lane * E;
	int hl_n = p->heads / p->ranks;
	bool rotate = p->rope && is_img;
	float cs[E / 2], sn[E / 2];
	if (rotate) {
		int64_t gi = p->img_off + t - p->txt_tokens;
		int64_t pos[3] = {0, gi / p->img_cols, gi % p->img_cols};
		ts_rope_angles(cs, sn, E, d0, pos, &k);
	}
	int64_t stride = (int64_t)p->heads * p->head_dim;
	const bf16 *norm[2] = {(const bf16 *)(is_img ? p->qn_img : p->qn_txt),
			       (const bf16 *)(is_img ? p->kn_img : p->kn_txt)};
	bf16 *out[3] = {(bf16 *)p->q, (bf16 *)p->k, (bf16 *)p->v};
	for (int h = h0; h < h0 + k.heads_per_warp; h++) {
		int r = h / hl_n, hl = h % hl_n;
		int64_t dst = (((int64_t)r * p->batch + s) * tokens + t) * hl_n * p->head_dim +
			      (int64_t)hl * p->head_dim + d0;
		float v[3][E];
		for (int which = 0; which < 3; which++) /* every load before any store */
			ts_load_lane<E, VEC>(v[which], src + which * stride + (int64_t)h * p->head_dim + d0);
		for (int which = 0; which < 3; which++) {
			if (which < 2 && norm[which])
				ts_rms_norm_lane(v[which], E, norm[which], d0, p->head_dim);
			if (which < 2 && rotate)
				ts_rope_apply(v[which], E, cs, sn);
			ts_store_lane<E, VEC>(out[which] + dst, v[which]);
		}
	}
}

/* The largest divisor of heads that still gives TS_QK_MIN_WARPS warps. */
static int qkv_heads_per_warp(const struct ts_qkv_prep *p)
{
	int64_t per_head = (int64_t)p->batch * (p->txt_tokens + p->img_tokens);
	for (int g = p->heads; g > 1; g--)
		if (p->heads % g == 0 && per_head * (p->heads / g) >= TS_QK_MIN_WARPS)
			return g;
	return 1;
}

/* Whether every lane's E = head_dim / 32 elements start on a multiple of
 * E elements in the sources and the destinations (then each is one access). */
static bool qkv_lane_aligned(const struct ts_qkv_prep *p)
{
	uintptr_t bytes = (uintptr_t)(p->head_dim / 32) * 2;
	const void *at[] = {p->src_txt, p->src_img, p->q, p->k, p->v};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		if ((uintptr_t)at[i] % bytes)
			return false;
	return p->src_ld % (p->head_dim / 32) == 0;
}

/* theta^(-2j/dim_a) for every pair, j the pair's index within its axis. */
static void qkv_inv_freq(const struct ts_qkv_prep *p, float *inv_freq)
{
	for (int a = 0, pair = 0; a < 3; a++)
		for (int j = 0; j < p->rope_axes[a] / 2; j++, pair++)
			inv_freq[pair] = (float)pow((double)p->rope_theta, -2.0 * j / p->rope_axes[a]);
}

extern "C" int ts_k_qkv_prepare(const struct ts_qkv_prep *p, void *stream, struct ts_error *err)
{
	if ((p->head_dim != 64 && p->head_dim != 128) || p->ranks < 1 || p->heads % p->ranks)
		return ts_err_set(err, TS_EINVAL, "qkv_prepare: head_dim %d (64 or 128) or heads %d not divisible by %d ranks",
				  p->head_dim, p->heads, p->ranks);
	if (p->rope && (p->img_cols < 1 || p->rope_axes[0] < 0 || p->rope_axes[1] < 0 ||
			p->rope_axes[2] < 0 || ((p->rope_axes[0] | p->rope_axes[1] | p->rope_axes[2]) & 1) ||
			p->rope_axes[0] + p->rope_axes[1] + p->rope_axes[2] != p->head_dim))
		return ts_err_set(err, TS_EINVAL, "qkv_prepare: RoPE axes %d+%d+%d are not even dims summing to head_dim %d",
				  p->rope_axes[0], p->rope_axes[1], p->rope_axes[2], p->head_dim);
	struct ts_qkv_kernel k = {};
	k.p = *p;
	k.heads_per_warp = qkv_heads_per_warp(p);
	if (p->rope)
		qkv_inv_freq(p, k.inv_freq);
	int64_t warps = (int64_t)p->batch * (p->txt_tokens + p->img_tokens) * (p->heads / k.heads_per_warp);
	if (warps == 0)
		return 0; /* no tokens: nothing to prepare (a grid of 0 blocks is an error) */
	unsigned int blocks = (unsigned int)((warps + TS_THREADS / 32 - 1) / (TS_THREADS / 32));
	cudaStream_t st = (cudaStream_t)stream;
	bool vec = qkv_lane_aligned(p);
	if (p->head_dim == 128 && vec)
		k_qkv_prepare<4, true><<<blocks, TS_THREADS, 0, st>>>(k);
	else if (p->head_dim == 128)
		k_qkv_prepare<4, false><<<blocks, TS_THREADS, 0, st>>>(k);
	else if (vec)
		k_qkv_prepare<2, true><<<blocks, TS_THREADS, 0, st>>>(k);
	else
		k_qkv_prepare<2, false><<<blocks, TS_THREADS, 0, st>>>(k);
	TS_CUDA_LAUNCHED("k_qkv_prepare", err);
	return 0;
}

/* I: the index type; 32-bit where every index fits (64-bit divisions
 * made the copy about twice its bandwidth time). */
template <typename I>
__global__ static void k_attn_unscatter(struct ts_attn_unscatter p)
{
	I tokens = (I)(p.txt_tokens + p.img_tokens);
	I per_head = p.head_dim / 8;
	I n = (I)p.batch * tokens * p.heads * per_head;
	I hl_n = p.heads / p.ranks;
	for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
		I c = (i % per_head) * 8;
		I h = (i / per_head) % p.heads;
		I t = (i / per_head / p.heads) % tokens;
		I s = i / per_head / p.heads / tokens;
		I r = h / hl_n, hl = h % hl_n;
		const bf16 *src = (const bf16 *)p.src + (((I)r * p.batch + s) * tokens + t) * hl_n * p.head_dim +
				  hl * p.head_dim + c;
		int is_img;
		int64_t row = ts_seg_row(s, t, p.txt_tokens, p.txt_sample_rows, p.img_sample_rows, &is_img);
		bf16 *dst = (bf16 *)(is_img ? p.dst_img : p.dst_txt) + row * p.dst_ld + (int64_t)h * p.head_dim + c;
		*(uint4 *)dst = *(const uint4 *)src;
	}
}

extern "C" int ts_k_attn_unscatter(const struct ts_attn_unscatter *p, void *stream,
				   struct ts_error *err)
{
	if (p->head_dim % 8 || p->ranks < 1 || p->heads % p->ranks || p->dst_ld % 8)
		return ts_err_set(err, TS_EINVAL, "attn_unscatter: head_dim %d, heads %d, ranks %d, ld %lld not aligned",
				  p->head_dim, p->heads, p->ranks, (long long)p->dst_ld);
	size_t n = (size_t)p->batch * (p->txt_tokens + p->img_tokens) * p->heads * (p->head_dim / 8);
	/* the source holds n * 8 elements, the largest index a 32-bit copy forms */
	if ((uint64_t)n * 8 < INT32_MAX)
		k_attn_unscatter<int32_t><<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(*p);
	else
		k_attn_unscatter<int64_t><<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(*p);
	TS_CUDA_LAUNCHED("k_attn_unscatter", err);
	return 0;
}

