/* ts_dit_internal.cuh: what ts_dit_model.cu (weights, one rank's share of a
 * step) and ts_dit_engine.cu (GPUs, groups, requests) share. Internal. */
#ifndef TS_DIT_INTERNAL_CUH
#define TS_DIT_INTERNAL_CUH

#include <cuda_bf16.h>
#include <nccl.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "ts_dit.h"
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

/* One stream (image or text) of a joint block. */
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
	struct ts_dit_double_w *dbl;
	struct ts_dit_single_w *sgl;
};

/* Column offsets into the modulation vector of one sample. */
int64_t ts_dit_mod_double(const struct ts_dit_config *c, int block, int txt);
int64_t ts_dit_mod_single(const struct ts_dit_config *c, int block);
int64_t ts_dit_mod_final(const struct ts_dit_config *c);

/* Allocates and generates the weights on the current device. */
int ts_dit_weights_create(struct ts_dit_weights *w, const struct ts_dit_config *c,
			  uint64_t seed, cudaStream_t st, struct ts_error *err);
void ts_dit_weights_free(struct ts_dit_weights *w);

/* Activation buffers of one GPU, grown on demand, reused by every step. */
enum ts_dit_buf {
	TS_B_TXT, TS_B_IMG, TS_B_JOINT, TS_B_NORM, TS_B_QKV, TS_B_Q, TS_B_K, TS_B_V,
	TS_B_QR, TS_B_KR, TS_B_VR, TS_B_O, TS_B_OR, TS_B_ATTN, TS_B_PROJ, TS_B_WIDE,
	TS_B_TOK, TS_B_VTOK, TS_B_VALL, TS_B_VIMG, TS_B_TEMB, TS_B_VEC, TS_B_VTMP,
	TS_B_SVEC, TS_B_MOD, TS_B_COUNT
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

/* Generates the request's text conditioning on the current device. */
int ts_dit_cond_create(struct ts_dit_req_gpu *rg, const struct ts_dit_config *c, int batch,
		       uint64_t seed, cudaStream_t st, struct ts_error *err);

/* One GPU's share of one denoising step. */
struct ts_dit_rank_step {
	const struct ts_dit_config *cfg;
	const struct ts_dit_weights *w;
	struct ts_dit_ws *ws;
	struct ts_gemm *gemm;
	cudaStream_t st;
	ncclComm_t comm; /* NULL when ranks == 1 */
	int rank, ranks;
	int batch, height, width;
	struct ts_dit_req_gpu *rg;
	float sigma, sigma_next, guidance;
};

/* Enqueues the step on rank->st (no synchronisation). */
int ts_dit_rank_step_run(const struct ts_dit_rank_step *rs, struct ts_error *err);

#endif
