/* test_kernels.c: every kernel of the DiT step against a CPU reference in
 * double precision, on seeded random inputs, with outputs poisoned (NaN)
 * before each run so an unwritten element fails. Bounds: element-wise
 * kernels with bf16 output 8e-3 (bf16 rounding is 2^-9 = 2e-3 relative per
 * element); GEMMs and attention 1e-2 (bf16 operands, fp32 accumulation;
 * attention also rounds P to bf16); pure layout kernels exact. */
#include <string.h>

#include "ts_attention.h"
#include "ts_gemm.h"
#include "ts_kernels.h"

#define ELT_TOL 8e-3
#include "kernel_test.h"

static double gelu_tanh(double x)
{
	return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static void test_layernorm_modulate(void)
{
	const int rows = 37, dim = 264, per = 10, batch = 4, ms = 3 * dim;
	float *x = gt_random((size_t)rows * dim, 3.0f, &rng);
	for (int i = 0; i < rows * dim; i++)
		x[i] += 5.0f; /* a large mean, as on a residual stream */
	float *mod = gt_random((size_t)batch * ms, 0.5f, &rng);
	void *dx = gt_to_dev_bf16(x, (size_t)rows * dim), *dm = gt_to_dev_bf16(mod, (size_t)batch * ms);
	void *dout = gt_dev_poisoned((size_t)rows * dim * 2);
	DEV(ts_k_layernorm_modulate(dout, dx, (char *)dm + 2 * dim, (char *)dm, rows, dim, per, ms,
				    NULL, &err));
	float *out = gt_from_dev_bf16(dout, (size_t)rows * dim);
	double *ref = malloc(sizeof(double) * rows * dim);
	for (int r = 0; r < rows; r++) {
		double mean = 0, var = 0;
		for (int c = 0; c < dim; c++)
			mean += x[r * dim + c];
		mean /= dim;
		for (int c = 0; c < dim; c++)
			var += (x[r * dim + c] - mean) * (x[r * dim + c] - mean);
		var /= dim;
		const float *shift = mod + (r / per) * ms + dim, *scale = mod + (r / per) * ms;
		for (int c = 0; c < dim; c++)
			ref[r * dim + c] = (x[r * dim + c] - mean) / sqrt(var + 1e-6) * (1 + scale[c]) + shift[c];
	}
	double e = gt_rel_err(out, ref, (size_t)rows * dim);
	TS_CHECK_MSG(e < ELT_TOL, "layernorm_modulate rel err %g", e);
	printf("layernorm_modulate: rel err %.2e\n", e);
	free(x), free(mod), free(out), free(ref);
	ts_dev_free(dx), ts_dev_free(dm), ts_dev_free(dout);
}

static void test_gated_residual(void)
{
	const int rows = 19, dim = 136, per = 7, gs = 2 * dim;
	size_t n = (size_t)rows * dim;
	float *x = gt_random(n, 2.0f, &rng), *y = gt_random(n, 2.0f, &rng);
	float *gate = gt_random((size_t)3 * gs, 1.0f, &rng);
	void *dx = gt_to_dev_bf16(x, n), *dy = gt_to_dev_bf16(y, n), *dg = gt_to_dev_bf16(gate, 3 * gs);
	DEV(ts_k_gated_residual(dx, dy, dg, rows, dim, per, gs, NULL, &err));
	float *out = gt_from_dev_bf16(dx, n);
	double *ref = malloc(sizeof(double) * n);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < dim; c++)
			ref[r * dim + c] = x[r * dim + c] + (double)gate[(r / per) * gs + c] * y[r * dim + c];
	double e = gt_rel_err(out, ref, n);
	TS_CHECK_MSG(e < ELT_TOL, "gated_residual rel err %g", e);
	printf("gated_residual: rel err %.2e\n", e);
	free(x), free(y), free(gate), free(out), free(ref);
	ts_dev_free(dx), ts_dev_free(dy), ts_dev_free(dg);
}

static void test_activations(void)
{
	const int rows = 11, dim = 48, ld = 64;
	size_t n = (size_t)rows * ld;
	float *x = gt_random(n, 4.0f, &rng), *b = gt_random(dim, 1.0f, &rng);
	void *dx = gt_to_dev_bf16(x, n), *db = gt_to_dev_bf16(b, dim);
	DEV(ts_k_bias_gelu(dx, db, rows, dim, ld, NULL, &err));
	float *out = gt_from_dev_bf16(dx, n);
	double *ref = malloc(sizeof(double) * n);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < ld; c++)
			ref[r * ld + c] = c < dim ? gelu_tanh((double)x[r * ld + c] + b[c]) : x[r * ld + c];
	double e = gt_rel_err(out, ref, n);
	TS_CHECK_MSG(e < ELT_TOL, "bias_gelu rel err %g (columns past dim must stay)", e);
	printf("bias_gelu: rel err %.2e\n", e);

	void *ds = gt_dev_poisoned(n * 2);
	void *dx2 = gt_to_dev_bf16(x, n);
	DEV(ts_k_silu(ds, dx2, n, NULL, &err));
	float *s = gt_from_dev_bf16(ds, n);
	for (size_t i = 0; i < n; i++)
		ref[i] = x[i] / (1.0 + exp(-(double)x[i]));
	e = gt_rel_err(s, ref, n);
	TS_CHECK_MSG(e < ELT_TOL, "silu rel err %g", e);
	free(x), free(b), free(out), free(ref), free(s);
	ts_dev_free(dx), ts_dev_free(db), ts_dev_free(ds), ts_dev_free(dx2);
}

/* One timestep per sample, read at a stride (other values between them),
 * and one shared by every sample (stride 0). */
static void test_timestep_embed(void)
{
	const int batch = 3, dim = 256, stride = 2;
	const float t[6] = {0.031f, -9.0f, 0.75f, -9.0f, 0.002f, -9.0f};
	void *d = gt_dev_poisoned((size_t)batch * dim * 2), *dt = NULL;
	DEV(ts_dev_alloc(&dt, sizeof(t), &err));
	DEV(ts_dev_upload(dt, t, sizeof(t), &err));
	double ref[3 * 256];
	/* shared: 0 per-sample values at a stride, 1 one value; round: FLUX's bf16 rounding */
	for (int mode = 0; mode < 4; mode++) {
		int shared = mode & 1, round = mode >> 1;
		DEV(ts_k_timestep_embed_dev(d, dt, shared ? 0 : stride, batch, dim, 1000.0f, round, NULL,
					    &err));
		float *out = gt_from_dev_bf16(d, (size_t)batch * dim);
		for (int b = 0; b < batch; b++)
			for (int j = 0; j < dim / 2; j++) {
				float tb = t[shared ? 0 : b * stride];
				float scaled = round ? ts_bf16_to_float(ts_bf16_from_float(
							       ts_bf16_to_float(ts_bf16_from_float(tb)) * 1000.0f))
						     : tb * 1000.0f;
				double arg = (double)scaled * exp(-log(10000.0) * j / (dim / 2));
				ref[b * dim + j] = cos(arg);
				ref[b * dim + dim / 2 + j] = sin(arg);
			}
		double e = gt_rel_err(out, ref, (size_t)batch * dim);
		TS_CHECK_MSG(e < ELT_TOL, "timestep_embed (stride %d, round %d) rel err %g",
			     shared ? 0 : stride, round, e);
		free(out);
	}
	TS_CHECK(ts_k_timestep_embed_dev(d, dt, 0, 9, dim, 1.0f, 0, NULL, &err) == TS_EINVAL);
	TS_CHECK(ts_k_timestep_embed_dev(d, NULL, 0, batch, dim, 1.0f, 0, NULL, &err) == TS_EINVAL);
	TS_CHECK(ts_k_timestep_embed_dev(d, dt, -1, batch, dim, 1.0f, 0, NULL, &err) == TS_EINVAL);
	ts_dev_free(d), ts_dev_free(dt);
}

/* FLUX's rounding: t = bf16(bf16(0.6) * 1000) = 600, not 600.0000238. */
static void test_timestep_embed_bf16(void)
{
	const int dim = 256;
	const float t = 0.6f;
	void *d = gt_dev_poisoned((size_t)dim * 2), *dt = NULL;
	DEV(ts_dev_alloc(&dt, sizeof(t), &err));
	DEV(ts_dev_upload(dt, &t, sizeof(t), &err));
	DEV(ts_k_timestep_embed_dev(d, dt, 0, 1, dim, 1000.0f, 1, NULL, &err));
	float *out = gt_from_dev_bf16(d, (size_t)dim);
	float tr = ts_bf16_to_float(ts_bf16_from_float(ts_bf16_to_float(ts_bf16_from_float(t)) * 1000.0f));
	TS_CHECK(tr == 600.0f);
	double ref[256];
	for (int j = 0; j < dim / 2; j++) {
		double arg = (double)tr * exp(-log(10000.0) * j / (dim / 2));
		ref[j] = cos(arg);
		ref[dim / 2 + j] = sin(arg);
	}
	double e = gt_rel_err(out, ref, (size_t)dim);
	TS_CHECK_MSG(e < ELT_TOL, "timestep_embed (bf16 timestep) rel err %g", e);
	free(out);
	ts_dev_free(d), ts_dev_free(dt);
}

/* SD3's cropped position table added to a rank's tokens 4..16 of a 3 x 5
 * grid in an 8 x 8 table (top 2, left 1); tokens 15, 16 are padding. */
static void test_pos_embed(void)
{
	const int batch = 2, dim = 16, max = 8;
	const int64_t tok0 = 4, ntok = 13, nx = batch * ntok * dim;
	uint64_t seed = 5;
	float *x = gt_random((size_t)nx, 1.0f, &seed), *tab = gt_random((size_t)max * max * dim, 1.0f, &seed);
	void *dx = gt_to_dev_bf16(x, (size_t)nx), *dtab = gt_to_dev_bf16(tab, (size_t)max * max * dim);
	struct ts_pos_geom g = {batch, 3, 5, max, dim, tok0, ntok};
	DEV(ts_k_add_pos_embed(dx, dtab, &g, NULL, &err));
	float *out = gt_from_dev_bf16(dx, (size_t)nx);
	int bad = 0;
	for (int64_t i = 0; i < nx; i++) {
		int64_t t = tok0 + i / dim % ntok, c = i % dim;
		float want = x[i];
		if (t < 15)
			want = ts_bf16_to_float(ts_bf16_from_float(
				x[i] + tab[((2 + t / 5) * max + 1 + t % 5) * dim + c]));
		bad += out[i] != want;
	}
	TS_CHECK_MSG(bad == 0, "add_pos_embed: %d of %lld values differ", bad, (long long)nx);
	g.rows = 9;
	TS_CHECK(ts_k_add_pos_embed(dx, dtab, &g, NULL, &err) == TS_EINVAL);
	free(x), free(tab), free(out);
	ts_dev_free(dx), ts_dev_free(dtab);
}

/* Patchify a random latent, compare with the CPU packing; unpatchify the
 * tokens re-laid as 3 SP chunks (with padding) and get the latent back. */
static void test_patchify_roundtrip(void)
{
	struct ts_patch_geom g = {2, 3, 6, 10, 2};
	const int64_t ntok = 15, feat = 12, chunks = 3, ct = 5;
	size_t nl = (size_t)g.batch * g.channels * g.height * g.width;
	float *lat = gt_random(nl, 1.0f, &rng);
	float *dl = NULL, *dimg = NULL;
	DEV(ts_dev_alloc((void **)&dl, nl * 4, &err));
	DEV(ts_dev_upload(dl, lat, nl * 4, &err));
	/* Tokens 5..9 of each sample, then 10..14 and 15.. (padding). */
	void *dt = gt_dev_poisoned((size_t)chunks * g.batch * ct * feat * 2);
	for (int c = 0; c < chunks; c++)
		DEV(ts_k_patchify((char *)dt + (size_t)c * g.batch * ct * feat * 2, dl, &g, c * ct, ct,
				  NULL, &err));
	float *tok = gt_from_dev_bf16(dt, (size_t)chunks * g.batch * ct * feat);
	int mism = 0;
	for (int c = 0; c < chunks; c++)
		for (int s = 0; s < g.batch; s++)
			for (int t = 0; t < ct; t++)
				for (int f = 0; f < feat; f++) {
					int64_t p = c * ct + t;
					int ch = f / 4, ph = (f / 2) % 2, pw = f % 2;
					float want = p < ntok ? lat[((s * g.channels + ch) * g.height + (p / 5) * 2 + ph) * g.width + (p % 5) * 2 + pw] : 0.0f;
					mism += tok[((c * g.batch + s) * ct + t) * feat + f] != want;
				}
	TS_CHECK_MSG(mism == 0, "patchify: %d elements differ", mism);
	dimg = gt_dev_poisoned(nl * 4);
	DEV(ts_k_unpatchify(dimg, dt, &g, ct, NULL, &err));
	float *back = malloc(nl * 4);
	DEV(ts_dev_download(back, dimg, nl * 4, &err));
	mism = 0;
	for (size_t i = 0; i < nl; i++)
		mism += back[i] != lat[i];
	TS_CHECK_MSG(mism == 0, "unpatchify(patchify(x)) != x at %d elements", mism);
	/* Euler on the round-tripped latent, each sample with its own sigma
	 * pair (stride 4): x + (s1 - s0) x = 0.75 x for sample 0, 0.4 x for 1. */
	const float sigma[8] = {0.75f, 0.5f, -1.0f, -1.0f, 0.9f, 0.3f, -1.0f, -1.0f};
	const float factor[2] = {0.75f, 0.4f};
	size_t per = nl / (size_t)g.batch;
	void *dsig = NULL;
	DEV(ts_dev_alloc(&dsig, sizeof(sigma), &err));
	DEV(ts_dev_upload(dsig, sigma, sizeof(sigma), &err));
	DEV(ts_k_euler_dev(dl, dimg, nl, per, dsig, 4, NULL, &err));
	TS_CHECK(ts_k_euler_dev(dl, dimg, nl, 0, dsig, 4, NULL, &err) == TS_EINVAL);
	ts_dev_free(dsig);
	DEV(ts_dev_download(back, dl, nl * 4, &err));
	mism = 0;
	for (size_t i = 0; i < nl; i++)
		mism += fabsf(back[i] - factor[i / per] * lat[i]) > 1e-6f;
	TS_CHECK_MSG(mism == 0, "euler: %d elements off", mism);
	struct ts_patch_geom odd = {1, 1, 5, 4, 2};
	TS_CHECK(ts_k_patchify(dt, dl, &odd, 0, 1, NULL, &err) == TS_EINVAL);
	free(lat), free(tok), free(back);
	ts_dev_free(dl), ts_dev_free(dt), ts_dev_free(dimg);
}

/* The CPU version of ts_k_qkv_prepare for one (sample, token, head). */
static void ref_qkv(const struct ts_qkv_prep *p, const float *txt, const float *img,
		    const float *qn, const float *kn, int64_t s, int64_t t, int h, int which,
		    double *out)
{
	int D = p->head_dim;
	int is_img = t >= p->txt_tokens;
	const float *row = is_img ? img + (s * p->img_sample_rows + t - p->txt_tokens) * p->src_ld :
				    txt + (s * p->txt_sample_rows + t) * p->src_ld;
	row += (int64_t)which * p->heads * D + (int64_t)h * D;
	double v[128], ss = 0;
	for (int d = 0; d < D; d++)
		ss += (double)row[d] * row[d];
	double r = 1.0 / sqrt(ss / D + 1e-6);
	for (int d = 0; d < D; d++)
		v[d] = which < 2 ? row[d] * r * (which ? kn[d] : qn[d]) : row[d];
	if (which < 2 && p->rope && is_img) {
		int64_t gi = p->img_off + t - p->txt_tokens;
		int64_t pos[3] = {0, gi / p->img_cols, gi % p->img_cols};
		for (int i = 0; i < D / 2; i++) {
			int a = 0, start = 0;
			while (a < 2 && i >= start + p->rope_axes[a] / 2)
				start += p->rope_axes[a++] / 2;
			double ang = pos[a] * pow(p->rope_theta, -2.0 * (i - start) / p->rope_axes[a]);
			double x0 = v[2 * i], x1 = v[2 * i + 1];
			v[2 * i] = x0 * cos(ang) - x1 * sin(ang);
			v[2 * i + 1] = x0 * sin(ang) + x1 * cos(ang);
		}
	}
	memcpy(out, v, sizeof(double) * D);
}

static void check_unscatter(const struct ts_qkv_prep *p, const float *txt, const float *img);

/* One qkv_prepare case: shapes, ranks and RoPE as given (B samples of tt
 * text and ti image tokens, H heads of D dims), against ref_qkv; then the
 * inverse layout must give the v projections back exactly. */
struct qkv_case {
	int D, H, B, ranks, rope, img_cols;
	int64_t tt, ti, img_off;
	int misalign; /* sources one element off their allocation: the element-wise path */
	int ld_pad;   /* source row length 3*H*D + ld_pad (2: the element-wise path) */
	int pad_rows; /* rows between samples beyond the tokens (a sample's rows are strided) */
};

/* The n values of x on the device, one element into the allocation when
 * misalign (*base: the allocation, to free). */
static void *qkv_source(const float *x, size_t n, int misalign, void **base)
{
	float *h = calloc(n + 1, sizeof(float));
	memcpy(h + misalign, x, n * sizeof(float));
	*base = gt_to_dev_bf16(h, n + 1);
	free(h);
	return (char *)*base + 2 * misalign;
}

static void check_qkv_case(const struct qkv_case *c)
{
	struct ts_qkv_prep p = {0};
	const int D = c->D, H = c->H, B = c->B, hl_n = c->H / c->ranks;
	const int64_t tt = c->tt, ti = c->ti, ld = 3 * H * D + c->ld_pad;
	const int64_t txt_rows = tt + c->pad_rows, img_rows = ti + c->pad_rows;
	p.src_ld = ld;
	p.txt_sample_rows = txt_rows;
	p.img_sample_rows = img_rows;
	p.batch = B;
	p.heads = H;
	p.head_dim = D;
	p.ranks = c->ranks;
	p.txt_tokens = tt;
	p.img_tokens = ti;
	p.rope = c->rope;
	p.img_off = c->img_off;
	p.img_cols = c->img_cols;
	p.rope_axes[0] = D / 8, p.rope_axes[1] = D * 7 / 16, p.rope_axes[2] = D * 7 / 16;
	p.rope_theta = 10000.0f;
	float *txt = gt_random((size_t)B * txt_rows * ld, 2.0f, &rng);
	float *img = gt_random((size_t)B * img_rows * ld, 2.0f, &rng);
	float *nw = gt_random(4 * D, 0.2f, &rng);
	for (int i = 0; i < 4 * D; i++)
		nw[i] += 1.0f;
	void *dtxt, *dimg, *dnw = gt_to_dev_bf16(nw, 4 * D);
	p.src_txt = qkv_source(txt, (size_t)B * txt_rows * ld, c->misalign, &dtxt);
	p.src_img = qkv_source(img, (size_t)B * img_rows * ld, c->misalign, &dimg);
	size_t n = (size_t)B * (tt + ti) * H * D;
	p.qn_txt = dnw, p.kn_txt = (char *)dnw + 2 * D, p.qn_img = (char *)dnw + 4 * D,
	p.kn_img = (char *)dnw + 6 * D;
	p.q = gt_dev_poisoned(n * 2), p.k = gt_dev_poisoned(n * 2), p.v = gt_dev_poisoned(n * 2);
	DEV(ts_k_qkv_prepare(&p, NULL, &err));
	float *out[3] = {gt_from_dev_bf16(p.q, n), gt_from_dev_bf16(p.k, n), gt_from_dev_bf16(p.v, n)};
	double *ref = malloc(sizeof(double) * n);
	for (int which = 0; which < 3; which++) {
		for (int s = 0; s < B; s++)
			for (int64_t t = 0; t < tt + ti; t++)
				for (int h = 0; h < H; h++) {
					int is_img = t >= tt, r = h / hl_n, hl = h % hl_n;
					const float *qn = nw + (is_img ? 2 * D : 0), *kn = nw + (is_img ? 3 * D : D);
					size_t at = ((((size_t)r * B + s) * (tt + ti) + t) * hl_n + hl) * D;
					ref_qkv(&p, txt, img, qn, kn, s, t, h, which, ref + at);
				}
		double e = gt_rel_err(out[which], ref, n);
		TS_CHECK_MSG(e < ELT_TOL, "qkv_prepare (%c; D %d, H %d, %lld image tokens, rope %d) rel err %g",
			     "qkv"[which], D, H, (long long)ti, c->rope, e);
		printf("qkv_prepare %c (D %d, H %d, ranks %d, %lld tokens%s): rel err %.2e\n", "qkv"[which],
		       D, H, c->ranks, (long long)(tt + ti), c->misalign ? ", unaligned" : "", e);
	}
	check_unscatter(&p, txt, img);
	free(txt), free(img), free(nw), free(ref);
	for (int i = 0; i < 3; i++)
		free(out[i]);
	ts_dev_free(dtxt), ts_dev_free(dimg), ts_dev_free(dnw), ts_dev_free(p.q), ts_dev_free(p.k);
	ts_dev_free(p.v);
}

/* q/k RMSNorm + RoPE + scatter: a small FLUX-like case of 2 ranks; a long
 * one, where a warp prepares 2 heads and RoPE positions run to 160 rows
 * (the angles FLUX 2048² sees); an SD3-like one (head_dim 64, no RoPE, 3
 * ranks); the small ones again from unaligned sources; rows longer than
 * q|k|v by 2 elements (element-wise path) with samples strided apart; and
 * head_dim 64 with RoPE, 2 samples, 3 heads a warp across 2 heads a rank. */
static void test_qkv_prepare_and_unscatter(void)
{
	const struct qkv_case cases[] = {
		{.D = 128, .H = 4, .B = 2, .ranks = 2, .rope = 1, .img_cols = 4, .tt = 3, .ti = 7, .img_off = 5},
		{.D = 128, .H = 4, .B = 1, .ranks = 2, .rope = 1, .img_cols = 128, .tt = 16, .ti = 20000,
		 .img_off = 480},
		{.D = 64, .H = 6, .B = 2, .ranks = 3, .rope = 0, .img_cols = 4, .tt = 5, .ti = 9, .img_off = 0},
		{.D = 128, .H = 4, .B = 2, .ranks = 2, .rope = 1, .img_cols = 4, .tt = 3, .ti = 7, .img_off = 5,
		 .misalign = 1},
		{.D = 64, .H = 6, .B = 2, .ranks = 3, .rope = 0, .img_cols = 4, .tt = 5, .ti = 9, .misalign = 1},
		{.D = 128, .H = 4, .B = 2, .ranks = 2, .rope = 1, .img_cols = 4, .tt = 3, .ti = 7, .img_off = 5,
		 .ld_pad = 2, .pad_rows = 3},
		{.D = 64, .H = 6, .B = 2, .ranks = 3, .rope = 1, .img_cols = 64, .tt = 8, .ti = 8192,
		 .img_off = 100, .pad_rows = 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_qkv_case(&cases[i]);
}

/* Unscatter v back into [txt rows | img rows] with all heads: the v
 * projections of the source, exactly. */
static void check_unscatter(const struct ts_qkv_prep *p, const float *txt, const float *img)
{
	const int H = p->heads, D = p->head_dim, B = p->batch;
	const int64_t tt = p->txt_tokens, ti = p->img_tokens, ld = p->src_ld;
	struct ts_attn_unscatter u = {p->v, NULL, NULL, H * D, tt, ti, B, H, D, p->ranks, tt, ti};
	u.dst_txt = gt_dev_poisoned((size_t)B * tt * H * D * 2);
	u.dst_img = gt_dev_poisoned((size_t)B * ti * H * D * 2);
	DEV(ts_k_attn_unscatter(&u, NULL, &err));
	float *bt = gt_from_dev_bf16(u.dst_txt, (size_t)B * tt * H * D);
	float *bi = gt_from_dev_bf16(u.dst_img, (size_t)B * ti * H * D);
	int mism = 0;
	for (int64_t r = 0; r < B * tt; r++) {
		int64_t at = (r / tt * p->txt_sample_rows + r % tt) * ld + 2 * H * D;
		for (int c = 0; c < H * D; c++)
			mism += bt[r * H * D + c] != txt[at + c];
	}
	for (int64_t r = 0; r < B * ti; r++) {
		int64_t at = (r / ti * p->img_sample_rows + r % ti) * ld + 2 * H * D;
		for (int c = 0; c < H * D; c++)
			mism += bi[r * H * D + c] != img[at + c];
	}
	TS_CHECK_MSG(mism == 0, "attn_unscatter(qkv_prepare(v)) != v at %d elements", mism);
	free(bt), free(bi);
	ts_dev_free(u.dst_txt), ts_dev_free(u.dst_img);
}

static void test_gemm_case(struct ts_gemm *g, int64_t m, int64_t n, int64_t k, int64_t ldy,
			   enum ts_gemm_epilogue epi, int accumulate)
{
	float *x = gt_random((size_t)m * k, 1.0f, &rng), *w = gt_random((size_t)n * k, 1.0f, &rng);
	float *b = gt_random((size_t)n, 1.0f, &rng), *y0 = gt_random((size_t)m * ldy, 1.0f, &rng);
	void *dx = gt_to_dev_bf16(x, (size_t)m * k), *dw = gt_to_dev_bf16(w, (size_t)n * k);
	void *db = gt_to_dev_bf16(b, (size_t)n);
	void *dy = accumulate ? gt_to_dev_bf16(y0, (size_t)m * ldy) : gt_dev_poisoned((size_t)m * ldy * 2);
	DEV(ts_gemm_linear(g, dy, ldy, dx, k, dw, db, m, n, k, epi, accumulate, NULL, &err));
	float *y = gt_from_dev_bf16(dy, (size_t)m * ldy);
	double *ref = malloc(sizeof(double) * m * n);
	float *yc = malloc(sizeof(float) * m * n);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double acc = 0;
			for (int64_t kk = 0; kk < k; kk++)
				acc += (double)x[i * k + kk] * w[j * k + kk];
			if (epi != TS_EPI_NONE)
				acc += b[j];
			if (epi == TS_EPI_GELU_BIAS)
				acc = gelu_tanh(acc);
			if (accumulate)
				acc += y0[i * ldy + j];
			ref[i * n + j] = acc;
			yc[i * n + j] = y[i * ldy + j];
		}
	double e = gt_rel_err(yc, ref, (size_t)(m * n));
	TS_CHECK_MSG(e < MMA_TOL, "gemm m %lld n %lld k %lld epi %d acc %d: rel err %g", (long long)m,
		     (long long)n, (long long)k, (int)epi, accumulate, e);
	printf("gemm m=%lld n=%lld k=%lld epi=%d acc=%d: rel err %.2e\n", (long long)m, (long long)n,
	       (long long)k, (int)epi, accumulate, e);
	free(x), free(w), free(b), free(y0), free(y), free(ref), free(yc);
	ts_dev_free(dx), ts_dev_free(dw), ts_dev_free(db), ts_dev_free(dy);
}

static void test_gemm(void)
{
	struct ts_gemm *g = NULL;
	DEV(ts_gemm_create(&g, 32u << 20, &err));
	test_gemm_case(g, 77, 96, 256, 96, TS_EPI_BIAS, 0);
	test_gemm_case(g, 64, 128, 200, 160, TS_EPI_GELU_BIAS, 0);
	test_gemm_case(g, 3, 64, 64, 64, TS_EPI_BIAS, 1);
	test_gemm_case(g, 33, 40, 48, 40, TS_EPI_NONE, 0);
	TS_CHECK(ts_gemm_linear(g, NULL, 4, NULL, 4, NULL, NULL, 0, 4, 4, TS_EPI_NONE, 0, NULL, &err) ==
		 TS_EINVAL);
	ts_gemm_destroy(g);
}

static void test_fill_and_count(void)
{
	const size_t n = 1 << 20;
	void *a = gt_dev_poisoned(n * 2), *b = gt_dev_poisoned(n * 2);
	int64_t bad = 0;
	DEV(ts_k_count_nonfinite_bf16(a, n, &bad, NULL, &err));
	TS_CHECK_MSG(bad == (int64_t)n, "poisoned buffer: %lld of %zu non-finite", (long long)bad, n);
	DEV(ts_k_fill_uniform_bf16(a, n, 42, 0.5f, 1.0f, NULL, &err));
	DEV(ts_k_fill_uniform_bf16(b, n, 42, 0.5f, 1.0f, NULL, &err));
	DEV(ts_k_count_nonfinite_bf16(a, n, &bad, NULL, &err));
	TS_CHECK(bad == 0);
	float *x = gt_from_dev_bf16(a, n), *y = gt_from_dev_bf16(b, n);
	double mean = 0;
	int same = 1, in_range = 1;
	for (size_t i = 0; i < n; i++) {
		mean += x[i];
		same &= x[i] == y[i];
		in_range &= x[i] >= 0.5f && x[i] <= 1.5f;
	}
	TS_CHECK_MSG(same, "same seed must give the same weights");
	TS_CHECK(in_range);
	TS_CHECK_NEAR(mean / n, 1.0, 2e-3);
	float *dn = NULL;
	DEV(ts_dev_alloc((void **)&dn, n * 4, &err));
	DEV(ts_k_fill_normal_f32(dn, n, 7, NULL, &err));
	float *z = malloc(n * 4);
	DEV(ts_dev_download(z, dn, n * 4, &err));
	double m1 = 0, m2 = 0;
	for (size_t i = 0; i < n; i++)
		m1 += z[i], m2 += (double)z[i] * z[i];
	TS_CHECK_NEAR(m1 / n, 0.0, 5e-3);
	TS_CHECK_NEAR(m2 / n, 1.0, 1e-2);
	free(x), free(y), free(z);
	ts_dev_free(a), ts_dev_free(b), ts_dev_free(dn);
}

/* A failing CUDA call becomes TS_EDEVICE naming the call and file:line. */
static void test_device_errors(void)
{
	void *p = NULL;
	struct ts_error e = {0, ""};
	int rc = ts_dev_alloc(&p, (size_t)1 << 50, &e);
	TS_CHECK(rc == TS_EDEVICE && p == NULL);
	TS_CHECK_MSG(strstr(e.msg, "cudaMalloc") && strstr(e.msg, "ts_device.cu:"), "%s", e.msg);
	printf("device error: %s\n", e.msg);
}

int main(void)
{
	if (gt_gpus() < 1) {
		printf("test_kernels: no GPU, skipped\n");
		return TS_SKIP;
	}
	test_device_errors();
	test_fill_and_count();
	test_layernorm_modulate();
	test_gated_residual();
	test_activations();
	test_timestep_embed();
	test_timestep_embed_bf16();
	test_pos_embed();
	test_patchify_roundtrip();
	test_qkv_prepare_and_unscatter();
	test_gemm();
	return ts_test_result("test_kernels");
}
