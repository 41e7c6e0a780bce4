/* bench_exec.c: the figures of exec/NOTES.md, side by side: attention
 * TFLOP/s of both kernel variants against the cuBLASLt GEMM ceiling at the
 * DiT's own shapes, all-to-all bus bandwidth (nccl-tests convention) at the
 * Ulysses message sizes, the cost of moving a latent between GPUs, and what
 * the executor does that the simulator does not model: a request's first
 * launch allocating its memory, its preallocation, creating a GPU set's
 * communicators (docs/EXEC.md, "Costs the simulator does not model").
 * Usage: bench_exec [attn] [gemm] [comm] [move] [alloc] (all by default).
 * Exit 77 without a GPU. Inputs are random (never zeros), times are medians. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/gpuset.h"
#include "gpu_test.h"
#include "ts_attention.h"
#include "ts_comm_bench.h"
#include "ts_dit.h"
#include "ts_gemm.h"
#include "ts_kernels.h"

#define REPS 10

static struct ts_error err;

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Random bf16 device buffer of n elements in [-1, 1) (hash fill, seeded). */
static void *rand_dev(size_t n, uint64_t seed)
{
	void *d = NULL;
	if (ts_dev_alloc(&d, n * 2, &err) || ts_k_fill_uniform_bf16(d, n, seed, 1.0f, 0.0f, NULL, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	return d;
}

static void bench_attention(void)
{
	struct {
		const char *what;
		int64_t n;
		int heads, d;
	} cases[] = {
		{"flux 256^2 SP=1", 256 + 512, 24, 128},
		{"flux 512^2 SP=1", 1024 + 512, 24, 128},
		{"flux 1024^2 SP=1", 4096 + 512, 24, 128},
		{"flux 2048^2 SP=1", 16384 + 512, 24, 128},
		{"flux 2048^2 SP=4 (per GPU)", 16384 + 512, 6, 128},
		{"sd3 256^2 SP=1", 256 + 336, 24, 64},
		{"sd3 512^2 SP=1", 1024 + 336, 24, 64},
		{"sd3 1024^2 SP=1", 4096 + 336, 24, 64},
		{"sd3 2048^2 SP=1", 16384 + 336, 24, 64},
	};
	struct ts_dev_timer t;
	if (ts_dev_timer_init(&t, &err))
		return;
	static const char *names[] = {"", "mma16", "mma32", "wgmma", "cudnn"};
	struct ts_attn_cudnn *dnn = NULL;
	const char *why = NULL;
	if (!ts_attn_cudnn_available(&why) || ts_attn_cudnn_create(&dnn, &err))
		printf("# cuDNN attention not measured: %s\n", why ? why : err.msg);
	printf("%-28s %6s %5s %6s %8s %10s\n", "attention", "N", "heads", "kernel", "ms", "TFLOP/s");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = (size_t)cases[c].n * cases[c].heads * cases[c].d;
		void *q = rand_dev(n, 1), *k = rand_dev(n, 2), *v = rand_dev(n, 3), *o = gt_dev_poisoned(n * 2);
		for (int kern = TS_ATTN_MMA_16; kern <= TS_ATTN_CUDNN; kern++) {
			if ((kern == TS_ATTN_WGMMA && !ts_attention_has_wgmma()) ||
			    (kern == TS_ATTN_CUDNN && !dnn))
				continue;
			struct ts_attn_args a = {q, k, v, o, 1, cases[c].heads, cases[c].d, 1, cases[c].n, 0,
						 0, cases[c].n, 0.088f, kern, dnn};
			float ms[REPS];
			ts_attention(&a, NULL, &err); /* warm-up */
			for (int r = 0; r < REPS; r++) {
				if (ts_dev_timer_start(&t, NULL, &err) || ts_attention(&a, NULL, &err) ||
				    ts_dev_timer_stop(&t, NULL, &ms[r], &err)) {
					fprintf(stderr, "bench: %s\n", err.msg);
					exit(1);
				}
			}
			qsort(ms, REPS, sizeof(float), cmp_float);
			printf("%-28s %6lld %5d %6s %8.3f %10.1f\n", cases[c].what, (long long)cases[c].n,
			       cases[c].heads, names[kern], ms[REPS / 2],
			       ts_attention_flops(&a) / (ms[REPS / 2] * 1e-3) / 1e12);
		}
		ts_dev_free(q), ts_dev_free(k), ts_dev_free(v), ts_dev_free(o);
	}
	ts_attn_cudnn_destroy(dnn);
	ts_dev_timer_close(&t);
}

static void bench_gemm(void)
{
	struct {
		const char *what;
		int64_t m, n, k;
		enum ts_gemm_epilogue epi;
	} cases[] = {
		{"ceiling 8192^3", 8192, 8192, 8192, TS_EPI_NONE},
		{"flux 2048^2 qkv", 16384, 9216, 3072, TS_EPI_BIAS},
		{"flux 2048^2 fc1+gelu", 16384, 12288, 3072, TS_EPI_GELU_BIAS},
		{"flux 2048^2 fc2", 16384, 3072, 12288, TS_EPI_BIAS},
		{"flux 2048^2 single lin2", 16896, 3072, 15360, TS_EPI_BIAS},
		{"flux 256^2 qkv", 768, 9216, 3072, TS_EPI_BIAS},
		{"flux mod (batch 1)", 1, 1056768, 3072, TS_EPI_BIAS},
	};
	struct ts_gemm *g = NULL;
	struct ts_dev_timer t;
	if (ts_gemm_create(&g, 32u << 20, &err) || ts_dev_timer_init(&t, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	printf("%-28s %6s %8s %6s %8s %10s %8s\n", "gemm", "m", "n", "k", "ms", "TFLOP/s", "GB/s");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int64_t m = cases[c].m, n = cases[c].n, k = cases[c].k;
		void *x = rand_dev((size_t)(m * k), 4), *w = rand_dev((size_t)(n * k), 5);
		void *b = rand_dev((size_t)n, 6), *y = gt_dev_poisoned((size_t)(m * n) * 2);
		float ms[REPS];
		ts_gemm_linear(g, y, n, x, k, w, b, m, n, k, cases[c].epi, 0, NULL, &err);
		for (int r = 0; r < REPS; r++) {
			if (ts_dev_timer_start(&t, NULL, &err) ||
			    ts_gemm_linear(g, y, n, x, k, w, b, m, n, k, cases[c].epi, 0, NULL, &err) ||
			    ts_dev_timer_stop(&t, NULL, &ms[r], &err)) {
				fprintf(stderr, "bench: %s\n", err.msg);
				exit(1);
			}
		}
		qsort(ms, REPS, sizeof(float), cmp_float);
		double s = ms[REPS / 2] * 1e-3;
		double bytes = 2.0 * (double)(m * k + n * k + m * n);
		printf("%-28s %6lld %8lld %6lld %8.3f %10.1f %8.0f\n", cases[c].what, (long long)m,
		       (long long)n, (long long)k, ms[REPS / 2], 2.0 * m * n * k / s / 1e12, bytes / s / 1e9);
		ts_dev_free(x), ts_dev_free(w), ts_dev_free(b), ts_dev_free(y);
	}
	ts_dev_timer_close(&t);
	ts_gemm_destroy(g);
}

/* Per-rank bytes of one Ulysses all-to-all of q (flux, hidden 3072, bf16):
 * all local tokens x hidden. */
static void bench_comm(int ngpu)
{
	struct {
		const char *what;
		int64_t tokens;
	} cases[] = {
		{"flux 256^2", 256 + 512},
		{"flux 1024^2", 4096 + 512},
		{"flux 2048^2", 16384 + 512},
	};
	printf("%-14s %3s %12s %9s %10s %10s\n", "all-to-all", "k", "bytes/rank", "ms", "algbw GB/s",
	       "busbw GB/s");
	for (int k = 2; k <= ngpu && k <= 8; k *= 2) {
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			size_t bytes = (size_t)(cases[c].tokens / k) * 3072 * 2;
			struct ts_a2a_result r;
			if (ts_comm_bench_alltoall(k, bytes, 20, &r, &err)) {
				fprintf(stderr, "bench: %s\n", err.msg);
				return;
			}
			printf("%-14s %3d %12zu %9.3f %10.1f %10.1f\n", cases[c].what, k, bytes, r.ms,
			       r.algbw_gbs, r.busbw_gbs);
		}
	}
}

/* Latent move between GPUs after a step at 2048^2 (SD3 weights: small). */
static void bench_move(int ngpu)
{
	struct ts_dit_engine *e = NULL;
	struct ts_dit_request *r = NULL;
	double ms = 0, total = 0;
	if (ts_dit_engine_open(&e, "sd3-medium", ngpu >= 4 ? 4 : 2, 1, &err) ||
	    ts_dit_request_open(e, &r, 2048, 2048, 1, 50, 1, &err) ||
	    ts_dit_request_step(e, r, 0x1, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		goto out;
	}
	for (int i = 0; i < 5; i++) {
		/* One step on GPU 0 makes it the only holder; then move. */
		if (ts_dit_request_step(e, r, 0x1, &err) ||
		    ts_dit_request_move(e, r, ngpu >= 4 ? 0xE : 0x2, &ms, &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			goto out;
		}
		total += ms;
	}
	printf("latent move 2048^2 (%lld floats) GPU0 -> %s: %.3f ms mean of 5\n",
	       (long long)ts_dit_request_latent_size(r), ngpu >= 4 ? "GPUs 1,2,3" : "GPU 1", total / 5);
out:
	ts_dit_request_close(r);
	ts_dit_engine_close(e);
}

static double step_ms(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t gpus)
{
	int64_t t0 = ts_clock_ns();
	if (ts_dit_request_step(e, r, gpus, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	return (double)(ts_clock_ns() - t0) / 1e6;
}

/* A fresh request's first step on GPU 0 against its second (the first
 * allocates its latent and conditioning and fills the noise), and the same
 * with the memory reserved beforehand as the executor's preallocation does
 * (ts_dit_request_move of a fresh request), after a warm-up request of the
 * shape (cuDNN and cuBLASLt plans are made there). */
static void alloc_case(struct ts_dit_engine *e, int res)
{
	struct ts_dit_request *w = NULL, *a = NULL, *b = NULL;
	double reserve = 0;
	if (ts_dit_request_open(e, &w, res, res, 1, 2, 7, &err) || ts_dit_request_open(e, &a, res, res, 1, 3, 8, &err) ||
	    ts_dit_request_open(e, &b, res, res, 1, 3, 9, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	step_ms(e, w, 0x1);
	step_ms(e, w, 0x1);
	double a1 = step_ms(e, a, 0x1), a2 = step_ms(e, a, 0x1);
	int64_t t0 = ts_clock_ns();
	if (ts_dit_request_move(e, b, 0x1, &reserve, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	reserve = (double)(ts_clock_ns() - t0) / 1e6;
	double b1 = step_ms(e, b, 0x1), b2 = step_ms(e, b, 0x1);
	printf("first launch %dx%d on GPU 0: step 1 %.3f ms, step 2 %.3f ms (allocation %+.3f ms); "
	       "preallocated (%.3f ms before the run): step 1 %.3f ms, step 2 %.3f ms (%+.3f ms)\n", res, res, a1, a2,
	       a1 - a2, reserve, b1, b2, b1 - b2);
	ts_dit_request_close(w);
	ts_dit_request_close(a);
	ts_dit_request_close(b);
}

/* The communicators of every aligned GPU set of 2.. GPUs, created once. */
static void comm_case(struct ts_dit_engine *e, int ngpu)
{
	for (int k = 2; k <= ngpu; k *= 2) {
		int64_t t0 = ts_clock_ns();
		if (ts_dit_engine_warm_group(e, ts_gpus_block(0, k), &err)) {
			fprintf(stderr, "bench: %s\n", err.msg);
			return;
		}
		printf("communicators of GPUs 0..%d created in %.1f ms\n", k - 1,
		       (double)(ts_clock_ns() - t0) / 1e6);
	}
}

static void bench_alloc(int ngpu)
{
	struct ts_dit_engine *e = NULL;
	static const int res[] = { 256, 512, 1024, 2048 };
	if (ts_dit_engine_open(&e, "flux-dev", ngpu, 1, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		alloc_case(e, res[i]);
	comm_case(e, ngpu);
	ts_dit_engine_close(e);
}

static int wanted(int argc, char **argv, const char *what)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], what))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int ngpu = gt_gpus();
	char name[128] = "";
	if (ngpu < 1) {
		printf("bench_exec: no GPU, skipped\n");
		return TS_SKIP;
	}
	ts_dev_name(0, name, sizeof(name), &err);
	printf("bench_exec on %d x %s\n", ngpu, name);
	if (wanted(argc, argv, "attn"))
		bench_attention();
	if (wanted(argc, argv, "gemm"))
		bench_gemm();
	if (ngpu >= 2 && wanted(argc, argv, "comm"))
		bench_comm(ngpu);
	if (ngpu >= 2 && wanted(argc, argv, "move"))
		bench_move(ngpu);
	if (wanted(argc, argv, "alloc"))
		bench_alloc(ngpu);
	return 0;
}
