/* ts_attention.cu: FlashAttention-2 style forward kernel for Hopper/Ampere
 * tensor cores through mma.sync.m16n8k16 (bf16 in, fp32 accumulate).
 *
 * A block owns 128 query rows of one (sample, head): 8 warps of 16 rows
 * or 4 warps of 32 rows (TS_ATTN_MMA_16 / _32). Key/value tiles of 64 rows stream through shared memory,
 * double-buffered with cp.async. Per tile: S = Q K^T (registers), online
 * softmax (running max m and sum l per row, exp2 with log2(e) folded into
 * the scale), O = O * alpha + P V with P re-packed from the S accumulators
 * straight into A fragments. Shared rows are padded by 16 bytes so the
 * 8 rows an ldmatrix reads fall in different banks. */
#include <atomic>

#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "ts_attention_common.cuh"
#include "ts_cuda_check.cuh"

typedef __nv_bfloat16 bf16;

#define TS_ATTN_BM 128
#define TS_ATTN_BN 64

__device__ static void ts_ldmatrix_x4(uint32_t *r, const void *p)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(ts_smem_addr(p)));
}

__device__ static void ts_ldmatrix_x4_trans(uint32_t *r, const void *p)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(ts_smem_addr(p)));
}

/* c += a (16x16, row) * b (16x8, col), bf16 -> fp32. */
__device__ static void ts_mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
{
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
		     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
		     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Key validity of one tile into shared memory (read after the next
 * barrier); returns, to every thread, whether the whole tile is valid so the
 * common unmasked tile skips the per-element test. */
__device__ static int ts_load_valid(unsigned char *valid, const struct ts_attn_args &a,
				    int64_t j0, int64_t n)
{
	int ok = 1;
	if (threadIdx.x < TS_ATTN_BN) {
		ok = ts_key_valid(a, j0 + threadIdx.x, n);
		valid[threadIdx.x] = (unsigned char)ok;
	}
	return __syncthreads_and(ok);
}

/* Loads `rows` rows of D bf16 starting at token j0 into shared memory with
 * row stride LDS; rows past n are zero-filled. When the rows lie in one SP
 * chunk (almost always), their addresses are linear in the row: one
 * division per tile instead of one per 16-byte copy, which otherwise costs
 * as many instructions as the tile's math. */
template <int D, int LDS>
__device__ static void ts_load_tile(bf16 *sm, const bf16 *g, const struct ts_attn_args &a,
				    int64_t j0, int rows, int64_t n, int s, int h)
{
	constexpr int CPR = D / 8; /* 16-byte chunks per row */
	if (ts_rows_linear(a, j0, rows, n)) {
		const bf16 *base = g + ts_attn_row(a, j0, s, h);
		const int64_t stride = (int64_t)a.heads * D;
#pragma unroll 4
		for (int i = threadIdx.x; i < rows * CPR; i += blockDim.x) {
			int r = i / CPR, c = (i % CPR) * 8;
			ts_cp_async16(ts_smem_addr(sm + r * LDS + c), base + r * stride + c, 16);
		}
		return;
	}
	for (int i = threadIdx.x; i < rows * CPR; i += blockDim.x) {
		int r = i / CPR, c = (i % CPR) * 8;
		int64_t j = j0 + r;
		bool ok = j < n;
		const bf16 *src = ok ? g + ts_attn_row(a, j, s, h) + c : g;
		ts_cp_async16(ts_smem_addr(sm + r * LDS + c), src, ok ? 16 : 0);
	}
}

/* The A fragment (16 query rows x 16 dims) at row r0, column c0 of sq. */
template <int LDS>
__device__ static __forceinline__ void ts_q_frag(uint32_t *a, const bf16 *sq, int r0, int c0, int lane)
{
	ts_ldmatrix_x4(a, sq + (r0 + (lane & 15)) * LDS + c0 + (lane >> 4) * 8);
}

/* Online softmax of one 16-row m-tile: scales and masks the scores,
 * updates the running max m and sum l of the thread's two rows, rescales
 * O, and leaves exp2(s - max) in sc. (Folding the scale into the exp's
 * FFMA keeps raw scores live longer and made the 32-row variant spill.) */
template <int D>
__device__ static __forceinline__ void ts_softmax_tile(float (*sc)[4], float (*o)[4], float *m,
						       float *l, const unsigned char *valid,
						       int full, float sl2, int t4)
{
	float mt[2] = {-INFINITY, -INFINITY};
#pragma unroll
	for (int j = 0; j < TS_ATTN_BN / 8; j++) {
#pragma unroll
		for (int e = 0; e < 4; e++) {
			float v = sc[j][e] * sl2;
			if (!full && !valid[j * 8 + 2 * t4 + (e & 1)])
				v = -INFINITY;
			sc[j][e] = v;
			mt[e >> 1] = fmaxf(mt[e >> 1], v);
		}
	}
	float alpha[2], base[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 1));
		mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 2));
		float mn = fmaxf(m[r], mt[r]);
		base[r] = mn == -INFINITY ? 0.0f : mn; /* fully masked so far */
		alpha[r] = ts_exp2(m[r] - base[r]);
		m[r] = mn;
		l[r] *= alpha[r];
	}
#pragma unroll
	for (int i = 0; i < D / 8; i++) {
		o[i][0] *= alpha[0];
		o[i][1] *= alpha[0];
		o[i][2] *= alpha[1];
		o[i][3] *= alpha[1];
	}
#pragma unroll
	for (int j = 0; j < TS_ATTN_BN / 8; j++) {
#pragma unroll
		for (int e = 0; e < 4; e++) {
			float p = ts_exp2(sc[j][e] - base[e >> 1]);
			sc[j][e] = p;
			l[e >> 1] += p;
		}
	}
}

/* MT = 16-row m-tiles per warp. MT = 1: 8 warps, Q fragments held in
 * registers. MT = 2: 4 warps of 32 rows; each K/V fragment read from shared
 * memory feeds two MMAs (less shared-memory traffic per flop), Q
 * fragments are re-read per tile to stay within 255 registers.
 * Long: one fused flash-attention kernel; its tile loop keeps the running
 * maxima, sums and output fragments in registers across the loads, the two
 * MMAs and the rescale, which helper functions would spill. */
template <int D, int MT>
__global__ static void __launch_bounds__(8 / MT * 32)
	k_attention(struct ts_attn_args a)
{
	constexpr int BM = TS_ATTN_BM, BN = TS_ATTN_BN, LDS = D + 8;
	constexpr int QREG = MT == 1 ? D / 16 : 1;
	extern __shared__ __align__(16) unsigned char ts_smem[];
	bf16 *sq = (bf16 *)ts_smem;
	bf16 *sk = sq + BM * LDS;      /* [2][BN][LDS] */
	bf16 *sv = sk + 2 * BN * LDS;  /* [2][BN][LDS] */
	unsigned char *svalid = (unsigned char *)(sv + 2 * BN * LDS); /* [2][BN] */

	const int s = blockIdx.z, h = blockIdx.y;
	const int64_t n = (int64_t)a.chunks * a.chunk_tokens;
	const int64_t q0 = (int64_t)blockIdx.x * BM;
	const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
	const int g = lane >> 2, t4 = lane & 3;
	const int row0 = warp * 16 * MT; /* this warp's first row in the tile */
	const bf16 *gq = (const bf16 *)a.q, *gk = (const bf16 *)a.k, *gv = (const bf16 *)a.v;
	const float sl2 = a.scale * 1.4426950408889634f;

	ts_load_tile<D, LDS>(sq, gq, a, q0, BM, n, s, h);
	ts_load_tile<D, LDS>(sk, gk, a, 0, BN, n, s, h);
	ts_load_tile<D, LDS>(sv, gv, a, 0, BN, n, s, h);
	int full = ts_load_valid(svalid, a, 0, n);
	ts_cp_async_commit();

	uint32_t qf[QREG][4];
	float o[MT][D / 8][4];
	float m[MT][2], l[MT][2];
	#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		#pragma unroll
		for (int i = 0; i < D / 8; i++)
			o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
		m[mt][0] = m[mt][1] = -INFINITY;
		l[mt][0] = l[mt][1] = 0.0f;
	}

	const int ntiles = (int)((n + BN - 1) / BN);
	for (int kt = 0; kt < ntiles; kt++) {
		int st = kt & 1, full_next = 1;
		if (kt + 1 < ntiles) {
			int nx = (kt + 1) & 1;
			ts_load_tile<D, LDS>(sk + nx * BN * LDS, gk, a, (int64_t)(kt + 1) * BN, BN, n, s, h);
			ts_load_tile<D, LDS>(sv + nx * BN * LDS, gv, a, (int64_t)(kt + 1) * BN, BN, n, s, h);
			full_next = ts_load_valid(svalid + nx * BN, a, (int64_t)(kt + 1) * BN, n);
			ts_cp_async_commit();
			ts_cp_async_wait<1>();
		} else {
			ts_cp_async_wait<0>();
		}
		__syncthreads();
		if (MT == 1 && kt == 0)
			#pragma unroll
			for (int kk = 0; kk < D / 16; kk++)
				ts_q_frag<LDS>(qf[kk], sq, row0, kk * 16, lane);
		const bf16 *k_s = sk + st * BN * LDS, *v_s = sv + st * BN * LDS;

		/* S = Q K^T for this warp's rows and 64 keys. */
		float sc[MT][BN / 8][4];
		#pragma unroll
		for (int mt = 0; mt < MT; mt++)
			#pragma unroll
			for (int j = 0; j < BN / 8; j++)
				sc[mt][j][0] = sc[mt][j][1] = sc[mt][j][2] = sc[mt][j][3] = 0.0f;
		#pragma unroll
		for (int kk = 0; kk < D / 16; kk++) {
			uint32_t qa[MT][4];
			#pragma unroll
			for (int mt = 0; mt < MT; mt++) {
				if (MT == 1)
					#pragma unroll
					for (int i = 0; i < 4; i++)
						qa[mt][i] = qf[MT == 1 ? kk : 0][i];
				else
					ts_q_frag<LDS>(qa[mt], sq, row0 + mt * 16, kk * 16, lane);
			}
			#pragma unroll
			for (int np = 0; np < BN / 16; np++) {
				uint32_t b[4];
				ts_ldmatrix_x4(b, k_s + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * LDS +
							  kk * 16 + ((lane >> 3) & 1) * 8);
				#pragma unroll
				for (int mt = 0; mt < MT; mt++) {
					ts_mma16816(sc[mt][2 * np], qa[mt], b[0], b[1]);
					ts_mma16816(sc[mt][2 * np + 1], qa[mt], b[2], b[3]);
				}
			}
		}
		#pragma unroll
		for (int mt = 0; mt < MT; mt++)
			ts_softmax_tile<D>(sc[mt], o[mt], m[mt], l[mt], svalid + st * BN, full, sl2, t4);

		/* O += P V: P's accumulators become A fragments directly. */
		#pragma unroll
		for (int kk = 0; kk < BN / 16; kk++) {
			uint32_t pa[MT][4];
			#pragma unroll
			for (int mt = 0; mt < MT; mt++) {
				pa[mt][0] = ts_pack_bf16(sc[mt][2 * kk][0], sc[mt][2 * kk][1]);
				pa[mt][1] = ts_pack_bf16(sc[mt][2 * kk][2], sc[mt][2 * kk][3]);
				pa[mt][2] = ts_pack_bf16(sc[mt][2 * kk + 1][0], sc[mt][2 * kk + 1][1]);
				pa[mt][3] = ts_pack_bf16(sc[mt][2 * kk + 1][2], sc[mt][2 * kk + 1][3]);
			}
			#pragma unroll
			for (int dn = 0; dn < D / 16; dn++) {
				uint32_t b[4];
				ts_ldmatrix_x4_trans(b, v_s + (kk * 16 + (lane & 15)) * LDS + dn * 16 +
								(lane >> 4) * 8);
				#pragma unroll
				for (int mt = 0; mt < MT; mt++) {
					ts_mma16816(o[mt][2 * dn], pa[mt], b[0], b[1]);
					ts_mma16816(o[mt][2 * dn + 1], pa[mt], b[2], b[3]);
				}
			}
		}
		full = full_next;
		__syncthreads(); /* this stage is refilled two tiles later */
	}

	/* Normalise, stage this warp's rows in its own part of sq, store with
	 * 16-byte writes. */
	bf16 *so = sq + row0 * LDS;
	#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		float inv[2];
		#pragma unroll
		for (int r = 0; r < 2; r++) {
			l[mt][r] += __shfl_xor_sync(0xffffffffu, l[mt][r], 1);
			l[mt][r] += __shfl_xor_sync(0xffffffffu, l[mt][r], 2);
			inv[r] = l[mt][r] > 0.0f ? 1.0f / l[mt][r] : 0.0f;
		}
		#pragma unroll
		for (int i = 0; i < D / 8; i++) {
			int c = i * 8 + 2 * t4;
			*(__nv_bfloat162 *)(so + (mt * 16 + g) * LDS + c) =
				__floats2bfloat162_rn(o[mt][i][0] * inv[0], o[mt][i][1] * inv[0]);
			*(__nv_bfloat162 *)(so + (mt * 16 + g + 8) * LDS + c) =
				__floats2bfloat162_rn(o[mt][i][2] * inv[1], o[mt][i][3] * inv[1]);
		}
	}
	__syncwarp();
	bf16 *go = (bf16 *)a.o;
	constexpr int CPR = D / 8;
	for (int i = lane; i < 16 * MT * CPR; i += 32) {
		int r = i / CPR, c = (i % CPR) * 8;
		int64_t j = q0 + row0 + r;
		if (j < n)
			*(uint4 *)(go + ts_attn_row(a, j, s, h) + c) = *(const uint4 *)(so + r * LDS + c);
	}
}

template <int D, int MT>
static int ts_attention_launch(const struct ts_attn_args *a, cudaStream_t st,
			       struct ts_error *err)
{
	const int smem = (TS_ATTN_BM + 4 * TS_ATTN_BN) * (D + 8) * (int)sizeof(bf16) +
			 2 * TS_ATTN_BN;
	TS_CUDA(cudaFuncSetAttribute(k_attention<D, MT>,
				     cudaFuncAttributeMaxDynamicSharedMemorySize, smem), err);
	int64_t n = (int64_t)a->chunks * a->chunk_tokens;
	dim3 grid((unsigned int)((n + TS_ATTN_BM - 1) / TS_ATTN_BM), (unsigned int)a->heads,
		  (unsigned int)a->batch);
	k_attention<D, MT><<<grid, 8 / MT * 32, smem, st>>>(*a);
	TS_CUDA_LAUNCHED("k_attention", err);
	return 0;
}

/* Whether the current device can run the wgmma kernel (compute 9.0),
 * queried once per device (attention runs hundreds of times per step). */
static bool ts_device_is_sm90(void)
{
	static std::atomic<signed char> known[64]; /* 0 unknown, 1 no, 2 yes */
	int dev = 0, major = 0, minor = 0;
	if (cudaGetDevice(&dev) != cudaSuccess) {
		cudaGetLastError();
		return false;
	}
	if (dev < 64 && known[dev].load(std::memory_order_relaxed))
		return known[dev].load(std::memory_order_relaxed) == 2;
	if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
	    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
		cudaGetLastError();
		return false;
	}
	bool yes = major == 9 && minor == 0;
	if (dev < 64)
		known[dev].store(yes ? 2 : 1, std::memory_order_relaxed);
	return yes;
}

extern "C" bool ts_attention_has_wgmma(void)
{
#if defined(TS_HAVE_WGMMA)
	return ts_device_is_sm90();
#else
	return false;
#endif
}

/* The own kernel TS_ATTN_AUTO stands for where cuDNN does not run: wgmma
 * where it is built and the GPU is sm_90 (measured faster, exec/NOTES.md),
 * else mma.sync with 32 rows per warp (faster than 16 for both head sizes). */
static int ts_attention_best_kernel(void)
{
	return ts_attention_has_wgmma() ? TS_ATTN_WGMMA : TS_ATTN_MMA_32;
}

extern "C" int ts_attention(const struct ts_attn_args *a, void *stream, struct ts_error *err)
{
	if (a->chunks < 1 || a->chunk_tokens < 1 || a->batch < 1 || a->heads < 1 ||
	    a->batch > 65535 || a->heads > 65535 || a->txt_tokens < 0 ||
	    a->txt_tokens > a->chunk_tokens ||
	    (int64_t)a->chunks * a->chunk_tokens >= (1LL << 31))
		return ts_err_set(err, TS_EINVAL, "attention: bad shape (batch %d, heads %d, chunks %d x %lld tokens, %lld text)",
				  a->batch, a->heads, a->chunks, (long long)a->chunk_tokens,
				  (long long)a->txt_tokens);
	if (a->head_dim != 64 && a->head_dim != 128)
		return ts_err_set(err, TS_EINVAL, "attention: head_dim %d not supported (64 or 128)",
				  a->head_dim);
	cudaStream_t st = (cudaStream_t)stream;
	if (a->kernel == TS_ATTN_CUDNN) {
		if (!a->cudnn)
			return ts_err_set(err, TS_EINVAL, "attention: TS_ATTN_CUDNN without a cuDNN "
					  "context (ts_attn_cudnn_create)");
		return ts_attention_cudnn(a->cudnn, a, stream, err);
	}
	/* AUTO: cuDNN, unless it has no plan for the shape (then an own kernel) */
	if (a->kernel == TS_ATTN_AUTO && a->cudnn && ts_attn_cudnn_supports(a)) {
		int rc = ts_attention_cudnn(a->cudnn, a, stream, err);
		if (rc != TS_ENOTFOUND)
			return rc;
		ts_err_clear(err);
	}
	int kernel = a->kernel == TS_ATTN_AUTO ? ts_attention_best_kernel() : a->kernel;
	switch (kernel * 256 + a->head_dim) {
	case TS_ATTN_MMA_16 * 256 + 64: return ts_attention_launch<64, 1>(a, st, err);
	case TS_ATTN_MMA_32 * 256 + 64: return ts_attention_launch<64, 2>(a, st, err);
	case TS_ATTN_MMA_16 * 256 + 128: return ts_attention_launch<128, 1>(a, st, err);
	case TS_ATTN_MMA_32 * 256 + 128: return ts_attention_launch<128, 2>(a, st, err);
	}
	if (kernel != TS_ATTN_WGMMA)
		return ts_err_set(err, TS_EINVAL, "attention: unknown kernel %d (enum ts_attn_kernel)",
				  a->kernel);
	if (!ts_attention_has_wgmma())
		return ts_err_set(err, TS_EINVAL, "attention: the wgmma kernel needs an sm_90 GPU "
				  "(H100/H200) and a -Dgpu_arch=90 build");
	return ts_attention_wgmma(a, st, err);
}

static int64_t ts_clip(int64_t v, int64_t hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

extern "C" int64_t ts_attn_valid_txt(const struct ts_attn_args *a)
{
	return ts_clip(a->txt_valid, a->chunks * a->txt_tokens);
}

extern "C" int64_t ts_attn_valid_img(const struct ts_attn_args *a)
{
	return ts_clip(a->img_valid, a->chunks * (a->chunk_tokens - a->txt_tokens));
}

/* Row `row` (0 .. valid-1) of the compacted keys is the row-th valid token:
 * the valid text tokens in order, then the valid image tokens. One block per
 * (row, sample) copies all heads of the token's key and value rows. */
__global__ static void k_attn_gather_valid_kv(struct ts_attn_args a, bf16 *ko, bf16 *vo,
					      int64_t valid)
{
	const int64_t row = blockIdx.x, s = blockIdx.y, img = a.chunk_tokens - a.txt_tokens;
	int64_t c, t;
	if (row < a.txt_valid) {
		c = row / a.txt_tokens, t = row % a.txt_tokens;
	} else {
		c = (row - a.txt_valid) / img, t = a.txt_tokens + (row - a.txt_valid) % img;
	}
	const int64_t src = ts_attn_row(a, c * a.chunk_tokens + t, (int)s, 0);
	const int64_t dst = (s * valid + row) * a.heads * a.head_dim;
	const uint4 *k = (const uint4 *)((const bf16 *)a.k + src);
	const uint4 *v = (const uint4 *)((const bf16 *)a.v + src);
	uint4 *kd = (uint4 *)(ko + dst), *vd = (uint4 *)(vo + dst);
	for (int i = threadIdx.x; i < a.heads * a.head_dim / 8; i += blockDim.x) {
		kd[i] = k[i];
		vd[i] = v[i];
	}
}

extern "C" int ts_attn_gather_valid_kv(const struct ts_attn_args *a, void *k_out, void *v_out,
				       void *stream, struct ts_error *err)
{
	struct ts_attn_args c = *a; /* valid counts clipped to the tokens there are */
	c.txt_valid = ts_attn_valid_txt(a), c.img_valid = ts_attn_valid_img(a);
	int64_t valid = c.txt_valid + c.img_valid;
	if (valid < 1 || valid >= (1LL << 31) || a->batch < 1 || a->batch > 65535)
		return ts_err_set(err, TS_EINVAL, "attention: cannot gather %lld valid keys, batch %d",
				  (long long)valid, a->batch);
	dim3 grid((unsigned int)valid, (unsigned int)a->batch);
	k_attn_gather_valid_kv<<<grid, 128, 0, (cudaStream_t)stream>>>(c, (bf16 *)k_out,
								      (bf16 *)v_out, valid);
	TS_CUDA_LAUNCHED("k_attn_gather_valid_kv", err);
	return 0;
}

extern "C" double ts_attention_flops(const struct ts_attn_args *a)
{
	double n = (double)a->chunks * (double)a->chunk_tokens;
	return 4.0 * n * n * a->head_dim * a->heads * a->batch;
}
