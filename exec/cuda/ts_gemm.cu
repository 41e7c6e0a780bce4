/* ts_gemm.cu: linear layers through cuBLASLt with a per-shape algorithm cache.
 *
 * Row-major y[m][n] = x[m][k] w[n][k]^T is, in cuBLAS's column-major terms,
 * Y^T (n x m, ld ldy) = op(W) (n x k) * X^T (k x m), where the row-major w
 * buffer read column-major is W^T (k x n, ld k), hence TRANSA = T. The bias
 * epilogue adds a vector over cuBLAS rows, i.e. over our columns n. */
#include <cublasLt.h>
#include <stdlib.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "ts_gemm.h"
#include "ts_kernels.h"
}

#define TS_GEMM_CACHE 256

struct ts_gemm_key {
	int64_t m, n, k, ldx, ldy;
	int epi, accumulate;
};

struct ts_gemm_entry {
	struct ts_gemm_key key;
	cublasLtMatmulAlgo_t algo;
	int found; /* 0: cuBLASLt offered nothing for this shape */
};

struct ts_gemm {
	cublasLtHandle_t lt;
	void *workspace;
	size_t workspace_bytes;
	struct ts_gemm_entry cache[TS_GEMM_CACHE];
	int ncache;
};

#define TS_LT(call, err, rc, label)                                             \
	do {                                                                    \
		cublasStatus_t ts_st_ = (call);                                 \
		if (ts_st_ != CUBLAS_STATUS_SUCCESS) {                          \
			rc = ts_err_set((err), TS_EDEVICE, "%s:%d: %s: %s",     \
					__FILE__, __LINE__, #call,              \
					cublasGetStatusName(ts_st_));           \
			goto label;                                             \
		}                                                               \
	} while (0)

extern "C" int ts_gemm_create(struct ts_gemm **out, size_t workspace_bytes,
			      struct ts_error *err)
{
	int rc = 0;
	*out = NULL;
	struct ts_gemm *g = (struct ts_gemm *)calloc(1, sizeof(*g));
	if (!g)
		return ts_err_set(err, TS_ENOMEM, "gemm: out of host memory");
	TS_LT(cublasLtCreate(&g->lt), err, rc, out_free);
	TS_CUDA_GOTO(cudaMalloc(&g->workspace, workspace_bytes), err, rc, out_destroy);
	g->workspace_bytes = workspace_bytes;
	*out = g;
	return 0;
out_destroy:
	cublasLtDestroy(g->lt);
out_free:
	free(g);
	return rc;
}

extern "C" void ts_gemm_destroy(struct ts_gemm *g)
{
	if (!g)
		return;
	cudaFree(g->workspace);
	cublasLtDestroy(g->lt);
	free(g);
}

static int ts_gemm_key_eq(const struct ts_gemm_key *a, const struct ts_gemm_key *b)
{
	return a->m == b->m && a->n == b->n && a->k == b->k && a->ldx == b->ldx &&
	       a->ldy == b->ldy && a->epi == b->epi && a->accumulate == b->accumulate;
}

/* The descriptors of one call; destroyed by ts_gemm_desc_free(). */
struct ts_gemm_desc {
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, c;
};

static void ts_gemm_desc_free(struct ts_gemm_desc *d)
{
	if (d->c)
		cublasLtMatrixLayoutDestroy(d->c);
	if (d->b)
		cublasLtMatrixLayoutDestroy(d->b);
	if (d->a)
		cublasLtMatrixLayoutDestroy(d->a);
	if (d->op)
		cublasLtMatmulDescDestroy(d->op);
}

static int ts_gemm_desc_make(struct ts_gemm_desc *d, const struct ts_gemm_key *key,
			     const void *bias, struct ts_error *err)
{
	int rc = 0;
	cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
	cublasLtEpilogue_t epi = key->epi == TS_EPI_BIAS ? CUBLASLT_EPILOGUE_BIAS :
				 key->epi == TS_EPI_GELU_BIAS ? CUBLASLT_EPILOGUE_GELU_BIAS :
								CUBLASLT_EPILOGUE_DEFAULT;
	TS_LT(cublasLtMatmulDescCreate(&d->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), err, rc, out);
	TS_LT(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
	      err, rc, out);
	TS_LT(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
	      err, rc, out);
	TS_LT(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)),
	      err, rc, out);
	if (key->epi != TS_EPI_NONE)
		TS_LT(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
						     sizeof(bias)),
		      err, rc, out);
	TS_LT(cublasLtMatrixLayoutCreate(&d->a, CUDA_R_16BF, (uint64_t)key->k, (uint64_t)key->n,
					 key->k),
	      err, rc, out);
	TS_LT(cublasLtMatrixLayoutCreate(&d->b, CUDA_R_16BF, (uint64_t)key->k, (uint64_t)key->m,
					 key->ldx),
	      err, rc, out);
	TS_LT(cublasLtMatrixLayoutCreate(&d->c, CUDA_R_16BF, (uint64_t)key->n, (uint64_t)key->m,
					 key->ldy),
	      err, rc, out);
out:
	return rc;
}

/* Finds (or asks cuBLASLt for, and caches while there is room) the best
 * algorithm of a shape; *out receives a copy of the entry. */
static int ts_gemm_algo(struct ts_gemm *g, const struct ts_gemm_key *key,
			const struct ts_gemm_desc *d, struct ts_gemm_entry *out,
			struct ts_error *err)
{
	int rc = 0;
	for (int i = 0; i < g->ncache; i++) {
		if (ts_gemm_key_eq(&g->cache[i].key, key)) {
			*out = g->cache[i];
			return 0;
		}
	}
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t res;
	int nres = 0;
	TS_LT(cublasLtMatmulPreferenceCreate(&pref), err, rc, out);
	TS_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
						   &g->workspace_bytes,
						   sizeof(g->workspace_bytes)),
	      err, rc, out_pref);
	{
		cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g->lt, d->op, d->a, d->b, d->c,
								   d->c, pref, 1, &res, &nres);
		if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
			rc = ts_err_set(err, TS_EDEVICE, "%s:%d: cublasLtMatmulAlgoGetHeuristic: %s",
					__FILE__, __LINE__, cublasGetStatusName(st));
			goto out_pref;
		}
		out->key = *key;
		out->found = st == CUBLAS_STATUS_SUCCESS && nres > 0;
		if (out->found)
			out->algo = res.algo;
		if (g->ncache < TS_GEMM_CACHE)
			g->cache[g->ncache++] = *out;
	}
out_pref:
	cublasLtMatmulPreferenceDestroy(pref);
out:
	return rc;
}

static int ts_gemm_run(struct ts_gemm *g, const struct ts_gemm_key *key, void *y, const void *x,
		       const void *w, const void *bias, cudaStream_t st, int *ran,
		       struct ts_error *err)
{
	struct ts_gemm_desc d = {};
	struct ts_gemm_entry e;
	float alpha = 1.0f, beta = key->accumulate ? 1.0f : 0.0f;
	int rc = ts_gemm_desc_make(&d, key, bias, err);
	if (rc)
		goto out;
	rc = ts_gemm_algo(g, key, &d, &e, err);
	if (rc || !e.found)
		goto out;
	TS_LT(cublasLtMatmul(g->lt, d.op, &alpha, w, d.a, x, d.b, &beta, y, d.c, y, d.c, &e.algo,
			     g->workspace, g->workspace_bytes, st),
	      err, rc, out);
	*ran = 1;
out:
	ts_gemm_desc_free(&d);
	if (rc)
		ts_err_prefix(err, "linear m %lld n %lld k %lld", (long long)key->m,
			      (long long)key->n, (long long)key->k);
	return rc;
}

extern "C" int ts_gemm_linear(struct ts_gemm *g, void *y, int64_t ldy, const void *x,
			      int64_t ldx, const void *w, const void *bias, int64_t m,
			      int64_t n, int64_t k, enum ts_gemm_epilogue epi, int accumulate,
			      void *stream, struct ts_error *err)
{
	if (m < 1 || n < 1 || k < 1 || ldx < k || ldy < n || (epi != TS_EPI_NONE && !bias) ||
	    (accumulate && epi == TS_EPI_GELU_BIAS))
		return ts_err_set(err, TS_EINVAL, "linear: bad arguments m %lld n %lld k %lld ldx %lld ldy %lld epilogue %d",
				  (long long)m, (long long)n, (long long)k, (long long)ldx,
				  (long long)ldy, (int)epi);
	cudaStream_t st = (cudaStream_t)stream;
	struct ts_gemm_key key = {m, n, k, ldx, ldy, (int)epi, accumulate};
	int ran = 0;
	int rc = ts_gemm_run(g, &key, y, x, w, bias, st, &ran, err);
	if (rc || ran)
		return rc;
	if (epi != TS_EPI_GELU_BIAS)
		return ts_err_set(err, TS_EDEVICE, "linear: cuBLASLt has no algorithm for m %lld n %lld k %lld",
				  (long long)m, (long long)n, (long long)k);
	key.epi = TS_EPI_NONE;
	rc = ts_gemm_run(g, &key, y, x, w, NULL, st, &ran, err);
	if (rc)
		return rc;
	if (!ran)
		return ts_err_set(err, TS_EDEVICE, "linear: cuBLASLt has no algorithm for m %lld n %lld k %lld",
				  (long long)m, (long long)n, (long long)k);
	return ts_k_bias_gelu(y, bias, m, (int)n, ldy, stream, err);
}
