/* test_attention.c: the attention kernels (our mma.sync and wgmma kernels,
 * cuDNN's fused SDPA where libcudnn.so.9 loads) against a CPU reference in
 * double precision over the chunked SP layout, padded and whole tiles;
 * cuDNN's variant pack rebuilt for new pointers and scales; AUTO equal to
 * cuDNN bit for bit. Bound 1e-2 (bf16 operands, fp32 accumulation, P
 * rounded to bf16). */
#include <string.h>

#include "kernel_test.h"
#include "ts_attention.h"
#include "ts_kernels.h"

/* Reference attention for (sample s, head h) over the chunked layout. */
static void ref_attention(const struct ts_attn_args *a, const float *q, const float *k,
			  const float *v, double *o)
{
	int64_t n = a->chunks * a->chunk_tokens, D = a->head_dim;
	double *p = malloc(sizeof(double) * n);
	for (int s = 0; s < a->batch; s++)
		for (int h = 0; h < a->heads; h++)
			for (int64_t i = 0; i < n; i++) {
#define AT(j) ((((((j) / a->chunk_tokens) * a->batch + s) * a->chunk_tokens + (j) % a->chunk_tokens) * a->heads + h) * D)
				double mx = -INFINITY, sum = 0;
				for (int64_t j = 0; j < n; j++) {
					int64_t c = j / a->chunk_tokens, t = j % a->chunk_tokens;
					int ok = t < a->txt_tokens ? c * a->txt_tokens + t < a->txt_valid :
						 c * (a->chunk_tokens - a->txt_tokens) + t - a->txt_tokens < a->img_valid;
					double dot = 0;
					for (int d = 0; d < D; d++)
						dot += (double)q[AT(i) + d] * k[AT(j) + d];
					p[j] = ok ? dot * a->scale : -INFINITY;
					mx = p[j] > mx ? p[j] : mx;
				}
				for (int64_t j = 0; j < n; j++)
					sum += p[j] = exp(p[j] - mx);
				for (int d = 0; d < D; d++) {
					double acc = 0;
					for (int64_t j = 0; j < n; j++)
						acc += p[j] * v[AT(j) + d];
					o[AT(i) + d] = acc / sum;
				}
#undef AT
			}
	free(p);
}

/* cuDNN's attention context for the TS_ATTN_CUDNN cases (NULL: not loaded). */
static struct ts_attn_cudnn *cudnn_ctx;

static void test_attention_case(int D, int chunks, int64_t ct, int64_t txt, int64_t txt_valid,
				int64_t img_valid, int batch, int heads, int kernel)
{
	struct ts_attn_args a = {NULL, NULL, NULL, NULL, batch, heads, D, chunks, ct, txt,
				 txt_valid, img_valid, 1.0f / sqrtf((float)D), kernel, cudnn_ctx};
	size_t n = (size_t)batch * heads * chunks * ct * D;
	float *q = gt_random(n, 2.0f, &rng), *k = gt_random(n, 2.0f, &rng), *v = gt_random(n, 1.0f, &rng);
	a.q = gt_to_dev_bf16(q, n), a.k = gt_to_dev_bf16(k, n), a.v = gt_to_dev_bf16(v, n);
	a.o = gt_dev_poisoned(n * 2);
	DEV(ts_attention(&a, NULL, &err));
	DEV(ts_dev_sync(&err));
	float *o = gt_from_dev_bf16(a.o, n);
	double *ref = malloc(sizeof(double) * n);
	ref_attention(&a, q, k, v, ref);
	double e = gt_rel_err(o, ref, n);
	TS_CHECK_MSG(e < MMA_TOL, "attention D %d kernel %d chunks %d x %lld (txt %lld, valid %lld/%lld) rel err %g",
		     D, kernel, chunks, (long long)ct, (long long)txt, (long long)txt_valid,
		     (long long)img_valid, e);
	printf("attention D=%d kernel=%d chunks=%d ct=%lld batch=%d heads=%d: rel err %.2e\n", D,
	       kernel, chunks, (long long)ct, batch, heads, e);
	free(q), free(k), free(v), free(o), free(ref);
	ts_dev_free((void *)a.q), ts_dev_free((void *)a.k), ts_dev_free((void *)a.v), ts_dev_free(a.o);
}

/* cuDNN's fused attention against the same reference, where libcudnn.so.9
 * loads (and then it must: gt_cudnn_expected; TS_REQUIRE_CUDNN=1 makes its
 * absence a failure too). Masked SP shapes run on gathered valid keys; several
 * samples over several chunks are refused and AUTO runs an own kernel for
 * them. Each shape runs twice: the second call takes the cached plan (and
 * gather buffer) with new pointers. */
/* Runs a (its pointers and scale) and checks o against the reference; *out
 * is the output (NULL if the run failed). */
static void run_checked(struct ts_attn_args *a, const float *q, const float *k, const float *v,
			size_t n, float **out)
{
	*out = NULL;
	DEV(ts_attention(a, NULL, &err));
	DEV(ts_dev_sync(&err));
	float *o = gt_from_dev_bf16(a->o, n);
	double *ref = malloc(sizeof(double) * n);
	ref_attention(a, q, k, v, ref);
	double e = gt_rel_err(o, ref, n);
	TS_CHECK_MSG(e < MMA_TOL, "attention kernel %d scale %g: rel err %g", a->kernel, a->scale, e);
	free(ref);
	*out = o;
}

/* One shape over two live sets of buffers and two scales, A B A and then A
 * with B's scale: the cached plan's variant pack is rebuilt for new pointers
 * or a new scale alone, and each result is right; and AUTO with a cuDNN
 * context gives TS_ATTN_CUDNN's output bit for bit (it routes there;
 * cuDNN's forward is deterministic). */
static void test_cudnn_pack_and_auto(void)
{
	const int heads = 2, D = 64;
	const int64_t ct = 77;
	const size_t n = (size_t)heads * ct * D;
	float *h[2][3];
	void *d[2][4];
	for (int set = 0; set < 2; set++) {
		for (int t = 0; t < 3; t++) {
			h[set][t] = gt_random(n, 2.0f, &rng);
			d[set][t] = gt_to_dev_bf16(h[set][t], n);
		}
		d[set][3] = gt_dev_poisoned(n * 2);
	}
	struct ts_attn_args a = {NULL, NULL, NULL, NULL, 1, heads, D, 1, ct, 0, 0, ct, 0.0f,
				 TS_ATTN_CUDNN, cudnn_ctx};
	float *first = NULL;
	for (int rep = 0; rep < 4; rep++) {
		int set = rep == 1;
		a.q = d[set][0], a.k = d[set][1], a.v = d[set][2], a.o = d[set][3];
		a.scale = set || rep == 3 ? 0.2f : 0.125f;
		float *o;
		run_checked(&a, h[set][0], h[set][1], h[set][2], n, &o);
		if (rep == 0)
			first = o;
		else
			free(o);
	}
	a.q = d[0][0], a.k = d[0][1], a.v = d[0][2], a.o = d[1][3], a.scale = 0.125f;
	a.kernel = TS_ATTN_AUTO;
	float *autoo;
	run_checked(&a, h[0][0], h[0][1], h[0][2], n, &autoo);
	TS_CHECK_MSG(autoo && first && !memcmp(autoo, first, n * sizeof(float)),
		     "AUTO did not run cuDNN (or a run failed)");
	free(autoo), free(first);
	for (int set = 0; set < 2; set++)
		for (int t = 0; t < 4; t++) {
			if (t < 3)
				free(h[set][t]);
			ts_dev_free(d[set][t]);
		}
}

static void test_attention_cudnn(void)
{
	const char *why = NULL;
	char expected[128];
	bool must = gt_cudnn_expected(expected, sizeof(expected));
	struct ts_attn_args none = {NULL, NULL, NULL, NULL, 1, 2, 64, 1, 8, 0, 0, 8, 0.125f,
				    TS_ATTN_CUDNN, NULL};
	TS_CHECK(ts_attention(&none, NULL, &err) == TS_EINVAL); /* no context */
	if (!ts_attn_cudnn_available(&why)) {
		TS_CHECK_MSG(!must, "%s, but the cuDNN path is off: %s", expected, why);
		printf("attention: %s (%s); cuDNN not tested\n", why, expected);
		return;
	}
	DEV(ts_attn_cudnn_create(&cudnn_ctx, &err));
	for (int rep = 0; rep < 2; rep++) {
		test_attention_case(128, 1, 300, 0, 0, 300, 2, 3, TS_ATTN_CUDNN);
		test_attention_case(64, 1, 77, 0, 0, 77, 1, 2, TS_ATTN_CUDNN);
		test_attention_case(64, 1, 700, 0, 0, 700, 1, 2, TS_ATTN_CUDNN);
		test_attention_case(128, 1, 1024, 0, 0, 1024, 1, 2, TS_ATTN_CUDNN);
		/* SP layout without pad tokens: 4 chunks of 6 text + 40 image. */
		test_attention_case(128, 4, 46, 6, 24, 160, 1, 2, TS_ATTN_CUDNN);
		test_attention_case(64, 2, 150, 17, 34, 266, 1, 2, TS_ATTN_CUDNN);
		/* Text and image of 2 samples in one chunk. */
		test_attention_case(64, 1, 150, 17, 17, 133, 2, 2, TS_ATTN_CUDNN);
		/* Masked SP pad tokens (the own kernels' cases): the valid keys
		 * are gathered, the pad ones left out. */
		test_attention_case(128, 4, 46, 6, 21, 157, 1, 2, TS_ATTN_CUDNN);
		test_attention_case(64, 2, 150, 17, 33, 267, 1, 2, TS_ATTN_CUDNN);
		test_attention_case(128, 2, 340, 10, 20, 600, 1, 2, TS_ATTN_CUDNN);
		/* One chunk with padded text: 2 samples, 5 of 17 text keys valid. */
		test_attention_case(64, 1, 150, 17, 5, 133, 2, 2, TS_ATTN_CUDNN);
	}
	/* Several samples over several chunks: cuDNN refuses (no single query
	 * stride), AUTO falls back to an own kernel. */
	struct ts_attn_args spread = {NULL, NULL, NULL, NULL, 2, 2, 64, 2, 150, 17, 33, 267, 0.125f,
				      TS_ATTN_CUDNN, cudnn_ctx};
	TS_CHECK(!ts_attn_cudnn_supports(&spread));
	TS_CHECK(ts_attention(&spread, NULL, &err) == TS_EINVAL);
	test_attention_case(64, 2, 150, 17, 33, 267, 2, 2, TS_ATTN_AUTO);
	test_cudnn_pack_and_auto();
	ts_attn_cudnn_destroy(cudnn_ctx);
	cudnn_ctx = NULL;
}

static void test_attention(void)
{
	int kernels[] = {TS_ATTN_MMA_16, TS_ATTN_MMA_32, TS_ATTN_WGMMA};
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		int kern = kernels[i];
		if (kern == TS_ATTN_WGMMA && !ts_attention_has_wgmma()) {
			printf("attention: wgmma kernel not built or not an sm_90 GPU, not tested\n");
			continue;
		}
		/* Plain attention, N not a multiple of the 64/128 tiles. */
		test_attention_case(128, 1, 300, 0, 0, 300, 2, 3, kern);
		test_attention_case(64, 1, 77, 0, 0, 77, 1, 2, kern);
		/* Many key tiles (both pipeline buffers reused) and row blocks. */
		test_attention_case(128, 1, 1000, 0, 0, 1000, 1, 2, kern);
		test_attention_case(64, 1, 700, 0, 0, 700, 1, 2, kern);
		/* Whole tiles only: the kernels' unmasked fast path. */
		test_attention_case(128, 1, 1024, 0, 0, 1024, 1, 2, kern);
		test_attention_case(64, 1, 512, 0, 0, 512, 1, 2, kern);
		/* SP layout: 4 chunks of (6 text + 40 image) with 21 text and
		 * 157 image tokens valid: the last chunk's tails are masked. */
		test_attention_case(128, 4, 46, 6, 21, 157, 1, 2, kern);
		test_attention_case(64, 2, 150, 17, 33, 267, 2, 2, kern);
		test_attention_case(128, 2, 340, 10, 20, 600, 1, 2, kern);
		/* SP layout without pad tokens (the common case), also with
		 * whole tiles only (2 chunks x 256 = 512 tokens). */
		test_attention_case(128, 4, 46, 6, 24, 160, 1, 2, kern);
		test_attention_case(64, 2, 150, 17, 34, 266, 1, 2, kern);
		test_attention_case(128, 2, 256, 16, 32, 480, 1, 2, kern);
	}
	test_attention_cudnn();
	struct ts_attn_args unknown = {0};
	unknown.head_dim = 64, unknown.chunks = 1, unknown.chunk_tokens = 8, unknown.batch = 1;
	unknown.heads = 1, unknown.kernel = 7;
	TS_CHECK(ts_attention(&unknown, NULL, &err) == TS_EINVAL);
	struct ts_attn_args bad = {0};
	bad.head_dim = 96, bad.chunks = 1, bad.chunk_tokens = 8, bad.batch = 1, bad.heads = 1;
	TS_CHECK(ts_attention(&bad, NULL, &err) == TS_EINVAL);
}

int main(void)
{
	if (gt_gpus() < 1) {
		printf("test_attention: no GPU, skipped\n");
		return TS_SKIP;
	}
	test_attention();
	return ts_test_result("test_attention");
}
