/* step_work.h: what one denoising step of a DiT computes on each GPU of an
 * SP group, counted from the model's shapes (model/dit_config.h) the way
 * the engine runs it (exec/cuda/ts_dit_model.cu): its GEMMs, attention, the
 * Ulysses all-to-alls and the element-wise passes. docs/STEP_MODEL.md. */
#ifndef TS_STEP_WORK_H
#define TS_STEP_WORK_H

#include <stdint.h>

#include "core/ts_error.h"
#include "model/dit_config.h"

/* `count` GEMMs y[m][n] = x[m][k] w[n][k]^T of one shape. */
struct ts_gemm_shape {
	double m, n, k;
	int count;
};

#define TS_STEP_MAX_GEMMS 24

/* The work of one step on one rank (every rank does the same). */
struct ts_step_work {
	int height, width, sp, batch;
	int64_t image_tokens, text_tokens;
	int ngemm;
	struct ts_gemm_shape gemm[TS_STEP_MAX_GEMMS];
	double attn_flops;  /* 4 b S_q S_kv d (heads / sp) per attention layer, summed */
	double attn_seq;    /* valid tokens a query attends to (text + image) */
	double elem_bytes;  /* bytes read and written by the element-wise kernels */
	double a2a_calls;   /* all-to-all calls (grouped q,k,v and o: 2 per layer), 0 at SP 1 */
	double a2a_bytes;   /* bytes each rank sends per step, summed over the calls */
};

/* Counts the work of one step of `batch` images of height x width (pixels,
 * multiples of 16) at SP degree `sp` into *w. TS_EINVAL naming the model
 * when sp does not divide its head count (Ulysses gives each rank
 * heads / sp whole heads) or a size is not positive. */
int ts_step_work_of(const struct ts_dit_config *c, int height, int width, int sp, int batch,
		    struct ts_step_work *w, struct ts_error *err);

/* FLOPs of a GEMM shape, all `count` of them: 2 m n k count. */
double ts_gemm_flops(const struct ts_gemm_shape *g);

/* Bytes a GEMM shape moves, all `count` of them: bf16 x, w and y once. */
double ts_gemm_bytes(const struct ts_gemm_shape *g);

#endif
