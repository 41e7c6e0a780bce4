/* ts_dit_internal.cuh: what ts_dit_model.cu (weights, one rank's share of a
 * step) and ts_dit_engine.cu (GPUs, groups, requests) share. Internal. */
#ifndef TS_DIT_INTERNAL_CUH
#define TS_DIT_INTERNAL_CUH

#include <cuda_bf16.h>
#include <nccl.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "core/ts_types.h" /* TS_MAX_BATCH */
#include "model/dit_diffusers.h"
#include "ts_dit.h"
#include "ts_attention.h"
#include "ts_gemm.h"
}

typedef __nv_bfloat16 bf16;

#define TS_NCCL(call, err)                                                      \
	do {                                                                    \
		ncclResult_t ts_nr_ = (call);                                   \
		if (ts_nr_ != ncclSuccess)                                      \
			return ts_err_set((err), TS_EDEVICE, "%s:%d: %s: %s",   \
					  __FILE__, __LINE__, #call,            \
					  ncclGetErrorString(ts_nr_));          \
	} while (0)

/* Propagates a non-zero return code. */
#define TS_TRY(call)                                                            \
	do {                                                                    \
		int ts_t_ = (call);                                             \
		if (ts_t_)                                                      \
			return ts_t_;                                           \
	} while (0)

/* Extra text rows allocated per sample so that any SP degree up to 64 can
 * pad the text to a multiple of the degree without reading past the end. */
#define TS_TXT_PAD 64

/* A linear layer y = x w^T + b, w [out][in]. */
struct ts_dit_linear {
	bf16 *w, *b;
	int64_t out, in;
};

/* One stream (image or text) of a joint block; a text stream that ends
 * after the attention (ts_dit_text_pre_only) has no proj, fc1, fc2. */
struct ts_dit_stream_w {
	struct ts_dit_linear qkv, proj, fc1, fc2;
	bf16 *qn, *kn; /* NULL without q/k RMSNorm */
};

struct ts_dit_double_w {
	struct ts_dit_stream_w img, txt;
};

struct ts_dit_single_w {
	struct ts_dit_linear lin1, lin2; /* d -> 3d + 4d, 4d + d -> d */
	bf16 *qn, *kn;
};

/* All weights of a model on one GPU, carved from one allocation. Every
 * block's adaLN modulation is a slice of one linear layer `mod` (all of
 * them read the same silu(vec)), computed once per step. */
struct ts_dit_weights {
	void *base;
	size_t bytes;
	struct ts_dit_linear img_in, txt_in, t1, t2, g1, g2, v1, v2, mod, out;
	bf16 *pos; /* SD3's position table [pos_embed_max^2][hidden], else NULL */
	struct ts_dit_double_w *dbl;
	struct ts_dit_single_w *sgl;
};

/* The modulation layout (ts_dit_mod_columns() and the offsets of each
 * block's rows) is common/model/dit_config.h's. */

/* Allocates and generates synthetic weights on the current device. */
int ts_dit_weights_create(struct ts_dit_weights *w, const struct ts_dit_config *c,
			  uint64_t seed, cudaStream_t st, struct ts_error *err);

/* Allocates the weights on the current device and sets every pointer,
 * leaving the values to ts_dit_weights_upload(). */
int ts_dit_weights_place(struct ts_dit_weights *w, const struct ts_dit_config *c,
			 struct ts_error *err);

/* Fills the placed weights w[0..ngpus-1] (one per GPU, same layout) from
 * checkpoint ck: each tensor is converted once into pinned host memory, in
 * chunks, and copied to every GPU. The checkpoint's errors name the tensor
 * and file (model/dit_diffusers.h). */
int ts_dit_weights_upload(struct ts_dit_weights *const *w, int ngpus,
			  const struct ts_dit_config *c, struct ts_dit_ckpt *ck,
			  struct ts_error *err);

void ts_dit_weights_free(struct ts_dit_weights *w);

/* Activation buffers of one GPU, grown on demand, reused by every step.
 * TS_B_SCAL holds the step's scalars (enum ts_dit_scalar); TS_B_SLAT,
 * TS_B_STXT and TS_B_SPOOL are the staging copies of a request's latent,
 * text embeddings and pooled vector that graph steps read and write. */
enum ts_dit_buf {
	TS_B_TXT, TS_B_IMG, TS_B_JOINT, TS_B_NORM, TS_B_QKV, TS_B_Q, TS_B_K, TS_B_V,
	TS_B_QR, TS_B_KR, TS_B_VR, TS_B_O, TS_B_OR, TS_B_ATTN, TS_B_PROJ, TS_B_WIDE,
	TS_B_TOK, TS_B_VTOK, TS_B_VALL, TS_B_VIMG, TS_B_TEMB, TS_B_VEC, TS_B_VTMP,
	TS_B_SVEC, TS_B_MOD, TS_B_SCAL, TS_B_SLAT, TS_B_STXT, TS_B_SPOOL, TS_B_COUNT
};

/* fp32 slots of TS_B_SCAL, written before each step's launches: sample s
 * of the batch has TS_SCAL_COUNT slots from s * TS_SCAL_COUNT (the samples
 * of a batch of separate requests are at their own step); sigma and
 * sigma_next are adjacent (ts_k_euler_dev reads them as a pair). */
enum ts_dit_scalar {
	TS_SCAL_SIGMA = 0, TS_SCAL_SIGMA_NEXT = 1, TS_SCAL_GUIDANCE = 2, TS_SCAL_COUNT = 4
};

struct ts_dit_ws {
	void *buf[TS_B_COUNT];
	size_t cap[TS_B_COUNT];
};

void ts_dit_ws_free(struct ts_dit_ws *ws);

/* The request state one GPU holds. */
struct ts_dit_req_gpu {
	float *latent;   /* [batch][channels][h/8][w/8] */
	bf16 *txt_emb;   /* [batch][text_tokens + TS_TXT_PAD][text_dim], pad rows 0 */
	bf16 *pooled;    /* [batch][pooled_dim] */
};

/* The request's text conditioning on the current device: copied from host
 * text [batch][text_tokens][text_dim] and pooled [batch][pooled_dim] where
 * given (rounded to bf16), else generated from seed; pad rows 0. */
int ts_dit_cond_create(struct ts_dit_req_gpu *rg, const struct ts_dit_config *c, int batch,
		       uint64_t seed, const float *text, const float *pooled, cudaStream_t st,
		       struct ts_error *err);

/* One GPU's share of one denoising step. */
struct ts_dit_rank_step {
	const struct ts_dit_config *cfg;
	const struct ts_dit_weights *w;
	struct ts_dit_ws *ws;
	struct ts_gemm *gemm;
	struct ts_attn_cudnn *cudnn; /* NULL: own attention kernels only */
	int attn_kernel;             /* enum ts_attn_kernel */
	cudaStream_t st;
	ncclComm_t comm; /* NULL when ranks == 1 */
	int rank, ranks;
	int batch, height, width;
	struct ts_dit_req_gpu *rg; /* batch samples: latents, text, pooled vectors */
	float sigma[TS_MAX_BATCH], sigma_next[TS_MAX_BATCH]; /* per sample */
	float guidance;
};

/* Whether ts_dit_ws_prepare() for rs's step (with the staging buffers when
 * `staged`) would free and reallocate a buffer that exists now (a larger
 * shape). Cached CUDA graphs point at those buffers: the engine drops them
 * first. Allocating a buffer that does not exist yet moves nothing. */
bool ts_dit_ws_moves(const struct ts_dit_rank_step *rs, bool staged);

/* Grows rs->ws to fit rs's step (cudaMalloc: never during stream capture).
 * Grown buffers lose their contents. TS_EDEVICE when out of memory. */
int ts_dit_ws_prepare(const struct ts_dit_rank_step *rs, bool staged, struct ts_error *err);

/* The staging buffers of ws as request state (valid after a staged
 * ts_dit_ws_prepare()). */
void ts_dit_ws_staging(const struct ts_dit_ws *ws, struct ts_dit_req_gpu *out);

/* Copies rs's per-sample sigma, sigma_next and guidance into the
 * workspace's scalars on rs->st (from host memory: not capturable, runs
 * before the launches). */
int ts_dit_rank_step_upload(const struct ts_dit_rank_step *rs, struct ts_error *err);

/* Enqueues the step's launches on rs->st (no synchronisation), reading the
 * scalars ts_dit_rank_step_upload() wrote. The workspace must be prepared.
 * Capturable into a CUDA graph: no allocation, host copy or host sync. */
int ts_dit_rank_step_enqueue(const struct ts_dit_rank_step *rs, struct ts_error *err);

#endif
