/* ts_dit_model.cu: model presets, synthetic weights, and one GPU's share of a
 * denoising step (ts_dit_rank_step_enqueue), Ulysses SP included.
 *
 * Layout of a step on rank r of k: each rank holds txt_loc = ceil(L_txt/k)
 * text tokens and img_loc = ceil(L_img/k) image tokens of every sample (the
 * last rank's tail is padding, masked in attention). Linear layers are
 * token-local and run on the local tokens with full weights; attention
 * needs all tokens, so q, k, v go through an all-to-all that trades tokens
 * for heads (heads/k per rank, all tokens), and the output comes back the
 * same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "ts_attention.h"
#include "ts_kernels.h"
}

/* ---- presets ---------------------------------------------------------------- */

static const struct ts_dit_config ts_presets[] = {
	/* FLUX.1-dev: 19 double + 38 single blocks, T5 512 tokens x 4096,
	 * CLIP pooled 768, guidance embedding, 3-axis RoPE (16, 56, 56). */
	{"flux-dev", 3072, 24, 128, 19, 38, 512, 4096, 768, 16, 2, 8, 4, true, true, true,
	 10000.0f, {16, 56, 56}},
	/* SD3-medium: 24 joint blocks, 333 text tokens (77 CLIP + 256 T5) x
	 * 4096, pooled 2048; no RoPE (learned positions), no q/k norm. */
	{"sd3-medium", 1536, 24, 64, 24, 0, 333, 4096, 2048, 16, 2, 8, 4, false, false, false,
	 10000.0f, {0, 0, 0}},
};

extern "C" int ts_dit_config_lookup(const char *model, struct ts_dit_config *cfg,
				    struct ts_error *err)
{
	for (size_t i = 0; i < sizeof(ts_presets) / sizeof(ts_presets[0]); i++) {
		if (!strcmp(model, ts_presets[i].name)) {
			*cfg = ts_presets[i];
			return 0;
		}
	}
	return ts_err_set(err, TS_EINVAL, "unknown model '%s' (known: flux-dev, sd3-medium)", model);
}

static int64_t ts_lin_params(int64_t out, int64_t in)
{
	return out * in + out;
}

static int64_t ts_mod_columns(const struct ts_dit_config *c)
{
	return (12LL * c->double_blocks + 3LL * c->single_blocks + 2) * c->hidden;
}

extern "C" int64_t ts_dit_param_count(const struct ts_dit_config *c)
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d, hd = c->head_dim;
	int64_t feat = (int64_t)c->latent_channels * c->patch * c->patch;
	int64_t stream = ts_lin_params(3 * d, d) + ts_lin_params(d, d) + ts_lin_params(f, d) +
			 ts_lin_params(d, f) + (c->qk_norm ? 2 * hd : 0);
	int64_t single = ts_lin_params(3 * d + f, d) + ts_lin_params(d, d + f) +
			 (c->qk_norm ? 2 * hd : 0);
	int64_t emb = ts_lin_params(d, feat) + ts_lin_params(d, c->text_dim) +
		      ts_lin_params(d, 256) + ts_lin_params(d, d) +
		      (c->guidance ? ts_lin_params(d, 256) + ts_lin_params(d, d) : 0) +
		      ts_lin_params(d, c->pooled_dim) + ts_lin_params(d, d);
	return emb + c->double_blocks * 2 * stream + c->single_blocks * single +
	       ts_lin_params(ts_mod_columns(c), d) + ts_lin_params(feat, d);
}

extern "C" int64_t ts_dit_image_tokens(const struct ts_dit_config *c, int height, int width)
{
	int px = c->vae_scale * c->patch;
	return (int64_t)(height / px) * (width / px);
}

int64_t ts_dit_mod_double(const struct ts_dit_config *c, int block, int txt)
{
	return (12LL * block + (txt ? 6 : 0)) * c->hidden;
}

int64_t ts_dit_mod_single(const struct ts_dit_config *c, int block)
{
	return (12LL * c->double_blocks + 3LL * block) * c->hidden;
}

int64_t ts_dit_mod_final(const struct ts_dit_config *c)
{
	return (12LL * c->double_blocks + 3LL * c->single_blocks) * c->hidden;
}

/* ---- weights -------------------------------------------------------------- */

/* Hands out consecutive 256-byte aligned pieces of one allocation; with
 * base == NULL it only counts (the sizing pass). */
struct ts_carver {
	char *base;
	size_t used;
	uint64_t seed, tensor;
	cudaStream_t st;
};

static int ts_carve(struct ts_carver *cv, bf16 **out, int64_t n, float scale, float offset,
		    struct ts_error *err)
{
	size_t bytes = ((size_t)n * sizeof(bf16) + 255) & ~(size_t)255;
	*out = cv->base ? (bf16 *)(cv->base + cv->used) : NULL;
	cv->used += bytes;
	cv->tensor++;
	if (!cv->base)
		return 0;
	return ts_k_fill_uniform_bf16(*out, (size_t)n, cv->seed * 1000003ULL + cv->tensor, scale,
				      offset, cv->st, err);
}

/* Weights uniform with variance gain^2 / in, so a layer keeps the scale of
 * its input; small biases. */
static int ts_carve_linear(struct ts_carver *cv, struct ts_dit_linear *l, int64_t out,
			   int64_t in, float gain, struct ts_error *err)
{
	l->out = out;
	l->in = in;
	TS_TRY(ts_carve(cv, &l->w, out * in, gain * sqrtf(3.0f / (float)in), 0.0f, err));
	return ts_carve(cv, &l->b, out, 0.02f, 0.0f, err);
}

static int ts_carve_norm(struct ts_carver *cv, const struct ts_dit_config *c, bf16 **qn,
			 bf16 **kn, struct ts_error *err)
{
	*qn = *kn = NULL;
	if (!c->qk_norm)
		return 0;
	TS_TRY(ts_carve(cv, qn, c->head_dim, 0.1f, 1.0f, err));
	return ts_carve(cv, kn, c->head_dim, 0.1f, 1.0f, err);
}

static int ts_carve_stream(struct ts_carver *cv, const struct ts_dit_config *c,
			   struct ts_dit_stream_w *s, struct ts_error *err)
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	TS_TRY(ts_carve_linear(cv, &s->qkv, 3 * d, d, 1.0f, err));
	TS_TRY(ts_carve_norm(cv, c, &s->qn, &s->kn, err));
	TS_TRY(ts_carve_linear(cv, &s->proj, d, d, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &s->fc1, f, d, 1.0f, err));
	return ts_carve_linear(cv, &s->fc2, d, f, 1.0f, err);
}

/* Walks every tensor in a fixed order (so the same seed gives the same
 * weights); the modulation layer gets a small gain so shifts, scales and
 * gates stay near 0, as in a trained adaLN-Zero model, keeping activations
 * bounded through all blocks. */
static int ts_carve_all(struct ts_carver *cv, struct ts_dit_weights *w,
			const struct ts_dit_config *c, struct ts_error *err)
{
	int64_t d = c->hidden;
	int64_t feat = (int64_t)c->latent_channels * c->patch * c->patch;
	TS_TRY(ts_carve_linear(cv, &w->img_in, d, feat, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &w->txt_in, d, c->text_dim, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &w->t1, d, 256, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &w->t2, d, d, 1.0f, err));
	if (c->guidance) {
		TS_TRY(ts_carve_linear(cv, &w->g1, d, 256, 1.0f, err));
		TS_TRY(ts_carve_linear(cv, &w->g2, d, d, 1.0f, err));
	}
	TS_TRY(ts_carve_linear(cv, &w->v1, d, c->pooled_dim, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &w->v2, d, d, 1.0f, err));
	TS_TRY(ts_carve_linear(cv, &w->mod, ts_mod_columns(c), d, 0.2f, err));
	for (int i = 0; i < c->double_blocks; i++) {
		TS_TRY(ts_carve_stream(cv, c, &w->dbl[i].img, err));
		TS_TRY(ts_carve_stream(cv, c, &w->dbl[i].txt, err));
	}
	int64_t f = (int64_t)c->mlp_ratio * d;
	for (int i = 0; i < c->single_blocks; i++) {
		TS_TRY(ts_carve_linear(cv, &w->sgl[i].lin1, 3 * d + f, d, 1.0f, err));
		TS_TRY(ts_carve_norm(cv, c, &w->sgl[i].qn, &w->sgl[i].kn, err));
		TS_TRY(ts_carve_linear(cv, &w->sgl[i].lin2, d, d + f, 1.0f, err));
	}
	return ts_carve_linear(cv, &w->out, feat, d, 1.0f, err);
}

int ts_dit_weights_create(struct ts_dit_weights *w, const struct ts_dit_config *c,
			  uint64_t seed, cudaStream_t st, struct ts_error *err)
{
	int rc;
	memset(w, 0, sizeof(*w));
	w->dbl = (struct ts_dit_double_w *)calloc((size_t)c->double_blocks + 1, sizeof(*w->dbl));
	w->sgl = (struct ts_dit_single_w *)calloc((size_t)c->single_blocks + 1, sizeof(*w->sgl));
	if (!w->dbl || !w->sgl) {
		rc = ts_err_set(err, TS_ENOMEM, "weights: out of host memory");
		goto out_free;
	}
	{
		struct ts_carver sizing = {NULL, 0, seed, 0, st};
		rc = ts_carve_all(&sizing, w, c, err);
		if (rc)
			goto out_free;
		w->bytes = sizing.used;
	}
	TS_CUDA_GOTO(cudaMalloc(&w->base, w->bytes), err, rc, out_free);
	{
		struct ts_carver cv = {(char *)w->base, 0, seed, 0, st};
		rc = ts_carve_all(&cv, w, c, err);
		if (rc)
			goto out_free;
	}
	return 0;
out_free:
	ts_err_prefix(err, "%s weights (%zu bytes)", c->name, w->bytes);
	ts_dit_weights_free(w);
	return rc;
}

void ts_dit_weights_free(struct ts_dit_weights *w)
{
	if (w->base)
		cudaFree(w->base);
	free(w->dbl);
	free(w->sgl);
	memset(w, 0, sizeof(*w));
}

/* ---- per-request conditioning ---------------------------------------------- */

int ts_dit_cond_create(struct ts_dit_req_gpu *rg, const struct ts_dit_config *c, int batch,
		       uint64_t seed, cudaStream_t st, struct ts_error *err)
{
	int64_t rows = c->text_tokens + TS_TXT_PAD;
	size_t txt = (size_t)batch * rows * c->text_dim, pooled = (size_t)batch * c->pooled_dim;
	TS_CUDA(cudaMalloc(&rg->txt_emb, txt * sizeof(bf16)), err);
	TS_CUDA(cudaMalloc(&rg->pooled, pooled * sizeof(bf16)), err);
	TS_CUDA(cudaMemsetAsync(rg->txt_emb, 0, txt * sizeof(bf16), st), err);
	/* Per-sample seeds: sample s is the same in any batch size. */
	for (int s = 0; s < batch; s++) {
		TS_TRY(ts_k_fill_uniform_bf16(rg->txt_emb + (size_t)s * rows * c->text_dim,
					      (size_t)c->text_tokens * c->text_dim,
					      seed * 7919ULL + 2 * s + 1, 1.0f, 0.0f, st, err));
		TS_TRY(ts_k_fill_uniform_bf16(rg->pooled + (size_t)s * c->pooled_dim,
					      (size_t)c->pooled_dim, seed * 7919ULL + 2 * s + 2,
					      1.0f, 0.0f, st, err));
	}
	return 0;
}

/* ---- workspace ---------------------------------------------------------------- */

void ts_dit_ws_free(struct ts_dit_ws *ws)
{
	for (int i = 0; i < TS_B_COUNT; i++) {
		if (ws->buf[i])
			cudaFree(ws->buf[i]);
		ws->buf[i] = NULL;
		ws->cap[i] = 0;
	}
}

/* Makes buffer `id` at least `bytes` large (contents are not kept). */
static int ts_ws_ensure(struct ts_dit_ws *ws, int id, size_t bytes, struct ts_error *err)
{
	if (ws->cap[id] >= bytes)
		return 0;
	if (ws->buf[id])
		cudaFree(ws->buf[id]);
	ws->buf[id] = NULL;
	ws->cap[id] = 0;
	TS_CUDA(cudaMalloc(&ws->buf[id], bytes), err);
	ws->cap[id] = bytes;
	return 0;
}

/* The token geometry of one rank's step. */
struct ts_geo {
	int64_t txt, img;         /* tokens per sample, unpadded */
	int64_t txt_loc, img_loc; /* local tokens per sample, padded */
	int64_t tloc;             /* txt_loc + img_loc */
	int64_t rt, ri, r;        /* local rows: batch * txt_loc, batch * img_loc, both */
	int64_t feat;             /* latent features per token */
	int lh, lw;               /* latent height, width */
};

static struct ts_geo ts_geo_make(const struct ts_dit_rank_step *rs)
{
	const struct ts_dit_config *c = rs->cfg;
	struct ts_geo g;
	int k = rs->ranks;
	g.txt = c->text_tokens;
	g.img = ts_dit_image_tokens(c, rs->height, rs->width);
	g.txt_loc = (g.txt + k - 1) / k;
	g.img_loc = (g.img + k - 1) / k;
	g.tloc = g.txt_loc + g.img_loc;
	g.rt = rs->batch * g.txt_loc;
	g.ri = rs->batch * g.img_loc;
	g.r = g.rt + g.ri;
	g.feat = (int64_t)c->latent_channels * c->patch * c->patch;
	g.lh = rs->height / c->vae_scale;
	g.lw = rs->width / c->vae_scale;
	return g;
}

/* The bytes of every workspace buffer of a step; the staging buffers only
 * when `staged` (a graph step reads its request through them). */
static void ts_ws_sizes(const struct ts_dit_rank_step *rs, const struct ts_geo *g, bool staged,
			size_t *sizes)
{
	const struct ts_dit_config *c = rs->cfg;
	size_t e = sizeof(bf16), d = (size_t)c->hidden, f = (size_t)c->mlp_ratio * d;
	size_t rows = (size_t)g->r, b = (size_t)rs->batch;
	size_t latent = b * c->latent_channels * g->lh * g->lw * sizeof(float);
	memset(sizes, 0, TS_B_COUNT * sizeof(*sizes));
	sizes[TS_B_TXT] = (size_t)g->rt * d * e;
	sizes[TS_B_IMG] = (size_t)g->ri * d * e;
	sizes[TS_B_JOINT] = c->single_blocks ? rows * d * e : 0;
	sizes[TS_B_NORM] = rows * d * e;
	sizes[TS_B_QKV] = rows * 3 * d * e;
	sizes[TS_B_Q] = sizes[TS_B_K] = sizes[TS_B_V] = rows * d * e;
	if (rs->ranks > 1)
		sizes[TS_B_QR] = sizes[TS_B_KR] = sizes[TS_B_VR] = sizes[TS_B_OR] = rows * d * e;
	sizes[TS_B_O] = rows * d * e;
	sizes[TS_B_ATTN] = rows * d * e;
	sizes[TS_B_PROJ] = rows * d * e;
	sizes[TS_B_WIDE] = rows * (d + f) * e;
	sizes[TS_B_TOK] = (size_t)g->ri * g->feat * e;
	sizes[TS_B_VTOK] = (size_t)g->ri * g->feat * e;
	sizes[TS_B_VALL] = (size_t)rs->ranks * g->ri * g->feat * e;
	sizes[TS_B_VIMG] = latent;
	sizes[TS_B_TEMB] = b * 256 * e;
	sizes[TS_B_VEC] = sizes[TS_B_VTMP] = sizes[TS_B_SVEC] = b * d * e;
	sizes[TS_B_MOD] = b * (size_t)ts_mod_columns(c) * e;
	sizes[TS_B_SCAL] = TS_SCAL_COUNT * sizeof(float);
	if (staged) {
		sizes[TS_B_SLAT] = latent;
		sizes[TS_B_STXT] = b * (c->text_tokens + TS_TXT_PAD) * (size_t)c->text_dim * e;
		sizes[TS_B_SPOOL] = b * (size_t)c->pooled_dim * e;
	}
}

bool ts_dit_ws_moves(const struct ts_dit_rank_step *rs, bool staged)
{
	struct ts_geo g = ts_geo_make(rs);
	size_t sizes[TS_B_COUNT];
	ts_ws_sizes(rs, &g, staged, sizes);
	for (int i = 0; i < TS_B_COUNT; i++)
		if (rs->ws->cap[i] && rs->ws->cap[i] < sizes[i])
			return true;
	return false;
}

int ts_dit_ws_prepare(const struct ts_dit_rank_step *rs, bool staged, struct ts_error *err)
{
	struct ts_geo g = ts_geo_make(rs);
	size_t sizes[TS_B_COUNT];
	ts_ws_sizes(rs, &g, staged, sizes);
	for (int i = 0; i < TS_B_COUNT; i++)
		TS_TRY(ts_ws_ensure(rs->ws, i, sizes[i], err));
	return 0;
}

void ts_dit_ws_staging(const struct ts_dit_ws *ws, struct ts_dit_req_gpu *out)
{
	out->latent = (float *)ws->buf[TS_B_SLAT];
	out->txt_emb = (bf16 *)ws->buf[TS_B_STXT];
	out->pooled = (bf16 *)ws->buf[TS_B_SPOOL];
}

int ts_dit_rank_step_upload(const struct ts_dit_rank_step *rs, struct ts_error *err)
{
	float v[TS_SCAL_COUNT] = {};
	v[TS_SCAL_SIGMA] = rs->sigma;
	v[TS_SCAL_SIGMA_NEXT] = rs->sigma_next;
	v[TS_SCAL_GUIDANCE] = rs->guidance;
	/* From pageable memory: the runtime takes the values before returning. */
	TS_CUDA(cudaMemcpyAsync(rs->ws->buf[TS_B_SCAL], v, sizeof(v), cudaMemcpyHostToDevice, rs->st),
		err);
	return 0;
}

/* ---- step pieces ------------------------------------------------------------- */

#define WS(id) ((bf16 *)rs->ws->buf[id])

static int ts_lin(const struct ts_dit_rank_step *rs, void *y, int64_t ldy, const void *x,
		  int64_t ldx, const struct ts_dit_linear *l, int64_t m,
		  enum ts_gemm_epilogue epi, int accumulate, struct ts_error *err)
{
	return ts_gemm_linear(rs->gemm, y, ldy, x, ldx, l->w, l->b, m, l->out, l->in, epi,
			      accumulate, rs->st, err);
}

/* vec = mlp(t) (+ mlp(guidance)) + mlp(pooled); then all modulations. The
 * timestep and guidance come from the workspace's scalars, so that a graph
 * replay sees the values of its own step. */
static int ts_step_conditioning(const struct ts_dit_rank_step *rs, struct ts_error *err)
{
	const struct ts_dit_config *c = rs->cfg;
	const struct ts_dit_weights *w = rs->w;
	int b = rs->batch;
	int64_t d = c->hidden;
	const float *scal = (const float *)rs->ws->buf[TS_B_SCAL];
	TS_TRY(ts_k_timestep_embed_dev(WS(TS_B_TEMB), scal + TS_SCAL_SIGMA, b, 256, 1000.0f, rs->st,
				       err));
	TS_TRY(ts_lin(rs, WS(TS_B_VTMP), d, WS(TS_B_TEMB), 256, &w->t1, b, TS_EPI_BIAS, 0, err));
	TS_TRY(ts_k_silu(WS(TS_B_VTMP), WS(TS_B_VTMP), (size_t)b * d, rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_VEC), d, WS(TS_B_VTMP), d, &w->t2, b, TS_EPI_BIAS, 0, err));
	if (c->guidance) {
		TS_TRY(ts_k_timestep_embed_dev(WS(TS_B_TEMB), scal + TS_SCAL_GUIDANCE, b, 256, 1000.0f,
					       rs->st, err));
		TS_TRY(ts_lin(rs, WS(TS_B_VTMP), d, WS(TS_B_TEMB), 256, &w->g1, b, TS_EPI_BIAS, 0, err));
		TS_TRY(ts_k_silu(WS(TS_B_VTMP), WS(TS_B_VTMP), (size_t)b * d, rs->st, err));
		TS_TRY(ts_lin(rs, WS(TS_B_VEC), d, WS(TS_B_VTMP), d, &w->g2, b, TS_EPI_BIAS, 1, err));
	}
	TS_TRY(ts_lin(rs, WS(TS_B_VTMP), d, rs->rg->pooled, c->pooled_dim, &w->v1, b, TS_EPI_BIAS, 0,
		      err));
	TS_TRY(ts_k_silu(WS(TS_B_VTMP), WS(TS_B_VTMP), (size_t)b * d, rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_VEC), d, WS(TS_B_VTMP), d, &w->v2, b, TS_EPI_BIAS, 1, err));
	TS_TRY(ts_k_silu(WS(TS_B_SVEC), WS(TS_B_VEC), (size_t)b * d, rs->st, err));
	return ts_lin(rs, WS(TS_B_MOD), w->mod.out, WS(TS_B_SVEC), d, &w->mod, b, TS_EPI_BIAS, 0,
		      err);
}

/* Text and image tokens of this rank into the hidden width. */
static int ts_step_embed(const struct ts_dit_rank_step *rs, const struct ts_geo *g,
			 struct ts_error *err)
{
	const struct ts_dit_config *c = rs->cfg;
	int64_t d = c->hidden, rows = c->text_tokens + TS_TXT_PAD;
	for (int s = 0; s < rs->batch; s++) {
		const bf16 *x = rs->rg->txt_emb + ((int64_t)s * rows + rs->rank * g->txt_loc) * c->text_dim;
		TS_TRY(ts_lin(rs, WS(TS_B_TXT) + s * g->txt_loc * d, d, x, c->text_dim, &rs->w->txt_in,
			      g->txt_loc, TS_EPI_BIAS, 0, err));
	}
	struct ts_patch_geom pg = {rs->batch, c->latent_channels, g->lh, g->lw, c->patch};
	TS_TRY(ts_k_patchify(WS(TS_B_TOK), rs->rg->latent, &pg, rs->rank * g->img_loc, g->img_loc,
			     rs->st, err));
	return ts_lin(rs, WS(TS_B_IMG), d, WS(TS_B_TOK), g->feat, &rs->w->img_in, g->ri, TS_EPI_BIAS,
		      0, err);
}

/* Sends chunk r of each buffer to rank r and receives chunk r from it. */
static int ts_all_to_all(const struct ts_dit_rank_step *rs, const bf16 *const *send,
			 bf16 *const *recv, int nbuf, size_t chunk, struct ts_error *err)
{
	TS_NCCL(ncclGroupStart(), err);
	for (int i = 0; i < nbuf; i++) {
		for (int r = 0; r < rs->ranks; r++) {
			TS_NCCL(ncclSend(send[i] + r * chunk, chunk, ncclBfloat16, r, rs->comm, rs->st),
				err);
			TS_NCCL(ncclRecv(recv[i] + r * chunk, chunk, ncclBfloat16, r, rs->comm, rs->st),
				err);
		}
	}
	TS_NCCL(ncclGroupEnd(), err);
	return 0;
}

/* Where the token rows of an attention input live: two segments. */
struct ts_rows {
	const bf16 *txt, *img;
	int64_t ld, txt_sample_rows, img_sample_rows;
};

/* q/k norm, RoPE, all-to-all, attention, all-to-all back; the output rows
 * go to dst (same row mapping as src, leading dimension dst_ld). */
static int ts_step_attention(const struct ts_dit_rank_step *rs, const struct ts_geo *g,
			     const struct ts_rows *src, const bf16 *qn_txt, const bf16 *kn_txt,
			     const bf16 *qn_img, const bf16 *kn_img, bf16 *dst_txt, bf16 *dst_img,
			     int64_t dst_ld, struct ts_error *err)
{
	const struct ts_dit_config *c = rs->cfg;
	int k = rs->ranks;
	struct ts_qkv_prep p = {};
	p.src_txt = src->txt;
	p.src_img = src->img;
	p.src_ld = src->ld;
	p.txt_sample_rows = src->txt_sample_rows;
	p.img_sample_rows = src->img_sample_rows;
	p.qn_txt = qn_txt;
	p.kn_txt = kn_txt;
	p.qn_img = qn_img;
	p.kn_img = kn_img;
	p.q = WS(TS_B_Q);
	p.k = WS(TS_B_K);
	p.v = WS(TS_B_V);
	p.batch = rs->batch;
	p.heads = c->heads;
	p.head_dim = c->head_dim;
	p.ranks = k;
	p.txt_tokens = g->txt_loc;
	p.img_tokens = g->img_loc;
	p.rope = c->rope;
	p.img_off = rs->rank * g->img_loc;
	p.img_cols = rs->width / (c->vae_scale * c->patch);
	memcpy(p.rope_axes, c->rope_axes, sizeof(p.rope_axes));
	p.rope_theta = c->rope_theta;
	TS_TRY(ts_k_qkv_prepare(&p, rs->st, err));

	size_t chunk = (size_t)rs->batch * g->tloc * c->hidden / k;
	bf16 *q = WS(TS_B_Q), *kk = WS(TS_B_K), *v = WS(TS_B_V), *o = WS(TS_B_O);
	if (k > 1) {
		const bf16 *send[3] = {q, kk, v};
		bf16 *recv[3] = {WS(TS_B_QR), WS(TS_B_KR), WS(TS_B_VR)};
		TS_TRY(ts_all_to_all(rs, send, recv, 3, chunk, err));
		q = recv[0];
		kk = recv[1];
		v = recv[2];
	}
	struct ts_attn_args a = {q, kk, v, o, rs->batch, c->heads / k, c->head_dim, k, g->tloc,
				 g->txt_loc, g->txt, g->img, 1.0f / sqrtf((float)c->head_dim),
				 rs->attn_kernel, rs->cudnn};
	TS_TRY(ts_attention(&a, rs->st, err));
	if (k > 1) {
		const bf16 *send[1] = {o};
		bf16 *recv[1] = {WS(TS_B_OR)};
		TS_TRY(ts_all_to_all(rs, send, recv, 1, chunk, err));
		o = recv[0];
	}
	struct ts_attn_unscatter u = {o, dst_txt, dst_img, dst_ld, src->txt_sample_rows,
				      src->img_sample_rows, rs->batch, c->heads, c->head_dim, k,
				      g->txt_loc, g->img_loc};
	return ts_k_attn_unscatter(&u, rs->st, err);
}

/* The modulation vectors of a block: shift, scale, gate at +0, +d, +2d. */
static const bf16 *ts_mod(const struct ts_dit_rank_step *rs, int64_t col)
{
	return WS(TS_B_MOD) + col;
}

/* After attention, one stream of a joint block: x += gate1 * proj(attn);
 * x += gate2 * mlp(modulate(LN(x))). */
static int ts_stream_tail(const struct ts_dit_rank_step *rs, const struct ts_dit_stream_w *sw,
			  bf16 *x, const bf16 *attn, int64_t rows, int64_t sample_rows,
			  int64_t mod_col, struct ts_error *err)
{
	int64_t d = rs->cfg->hidden, ms = rs->w->mod.out, f = sw->fc1.out;
	const bf16 *mod = ts_mod(rs, mod_col);
	TS_TRY(ts_lin(rs, WS(TS_B_PROJ), d, attn, d, &sw->proj, rows, TS_EPI_BIAS, 0, err));
	TS_TRY(ts_k_gated_residual(x, WS(TS_B_PROJ), mod + 2 * d, rows, (int)d, sample_rows, ms,
				   rs->st, err));
	TS_TRY(ts_k_layernorm_modulate(WS(TS_B_NORM), x, mod + 3 * d, mod + 4 * d, rows, (int)d,
				       sample_rows, ms, rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_WIDE), f, WS(TS_B_NORM), d, &sw->fc1, rows, TS_EPI_GELU_BIAS, 0,
		      err));
	TS_TRY(ts_lin(rs, WS(TS_B_PROJ), d, WS(TS_B_WIDE), f, &sw->fc2, rows, TS_EPI_BIAS, 0, err));
	return ts_k_gated_residual(x, WS(TS_B_PROJ), mod + 5 * d, rows, (int)d, sample_rows, ms,
				   rs->st, err);
}

static int ts_double_block(const struct ts_dit_rank_step *rs, const struct ts_geo *g, int i,
			   struct ts_error *err)
{
	const struct ts_dit_double_w *bw = &rs->w->dbl[i];
	int64_t d = rs->cfg->hidden, ms = rs->w->mod.out;
	int64_t mi = ts_dit_mod_double(rs->cfg, i, 0), mt = ts_dit_mod_double(rs->cfg, i, 1);
	bf16 *qkv_txt = WS(TS_B_QKV), *qkv_img = WS(TS_B_QKV) + g->rt * 3 * d;
	bf16 *norm_txt = WS(TS_B_NORM), *norm_img = WS(TS_B_NORM) + g->rt * d;
	TS_TRY(ts_k_layernorm_modulate(norm_txt, WS(TS_B_TXT), ts_mod(rs, mt), ts_mod(rs, mt + d),
				       g->rt, (int)d, g->txt_loc, ms, rs->st, err));
	TS_TRY(ts_k_layernorm_modulate(norm_img, WS(TS_B_IMG), ts_mod(rs, mi), ts_mod(rs, mi + d),
				       g->ri, (int)d, g->img_loc, ms, rs->st, err));
	TS_TRY(ts_lin(rs, qkv_txt, 3 * d, norm_txt, d, &bw->txt.qkv, g->rt, TS_EPI_BIAS, 0, err));
	TS_TRY(ts_lin(rs, qkv_img, 3 * d, norm_img, d, &bw->img.qkv, g->ri, TS_EPI_BIAS, 0, err));
	struct ts_rows src = {qkv_txt, qkv_img, 3 * d, g->txt_loc, g->img_loc};
	bf16 *attn_txt = WS(TS_B_ATTN), *attn_img = WS(TS_B_ATTN) + g->rt * d;
	TS_TRY(ts_step_attention(rs, g, &src, bw->txt.qn, bw->txt.kn, bw->img.qn, bw->img.kn,
				 attn_txt, attn_img, d, err));
	TS_TRY(ts_stream_tail(rs, &bw->txt, WS(TS_B_TXT), attn_txt, g->rt, g->txt_loc, mt, err));
	return ts_stream_tail(rs, &bw->img, WS(TS_B_IMG), attn_img, g->ri, g->img_loc, mi, err);
}

/* FLUX single-stream block on the joint sequence: linear1 is one fused
 * weight [3d + 4d][d], run as two GEMMs over its row ranges so that the
 * GELU epilogue touches only the MLP part, which lands directly next to the
 * attention output in the [attn | mlp] input of linear2. */
static int ts_single_block(const struct ts_dit_rank_step *rs, const struct ts_geo *g, int i,
			   struct ts_error *err)
{
	const struct ts_dit_single_w *bw = &rs->w->sgl[i];
	int64_t d = rs->cfg->hidden, ms = rs->w->mod.out, f = bw->lin1.out - 3 * d;
	int64_t wide = d + f, col = ts_dit_mod_single(rs->cfg, i);
	const bf16 *mod = ts_mod(rs, col);
	bf16 *x = WS(TS_B_JOINT), *cat = WS(TS_B_WIDE);
	struct ts_dit_linear qkv = {bw->lin1.w, bw->lin1.b, 3 * d, d};
	struct ts_dit_linear mlp = {bw->lin1.w + 3 * d * d, bw->lin1.b + 3 * d, f, d};
	TS_TRY(ts_k_layernorm_modulate(WS(TS_B_NORM), x, mod, mod + d, g->r, (int)d, g->tloc, ms,
				       rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_QKV), 3 * d, WS(TS_B_NORM), d, &qkv, g->r, TS_EPI_BIAS, 0, err));
	TS_TRY(ts_lin(rs, cat + d, wide, WS(TS_B_NORM), d, &mlp, g->r, TS_EPI_GELU_BIAS, 0, err));
	struct ts_rows src = {WS(TS_B_QKV), WS(TS_B_QKV) + g->txt_loc * 3 * d, 3 * d, g->tloc,
			      g->tloc};
	TS_TRY(ts_step_attention(rs, g, &src, bw->qn, bw->kn, bw->qn, bw->kn, cat,
				 cat + g->txt_loc * wide, wide, err));
	TS_TRY(ts_lin(rs, WS(TS_B_PROJ), d, cat, wide, &bw->lin2, g->r, TS_EPI_BIAS, 0, err));
	return ts_k_gated_residual(x, WS(TS_B_PROJ), mod + 2 * d, g->r, (int)d, g->tloc, ms, rs->st,
				   err);
}

/* Copies per-sample row blocks between the stream buffers and the joint
 * sequence ([txt_loc text rows | img_loc image rows] per sample): both
 * streams into it, or only the image rows back out (the final layer reads
 * image tokens only). */
static int ts_joint_copy(const struct ts_dit_rank_step *rs, const struct ts_geo *g, int to_joint,
			 struct ts_error *err)
{
	size_t row = (size_t)rs->cfg->hidden * sizeof(bf16), jp = (size_t)g->tloc * row;
	bf16 *joint = WS(TS_B_JOINT);
	bf16 *joint_img = joint + g->txt_loc * rs->cfg->hidden;
	size_t ip = (size_t)g->img_loc * row, tp = (size_t)g->txt_loc * row;
	if (to_joint) {
		TS_CUDA(cudaMemcpy2DAsync(joint, jp, WS(TS_B_TXT), tp, tp, rs->batch,
					  cudaMemcpyDeviceToDevice, rs->st), err);
		TS_CUDA(cudaMemcpy2DAsync(joint_img, jp, WS(TS_B_IMG), ip, ip, rs->batch,
					  cudaMemcpyDeviceToDevice, rs->st), err);
		return 0;
	}
	TS_CUDA(cudaMemcpy2DAsync(WS(TS_B_IMG), ip, joint_img, jp, ip, rs->batch,
				  cudaMemcpyDeviceToDevice, rs->st), err);
	return 0;
}

/* Final adaLN + projection to latent patches, gather over the group,
 * unpatchify and Euler update of the (replicated) latent. */
static int ts_step_output(const struct ts_dit_rank_step *rs, const struct ts_geo *g,
			  struct ts_error *err)
{
	const struct ts_dit_config *c = rs->cfg;
	int64_t d = c->hidden, ms = rs->w->mod.out, col = ts_dit_mod_final(c);
	TS_TRY(ts_k_layernorm_modulate(WS(TS_B_NORM), WS(TS_B_IMG), ts_mod(rs, col),
				       ts_mod(rs, col + d), g->ri, (int)d, g->img_loc, ms, rs->st,
				       err));
	TS_TRY(ts_lin(rs, WS(TS_B_VTOK), g->feat, WS(TS_B_NORM), d, &rs->w->out, g->ri, TS_EPI_BIAS,
		      0, err));
	const bf16 *vall = WS(TS_B_VTOK);
	if (rs->ranks > 1) {
		TS_NCCL(ncclAllGather(WS(TS_B_VTOK), WS(TS_B_VALL), (size_t)g->ri * g->feat,
				      ncclBfloat16, rs->comm, rs->st), err);
		vall = WS(TS_B_VALL);
	}
	struct ts_patch_geom pg = {rs->batch, c->latent_channels, g->lh, g->lw, c->patch};
	float *vimg = (float *)rs->ws->buf[TS_B_VIMG];
	TS_TRY(ts_k_unpatchify(vimg, vall, &pg, g->img_loc, rs->st, err));
	size_t n = (size_t)rs->batch * c->latent_channels * g->lh * g->lw;
	const float *scal = (const float *)rs->ws->buf[TS_B_SCAL];
	return ts_k_euler_dev(rs->rg->latent, vimg, n, scal + TS_SCAL_SIGMA, rs->st, err);
}

int ts_dit_rank_step_enqueue(const struct ts_dit_rank_step *rs, struct ts_error *err)
{
	struct ts_geo g = ts_geo_make(rs);
	TS_TRY(ts_step_conditioning(rs, err));
	TS_TRY(ts_step_embed(rs, &g, err));
	for (int i = 0; i < rs->cfg->double_blocks; i++)
		TS_TRY(ts_double_block(rs, &g, i, err));
	if (rs->cfg->single_blocks) {
		TS_TRY(ts_joint_copy(rs, &g, 1, err));
		for (int i = 0; i < rs->cfg->single_blocks; i++)
			TS_TRY(ts_single_block(rs, &g, i, err));
		TS_TRY(ts_joint_copy(rs, &g, 0, err));
	}
	return ts_step_output(rs, &g, err);
}
