/* dit_diffusers.c: config.json of a diffusers transformer folder into a
 * struct ts_dit_config (model/dit_diffusers.h). The defaults are those of
 * the classes' constructors in diffusers. */
#include "model/dit_diffusers.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* One config.json being read: its path for messages, its root object. */
struct ts_cfgjson {
	const char *path;
	json_t *root;
};

/* Integer key `key` (or `def` when absent or null) into *out, >= lo. */
static int ts_cj_int(const struct ts_cfgjson *j, const char *key, int def, int lo, int *out,
		     struct ts_error *err)
{
	json_t *v = json_object_get(j->root, key);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > (1 << 20))
		return ts_err_set(err, TS_EINVAL, "%s: \"%s\" is not an integer in %d..%d", j->path, key,
				  lo, 1 << 20);
	*out = (int)json_integer_value(v);
	return 0;
}

static int ts_cj_bool(const struct ts_cfgjson *j, const char *key, bool def, bool *out,
		      struct ts_error *err)
{
	json_t *v = json_object_get(j->root, key);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return ts_err_set(err, TS_EINVAL, "%s: \"%s\" is not true or false", j->path, key);
	*out = json_is_true(v);
	return 0;
}

/* Integer array `key` of exactly n entries (or def when absent). */
static int ts_cj_ints(const struct ts_cfgjson *j, const char *key, const int *def, int n,
		      int *out, struct ts_error *err)
{
	json_t *v = json_object_get(j->root, key);
	if (!v || json_is_null(v)) {
		memcpy(out, def, (size_t)n * sizeof(*out));
		return 0;
	}
	if (!json_is_array(v) || (int)json_array_size(v) != n)
		return ts_err_set(err, TS_EINVAL, "%s: \"%s\" is not a list of %d integers", j->path, key, n);
	for (int i = 0; i < n; i++) {
		json_t *e = json_array_get(v, (size_t)i);
		if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 4096)
			return ts_err_set(err, TS_EINVAL, "%s: \"%s\"[%d] is not an integer in 0..4096",
					  j->path, key, i);
		out[i] = (int)json_integer_value(e);
	}
	return 0;
}

/* What both classes share: heads, head width, text and pooled widths. */
static int ts_cj_common(const struct ts_cfgjson *j, int def_heads, int def_hd, int def_pooled,
			struct ts_dit_config *c, struct ts_error *err)
{
	int rc = ts_cj_int(j, "num_attention_heads", def_heads, 1, &c->heads, err);
	if (!rc)
		rc = ts_cj_int(j, "attention_head_dim", def_hd, 2, &c->head_dim, err);
	if (!rc)
		rc = ts_cj_int(j, "joint_attention_dim", 4096, 1, &c->text_dim, err);
	if (!rc)
		rc = ts_cj_int(j, "pooled_projection_dim", def_pooled, 1, &c->pooled_dim, err);
	c->hidden = c->heads * c->head_dim;
	c->vae_scale = 8; /* both families' VAEs; not part of the transformer folder */
	c->mlp_ratio = 4;
	c->rope_theta = 10000.0f;
	return rc;
}

/* out_channels must be absent, null or the input's (the step updates the
 * latent it read). */
static int ts_cj_out_channels(const struct ts_cfgjson *j, int in, struct ts_error *err)
{
	int out = 0;
	int rc = ts_cj_int(j, "out_channels", in, 1, &out, err);
	if (!rc && out != in)
		rc = ts_err_set(err, TS_EINVAL, "%s: \"out_channels\" %d differs from \"in_channels\" %d: the step's output updates its input latent",
				j->path, out, in);
	return rc;
}

/* FluxTransformer2DModel: packed 2x2 latents (patch_size 1, in_channels
 * 4 x latent channels), joint then single blocks, RoPE over (0, row, col). */
static int ts_cj_flux(const struct ts_cfgjson *j, struct ts_dit_config *c, struct ts_error *err)
{
	static const int axes[3] = {16, 56, 56};
	int patch = 0, in = 0;
	int rc = ts_cj_common(j, 24, 128, 768, c, err);
	if (!rc)
		rc = ts_cj_int(j, "patch_size", 1, 1, &patch, err);
	if (!rc && patch != 1)
		rc = ts_err_set(err, TS_EINVAL, "%s: \"patch_size\" %d: only 1 is supported (the pipeline packs 2x2 latent patches)",
				j->path, patch);
	if (!rc)
		rc = ts_cj_int(j, "in_channels", 64, 4, &in, err);
	if (!rc && in % 4)
		rc = ts_err_set(err, TS_EINVAL, "%s: \"in_channels\" %d is not 4 x latent channels", j->path, in);
	if (!rc)
		rc = ts_cj_out_channels(j, in, err);
	if (!rc)
		rc = ts_cj_int(j, "num_layers", 19, 0, &c->double_blocks, err);
	if (!rc)
		rc = ts_cj_int(j, "num_single_layers", 38, 0, &c->single_blocks, err);
	if (!rc)
		rc = ts_cj_bool(j, "guidance_embeds", false, &c->guidance, err);
	if (!rc)
		rc = ts_cj_ints(j, "axes_dims_rope", axes, 3, c->rope_axes, err);
	if (!rc && (c->rope_axes[0] + c->rope_axes[1] + c->rope_axes[2] != c->head_dim ||
		    (c->rope_axes[0] | c->rope_axes[1] | c->rope_axes[2]) & 1))
		rc = ts_err_set(err, TS_EINVAL, "%s: \"axes_dims_rope\" must be even and sum to attention_head_dim %d",
				j->path, c->head_dim);
	c->family = TS_DIT_FLUX;
	c->latent_channels = in / 4;
	c->patch = 2;
	c->text_tokens = 512;
	c->rope = c->qk_norm = c->timestep_bf16 = true;
	return rc;
}

/* SD3's q/k norm: null (SD3) or "rms_norm" (SD3.5). */
static int ts_cj_qk_norm(const struct ts_cfgjson *j, bool *out, struct ts_error *err)
{
	json_t *v = json_object_get(j->root, "qk_norm");
	*out = v && !json_is_null(v);
	if (*out && (!json_is_string(v) || strcmp(json_string_value(v), "rms_norm")))
		return ts_err_set(err, TS_EINVAL, "%s: \"qk_norm\": only null and \"rms_norm\" are supported",
				  j->path);
	return 0;
}

/* SD3.5's dual-attention layers (MMDiT-X) are not part of the engine. */
static int ts_cj_no_dual(const struct ts_cfgjson *j, struct ts_error *err)
{
	json_t *v = json_object_get(j->root, "dual_attention_layers");
	if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
		return ts_err_set(err, TS_EINVAL, "%s: \"dual_attention_layers\" is not empty: SD3.5's dual-attention blocks are not supported",
				  j->path);
	return 0;
}

/* SD3Transformer2DModel: conv patch embedding plus a cropped sin-cos table,
 * joint blocks, the last one's text stream ending after the attention. */
static int ts_cj_sd3(const struct ts_cfgjson *j, struct ts_dit_config *c, struct ts_error *err)
{
	int cap = 0, pmax = 0;
	int rc = ts_cj_common(j, 18, 64, 2048, c, err);
	if (!rc)
		rc = ts_cj_int(j, "patch_size", 2, 1, &c->patch, err);
	if (!rc)
		rc = ts_cj_int(j, "in_channels", 16, 1, &c->latent_channels, err);
	if (!rc)
		rc = ts_cj_out_channels(j, c->latent_channels, err);
	if (!rc)
		rc = ts_cj_int(j, "num_layers", 18, 1, &c->double_blocks, err);
	if (!rc)
		rc = ts_cj_int(j, "caption_projection_dim", 1152, 1, &cap, err);
	if (!rc && cap != c->hidden)
		rc = ts_err_set(err, TS_EINVAL, "%s: \"caption_projection_dim\" %d is not heads x head_dim = %d",
				j->path, cap, c->hidden);
	if (!rc && json_is_null(json_object_get(j->root, "pos_embed_max_size")))
		rc = ts_err_set(err, TS_EINVAL, "%s: \"pos_embed_max_size\" null is not supported (the position table must be in the checkpoint)",
				j->path);
	if (!rc)
		rc = ts_cj_int(j, "pos_embed_max_size", 96, 1, &pmax, err);
	if (!rc)
		rc = ts_cj_qk_norm(j, &c->qk_norm, err);
	if (!rc)
		rc = ts_cj_no_dual(j, err);
	c->family = TS_DIT_SD3;
	c->pos_embed_max = pmax;
	c->text_tokens = 333;
	c->last_text_pre_only = true;
	return rc;
}

int ts_dit_config_from_diffusers(const char *dir, struct ts_dit_config *cfg,
				 struct ts_error *err)
{
	char path[4096];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/config.json", dir);
	memset(cfg, 0, sizeof(*cfg));
	FILE *f = fopen(path, "r");
	if (!f)
		return ts_err_set(err, TS_ENOTFOUND, "%s: cannot open (a diffusers transformer folder has one)",
				  path);
	json_t *root = json_loadf(f, 0, &je);
	fclose(f);
	if (!root)
		return ts_err_set(err, TS_EPARSE, "%s: line %d column %d: %s", path, je.line, je.column,
				  je.text);
	struct ts_cfgjson j = {path, root};
	const char *cls = json_string_value(json_object_get(root, "_class_name"));
	int rc;
	if (cls && !strcmp(cls, "FluxTransformer2DModel"))
		rc = ts_cj_flux(&j, cfg, err);
	else if (cls && !strcmp(cls, "SD3Transformer2DModel"))
		rc = ts_cj_sd3(&j, cfg, err);
	else
		rc = ts_err_set(err, TS_EINVAL, "%s: \"_class_name\" '%s' is not FluxTransformer2DModel or SD3Transformer2DModel",
				path, cls ? cls : "(none)");
	if (!rc)
		snprintf(cfg->name, sizeof(cfg->name), "%s", cls);
	json_decref(root);
	return rc;
}
