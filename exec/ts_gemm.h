/* ts_gemm.h: the DiT's linear layers through cuBLASLt (exec/cuda/ts_gemm.cu):
 * bf16 inputs and outputs, fp32 accumulation, optional bias or bias+GELU
 * (tanh) epilogue. */
#ifndef TS_GEMM_H
#define TS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"

struct ts_gemm; /* opaque: cuBLASLt handle, workspace, algorithm cache */

enum ts_gemm_epilogue {
	TS_EPI_NONE = 0,      /* y = x w^T (+ y if accumulate) */
	TS_EPI_BIAS = 1,      /* y = x w^T + b */
	TS_EPI_GELU_BIAS = 2, /* y = gelu_tanh(x w^T + b) */
};

/* Creates a GEMM context on the current device with a workspace of
 * workspace_bytes (32 MiB is plenty on Hopper). */
int ts_gemm_create(struct ts_gemm **out, size_t workspace_bytes, struct ts_error *err);

/* Frees the context; NULL is a no-op. Call on the device it was made on. */
void ts_gemm_destroy(struct ts_gemm *g);

/* One linear layer, PyTorch convention: y[m][n] = x[m][k] . w[n][k]^T
 * (+ bias[n]) (+ y if accumulate), rows of x, y with leading dimensions
 * ldx, ldy (elements; >= k, >= n). All bf16, 16-byte aligned. A GELU_BIAS
 * request for which cuBLASLt offers no algorithm runs as BIAS plus
 * ts_k_bias_gelu(). Errors: TS_EINVAL for bad sizes, TS_EDEVICE for a
 * cuBLASLt failure (with its status name and the shape). */
int ts_gemm_linear(struct ts_gemm *g, void *y, int64_t ldy, const void *x,
		   int64_t ldx, const void *w, const void *bias, int64_t m,
		   int64_t n, int64_t k, enum ts_gemm_epilogue epi, int accumulate,
		   void *stream, struct ts_error *err);

#endif
