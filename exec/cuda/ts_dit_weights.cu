/* ts_dit_weights.cu: parameter counts and the modulation layout of a preset
 * (the presets are common/model/dit_config.c), the synthetic weights carved
 * from one allocation per GPU, and each request's text conditioning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "ts_kernels.h"
}

/* The presets themselves (struct ts_dit_config, ts_dit_config_lookup) are
 * backend-neutral: common/model/dit_config.c. */

static int64_t ts_lin_params(int64_t out, int64_t in)
{
	return out * in + out;
}

int64_t ts_dit_mod_columns(const struct ts_dit_config *c)
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
	       ts_lin_params(ts_dit_mod_columns(c), d) + ts_lin_params(feat, d);
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
	TS_TRY(ts_carve_linear(cv, &w->mod, ts_dit_mod_columns(c), d, 0.2f, err));
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
