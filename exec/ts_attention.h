/* ts_attention.h: fused multi-head attention, bf16 in and out, online
 * softmax with fp32 accumulation; the N x N scores never reach device memory.
 * Three implementations: cuDNN's fused SDPA operation, loaded at run time
 * (exec/ts_attention_cudnn.c), and two of our own, a FlashAttention-3 style
 * kernel on Hopper's warpgroup MMA (exec/cuda/ts_attention_sm90.cu, built
 * for sm_90a) and a FlashAttention-2 style one on mma.sync for any GPU from
 * Ampere on (ts_attention.cu). */
#ifndef TS_ATTENTION_H
#define TS_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"

/* Which kernel runs (struct ts_attn_args.kernel). */
enum ts_attn_kernel {
	TS_ATTN_AUTO = 0,   /* cuDNN where given and able, else the fastest own kernel */
	TS_ATTN_MMA_16 = 1, /* mma.sync, 16 query rows per warp */
	TS_ATTN_MMA_32 = 2, /* mma.sync, 32 query rows per warp */
	TS_ATTN_WGMMA = 3,  /* warpgroup MMA; sm_90 GPUs and -Dgpu_arch=90 builds only */
	TS_ATTN_CUDNN = 4,  /* cuDNN's fused SDPA (ts_attn_args.cudnn must be set) */
};

/* cuDNN's fused attention on one device: handle and per-shape plans.
 * Like a cuBLAS handle, used by one thread at a time. */
struct ts_attn_cudnn;

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
	int kernel;                 /* enum ts_attn_kernel */
	struct ts_attn_cudnn *cudnn; /* NULL: the own kernels only */
};

/* Runs o = softmax(q k^T * scale + mask) v on the current device. Returns
 * TS_EINVAL for an unsupported head_dim or shape, for TS_ATTN_WGMMA where
 * that kernel is not built or the GPU is not sm_90, or for TS_ATTN_CUDNN
 * without a->cudnn or for a shape it does not take, TS_ENOTFOUND for
 * TS_ATTN_CUDNN where cuDNN has no plan for the shape (see
 * ts_attention_cudnn()); TS_EDEVICE if the launch fails. TS_ATTN_AUTO runs
 * cuDNN where a->cudnn is set, it takes the shape and has a plan for it
 * (measured faster on H100 and H200: docs/PERFORMANCE.md), else the fastest
 * own kernel. */
int ts_attention(const struct ts_attn_args *a, void *stream, struct ts_error *err);

/* Whether TS_ATTN_WGMMA can run on the current device: the build has sm_90a
 * code and the GPU is compute capability 9.0. */
bool ts_attention_has_wgmma(void);

/* Whether libcudnn.so.9 (9.13 or later) loads; if not and why is not NULL,
 * *why says what is missing. Loads it on the first call. */
bool ts_attn_cudnn_available(const char **why);

/* Opens cuDNN attention on the current device. TS_ENOTFOUND (with the
 * reason) where cuDNN is missing or too old; TS_EDEVICE if cuDNN fails. */
int ts_attn_cudnn_create(struct ts_attn_cudnn **out, struct ts_error *err);

/* Frees the handle, the plans and their workspaces; NULL is a no-op. Call
 * on the context's device, after its work (and graphs using it) are done. */
void ts_attn_cudnn_destroy(struct ts_attn_cudnn *c);

/* Whether cuDNN takes a's shape: queries at one token stride (one SP chunk
 * or one sample). Masked pad tokens are fine: their keys are left out (see
 * ts_attn_gather_valid_kv()). */
bool ts_attn_cudnn_supports(const struct ts_attn_args *a);

/* Valid text and image keys per sample: txt_valid and img_valid clipped to
 * [0, the chunks' text or image tokens] (counts beyond them mean "all"). */
int64_t ts_attn_valid_txt(const struct ts_attn_args *a);
int64_t ts_attn_valid_img(const struct ts_attn_args *a);

/* Copies a's valid keys and values, per sample, into k_out and v_out as
 * bf16 [batch][txt_valid + img_valid][heads][head_dim]: the valid text
 * tokens in order, then the valid image tokens (attention does not depend
 * on the order of keys). For cuDNN, whose SDPA operation cannot mask keys
 * inside the sequence. Enqueued on `stream`; TS_EINVAL without valid keys. */
int ts_attn_gather_valid_kv(const struct ts_attn_args *a, void *k_out, void *v_out,
			    void *stream, struct ts_error *err);

/* ts_attention() on cuDNN (a->kernel is ignored). The first call for a
 * shape builds and caches its plan and, for a shape with pad tokens, a buffer
 * for the gathered valid keys and values (milliseconds to seconds, and
 * cudaMalloc: not capturable into a CUDA graph); later calls are.
 * TS_ENOTFOUND when cuDNN has no plan for the shape, its memory could not be
 * had, or 128 shapes are cached already (remembered per shape: later calls
 * return it at once); TS_EINVAL for a shape it does not take; TS_EDEVICE
 * when cuDNN or a launch fails. */
int ts_attention_cudnn(struct ts_attn_cudnn *c, const struct ts_attn_args *a, void *stream,
		       struct ts_error *err);

/* Floating-point operations of one ts_attention() call (4 N^2 d per head
 * and sample, N = chunks * chunk_tokens), for TFLOP/s figures. */
double ts_attention_flops(const struct ts_attn_args *a);

#endif
