/* ts_dit_model.cu: one GPU's share of a denoising step
 * (ts_dit_rank_step_enqueue), Ulysses SP included, and its workspace. The
 * presets, weights and conditioning are in ts_dit_weights.cu.
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
	sizes[TS_B_MOD] = b * (size_t)ts_dit_mod_columns(c) * e;
	sizes[TS_B_SCAL] = TS_MAX_BATCH * TS_SCAL_COUNT * sizeof(float);
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
	float v[TS_MAX_BATCH * TS_SCAL_COUNT] = {};
	for (int s = 0; s < rs->batch && s < TS_MAX_BATCH; s++) {
		v[s * TS_SCAL_COUNT + TS_SCAL_SIGMA] = rs->sigma[s];
		v[s * TS_SCAL_COUNT + TS_SCAL_SIGMA_NEXT] = rs->sigma_next[s];
		v[s * TS_SCAL_COUNT + TS_SCAL_GUIDANCE] = rs->guidance;
	}
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

/* vec = mlp(t) (+ mlp(guidance)) + mlp(pooled); then all modulations, one
 * row per sample. Each sample's timestep and guidance come from its slots
 * of the workspace's scalars, so that a graph replay sees the values of its
 * own step and the samples of a batch of requests their own timesteps. */
static int ts_step_conditioning(const struct ts_dit_rank_step *rs, struct ts_error *err)
{
	const struct ts_dit_config *c = rs->cfg;
	const struct ts_dit_weights *w = rs->w;
	int b = rs->batch;
	int64_t d = c->hidden;
	const float *scal = (const float *)rs->ws->buf[TS_B_SCAL];
	TS_TRY(ts_k_timestep_embed_dev(WS(TS_B_TEMB), scal + TS_SCAL_SIGMA, TS_SCAL_COUNT, b, 256,
				       1000.0f, c->timestep_bf16, rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_VTMP), d, WS(TS_B_TEMB), 256, &w->t1, b, TS_EPI_BIAS, 0, err));
	TS_TRY(ts_k_silu(WS(TS_B_VTMP), WS(TS_B_VTMP), (size_t)b * d, rs->st, err));
	TS_TRY(ts_lin(rs, WS(TS_B_VEC), d, WS(TS_B_VTMP), d, &w->t2, b, TS_EPI_BIAS, 0, err));
	if (c->guidance) {
		TS_TRY(ts_k_timestep_embed_dev(WS(TS_B_TEMB), scal + TS_SCAL_GUIDANCE, TS_SCAL_COUNT, b,
					       256, 1000.0f, c->timestep_bf16, rs->st, err));
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

/* Text and image tokens of this rank into the hidden width (plus SD3's
 * position table). */
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
	TS_TRY(ts_lin(rs, WS(TS_B_IMG), d, WS(TS_B_TOK), g->feat, &rs->w->img_in, g->ri, TS_EPI_BIAS,
		      0, err));
	if (!rs->w->pos)
		return 0;
	struct ts_pos_geom pos = {rs->batch, g->lh / c->patch, g->lw / c->patch, c->pos_embed_max,
				  (int)d, rs->rank * g->img_loc, g->img_loc};
	return ts_k_add_pos_embed(WS(TS_B_IMG), rs->w->pos, &pos, rs->st, err);
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
	if (!ts_dit_text_pre_only(rs->cfg, i)) /* SD3's last text stream ends here */
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
 * unpatchify and Euler update of the (replicated) latent, each sample with
 * its own step's sigmas. */
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
	size_t per = (size_t)c->latent_channels * g->lh * g->lw, n = (size_t)rs->batch * per;
	const float *scal = (const float *)rs->ws->buf[TS_B_SCAL];
	return ts_k_euler_dev(rs->rg->latent, vimg, n, per, scal + TS_SCAL_SIGMA, TS_SCAL_COUNT,
			      rs->st, err);
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
