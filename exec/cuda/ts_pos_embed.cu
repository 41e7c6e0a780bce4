/* ts_pos_embed.cu: SD3's position embedding, the centre crop of a sin-cos
 * table added to the image tokens (ts_kernels.h: ts_k_add_pos_embed). */
#include <cuda_bf16.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "ts_kernels.h"
}

typedef __nv_bfloat16 bf16;

/* One thread per 8 columns of a token row: fp32 sum, one bf16 rounding
 * (what diffusers' bf16 addition of the two bf16 tensors gives). */
__global__ static void k_add_pos_embed(bf16 *x, const bf16 *table, struct ts_pos_geom g)
{
	int per_row = g.dim / 8;
	int64_t n = (int64_t)g.batch * g.ntok * per_row;
	int top = (g.max - g.rows) / 2, left = (g.max - g.cols) / 2;
	int64_t grid = (int64_t)g.rows * g.cols;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x) {
		int c = (int)(i % per_row) * 8;
		int64_t row = i / per_row; /* sample * ntok + local token */
		int64_t gt = g.tok0 + row % g.ntok;
		if (gt >= grid)
			continue;
		int64_t p = (int64_t)(top + gt / g.cols) * g.max + left + gt % g.cols;
		bf16 *xr = x + row * g.dim + c;
		const bf16 *tr = table + p * g.dim + c;
		for (int k = 0; k < 8; k++)
			xr[k] = __float2bfloat16(__bfloat162float(xr[k]) + __bfloat162float(tr[k]));
	}
}

extern "C" int ts_k_add_pos_embed(void *x, const void *table, const struct ts_pos_geom *g,
				  void *stream, struct ts_error *err)
{
	if (g->dim % 8 || g->rows < 1 || g->cols < 1 || g->rows > g->max || g->cols > g->max ||
	    g->batch < 1 || g->tok0 < 0 || g->ntok < 0)
		return ts_err_set(err, TS_EINVAL, "add_pos_embed: %dx%d patches in a %dx%d table, dim %d (multiple of 8), batch %d",
				  g->rows, g->cols, g->max, g->max, g->dim, g->batch);
	int64_t n = (int64_t)g->batch * g->ntok * (g->dim / 8);
	if (!n)
		return 0;
	int64_t blocks = (n + 255) / 256;
	k_add_pos_embed<<<(unsigned int)(blocks < 65535 * 16 ? blocks : 65535 * 16), 256, 0,
			  (cudaStream_t)stream>>>((bf16 *)x, (const bf16 *)table, *g);
	TS_CUDA_LAUNCHED("k_add_pos_embed", err);
	return 0;
}
