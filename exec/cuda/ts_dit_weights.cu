/* ts_dit_weights.cu: parameter counts (the presets and the modulation
 * layout are common/model/dit_config.c), the weights carved from one
 * allocation per GPU: synthetic ones generated on the GPU, or a diffusers
 * checkpoint's (model/dit_diffusers.h) uploaded to every GPU; and each
 * request's text conditioning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "core/ts_bf16.h"
#include "core/ts_types.h"
#include "ts_kernels.h"
}

/* The presets themselves (struct ts_dit_config, ts_dit_config_lookup) are
 * backend-neutral: common/model/dit_config.c. */

static int64_t ts_lin_params(int64_t out, int64_t in)
{
	return out * in + out;
}

/* One term per group of tensors, as ts_carve_all() walks them. */
extern "C" int64_t ts_dit_param_count(const struct ts_dit_config *c)
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d, hd = c->head_dim;
	int64_t feat = (int64_t)c->latent_channels * c->patch * c->patch;
	int64_t norms = c->qk_norm ? 2 * hd : 0;
	int64_t attn_in = ts_lin_params(3 * d, d) + norms;
	int64_t tail = ts_lin_params(d, d) + ts_lin_params(f, d) + ts_lin_params(d, f);
	int64_t single = ts_lin_params(3 * d + f, d) + ts_lin_params(d, d + f) + norms;
	int64_t emb = ts_lin_params(d, feat) + ts_lin_params(d, c->text_dim) +
		      ts_lin_params(d, 256) + ts_lin_params(d, d) +
		      (c->guidance ? ts_lin_params(d, 256) + ts_lin_params(d, d) : 0) +
		      ts_lin_params(d, c->pooled_dim) + ts_lin_params(d, d) +
		      (int64_t)c->pos_embed_max * c->pos_embed_max * d;
	int64_t blocks = 0;
	for (int i = 0; i < c->double_blocks; i++)
		blocks += 2 * attn_in + (ts_dit_text_pre_only(c, i) ? 1 : 2) * tail;
	return emb + blocks + c->single_blocks * single + ts_lin_params(ts_dit_mod_columns(c), d) +
	       ts_lin_params(feat, d);
}

extern "C" int64_t ts_dit_image_tokens(const struct ts_dit_config *c, int height, int width)
{
	int px = c->vae_scale * c->patch;
	return (int64_t)(height / px) * (width / px);
}

/* ---- weights -------------------------------------------------------------- */

/* A checkpoint's tensors on their way to every GPU: each slot is filled in
 * chunks of `cap` bf16 values into pinned host memory, then copied to the
 * same offset of every GPU's allocation. */
struct ts_dit_upload {
	struct ts_dit_ckpt *ck;
	char *base[TS_MAX_GPUS];
	int ngpus;
	uint16_t *host;
	int64_t cap;
};

/* Hands out consecutive 256-byte aligned pieces of one allocation; with
 * base == NULL it only counts (the sizing pass). A piece is then left as it
 * is (`fill` off), generated from the seed, or, in the upload pass (`up`),
 * filled from a checkpoint on every GPU at its offset. */
struct ts_carver {
	char *base;
	size_t used;
	uint64_t seed, tensor;
	cudaStream_t st;
	bool fill;
	struct ts_dit_upload *up;
};

/* The checkpoint slot of a tensor (model/dit_diffusers.h); bias set later. */
static struct ts_dit_wslot ts_slot(enum ts_dit_wkind kind, int block = 0, bool txt = false)
{
	struct ts_dit_wslot s = {kind, block, txt, false};
	return s;
}

/* Slot s of rows x cols from the checkpoint to offset `off` of every GPU. */
static int ts_upload(struct ts_dit_upload *up, const struct ts_dit_wslot *s, int64_t rows,
		     int64_t cols, size_t off, struct ts_error *err)
{
	int64_t per = up->cap / cols > 0 ? up->cap / cols : 1;
	for (int64_t r0 = 0; r0 < rows; r0 += per) {
		int64_t n = rows - r0 < per ? rows - r0 : per;
		size_t bytes = (size_t)(n * cols) * sizeof(bf16);
		TS_TRY(ts_dit_ckpt_fill(up->ck, s, rows, cols, r0, n, up->host, err));
		for (int g = 0; g < up->ngpus; g++)
			TS_CUDA(cudaMemcpy(up->base[g] + off + (size_t)(r0 * cols) * sizeof(bf16), up->host,
					   bytes, cudaMemcpyHostToDevice), err);
	}
	return 0;
}

/* A tensor of rows x cols: synthetic values offset + scale * U[-1, 1), or
 * slot s of the checkpoint. */
static int ts_carve(struct ts_carver *cv, bf16 **out, int64_t rows, int64_t cols, float scale,
		    float offset, const struct ts_dit_wslot *s, struct ts_error *err)
{
	int64_t n = rows * cols;
	size_t off = cv->used, bytes = ((size_t)n * sizeof(bf16) + 255) & ~(size_t)255;
	*out = cv->base ? (bf16 *)(cv->base + off) : NULL;
	cv->used += bytes;
	cv->tensor++;
	if (cv->up)
		return ts_upload(cv->up, s, rows, cols, off, err);
	if (!cv->base || !cv->fill)
		return 0;
	return ts_k_fill_uniform_bf16(*out, (size_t)n, cv->seed * 1000003ULL + cv->tensor, scale,
				      offset, cv->st, err);
}

/* Synthetic weights are uniform with variance gain^2 / in, so a layer keeps
 * the scale of its input; small biases. */
static int ts_carve_linear(struct ts_carver *cv, struct ts_dit_linear *l, int64_t out,
			   int64_t in, float gain, struct ts_dit_wslot s, struct ts_error *err)
{
	l->out = out;
	l->in = in;
	s.bias = false;
	TS_TRY(ts_carve(cv, &l->w, out, in, gain * sqrtf(3.0f / (float)in), 0.0f, &s, err));
	s.bias = true;
	return ts_carve(cv, &l->b, out, 1, 0.02f, 0.0f, &s, err);
}

static int ts_carve_norm(struct ts_carver *cv, const struct ts_dit_config *c, bf16 **qn,
			 bf16 **kn, struct ts_dit_wslot s, enum ts_dit_wkind k_kind,
			 struct ts_error *err)
{
	*qn = *kn = NULL;
	if (!c->qk_norm)
		return 0;
	TS_TRY(ts_carve(cv, qn, c->head_dim, 1, 0.1f, 1.0f, &s, err));
	s.kind = k_kind;
	return ts_carve(cv, kn, c->head_dim, 1, 0.1f, 1.0f, &s, err);
}

/* One stream of joint block i; the text stream of SD3's last block has no
 * projection and MLP (ts_dit_text_pre_only). */
static int ts_carve_stream(struct ts_carver *cv, const struct ts_dit_config *c, int i, bool txt,
			   struct ts_dit_stream_w *sw, struct ts_error *err)
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	memset(sw, 0, sizeof(*sw));
	TS_TRY(ts_carve_linear(cv, &sw->qkv, 3 * d, d, 1.0f, ts_slot(TS_W_QKV, i, txt), err));
	TS_TRY(ts_carve_norm(cv, c, &sw->qn, &sw->kn, ts_slot(TS_W_QN, i, txt), TS_W_KN, err));
	if (txt && ts_dit_text_pre_only(c, i))
		return 0;
	TS_TRY(ts_carve_linear(cv, &sw->proj, d, d, 1.0f, ts_slot(TS_W_PROJ, i, txt), err));
	TS_TRY(ts_carve_linear(cv, &sw->fc1, f, d, 1.0f, ts_slot(TS_W_FC1, i, txt), err));
	return ts_carve_linear(cv, &sw->fc2, d, f, 1.0f, ts_slot(TS_W_FC2, i, txt), err);
}

static int ts_carve_blocks(struct ts_carver *cv, struct ts_dit_weights *w,
			   const struct ts_dit_config *c, struct ts_error *err)
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	for (int i = 0; i < c->double_blocks; i++) {
		TS_TRY(ts_carve_stream(cv, c, i, false, &w->dbl[i].img, err));
		TS_TRY(ts_carve_stream(cv, c, i, true, &w->dbl[i].txt, err));
	}
	for (int i = 0; i < c->single_blocks; i++) {
		struct ts_dit_single_w *sg = &w->sgl[i];
		TS_TRY(ts_carve_linear(cv, &sg->lin1, 3 * d + f, d, 1.0f, ts_slot(TS_W_LIN1, i, false), err));
		TS_TRY(ts_carve_norm(cv, c, &sg->qn, &sg->kn, ts_slot(TS_W_SQN, i, false), TS_W_SKN, err));
		TS_TRY(ts_carve_linear(cv, &sg->lin2, d, d + f, 1.0f, ts_slot(TS_W_LIN2, i, false), err));
	}
	return 0;
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
	TS_TRY(ts_carve_linear(cv, &w->img_in, d, feat, 1.0f, ts_slot(TS_W_IMG_IN), err));
	TS_TRY(ts_carve_linear(cv, &w->txt_in, d, c->text_dim, 1.0f, ts_slot(TS_W_TXT_IN), err));
	TS_TRY(ts_carve_linear(cv, &w->t1, d, 256, 1.0f, ts_slot(TS_W_T1), err));
	TS_TRY(ts_carve_linear(cv, &w->t2, d, d, 1.0f, ts_slot(TS_W_T2), err));
	if (c->guidance) {
		TS_TRY(ts_carve_linear(cv, &w->g1, d, 256, 1.0f, ts_slot(TS_W_G1), err));
		TS_TRY(ts_carve_linear(cv, &w->g2, d, d, 1.0f, ts_slot(TS_W_G2), err));
	}
	TS_TRY(ts_carve_linear(cv, &w->v1, d, c->pooled_dim, 1.0f, ts_slot(TS_W_V1), err));
	TS_TRY(ts_carve_linear(cv, &w->v2, d, d, 1.0f, ts_slot(TS_W_V2), err));
	w->pos = NULL;
	if (c->pos_embed_max) {
		struct ts_dit_wslot s = ts_slot(TS_W_POS);
		int64_t n = (int64_t)c->pos_embed_max * c->pos_embed_max;
		TS_TRY(ts_carve(cv, &w->pos, n, d, 0.5f, 0.0f, &s, err));
	}
	TS_TRY(ts_carve_linear(cv, &w->mod, ts_dit_mod_columns(c), d, 0.2f, ts_slot(TS_W_MOD), err));
	TS_TRY(ts_carve_blocks(cv, w, c, err));
	return ts_carve_linear(cv, &w->out, feat, d, 1.0f, ts_slot(TS_W_OUT), err);
}

/* The block tables and one device allocation of the right size on the
 * current device (pointers not set yet). */
static int ts_weights_alloc(struct ts_dit_weights *w, const struct ts_dit_config *c,
			    uint64_t seed, cudaStream_t st, struct ts_error *err)
{
	memset(w, 0, sizeof(*w));
	w->dbl = (struct ts_dit_double_w *)calloc((size_t)c->double_blocks + 1, sizeof(*w->dbl));
	w->sgl = (struct ts_dit_single_w *)calloc((size_t)c->single_blocks + 1, sizeof(*w->sgl));
	if (!w->dbl || !w->sgl)
		return ts_err_set(err, TS_ENOMEM, "weights: out of host memory");
	struct ts_carver sizing = {NULL, 0, seed, 0, st, false, NULL};
	TS_TRY(ts_carve_all(&sizing, w, c, err));
	w->bytes = sizing.used;
	TS_CUDA(cudaMalloc(&w->base, w->bytes), err);
	return 0;
}

int ts_dit_weights_create(struct ts_dit_weights *w, const struct ts_dit_config *c,
			  uint64_t seed, cudaStream_t st, struct ts_error *err)
{
	int rc = ts_weights_alloc(w, c, seed, st, err);
	if (!rc) {
		struct ts_carver cv = {(char *)w->base, 0, seed, 0, st, true, NULL};
		rc = ts_carve_all(&cv, w, c, err);
	}
	if (rc) {
		ts_err_prefix(err, "%s weights (%zu bytes)", c->name, w->bytes);
		ts_dit_weights_free(w);
	}
	return rc;
}

int ts_dit_weights_place(struct ts_dit_weights *w, const struct ts_dit_config *c,
			 struct ts_error *err)
{
	int rc = ts_weights_alloc(w, c, 0, NULL, err);
	if (!rc) {
		struct ts_carver cv = {(char *)w->base, 0, 0, 0, NULL, false, NULL};
		rc = ts_carve_all(&cv, w, c, err);
	}
	if (rc) {
		ts_err_prefix(err, "%s weights (%zu bytes)", c->name, w->bytes);
		ts_dit_weights_free(w);
	}
	return rc;
}

int ts_dit_weights_upload(struct ts_dit_weights *const *w, int ngpus,
			  const struct ts_dit_config *c, struct ts_dit_ckpt *ck,
			  struct ts_error *err)
{
	struct ts_dit_upload up = {ck, {}, ngpus, NULL, 16LL << 20};
	struct ts_dit_weights scratch = {};
	int rc = 0;
	for (int g = 0; g < ngpus; g++)
		up.base[g] = (char *)w[g]->base;
	/* the pass sets pointers of its own, to no allocation: a scratch table */
	scratch.dbl = (struct ts_dit_double_w *)calloc((size_t)c->double_blocks + 1, sizeof(*scratch.dbl));
	scratch.sgl = (struct ts_dit_single_w *)calloc((size_t)c->single_blocks + 1, sizeof(*scratch.sgl));
	if (!scratch.dbl || !scratch.sgl) {
		rc = ts_err_set(err, TS_ENOMEM, "weights: out of host memory");
		goto out_free;
	}
	TS_CUDA_GOTO(cudaMallocHost(&up.host, (size_t)up.cap * sizeof(bf16)), err, rc, out_free);
	{
		struct ts_carver cv = {NULL, 0, 0, 0, NULL, false, &up};
		rc = ts_carve_all(&cv, &scratch, c, err);
	}
	cudaFreeHost(up.host);
out_free:
	free(scratch.dbl);
	free(scratch.sgl);
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

/* n floats of host memory into device bf16 at dst, through a temporary
 * host buffer (synchronous). */
static int ts_upload_bf16(bf16 *dst, const float *src, size_t n, struct ts_error *err)
{
	uint16_t *h = (uint16_t *)malloc(n * sizeof(*h) + 1);
	if (!h)
		return ts_err_set(err, TS_ENOMEM, "conditioning: out of host memory");
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		h[i] = ts_bf16_from_float(src[i]);
	TS_CUDA_GOTO(cudaMemcpy(dst, h, n * sizeof(*h), cudaMemcpyHostToDevice), err, rc, out_free);
out_free:
	free(h);
	return rc;
}

int ts_dit_cond_create(struct ts_dit_req_gpu *rg, const struct ts_dit_config *c, int batch,
		       uint64_t seed, const float *text, const float *pooled, cudaStream_t st,
		       struct ts_error *err)
{
	int64_t rows = c->text_tokens + TS_TXT_PAD, row_elems = (int64_t)c->text_tokens * c->text_dim;
	size_t txt = (size_t)batch * rows * c->text_dim, npooled = (size_t)batch * c->pooled_dim;
	TS_CUDA(cudaMalloc(&rg->txt_emb, txt * sizeof(bf16)), err);
	TS_CUDA(cudaMalloc(&rg->pooled, npooled * sizeof(bf16)), err);
	TS_CUDA(cudaMemsetAsync(rg->txt_emb, 0, txt * sizeof(bf16), st), err);
	if (text || pooled)
		TS_CUDA(cudaStreamSynchronize(st), err); /* the memset before the copies */
	/* Per-sample seeds: sample s is the same in any batch size. */
	for (int s = 0; s < batch; s++) {
		bf16 *t = rg->txt_emb + (size_t)s * rows * c->text_dim;
		if (text)
			TS_TRY(ts_upload_bf16(t, text + s * row_elems, (size_t)row_elems, err));
		else
			TS_TRY(ts_k_fill_uniform_bf16(t, (size_t)row_elems, seed * 7919ULL + 2 * s + 1, 1.0f,
						      0.0f, st, err));
		if (!pooled)
			TS_TRY(ts_k_fill_uniform_bf16(rg->pooled + (size_t)s * c->pooled_dim,
						      (size_t)c->pooled_dim, seed * 7919ULL + 2 * s + 2,
						      1.0f, 0.0f, st, err));
	}
	if (pooled)
		TS_TRY(ts_upload_bf16(rg->pooled, pooled, npooled, err));
	return 0;
}
