/* ts_kernels.h: launchers of the DiT step's element-wise and layout kernels
 * (exec/cuda/ts_kernels.cu). Plain C: bf16 tensors are void * device
 * pointers, fp32 tensors float *, streams opaque void *. Every launcher
 * checks the launch and returns 0 or TS_EDEVICE naming the kernel.
 * Row-major everywhere; "rows" are tokens, a sample's rows are contiguous. */
#ifndef TS_KERNELS_H
#define TS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"

/* dst[i] = offset + scale * u(seed, i), u uniform in [-1, 1) from a counter
 * hash: the same (seed, i) gives the same value on any GPU and launch. */
int ts_k_fill_uniform_bf16(void *dst, size_t n, uint64_t seed, float scale,
			   float offset, void *stream, struct ts_error *err);

/* dst[i] = standard normal sample from (seed, i) (Box-Muller on the hash). */
int ts_k_fill_normal_f32(float *dst, size_t n, uint64_t seed, void *stream,
			 struct ts_error *err);

/* adaLN: out[r] = LayerNorm(x[r]) * (1 + scale[s]) + shift[s] over `dim`
 * columns, LayerNorm without affine (eps 1e-6), s = r / rows_per_sample;
 * shift/scale point at sample 0's vector, the next sample's is mod_stride
 * elements further. dim must be a multiple of 8. */
int ts_k_layernorm_modulate(void *out, const void *x, const void *shift,
			    const void *scale, int64_t rows, int dim,
			    int64_t rows_per_sample, int64_t mod_stride,
			    void *stream, struct ts_error *err);

/* Gated residual: x[r] += gate[s] * y[r] (fp32 arithmetic, bf16 storage),
 * s = r / rows_per_sample, gate of sample s at gate + s * gate_stride. */
int ts_k_gated_residual(void *x, const void *y, const void *gate, int64_t rows,
			int dim, int64_t rows_per_sample, int64_t gate_stride,
			void *stream, struct ts_error *err);

/* In place x[r][c] = gelu_tanh(x[r][c] + bias[c]) for c < dim, rows of
 * leading dimension ld. The fallback of the GEMM's GELU_BIAS epilogue. */
int ts_k_bias_gelu(void *x, const void *bias, int64_t rows, int dim, int64_t ld,
		   void *stream, struct ts_error *err);

/* out[i] = silu(in[i]) = in / (1 + exp(-in)), bf16. */
int ts_k_silu(void *out, const void *in, size_t n, void *stream,
	      struct ts_error *err);

/* Sinusoidal timestep embedding (flip_sin_to_cos: cos half first), max
 * period 10000: out[b][dim] for t[b * t_stride] * time_factor, b < batch <=
 * 8, where t points at fp32 values in device memory, read when the kernel
 * runs (so a captured CUDA graph sees each step's values). t_stride 0: one
 * value for every sample; a batch of separate requests has one per sample.
 * With round_bf16, as FLUX in diffusers: bf16(bf16(t) * time_factor)
 * instead of the fp32 product. */
int ts_k_timestep_embed_dev(void *out, const float *t, int64_t t_stride, int batch, int dim,
			    float time_factor, int round_bf16, void *stream, struct ts_error *err);

/* SD3's position embedding, in place: x[s][t] += table[(top + row) * max +
 * left + col] over `dim` columns for the local tokens t < ntok of each of
 * `batch` samples, where global token tok0 + t is patch (row, col) of a
 * rows x cols grid centred in the max x max table (top = (max - rows) / 2,
 * left = (max - cols) / 2, as diffusers crops it). Tokens past the grid
 * (SP padding) are left alone. dim a multiple of 8. */
struct ts_pos_geom {
	int batch, rows, cols, max, dim;
	int64_t tok0, ntok;
};
int ts_k_add_pos_embed(void *x, const void *table, const struct ts_pos_geom *g, void *stream,
		       struct ts_error *err);

/* Latent geometry: `batch` latents of `channels` x height x width (fp32,
 * NCHW), cut into patch x patch patches; token p of a sample is patch row
 * p / (width / patch), column p % (width / patch); a token's features are
 * ordered (channel, patch row, patch column), as FLUX packs latents. */
struct ts_patch_geom {
	int batch, channels, height, width, patch;
};

/* Tokens [batch][ntok][channels*patch*patch] (bf16) of tokens tok0 ..
 * tok0+ntok-1 of every sample; tokens past the last patch are zero (SP
 * padding). */
int ts_k_patchify(void *tokens, const float *latent, const struct ts_patch_geom *g,
		  int64_t tok0, int64_t ntok, void *stream, struct ts_error *err);

/* Inverse of patchify over all tokens: img (fp32 NCHW) from tokens laid out
 * as SP chunks [chunks][batch][chunk_tokens][features]: token p of sample s
 * is row p % chunk_tokens of chunk p / chunk_tokens (chunk_tokens = all
 * tokens when there is one chunk). */
int ts_k_unpatchify(float *img, const void *tokens, const struct ts_patch_geom *g,
		    int64_t chunk_tokens, void *stream, struct ts_error *err);

/* Flow-matching Euler update in place: x[i] += dt_s * v[i] for element i
 * of sample s = i / sample_elems, with dt_s = sigma[s * stride + 1] -
 * sigma[s * stride] read from device memory when the kernel runs (each
 * sample's current and next noise level; stride 0: one pair for all). */
int ts_k_euler_dev(float *x, const float *v, size_t n, size_t sample_elems, const float *sigma,
		   int64_t stride, void *stream, struct ts_error *err);

/* Prepares attention inputs from the fused qkv projections of the local
 * tokens of one SP rank: q/k RMSNorm per head (learned scale, eps 1e-6),
 * RoPE on q and k, and a scatter into the Ulysses send layout
 * [ranks][batch][tokens][heads/ranks][head_dim], where tokens = txt_tokens +
 * img_tokens (text first). Source row of (sample s, token t) is
 * src_txt + (s*txt_sample_rows + t)*src_ld for t < txt_tokens, else
 * src_img + (s*img_sample_rows + t - txt_tokens)*src_ld; a row holds
 * [q heads | k heads | v heads]. */
struct ts_qkv_prep {
	const void *src_txt, *src_img;
	int64_t src_ld, txt_sample_rows, img_sample_rows;
	const void *qn_txt, *kn_txt, *qn_img, *kn_img; /* [head_dim]; NULL: no norm */
	void *q, *k, *v;
	int batch, heads, head_dim, ranks;
	int64_t txt_tokens, img_tokens;  /* local tokens per sample */
	/* RoPE (FLUX 3-axis): text ids (0,0,0), so text is not rotated;
	 * image token i (local) has global index img_off + i and ids
	 * (0, row, col) with img_cols patches per image row. */
	int rope;
	int64_t img_off;
	int img_cols;
	int rope_axes[3];   /* dims per axis, summing to head_dim */
	float rope_theta;
};
int ts_k_qkv_prepare(const struct ts_qkv_prep *p, void *stream, struct ts_error *err);

/* Inverse layout after attention (and the return all-to-all): src is
 * [ranks][batch][tokens][heads/ranks][head_dim], where chunk r holds heads
 * r*heads/ranks..; writes row (s, t) with all heads to dst_txt / dst_img with
 * the same row mapping as ts_qkv_prep (leading dimension dst_ld). */
struct ts_attn_unscatter {
	const void *src;
	void *dst_txt, *dst_img;
	int64_t dst_ld, txt_sample_rows, img_sample_rows;
	int batch, heads, head_dim, ranks;
	int64_t txt_tokens, img_tokens;
};
int ts_k_attn_unscatter(const struct ts_attn_unscatter *p, void *stream,
			struct ts_error *err);

/* Number of elements of a bf16 buffer that are not finite (NaN or Inf) into
 * *count (a device-side reduction; synchronizes the stream). */
int ts_k_count_nonfinite_bf16(const void *x, size_t n, int64_t *count,
			      void *stream, struct ts_error *err);

#endif
