/* ts_kernels.cu: element-wise kernels of the DiT step and the latent/token
 * layouts (attention's layouts: ts_attn_layout.cu). Every kernel computes
 * in fp32 and stores bf16 (or fp32 for the latent). */
#include <cuda_bf16.h>
#include <math.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "ts_kernels.h"
}

#include "ts_kernels_common.cuh"

/* ---- seeded synthetic data --------------------------------------------- */

__device__ static uint64_t ts_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1) from 24 hash bits. */
__device__ static float ts_hash_uniform(uint64_t seed, uint64_t i)
{
	uint64_t h = ts_mix64(seed * 0x9e3779b97f4a7c15ULL + i + 0x632be59bd9b4e019ULL);
	return (float)(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

__global__ static void k_fill_uniform_bf16(bf16 *dst, size_t n, uint64_t seed,
					   float scale, float offset)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		dst[i] = __float2bfloat16(offset + scale * ts_hash_uniform(seed, i));
}

extern "C" int ts_k_fill_uniform_bf16(void *dst, size_t n, uint64_t seed, float scale,
				      float offset, void *stream, struct ts_error *err)
{
	k_fill_uniform_bf16<<<ts_blocks(n, TS_THREADS * 4), TS_THREADS, 0,
			      (cudaStream_t)stream>>>((bf16 *)dst, n, seed, scale, offset);
	TS_CUDA_LAUNCHED("k_fill_uniform_bf16", err);
	return 0;
}

__global__ static void k_fill_normal_f32(float *dst, size_t n, uint64_t seed)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float u1 = 0.5f * (ts_hash_uniform(seed, 2 * i) + 1.0f);
		float u2 = 0.5f * (ts_hash_uniform(seed, 2 * i + 1) + 1.0f);
		u1 = fmaxf(u1, 1e-7f);
		dst[i] = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
	}
}

extern "C" int ts_k_fill_normal_f32(float *dst, size_t n, uint64_t seed, void *stream,
				    struct ts_error *err)
{
	k_fill_normal_f32<<<ts_blocks(n, TS_THREADS * 4), TS_THREADS, 0,
			    (cudaStream_t)stream>>>(dst, n, seed);
	TS_CUDA_LAUNCHED("k_fill_normal_f32", err);
	return 0;
}

/* ---- normalisation and residuals ---------------------------------------- */

/* Loads 8 bf16 (16 bytes) as floats. */
__device__ static void ts_load8(const bf16 *p, float *f)
{
	uint4 u = *(const uint4 *)p;
	const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
	for (int i = 0; i < 4; i++) {
		float2 t = __bfloat1622float2(h[i]);
		f[2 * i] = t.x;
		f[2 * i + 1] = t.y;
	}
}

/* Stores 8 floats as bf16 (16 bytes). */
__device__ static void ts_store8(bf16 *p, const float *f)
{
	uint4 u;
	__nv_bfloat162 *h = (__nv_bfloat162 *)&u;
	for (int i = 0; i < 4; i++)
		h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
	*(uint4 *)p = u;
}

/* One warp per row; three passes over the row (mean, variance, output):
 * the row stays in L1/L2 between passes, and two-pass variance avoids the
 * cancellation of E[x^2] - E[x]^2 on a residual stream with a large mean. */
__global__ static void k_layernorm_modulate(bf16 *out, const bf16 *x, const bf16 *shift,
					    const bf16 *scale, int64_t rows, int dim,
					    int64_t rows_per_sample, int64_t mod_stride)
{
	int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
	int lane = threadIdx.x & 31;
	if (row >= rows)
		return;
	const bf16 *xr = x + row * dim;
	float f[8];
	float sum = 0.0f;
	for (int c = lane * 8; c < dim; c += 256) {
		ts_load8(xr + c, f);
		for (int i = 0; i < 8; i++)
			sum += f[i];
	}
	float mean = ts_warp_sum(sum) / dim;
	float sq = 0.0f;
	for (int c = lane * 8; c < dim; c += 256) {
		ts_load8(xr + c, f);
		for (int i = 0; i < 8; i++)
			sq += (f[i] - mean) * (f[i] - mean);
	}
	float rstd = rsqrtf(ts_warp_sum(sq) / dim + 1e-6f);
	int64_t s = row / rows_per_sample;
	const bf16 *sh = shift + s * mod_stride, *sc = scale + s * mod_stride;
	for (int c = lane * 8; c < dim; c += 256) {
		float a[8], b[8];
		ts_load8(xr + c, f);
		ts_load8(sh + c, a);
		ts_load8(sc + c, b);
		for (int i = 0; i < 8; i++)
			f[i] = (f[i] - mean) * rstd * (1.0f + b[i]) + a[i];
		ts_store8(out + row * dim + c, f);
	}
}

extern "C" int ts_k_layernorm_modulate(void *out, const void *x, const void *shift,
				       const void *scale, int64_t rows, int dim,
				       int64_t rows_per_sample, int64_t mod_stride,
				       void *stream, struct ts_error *err)
{
	if (dim % 8 || rows_per_sample <= 0)
		return ts_err_set(err, TS_EINVAL, "layernorm_modulate: dim %d not a multiple of 8 or rows_per_sample %lld <= 0",
				  dim, (long long)rows_per_sample);
	unsigned int blocks = (unsigned int)((rows + 7) / 8);
	k_layernorm_modulate<<<blocks, TS_THREADS, 0, (cudaStream_t)stream>>>(
		(bf16 *)out, (const bf16 *)x, (const bf16 *)shift, (const bf16 *)scale,
		rows, dim, rows_per_sample, mod_stride);
	TS_CUDA_LAUNCHED("k_layernorm_modulate", err);
	return 0;
}

__global__ static void k_gated_residual(bf16 *x, const bf16 *y, const bf16 *gate,
					int64_t chunks, int dim, int64_t rows_per_sample,
					int64_t gate_stride)
{
	int per_row = dim / 8;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < chunks;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int64_t row = i / per_row;
		int c = (int)(i % per_row) * 8;
		float a[8], b[8], g[8];
		ts_load8(x + row * dim + c, a);
		ts_load8(y + row * dim + c, b);
		ts_load8(gate + (row / rows_per_sample) * gate_stride + c, g);
		for (int k = 0; k < 8; k++)
			a[k] += g[k] * b[k];
		ts_store8(x + row * dim + c, a);
	}
}

extern "C" int ts_k_gated_residual(void *x, const void *y, const void *gate, int64_t rows,
				   int dim, int64_t rows_per_sample, int64_t gate_stride,
				   void *stream, struct ts_error *err)
{
	if (dim % 8 || rows_per_sample <= 0)
		return ts_err_set(err, TS_EINVAL, "gated_residual: dim %d not a multiple of 8", dim);
	int64_t chunks = rows * (dim / 8);
	k_gated_residual<<<ts_blocks((size_t)chunks, TS_THREADS), TS_THREADS, 0,
			   (cudaStream_t)stream>>>((bf16 *)x, (const bf16 *)y,
						   (const bf16 *)gate, chunks, dim,
						   rows_per_sample, gate_stride);
	TS_CUDA_LAUNCHED("k_gated_residual", err);
	return 0;
}

/* ---- activations --------------------------------------------------------- */

__device__ static float ts_gelu_tanh(float x)
{
	const float k0 = 0.7978845608028654f; /* sqrt(2/pi) */
	return 0.5f * x * (1.0f + tanhf(k0 * (x + 0.044715f * x * x * x)));
}

__global__ static void k_bias_gelu(bf16 *x, const bf16 *bias, int64_t chunks, int dim,
				   int64_t ld)
{
	int per_row = dim / 8;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < chunks;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int64_t row = i / per_row;
		int c = (int)(i % per_row) * 8;
		float a[8], b[8];
		ts_load8(x + row * ld + c, a);
		ts_load8(bias + c, b);
		for (int k = 0; k < 8; k++)
			a[k] = ts_gelu_tanh(a[k] + b[k]);
		ts_store8(x + row * ld + c, a);
	}
}

extern "C" int ts_k_bias_gelu(void *x, const void *bias, int64_t rows, int dim, int64_t ld,
			      void *stream, struct ts_error *err)
{
	if (dim % 8 || ld % 8)
		return ts_err_set(err, TS_EINVAL, "bias_gelu: dim %d or ld %lld not a multiple of 8",
				  dim, (long long)ld);
	int64_t chunks = rows * (dim / 8);
	k_bias_gelu<<<ts_blocks((size_t)chunks, TS_THREADS), TS_THREADS, 0,
		      (cudaStream_t)stream>>>((bf16 *)x, (const bf16 *)bias, chunks, dim, ld);
	TS_CUDA_LAUNCHED("k_bias_gelu", err);
	return 0;
}

__global__ static void k_silu(bf16 *out, const bf16 *in, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float v = __bfloat162float(in[i]);
		out[i] = __float2bfloat16(v / (1.0f + expf(-v)));
	}
}

extern "C" int ts_k_silu(void *out, const void *in, size_t n, void *stream,
			 struct ts_error *err)
{
	k_silu<<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(
		(bf16 *)out, (const bf16 *)in, n);
	TS_CUDA_LAUNCHED("k_silu", err);
	return 0;
}

/* ---- timestep embedding -------------------------------------------------- */

/* Sample b's t is t_dev[b * t_stride] (read when the kernel runs, so a
 * captured CUDA graph sees each step's values). */
__global__ static void k_timestep_embed(bf16 *out, const float *t_dev, int64_t t_stride,
					int batch, int dim, float factor, int round_bf16)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	int half = dim / 2;
	if (i >= batch * half)
		return;
	int b = i / half, j = i % half;
	float freq = expf(-logf(10000.0f) * (float)j / (float)half);
	float tb = t_dev[b * t_stride];
	float t = round_bf16 ? __bfloat162float(__float2bfloat16(
				       __bfloat162float(__float2bfloat16(tb)) * factor)) :
			       tb * factor;
	float arg = t * freq;
	out[b * dim + j] = __float2bfloat16(cosf(arg));
	out[b * dim + half + j] = __float2bfloat16(sinf(arg));
}

extern "C" int ts_k_timestep_embed_dev(void *out, const float *t, int64_t t_stride, int batch,
				       int dim, float time_factor, int round_bf16, void *stream,
				       struct ts_error *err)
{
	if (!t || t_stride < 0)
		return ts_err_set(err, TS_EINVAL, "timestep_embed: NULL device timestep or stride %lld < 0",
				  (long long)t_stride);
	if (batch < 1 || batch > 8 || dim % 2)
		return ts_err_set(err, TS_EINVAL, "timestep_embed: batch %d not in 1..8 or odd dim %d",
				  batch, dim);
	int n = batch * dim / 2;
	k_timestep_embed<<<(n + TS_THREADS - 1) / TS_THREADS, TS_THREADS, 0,
			   (cudaStream_t)stream>>>((bf16 *)out, t, t_stride, batch, dim, time_factor,
						   round_bf16);
	TS_CUDA_LAUNCHED("k_timestep_embed", err);
	return 0;
}

/* ---- latent <-> tokens ---------------------------------------------------- */

__global__ static void k_patchify(bf16 *tok, const float *lat, struct ts_patch_geom g,
				  int64_t tok0, int64_t ntok)
{
	int p = g.patch, feat = g.channels * p * p;
	int cols = g.width / p;
	int64_t ntotal = (int64_t)(g.height / p) * cols;
	int64_t n = (int64_t)g.batch * ntok * feat;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int f = (int)(i % feat);
		int64_t t = (i / feat) % ntok;
		int64_t s = i / feat / ntok;
		int64_t gt = tok0 + t;
		float v = 0.0f;
		if (gt < ntotal) {
			int c = f / (p * p), ph = (f / p) % p, pw = f % p;
			int64_t y = (gt / cols) * p + ph, x = (gt % cols) * p + pw;
			v = lat[((s * g.channels + c) * g.height + y) * g.width + x];
		}
		tok[i] = __float2bfloat16(v);
	}
}

static int ts_check_geom(const struct ts_patch_geom *g, const char *what, struct ts_error *err)
{
	if (g->patch < 1 || g->height % g->patch || g->width % g->patch || g->batch < 1 ||
	    g->channels < 1)
		return ts_err_set(err, TS_EINVAL, "%s: latent %dx%d not divisible by patch %d (batch %d, channels %d)",
				  what, g->height, g->width, g->patch, g->batch, g->channels);
	return 0;
}

extern "C" int ts_k_patchify(void *tokens, const float *latent, const struct ts_patch_geom *g,
			     int64_t tok0, int64_t ntok, void *stream, struct ts_error *err)
{
	int rc = ts_check_geom(g, "patchify", err);
	if (rc)
		return rc;
	size_t n = (size_t)g->batch * ntok * g->channels * g->patch * g->patch;
	k_patchify<<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(
		(bf16 *)tokens, latent, *g, tok0, ntok);
	TS_CUDA_LAUNCHED("k_patchify", err);
	return 0;
}

__global__ static void k_unpatchify(float *img, const bf16 *tok, struct ts_patch_geom g,
				    int64_t chunk_tokens)
{
	int p = g.patch, feat = g.channels * p * p;
	int cols = g.width / p;
	int64_t n = (int64_t)g.batch * g.channels * g.height * g.width;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int64_t x = i % g.width, y = (i / g.width) % g.height;
		int64_t c = (i / g.width / g.height) % g.channels;
		int64_t s = i / g.width / g.height / g.channels;
		int64_t t = (y / p) * cols + x / p;
		int64_t f = c * p * p + (y % p) * p + x % p;
		int64_t chunk = t / chunk_tokens, row = t % chunk_tokens;
		img[i] = __bfloat162float(tok[((chunk * g.batch + s) * chunk_tokens + row) * feat + f]);
	}
}

extern "C" int ts_k_unpatchify(float *img, const void *tokens, const struct ts_patch_geom *g,
			       int64_t chunk_tokens, void *stream, struct ts_error *err)
{
	int rc = ts_check_geom(g, "unpatchify", err);
	if (rc)
		return rc;
	if (chunk_tokens < 1)
		return ts_err_set(err, TS_EINVAL, "unpatchify: chunk_tokens %lld < 1",
				  (long long)chunk_tokens);
	size_t n = (size_t)g->batch * g->channels * g->height * g->width;
	k_unpatchify<<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(
		img, (const bf16 *)tokens, *g, chunk_tokens);
	TS_CUDA_LAUNCHED("k_unpatchify", err);
	return 0;
}

/* x += (sigma[1] - sigma[0]) v, sigma read when the kernel runs. */
__global__ static void k_euler(float *x, const float *v, size_t n, size_t sample_elems,
			       const float *sigma, int64_t stride)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		const float *s = sigma + (int64_t)(i / sample_elems) * stride;
		x[i] += (s[1] - s[0]) * v[i];
	}
}

extern "C" int ts_k_euler_dev(float *x, const float *v, size_t n, size_t sample_elems,
			      const float *sigma, int64_t stride, void *stream, struct ts_error *err)
{
	if (!sigma || !sample_elems || stride < 0)
		return ts_err_set(err, TS_EINVAL, "euler: NULL device sigma, empty sample or stride %lld < 0",
				  (long long)stride);
	k_euler<<<ts_blocks(n, TS_THREADS), TS_THREADS, 0, (cudaStream_t)stream>>>(x, v, n, sample_elems,
										   sigma, stride);
	TS_CUDA_LAUNCHED("k_euler", err);
	return 0;
}

/* ---- checks --------------------------------------------------------------- */

__global__ static void k_count_nonfinite(const bf16 *x, size_t n, unsigned long long *count)
{
	unsigned long long c = 0;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		c += !isfinite(__bfloat162float(x[i]));
	if (c)
		atomicAdd(count, c);
}

extern "C" int ts_k_count_nonfinite_bf16(const void *x, size_t n, int64_t *count,
					 void *stream, struct ts_error *err)
{
	unsigned long long *d = NULL, h = 0;
	int rc = 0;
	cudaStream_t st = (cudaStream_t)stream;
	TS_CUDA(cudaMalloc(&d, sizeof(*d)), err);
	TS_CUDA_GOTO(cudaMemsetAsync(d, 0, sizeof(*d), st), err, rc, out_free);
	k_count_nonfinite<<<ts_blocks(n, TS_THREADS * 8), TS_THREADS, 0, st>>>((const bf16 *)x, n, d);
	TS_CUDA_GOTO(cudaGetLastError(), err, rc, out_free);
	TS_CUDA_GOTO(cudaMemcpyAsync(&h, d, sizeof(h), cudaMemcpyDeviceToHost, st), err, rc,
		     out_free);
	TS_CUDA_GOTO(cudaStreamSynchronize(st), err, rc, out_free);
	*count = (int64_t)h;
out_free:
	cudaFree(d);
	return rc;
}

