/* step_work.c: the GEMMs, attention FLOPs, all-to-all bytes and element-wise
 * bytes of one step, as exec/cuda/ts_dit_model.cu issues them. */
#include "model/step_work.h"

#include <string.h>

/* Element-wise passes over a token row of `hidden` values, read + written
 * (ts_dit_model.cu): a joint-block stream does layernorm-modulate (2), q/k
 * norm + RoPE on q,k,v (6), the attention unscatter (2), two gated
 * residuals (3 each) and a second layernorm-modulate (2); a single block
 * layernorm-modulate, q/k prep, unscatter and one gated residual. */
#define ELEM_PASSES_DOUBLE 18
#define ELEM_PASSES_SINGLE 13

static void add_gemm(struct ts_step_work *w, double m, double n, double k, int count)
{
	if (m <= 0 || count <= 0 || w->ngemm >= TS_STEP_MAX_GEMMS)
		return;
	w->gemm[w->ngemm++] = (struct ts_gemm_shape){ m, n, k, count };
}

/* The conditioning MLPs and every block's adaLN modulation: `batch` rows. */
static void add_conditioning(struct ts_step_work *w, const struct ts_dit_config *c)
{
	double b = w->batch, d = c->hidden;
	double mod_cols = (12.0 * c->double_blocks + 3.0 * c->single_blocks + 2) * d;
	add_gemm(w, b, d, 256, c->guidance ? 2 : 1);
	add_gemm(w, b, d, d, c->guidance ? 3 : 2);
	add_gemm(w, b, d, c->pooled_dim, 1);
	add_gemm(w, b, mod_cols, d, 1);
}

/* Embedding, blocks and final layer over this rank's token rows. */
static void add_token_gemms(struct ts_step_work *w, const struct ts_dit_config *c, double rt,
			    double ri)
{
	double d = c->hidden, f = (double)c->mlp_ratio * c->hidden, r = rt + ri;
	double feat = (double)c->latent_channels * c->patch * c->patch;
	int nd = c->double_blocks, ns = c->single_blocks;
	add_gemm(w, rt / w->batch, d, c->text_dim, w->batch); /* one per sample */
	add_gemm(w, ri, d, feat, 1);
	add_gemm(w, ri, feat, d, 1);
	for (int s = 0; s < 2 && nd; s++) { /* text rows, then image rows */
		double m = s ? ri : rt;
		int tails = nd - (!s && c->last_text_pre_only); /* SD3's last text stream */
		add_gemm(w, m, 3 * d, d, nd);
		add_gemm(w, m, d, d, tails);
		add_gemm(w, m, f, d, tails);
		add_gemm(w, m, d, f, tails);
	}
	if (ns) {
		add_gemm(w, r, 3 * d, d, ns);
		add_gemm(w, r, f, d, ns);
		add_gemm(w, r, d, d + f, ns);
	}
}

int ts_step_work_of(const struct ts_dit_config *c, int height, int width, int sp, int batch,
		    struct ts_step_work *w, struct ts_error *err)
{
	if (height <= 0 || width <= 0 || batch <= 0 || sp <= 0)
		return ts_err_set(err, TS_EINVAL, "%s: %dx%d, sp %d, batch %d: sizes must be positive",
				  c->name, height, width, sp, batch);
	if (c->heads % sp)
		return ts_err_set(err, TS_EINVAL,
				  "%s: sp %d does not divide its %d heads (Ulysses gives each GPU whole heads)",
				  c->name, sp, c->heads);
	memset(w, 0, sizeof(*w));
	w->height = height, w->width = width, w->sp = sp, w->batch = batch;
	int px = c->vae_scale * c->patch;
	w->image_tokens = (int64_t)(height / px) * (width / px);
	w->text_tokens = c->text_tokens;
	double txt_loc = (double)((w->text_tokens + sp - 1) / sp);
	double img_loc = (double)((w->image_tokens + sp - 1) / sp);
	double rows = batch * (txt_loc + img_loc), layers = c->double_blocks + c->single_blocks;
	add_conditioning(w, c);
	add_token_gemms(w, c, batch * txt_loc, batch * img_loc);
	w->attn_seq = (double)(w->text_tokens + w->image_tokens);
	w->attn_flops = layers * 4.0 * batch * (sp * (txt_loc + img_loc)) * w->attn_seq *
			c->head_dim * (c->heads / sp);
	w->elem_bytes = 2.0 * c->hidden *
			(batch * ELEM_PASSES_DOUBLE * (txt_loc + img_loc) * c->double_blocks +
			 ELEM_PASSES_SINGLE * rows * c->single_blocks);
	if (sp > 1) {
		w->a2a_calls = 2 * layers;
		w->a2a_bytes = layers * 4.0 * rows * c->hidden * 2.0;
	}
	return 0;
}

double ts_gemm_flops(const struct ts_gemm_shape *g)
{
	return 2.0 * g->m * g->n * g->k * g->count;
}

double ts_gemm_bytes(const struct ts_gemm_shape *g)
{
	return 2.0 * (g->m * g->k + g->n * g->k + g->m * g->n) * g->count;
}
