/* ts_attention.h: fused multi-head attention (exec/cuda/ts_attention.cu), a
 * FlashAttention-2 style kernel: bf16 tensor-core mma.sync, online softmax,
 * fp32 accumulation; the N x N scores never reach device memory. */
#ifndef TS_ATTENTION_H
#define TS_ATTENTION_H

#include <stdint.h>

#include "core/ts_error.h"

/* q, k, v, o are bf16 [chunks][batch][chunk_tokens][heads][head_dim]: the
 * layout after the Ulysses all-to-all, where chunk c holds the tokens of
 * SP rank c (chunks = 1 for plain attention). Each sample attends over all
 * chunks * chunk_tokens tokens. A chunk's tokens are txt_tokens text tokens
 * followed by image tokens; key token t of chunk c is valid iff
 * c*txt_tokens + t < txt_valid (text) or c*img_tokens + (t - txt_tokens) <
 * img_valid (image), where img_tokens = chunk_tokens - txt_tokens: the pad
 * tokens SP adds when tokens do not divide are masked. Queries of pad
 * tokens produce finite values the caller ignores. */
struct ts_attn_args {
	const void *q, *k, *v;
	void *o;
	int batch, heads, head_dim; /* head_dim 64 or 128 */
	int chunks;
	int64_t chunk_tokens, txt_tokens;
	int64_t txt_valid, img_valid;
	float scale;                /* softmax scale, usually 1/sqrt(head_dim) */
	int rows_per_warp;          /* kernel variant: 16, 32, or 0 for the measured best */
};

/* Runs o = softmax(q k^T * scale + mask) v. Returns TS_EINVAL for an
 * unsupported head_dim, TS_EDEVICE if the launch fails. */
int ts_attention(const struct ts_attn_args *a, void *stream, struct ts_error *err);

/* Floating-point operations of one ts_attention() call (4 N^2 d per head
 * and sample, N = chunks * chunk_tokens), for TFLOP/s figures. */
double ts_attention_flops(const struct ts_attn_args *a);

#endif
