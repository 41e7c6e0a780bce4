/* dit_ckpt.c: the tensors of a diffusers transformer folder mapped onto
 * the engine's weight slots (model/dit_diffusers.h). A slot is made of
 * pieces: row ranges of checkpoint tensors placed at a row of the slot. The
 * names and shapes are those diffusers' FluxTransformer2DModel and
 * SD3Transformer2DModel register (transformer_flux.py, transformer_sd3.py,
 * attention.py's JointTransformerBlock). */
#include "model/dit_diffusers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

struct ts_dit_ckpt {
	char *dir;
	struct ts_dit_config cfg;
	struct ts_st_set *set;
};

/* Rows [src_row, src_row + rows) of tensor `name` (expected shape `shape`,
 * viewed as [nelem / cols][cols]) at row dst_row of the slot. */
struct ts_wpiece {
	char name[160];
	int ndim;
	int64_t shape[4];
	int64_t src_row, rows, dst_row;
};

/* A slot's pieces and its shape under the config. */
struct ts_wplan {
	int64_t rows, cols;
	struct ts_wpiece *p;
	int n, cap;
};

static const char *const ts_wkind_names[] = {
	"image embedding", "text embedding", "timestep mlp 1", "timestep mlp 2",
	"guidance mlp 1", "guidance mlp 2", "pooled mlp 1", "pooled mlp 2", "modulation",
	"final projection", "position table", "qkv", "attention projection", "mlp 1", "mlp 2",
	"q norm", "k norm", "linear1", "linear2", "q norm", "k norm",
};

void ts_dit_wslot_name(const struct ts_dit_wslot *s, char *buf, int size)
{
	const char *what = s->kind <= TS_W_SKN ? ts_wkind_names[s->kind] : "?";
	const char *part = s->bias ? "bias" : "weight";
	if (s->kind >= TS_W_LIN1)
		snprintf(buf, (size_t)size, "single block %d %s %s", s->block, what, part);
	else if (s->kind >= TS_W_QKV)
		snprintf(buf, (size_t)size, "joint block %d %s %s %s", s->block,
			 s->txt ? "text" : "image", what, part);
	else
		snprintf(buf, (size_t)size, "%s %s", what, part);
}

/* Appends a piece: `nd` dimensions of the tensor's expected shape, then the
 * tensor's name as printf arguments; rows [src_row, src_row + rows) go to
 * dst_row. A bias slot takes NAME.bias of shape [shape[0]]; a weight slot
 * NAME.weight (norm scales and the position table pass their full name
 * with `raw`). */
static int ts_wp_add(struct ts_wplan *pl, bool bias, bool raw, int nd, const int64_t *shape,
		     int64_t src_row, int64_t rows, int64_t dst_row, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static int ts_wp_add(struct ts_wplan *pl, bool bias, bool raw, int nd, const int64_t *shape,
		     int64_t src_row, int64_t rows, int64_t dst_row, const char *fmt, ...)
{
	if (pl->n == pl->cap) {
		int cap = pl->cap ? 2 * pl->cap : 16;
		struct ts_wpiece *p = realloc(pl->p, (size_t)cap * sizeof(*p));
		if (!p)
			return TS_ENOMEM;
		pl->p = p;
		pl->cap = cap;
	}
	struct ts_wpiece *w = &pl->p[pl->n++];
	va_list ap;
	va_start(ap, fmt);
	int used = vsnprintf(w->name, sizeof(w->name), fmt, ap);
	va_end(ap);
	if (!raw && used > 0 && (size_t)used < sizeof(w->name))
		snprintf(w->name + used, sizeof(w->name) - (size_t)used, bias ? ".bias" : ".weight");
	w->ndim = bias ? 1 : nd;
	memcpy(w->shape, shape, (size_t)nd * sizeof(*shape));
	w->src_row = src_row;
	w->rows = rows;
	w->dst_row = dst_row;
	return 0;
}

/* A whole linear layer [out][in] (or its bias) at dst_row. */
#define TS_LIN(pl, s, out, in, dst, ...)                                                    \
	ts_wp_add((pl), (s)->bias, false, 2, (const int64_t[]){(out), (in)}, 0, (out), (dst), \
		  __VA_ARGS__)

/* Embeddings, conditioning MLPs, final projection and position table. */
static int ts_plan_outer(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
			 struct ts_wplan *pl)
{
	int64_t d = c->hidden, p = c->patch, ch = c->latent_channels, feat = ch * p * p;
	const char *tt = "time_text_embed.";
	pl->rows = d;
	switch (s->kind) {
	case TS_W_IMG_IN:
		pl->cols = feat;
		if (c->family == TS_DIT_FLUX)
			return TS_LIN(pl, s, d, feat, 0, "x_embedder");
		return ts_wp_add(pl, s->bias, false, 4, (const int64_t[]){d, ch, p, p}, 0, d, 0,
				 "pos_embed.proj");
	case TS_W_TXT_IN: pl->cols = c->text_dim; return TS_LIN(pl, s, d, c->text_dim, 0, "context_embedder");
	case TS_W_T1: pl->cols = 256; return TS_LIN(pl, s, d, 256, 0, "%stimestep_embedder.linear_1", tt);
	case TS_W_T2: pl->cols = d; return TS_LIN(pl, s, d, d, 0, "%stimestep_embedder.linear_2", tt);
	case TS_W_G1: pl->cols = 256; return TS_LIN(pl, s, d, 256, 0, "%sguidance_embedder.linear_1", tt);
	case TS_W_G2: pl->cols = d; return TS_LIN(pl, s, d, d, 0, "%sguidance_embedder.linear_2", tt);
	case TS_W_V1: pl->cols = c->pooled_dim; return TS_LIN(pl, s, d, c->pooled_dim, 0, "%stext_embedder.linear_1", tt);
	case TS_W_V2: pl->cols = d; return TS_LIN(pl, s, d, d, 0, "%stext_embedder.linear_2", tt);
	default: break;
	}
	/* TS_W_OUT: diffusers' SD3 orders output features (patch row, patch
	 * column, channel), the engine (channel, patch row, patch column) as
	 * FLUX's packing does; one piece per row reorders them. */
	pl->rows = feat;
	pl->cols = d;
	if (c->family == TS_DIT_FLUX)
		return TS_LIN(pl, s, feat, d, 0, "proj_out");
	for (int64_t f = 0; f < feat; f++) {
		int64_t k = f / (p * p), py = f / p % p, px = f % p;
		int rc = ts_wp_add(pl, s->bias, false, 2, (const int64_t[]){feat, d},
				   (py * p + px) * ch + k, 1, f, "proj_out");
		if (rc)
			return rc;
	}
	return 0;
}

/* A (scale, shift) pair of AdaLayerNormContinuous into the engine's
 * (shift, scale) rows at dst. */
static int ts_plan_scale_shift(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
			       struct ts_wplan *pl, int64_t dst, const char *name)
{
	int64_t d = c->hidden;
	const int64_t shape[2] = {2 * d, d};
	int rc = ts_wp_add(pl, s->bias, false, 2, shape, d, d, dst, "%s", name);
	return rc ? rc : ts_wp_add(pl, s->bias, false, 2, shape, 0, d, dst + d, "%s", name);
}

/* The modulation rows of every block and of the final layer. */
static int ts_plan_mod(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
		       struct ts_wplan *pl)
{
	int64_t d = c->hidden;
	int rc = 0;
	char name[96];
	pl->rows = ts_dit_mod_columns(c);
	pl->cols = d;
	for (int i = 0; !rc && i < c->double_blocks; i++) {
		rc = TS_LIN(pl, s, 6 * d, d, ts_dit_mod_double(c, i, 0), "transformer_blocks.%d.norm1.linear", i);
		snprintf(name, sizeof(name), "transformer_blocks.%d.norm1_context.linear", i);
		if (!rc && ts_dit_text_pre_only(c, i))
			rc = ts_plan_scale_shift(c, s, pl, ts_dit_mod_double(c, i, 1), name);
		else if (!rc)
			rc = TS_LIN(pl, s, 6 * d, d, ts_dit_mod_double(c, i, 1), "%s", name);
	}
	for (int i = 0; !rc && i < c->single_blocks; i++)
		rc = TS_LIN(pl, s, 3 * d, d, ts_dit_mod_single(c, i), "single_transformer_blocks.%d.norm.linear", i);
	return rc ? rc : ts_plan_scale_shift(c, s, pl, ts_dit_mod_final(c), "norm_out.linear");
}

/* A norm scale [head_dim] (no bias). */
static int ts_plan_norm(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
			struct ts_wplan *pl, const char *prefix, int block, const char *which)
{
	pl->rows = c->head_dim;
	pl->cols = 1;
	if (s->bias)
		return TS_EINVAL;
	return ts_wp_add(pl, false, true, 1, (const int64_t[]){c->head_dim}, 0, c->head_dim, 0,
			 "%s%d.attn.%s.weight", prefix, block, which);
}

/* q, k, v of a joint block's stream, or of a single block (then also the
 * MLP's first layer): one piece each. */
static int ts_plan_qkv(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
		       struct ts_wplan *pl, const char *prefix, const char *const names[3])
{
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	bool single = s->kind == TS_W_LIN1;
	int rc = 0;
	pl->rows = single ? 3 * d + f : 3 * d;
	pl->cols = d;
	for (int j = 0; !rc && j < 3; j++)
		rc = TS_LIN(pl, s, d, d, j * d, "%s%d.attn.%s", prefix, s->block, names[j]);
	if (!rc && single)
		rc = TS_LIN(pl, s, f, d, 3 * d, "%s%d.proj_mlp", prefix, s->block);
	return rc;
}

/* The layers of joint block s->block's image or text stream. */
static int ts_plan_joint(const struct ts_dit_config *c, const struct ts_dit_wslot *s,
			 struct ts_wplan *pl)
{
	static const char *const img_qkv[3] = {"to_q", "to_k", "to_v"};
	static const char *const txt_qkv[3] = {"add_q_proj", "add_k_proj", "add_v_proj"};
	const char *pre = "transformer_blocks.", *ff = s->txt ? "ff_context" : "ff";
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	int i = s->block;
	switch (s->kind) {
	case TS_W_QKV: return ts_plan_qkv(c, s, pl, pre, s->txt ? txt_qkv : img_qkv);
	case TS_W_QN: return ts_plan_norm(c, s, pl, pre, i, s->txt ? "norm_added_q" : "norm_q");
	case TS_W_KN: return ts_plan_norm(c, s, pl, pre, i, s->txt ? "norm_added_k" : "norm_k");
	case TS_W_PROJ:
		pl->rows = pl->cols = d;
		return TS_LIN(pl, s, d, d, 0, "%s%d.attn.%s", pre, i, s->txt ? "to_add_out" : "to_out.0");
	case TS_W_FC1:
		pl->rows = f;
		pl->cols = d;
		return TS_LIN(pl, s, f, d, 0, "%s%d.%s.net.0.proj", pre, i, ff);
	default:
		pl->rows = d;
		pl->cols = f;
		return TS_LIN(pl, s, d, f, 0, "%s%d.%s.net.2", pre, i, ff);
	}
}

/* The pieces of slot s under config c; TS_EINVAL for a slot the config
 * has no such tensor for. */
static int ts_plan(const struct ts_dit_config *c, const struct ts_dit_wslot *s, struct ts_wplan *pl)
{
	static const char *const sgl_qkv[3] = {"to_q", "to_k", "to_v"};
	const char *sgl = "single_transformer_blocks.";
	bool joint = s->kind >= TS_W_QKV && s->kind <= TS_W_KN;
	bool single = s->kind >= TS_W_LIN1 && s->kind <= TS_W_SKN;
	int64_t d = c->hidden, f = (int64_t)c->mlp_ratio * d;
	if ((joint && (s->block < 0 || s->block >= c->double_blocks)) ||
	    (single && (s->block < 0 || s->block >= c->single_blocks)) ||
	    ((s->kind == TS_W_QN || s->kind == TS_W_KN || s->kind == TS_W_SQN || s->kind == TS_W_SKN) && !c->qk_norm) ||
	    ((s->kind == TS_W_G1 || s->kind == TS_W_G2) && !c->guidance) ||
	    (s->kind == TS_W_POS && (!c->pos_embed_max || s->bias)) ||
	    (joint && s->txt && s->kind >= TS_W_PROJ && s->kind <= TS_W_FC2 &&
	     ts_dit_text_pre_only(c, s->block)))
		return TS_EINVAL;
	if (joint)
		return ts_plan_joint(c, s, pl);
	switch (s->kind) {
	case TS_W_MOD: return ts_plan_mod(c, s, pl);
	case TS_W_POS: {
		int64_t n = (int64_t)c->pos_embed_max * c->pos_embed_max;
		pl->rows = n;
		pl->cols = d;
		return ts_wp_add(pl, false, true, 3, (const int64_t[]){1, n, d}, 0, n, 0, "pos_embed.pos_embed");
	}
	case TS_W_LIN1: return ts_plan_qkv(c, s, pl, sgl, sgl_qkv);
	case TS_W_LIN2:
		pl->rows = d;
		pl->cols = d + f;
		return TS_LIN(pl, s, d, d + f, 0, "%s%d.proj_out", sgl, s->block);
	case TS_W_SQN: return ts_plan_norm(c, s, pl, sgl, s->block, "norm_q");
	case TS_W_SKN: return ts_plan_norm(c, s, pl, sgl, s->block, "norm_k");
	default: return ts_plan_outer(c, s, pl);
	}
}

/* The rows of piece w that fall in [row0, row0 + nrows) into dst. */
static int ts_piece_fill(struct ts_dit_ckpt *ck, const struct ts_wpiece *w, int64_t cols,
			 int64_t row0, int64_t nrows, uint16_t *dst, struct ts_error *err)
{
	int64_t lo = row0 > w->dst_row ? row0 : w->dst_row;
	int64_t hi = row0 + nrows < w->dst_row + w->rows ? row0 + nrows : w->dst_row + w->rows;
	if (lo >= hi)
		return 0;
	const struct ts_st_tensor *t = ts_st_set_find(ck->set, w->name);
	if (!t)
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s' is missing (a %s of this config.json has it)",
				  ck->dir, w->name, ck->cfg.name);
	bool same = t->ndim == w->ndim;
	for (int i = 0; same && i < w->ndim; i++)
		same = t->shape[i] == w->shape[i];
	if (!same) {
		char have[128], want[128];
		ts_st_shape_str(t->shape, t->ndim, have, sizeof(have));
		ts_st_shape_str(w->shape, w->ndim, want, sizeof(want));
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s' (in %s) has shape %s; config.json implies %s",
				  ck->dir, w->name, t->file->path, have, want);
	}
	int64_t first = (w->src_row + lo - w->dst_row) * cols;
	return ts_st_read_bf16(t, first, (hi - lo) * cols, dst + (lo - row0) * cols, err);
}

int ts_dit_ckpt_fill(struct ts_dit_ckpt *ck, const struct ts_dit_wslot *s, int64_t rows,
		     int64_t cols, int64_t row0, int64_t nrows, uint16_t *dst,
		     struct ts_error *err)
{
	struct ts_wplan pl = {0};
	char slot[96];
	ts_dit_wslot_name(s, slot, sizeof(slot));
	int rc = ts_plan(&ck->cfg, s, &pl);
	if (s->bias)
		pl.cols = 1;
	if (rc == TS_ENOMEM)
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", ck->dir);
	else if (rc)
		rc = ts_err_set(err, TS_EINVAL, "%s: a %s of this config.json has no %s", ck->dir,
				ck->cfg.name, slot);
	else if (pl.rows != rows || pl.cols != cols)
		rc = ts_err_set(err, TS_EINVAL, "%s: the engine's %s is [%lld][%lld], the checkpoint's [%lld][%lld]",
				ck->dir, slot, (long long)rows, (long long)cols, (long long)pl.rows,
				(long long)pl.cols);
	else if (row0 < 0 || nrows < 0 || row0 + nrows > rows)
		rc = ts_err_set(err, TS_EINVAL, "%s: rows [%lld, %lld) of %s outside its %lld", ck->dir,
				(long long)row0, (long long)(row0 + nrows), slot, (long long)rows);
	int64_t covered = 0;
	for (int i = 0; !rc && i < pl.n; i++)
		covered += pl.p[i].rows;
	if (!rc && covered < rows) /* rows no tensor fills stay 0 */
		memset(dst, 0, (size_t)(nrows * cols) * sizeof(*dst));
	for (int i = 0; !rc && i < pl.n; i++)
		rc = ts_piece_fill(ck, &pl.p[i], cols, row0, nrows, dst, err);
	free(pl.p);
	return rc;
}

int ts_dit_ckpt_open(struct ts_dit_ckpt **out, const char *dir, struct ts_error *err)
{
	*out = NULL;
	struct ts_dit_ckpt *ck = calloc(1, sizeof(*ck));
	if (!ck || !(ck->dir = strdup(dir))) {
		free(ck);
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", dir);
	}
	int rc = ts_dit_config_from_diffusers(dir, &ck->cfg, err);
	if (!rc)
		rc = ts_st_set_open_dir(&ck->set, dir, "diffusion_pytorch_model", err);
	if (rc) {
		ts_dit_ckpt_close(ck);
		return rc;
	}
	*out = ck;
	return 0;
}

void ts_dit_ckpt_close(struct ts_dit_ckpt *ck)
{
	if (!ck)
		return;
	ts_st_set_close(ck->set);
	free(ck->dir);
	free(ck);
}

const struct ts_dit_config *ts_dit_ckpt_config(const struct ts_dit_ckpt *ck)
{
	return &ck->cfg;
}

int ts_dit_ckpt_check_used(const struct ts_dit_ckpt *ck, struct ts_error *err)
{
	return ts_st_set_check_used(ck->set, err);
}
