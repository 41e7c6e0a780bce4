/* ts_attention_sm90.cu: FlashAttention forward kernel for Hopper (sm_90a)
 * on warpgroup MMA (wgmma.mma_async), bf16 in, fp32 accumulate.
 *
 * A block of NWG warpgroups owns 64 * NWG query rows of one (sample, head);
 * each warpgroup computes 64 rows. Key and value tiles of 128 tokens stream
 * through shared memory by cp.async (two K and three V buffers), in the 128-byte
 * swizzled layout wgmma reads without bank conflicts: a tile of R rows x D
 * columns is stored as D/64 column blocks of R rows x 128 bytes, and the
 * 16-byte chunk c of row r sits at chunk position c ^ (r % 8).
 *
 * Per key tile j: S_{j+1} = Q K_{j+1}^T is issued before the softmax of
 * S_j, and P_{j-1} V_{j-1} is still running, so the tensor cores work while
 * the warpgroup computes exponentials (FlashAttention-3's intra-warpgroup
 * overlap); then O = O * alpha + P_j V_j with P taken from registers (the
 * S accumulator layout is the A-operand layout). Q K^T reads K as the K-major B operand; P V reads the same
 * swizzled layout as an MN-major ("transposed") B operand, so V needs no
 * transpose.
 *
 * Compiled only for sm_90a (wgmma is not part of plain sm_90); elsewhere the
 * mma.sync kernel of ts_attention.cu runs. */
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "ts_attention_common.cuh"
#include "ts_cuda_check.cuh"

typedef __nv_bfloat16 bf16;

#define TS_WG_BN 128 /* keys per tile */

#if defined(__CUDA_ARCH_FEAT_SM90_ALL) || !defined(__CUDA_ARCH__)
#define TS_WGMMA_COMPILED 1
#endif

#ifdef TS_WGMMA_COMPILED

/* d = A B (+ d if acc): A and B from shared memory, both K-major; m64n128k16. */
__device__ static __forceinline__ void ts_wgmma_ss_n128(float (&d)[64], uint64_t da,
							uint64_t db, int acc)
{
	asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
		     "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
		     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
		     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
		     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
		     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
		     "%64, %65, p, 1, 1, 0, 0;\n}\n"
		     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
		       "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
		       "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
		       "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
		       "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
		       "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
		       "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
		       "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
		     : "l"(da), "l"(db), "r"(acc));
}

/* d = A B (+ d if acc): A from registers, B from shared memory MN-major
 * (transposed); m64n128k16. */
__device__ static __forceinline__ void ts_wgmma_rs_n128(float (&d)[64], const uint32_t (&a)[4],
							uint64_t db, int acc)
{
	asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
		     "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
		     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
		     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
		     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
		     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
		     "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
		     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
		       "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
		       "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
		       "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
		       "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
		       "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
		       "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
		       "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(acc));
}

/* d = A B (+ d if acc): A from registers, B from shared memory MN-major
 * (transposed); m64n64k16. */
__device__ static __forceinline__ void ts_wgmma_rs_n64(float (&d)[32], const uint32_t (&a)[4],
							uint64_t db, int acc)
{
	asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
		     "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
		     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
		     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
		     "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
		     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
		       "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
		       "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
		       "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(acc));
}


__device__ static __forceinline__ void ts_wgmma_fence(void)
{
	asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ static __forceinline__ void ts_wgmma_commit(void)
{
	asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int N> __device__ static __forceinline__ void ts_wgmma_wait(void)
{
	asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

/* Keeps the compiler from moving reads or writes of accumulator registers
 * across wgmma issue and wait points (the hardware writes them
 * asynchronously). */
template <int R> __device__ static __forceinline__ void ts_reg_fence(float (&d)[R])
{
#pragma unroll
	for (int i = 0; i < R; i++)
		asm volatile("" : "+f"(d[i])::"memory");
}

/* cp.async writes through the generic proxy, wgmma reads through the async
 * proxy: this orders the two for shared memory. */
__device__ static __forceinline__ void ts_fence_proxy_async(void)
{
	asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

/* Shared-memory matrix descriptors, 128-byte swizzle: ts_wg_desc_lo() is
 * the low word (start address and lbo, the step between 64-column blocks of
 * MN-major operands), ts_wg_desc() adds the high word (sbo = 1024, the step
 * between 8-row groups of 128-byte rows; swizzle mode). Adding
 * byte_offset / 16 to the low word moves the start address (no carry: shared
 * addresses are below 256 KiB). The low word goes through an opaque move
 * once per use site, so the compiler recomputes the per-k-step descriptors
 * instead of holding dozens of them in registers across the main loop. */
__device__ static __forceinline__ uint32_t ts_wg_desc_lo(uint32_t addr, uint32_t lbo)
{
	uint32_t lo = ((addr & 0x3FFFF) >> 4) | ((lbo >> 4) << 16), out;
	asm volatile("mov.b32 %0, %1;\n" : "=r"(out) : "r"(lo));
	return out;
}

__device__ static __forceinline__ uint64_t ts_wg_desc(uint32_t lo, uint32_t byte_offset)
{
	return (uint64_t)(lo + (byte_offset >> 4)) | ((uint64_t)((1024 >> 4) | (1u << 30)) << 32);
}

/* Byte offset of 16-byte chunk c (of D/8) of row r in a swizzled tile of R rows. */
template <int R>
__device__ static __forceinline__ uint32_t ts_sw_offset(int r, int c)
{
	return (uint32_t)((c >> 3) * R * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

/* Loads rows j0 .. j0+R-1 (D bf16 each) into the swizzled tile at shared
 * address sm; rows at or past n are zero-filled. A thread copies the same
 * 16-byte column chunk of every RPS-th row: RPS is a multiple of 8, so the
 * swizzle is the same for all its rows and both addresses advance by a
 * constant (few registers held across the main loop). */
template <int D, int R, int THREADS>
__device__ static __forceinline__ void ts_wg_load_tile(uint32_t sm, const bf16 *g,
							const struct ts_attn_args &a, int64_t j0,
							int64_t n, int s, int h)
{
	constexpr int CPR = D / 8, RPS = THREADS / CPR;
	static_assert(THREADS % CPR == 0 && RPS % 8 == 0 && R % RPS == 0, "copy sweep");
	const int r0 = threadIdx.x / CPR, c = threadIdx.x % CPR;
	const uint32_t dst = sm + ts_sw_offset<R>(r0, c);
	if (ts_rows_linear(a, j0, R, n)) {
		const int64_t stride = (int64_t)a.heads * D;
		const bf16 *src = g + ts_attn_row(a, j0, s, h) + r0 * stride + c * 8;
#pragma unroll
		for (int k = 0; k < R / RPS; k++)
			ts_cp_async16(dst + k * RPS * 128, src + k * RPS * stride, 16);
		return;
	}
	for (int k = 0; k < R / RPS; k++) {
		int64_t j = j0 + r0 + k * RPS;
		bool ok = j < n;
		const bf16 *src = ok ? g + ts_attn_row(a, j, s, h) + c * 8 : g;
		ts_cp_async16(dst + k * RPS * 128, src, ok ? 16 : 0);
	}
}

/* S = Q K^T for this warpgroup's 64 rows and one key tile (async: the
 * caller commits and waits). */
template <int D, int BM>
__device__ static __forceinline__ void ts_wg_qk(float (&sc)[64], uint32_t sq, uint32_t sk)
{
	const uint32_t qlo = ts_wg_desc_lo(sq, 16), klo = ts_wg_desc_lo(sk, 16);
	ts_reg_fence(sc);
	ts_wgmma_fence();
#pragma unroll
	for (int kk = 0; kk < D / 16; kk++) {
		uint32_t col = (kk & 3) * 32; /* k16 slice within the 128-byte row */
		uint64_t da = ts_wg_desc(qlo, (kk >> 2) * BM * 128 + col);
		uint64_t db = ts_wg_desc(klo, (kk >> 2) * TS_WG_BN * 128 + col);
		ts_wgmma_ss_n128(sc, da, db, kk > 0);
	}
	ts_wgmma_commit();
	ts_reg_fence(sc);
}

/* O += P V for one key tile, P in A-fragment registers (async). */
template <int D>
__device__ static __forceinline__ void ts_wg_pv(float (&o)[D / 2], const uint32_t (&p)[TS_WG_BN / 16][4],
						uint32_t sv)
{
	const uint32_t vlo = ts_wg_desc_lo(sv, TS_WG_BN * 128);
	ts_reg_fence(o);
	ts_wgmma_fence();
#pragma unroll
	for (int kk = 0; kk < TS_WG_BN / 16; kk++) {
		uint64_t db = ts_wg_desc(vlo, kk * 16 * 128);
		if constexpr (D == 128)
			ts_wgmma_rs_n128(o, p[kk], db, 1);
		else
			ts_wgmma_rs_n64(o, p[kk], db, 1);
	}
	ts_wgmma_commit();
	ts_reg_fence(o);
}

/* Online softmax of one key tile for the thread's two rows (g and g + 8 of
 * its warp's 16), in place: masks invalid keys unless the tile is fully
 * valid (valid: the tile's key flags), updates the running max m (raw scores) and sum l, and leaves
 * exp2((s - max) * scale * log2 e) in sc, one FFMA and one ex2 each. Returns
 * in alpha the factor O must be rescaled by. Column of accumulator i:
 * 8 (i / 4) + 2 t4 + (i & 1); row: g + 8 ((i / 2) & 1). */
__device__ static __forceinline__ void ts_wg_softmax(float (&sc)[64], float *m, float *l,
						     float *alpha, const unsigned char *valid,
						     bool full, float sl2, int t4)
{
	float mt[2] = {m[0], m[1]};
	if (!full)
#pragma unroll
		for (int i = 0; i < 64; i++)
			if (!valid[8 * (i >> 2) + 2 * t4 + (i & 1)])
				sc[i] = -INFINITY;
#pragma unroll
	for (int i = 0; i < 64; i++)
		mt[(i >> 1) & 1] = fmaxf(mt[(i >> 1) & 1], sc[i]);
	float base[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 1));
		mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 2));
		base[r] = mt[r] == -INFINITY ? 0.0f : mt[r] * sl2; /* fully masked so far */
		alpha[r] = ts_exp2(m[r] * sl2 - base[r]);
		m[r] = mt[r];
		l[r] *= alpha[r];
	}
#pragma unroll
	for (int i = 0; i < 64; i++) {
		float e = ts_exp2(fmaf(sc[i], sl2, -base[(i >> 1) & 1]));
		sc[i] = e;
		l[(i >> 1) & 1] += e;
	}
}

/* O *= alpha per row, and P = bf16(sc) in A-fragment order (the S
 * accumulator of 16 keys is the A operand of k16 as it stands). */
template <int D>
__device__ static __forceinline__ void ts_wg_rescale_pack(float (&o)[D / 2],
							  uint32_t (&p)[TS_WG_BN / 16][4],
							  const float (&sc)[64], const float *alpha)
{
#pragma unroll
	for (int i = 0; i < D / 2; i++)
		o[i] *= alpha[(i >> 1) & 1];
#pragma unroll
	for (int kk = 0; kk < TS_WG_BN / 16; kk++) {
		p[kk][0] = ts_pack_bf16(sc[8 * kk + 0], sc[8 * kk + 1]);
		p[kk][1] = ts_pack_bf16(sc[8 * kk + 2], sc[8 * kk + 3]);
		p[kk][2] = ts_pack_bf16(sc[8 * kk + 4], sc[8 * kk + 5]);
		p[kk][3] = ts_pack_bf16(sc[8 * kk + 6], sc[8 * kk + 7]);
	}
}

/* Normalises O by l and writes this warpgroup's rows: staged through shared
 * memory (free by now) as padded rows, then 16-byte stores. */
template <int D, int BM>
__device__ static __forceinline__ void ts_wg_store(float (&o)[D / 2], float *l, bf16 *stage,
						   const struct ts_attn_args &a, int64_t q0,
						   int64_t n, int s, int h)
{
	constexpr int LDS = D + 8, CPR = D / 8;
	const int wg = threadIdx.x / 128, tid = threadIdx.x % 128;
	const int warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
	float inv[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
		l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
		inv[r] = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
	}
	bf16 *so = stage + (wg * 64 + warp * 16) * LDS;
#pragma unroll
	for (int i = 0; i < D / 8; i++) {
		int c = 8 * i + 2 * t4;
		*(__nv_bfloat162 *)(so + g * LDS + c) =
			__floats2bfloat162_rn(o[4 * i] * inv[0], o[4 * i + 1] * inv[0]);
		*(__nv_bfloat162 *)(so + (g + 8) * LDS + c) =
			__floats2bfloat162_rn(o[4 * i + 2] * inv[1], o[4 * i + 3] * inv[1]);
	}
	__syncwarp();
	bf16 *go = (bf16 *)a.o;
	for (int i = lane; i < 16 * CPR; i += 32) {
		int r = i / CPR, c = (i % CPR) * 8;
		int64_t j = q0 + wg * 64 + warp * 16 + r;
		if (j < n)
			*(uint4 *)(go + ts_attn_row(a, j, s, h) + c) = *(const uint4 *)(so + r * LDS + c);
	}
}

/* Shared memory of the kernel: Q, two K and three V tiles (P V of tile j
 * still runs while tile j+2's values land), three tiles' key flags, and
 * 1024 bytes to align the swizzle atoms. */
template <int D, int NWG> constexpr int ts_wg_smem_bytes(void)
{
	return (64 * NWG + 5 * TS_WG_BN) * D * 2 + 3 * TS_WG_BN + 1024;
}

/* What one block works on and the state its warpgroups carry across tiles. */
template <int D, int NWG> struct ts_wg_ctx {
	uint32_t sq, sk, sv;           /* shared addresses: Q of this warpgroup, K[2], V[3] */
	unsigned char *valid;          /* [3][TS_WG_BN] key flags */
	int64_t n;
	int s, h, t4, ntiles;
	bool padded;                   /* SP pad tokens are masked (any tile may hold some) */
	float sl2;
	float o[D / 2], m[2], l[2];
	uint32_t p[TS_WG_BN / 16][4];
};

/* Key flags of tile j into its buffer (read two barriers later); needed only
 * where SP padding masks keys or for the tile that runs past n. */
template <int D, int NWG>
__device__ static __forceinline__ void ts_wg_load_valid(struct ts_wg_ctx<D, NWG> &c,
							const struct ts_attn_args &a, int j)
{
	if ((c.padded || (int64_t)(j + 1) * TS_WG_BN > c.n) && threadIdx.x < TS_WG_BN)
		c.valid[(j % 3) * TS_WG_BN + threadIdx.x] =
			(unsigned char)ts_key_valid(a, (int64_t)j * TS_WG_BN + threadIdx.x, c.n);
}

/* One key tile j, entered with S_j = Q K_j^T in sc and, in flight, P_{j-1}
 * V_{j-1}; leaves P_j V_j in flight and, if NEXT, S_{j+1} in sn:
 *   issue S_{j+1} = Q K_{j+1}^T; softmax of S_j (overlaps both products);
 *   wait for P_{j-1} V_{j-1}; rescale O, pack P_j; issue P_j V_j;
 *   wait for S_{j+1}.
 * The block's barrier at the top also fences the tile loads, which run a
 * tile ahead: K_{j+2} into K_j's buffer, V_{j+1} into V_{j-2}'s. */
template <int D, int NWG, bool NEXT>
__device__ static __forceinline__ void ts_wg_tile(struct ts_wg_ctx<D, NWG> &c,
						  const struct ts_attn_args &a, int j,
						  float (&sc)[64], float (&sn)[64])
{
	constexpr int THREADS = NWG * 128;
	constexpr uint32_t KB = TS_WG_BN * D * 2;
	ts_cp_async_wait<0>();
	ts_fence_proxy_async();
	__syncthreads();
	if (j + 2 < c.ntiles) {
		ts_wg_load_tile<D, TS_WG_BN, THREADS>(c.sk + (j & 1) * KB, (const bf16 *)a.k, a,
						      (int64_t)(j + 2) * TS_WG_BN, c.n, c.s, c.h);
		ts_wg_load_valid(c, a, j + 2);
	}
	if (NEXT)
		ts_wg_load_tile<D, TS_WG_BN, THREADS>(c.sv + ((j + 1) % 3) * KB, (const bf16 *)a.v,
						      a, (int64_t)(j + 1) * TS_WG_BN, c.n, c.s, c.h);
	ts_cp_async_commit();
	if (NEXT)
		ts_wg_qk<D, 64 * NWG>(sn, c.sq, c.sk + ((j + 1) & 1) * KB);

	const bool full = !c.padded && (int64_t)(j + 1) * TS_WG_BN <= c.n;
	float alpha[2];
	ts_wg_softmax(sc, c.m, c.l, alpha, c.valid + (j % 3) * TS_WG_BN, full, c.sl2, c.t4);
	if (NEXT)
		ts_wgmma_wait<1>(); /* P_{j-1} V_{j-1} done; S_{j+1} may still run */
	else
		ts_wgmma_wait<0>();
	ts_reg_fence(c.o);
	ts_wg_rescale_pack<D>(c.o, c.p, sc, alpha);
	ts_wg_pv<D>(c.o, c.p, c.sv + (j % 3) * KB);
	if (NEXT) {
		ts_wgmma_wait<1>(); /* S_{j+1} done */
		ts_reg_fence(sn);
	}
}

/* Long: the kernel's prologue (Q and the first K/V tiles in flight), its
 * pipelined tile loop and the epilogue share the warpgroup's accumulator
 * registers; the per-tile work is already in ts_wg_tile(). */
template <int D, int NWG, bool SWAP>
__global__ static void __launch_bounds__(NWG * 128, 1) k_attention_wgmma(struct ts_attn_args a)
{
	constexpr int BM = 64 * NWG, THREADS = NWG * 128;
	constexpr uint32_t QB = BM * D * 2, KB = TS_WG_BN * D * 2;
	extern __shared__ unsigned char ts_wg_smem[];
	const uint32_t base = (ts_smem_addr(ts_wg_smem) + 1023) & ~1023u;
	unsigned char *gbase = ts_wg_smem + (base - ts_smem_addr(ts_wg_smem));
	struct ts_wg_ctx<D, NWG> c;
	const int64_t q0 = (int64_t)blockIdx.x * BM;
	const uint32_t sq = base;
	c.sq = sq + (threadIdx.x / 128) * 64 * 128;
	c.sk = sq + QB;
	c.sv = c.sk + 2 * KB;
	c.valid = gbase + QB + 5 * KB;
	c.s = blockIdx.z, c.h = blockIdx.y, c.t4 = threadIdx.x & 3;
	c.n = (int64_t)a.chunks * a.chunk_tokens;
	c.ntiles = (int)((c.n + TS_WG_BN - 1) / TS_WG_BN);
	c.padded = a.txt_valid < a.chunks * a.txt_tokens ||
		   a.img_valid < a.chunks * (a.chunk_tokens - a.txt_tokens);
	c.sl2 = a.scale * 1.4426950408889634f;
	c.m[0] = c.m[1] = -INFINITY;
	c.l[0] = c.l[1] = 0.0f;
#pragma unroll
	for (int i = 0; i < D / 2; i++)
		c.o[i] = 0.0f;

	/* Prologue: Q and K_0, then V_0 and K_1; S_0. */
	ts_wg_load_tile<D, BM, THREADS>(sq, (const bf16 *)a.q, a, q0, c.n, c.s, c.h);
	ts_wg_load_tile<D, TS_WG_BN, THREADS>(c.sk, (const bf16 *)a.k, a, 0, c.n, c.s, c.h);
	ts_wg_load_valid(c, a, 0);
	ts_cp_async_commit();
	ts_wg_load_tile<D, TS_WG_BN, THREADS>(c.sv, (const bf16 *)a.v, a, 0, c.n, c.s, c.h);
	if (c.ntiles > 1) {
		ts_wg_load_tile<D, TS_WG_BN, THREADS>(c.sk + KB, (const bf16 *)a.k, a, TS_WG_BN,
						      c.n, c.s, c.h);
		ts_wg_load_valid(c, a, 1);
	}
	ts_cp_async_commit();
	ts_cp_async_wait<1>();
	ts_fence_proxy_async();
	__syncthreads();
	float sa[64], sb[64];
	ts_wg_qk<D, BM>(sa, c.sq, c.sk);
	ts_wgmma_wait<0>();
	ts_reg_fence(sa);

	/* SWAP: two tiles per trip, so S_j and S_{j+1} swap registers by name
	 * (the last tile issues no next product). Otherwise one tile per trip
	 * and S_{j+1} is copied into S_j: ptxas then orders the wgmma groups
	 * more strictly (its "serialized" note) but needs no spills. Measured
	 * on H200 (exec/NOTES.md): the copy is faster at head_dim 128 (401 vs
	 * 355 TFLOP/s), the swap at 64 (261 vs 237). */
	int j = 0;
	if (SWAP) {
		for (; j + 2 < c.ntiles; j += 2) {
			ts_wg_tile<D, NWG, true>(c, a, j, sa, sb);
			ts_wg_tile<D, NWG, true>(c, a, j + 1, sb, sa);
		}
		if (j + 1 < c.ntiles) {
			ts_wg_tile<D, NWG, true>(c, a, j, sa, sb);
			ts_wg_tile<D, NWG, false>(c, a, j + 1, sb, sa);
		} else {
			ts_wg_tile<D, NWG, false>(c, a, j, sa, sb);
		}
	} else {
		for (; j + 1 < c.ntiles; j++) {
			ts_wg_tile<D, NWG, true>(c, a, j, sa, sb);
#pragma unroll
			for (int i = 0; i < 64; i++)
				sa[i] = sb[i];
		}
		ts_wg_tile<D, NWG, false>(c, a, j, sa, sb);
	}
	ts_wgmma_wait<0>();
	ts_reg_fence(c.o);
	__syncthreads(); /* all warpgroups done with the tiles: reuse as staging */
	ts_wg_store<D, BM>(c.o, c.l, (bf16 *)gbase, a, q0, c.n, c.s, c.h);
}

template <int D, int NWG, bool SWAP>
static int ts_attention_wgmma_launch(const struct ts_attn_args *a, cudaStream_t st,
				     struct ts_error *err)
{
	constexpr int smem = ts_wg_smem_bytes<D, NWG>();
	static_assert(64 * NWG * (D + 8) * 2 + 1024 <= smem, "output staging fits");
	TS_CUDA(cudaFuncSetAttribute(k_attention_wgmma<D, NWG, SWAP>,
				     cudaFuncAttributeMaxDynamicSharedMemorySize, smem), err);
	int64_t n = (int64_t)a->chunks * a->chunk_tokens;
	dim3 grid((unsigned int)((n + 64 * NWG - 1) / (64 * NWG)), (unsigned int)a->heads,
		  (unsigned int)a->batch);
	k_attention_wgmma<D, NWG, SWAP><<<grid, NWG * 128, smem, st>>>(*a);
	TS_CUDA_LAUNCHED("k_attention_wgmma", err);
	return 0;
}

#endif /* TS_WGMMA_COMPILED */

int ts_attention_wgmma(const struct ts_attn_args *a, cudaStream_t st, struct ts_error *err)
{
#if defined(TS_HAVE_WGMMA)
	if (a->head_dim == 128)
		return ts_attention_wgmma_launch<128, 2, false>(a, st, err);
	if (a->head_dim == 64)
		return ts_attention_wgmma_launch<64, 2, true>(a, st, err);
	return ts_err_set(err, TS_EINVAL, "attention: head_dim %d not supported (64 or 128)",
			  a->head_dim);
#else
	(void)a;
	(void)st;
	return ts_err_set(err, TS_EINVAL,
			  "attention: the wgmma kernel is not built (needs -Dgpu_arch=90, sm_90a)");
#endif
}
