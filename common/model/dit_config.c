/* dit_config.c: the model presets (shapes only; weights are exec/'s) and
 * the layout of the adaLN modulation rows. */
#include "model/dit_config.h"

#include <stdio.h>
#include <string.h>

static const struct ts_dit_config ts_presets[] = {
	/* FLUX.1-dev: 19 double + 38 single blocks, T5 512 tokens x 4096,
	 * CLIP pooled 768, guidance embedding, 3-axis RoPE (16, 56, 56). */
	{ .name = "flux-dev", .family = TS_DIT_FLUX, .hidden = 3072, .heads = 24, .head_dim = 128,
	  .double_blocks = 19, .single_blocks = 38, .text_tokens = 512, .text_dim = 4096,
	  .pooled_dim = 768, .latent_channels = 16, .patch = 2, .vae_scale = 8, .mlp_ratio = 4,
	  .rope = true, .qk_norm = true, .guidance = true, .rope_theta = 10000.0f,
	  .rope_axes = { 16, 56, 56 }, .timestep_bf16 = true },
	/* SD3-medium: 24 joint blocks, 333 text tokens (77 CLIP + 256 T5) x
	 * 4096, pooled 2048; a 192 x 192 sin-cos position table, no RoPE, no
	 * q/k norm; the last block's text stream ends after the attention. */
	{ .name = "sd3-medium", .family = TS_DIT_SD3, .hidden = 1536, .heads = 24, .head_dim = 64,
	  .double_blocks = 24, .single_blocks = 0, .text_tokens = 333, .text_dim = 4096,
	  .pooled_dim = 2048, .latent_channels = 16, .patch = 2, .vae_scale = 8, .mlp_ratio = 4,
	  .rope_theta = 10000.0f, .pos_embed_max = 192, .last_text_pre_only = true },
};

#define NPRESETS ((int)(sizeof(ts_presets) / sizeof(ts_presets[0])))

void ts_dit_config_names(char *buf, int size)
{
	int used = 0;
	buf[0] = '\0';
	for (int i = 0; i < NPRESETS && used < size; i++)
		used += snprintf(buf + used, (size_t)(size - used), "%s%s", i ? ", " : "",
				 ts_presets[i].name);
}

int ts_dit_config_lookup(const char *model, struct ts_dit_config *cfg, struct ts_error *err)
{
	for (int i = 0; i < NPRESETS; i++) {
		if (!strcmp(model, ts_presets[i].name)) {
			*cfg = ts_presets[i];
			return 0;
		}
	}
	char names[128];
	ts_dit_config_names(names, sizeof(names));
	return ts_err_set(err, TS_EINVAL, "unknown model '%s' (known: %s)", model, names);
}

bool ts_dit_text_pre_only(const struct ts_dit_config *c, int block)
{
	return c->last_text_pre_only && block == c->double_blocks - 1;
}

int64_t ts_dit_mod_columns(const struct ts_dit_config *c)
{
	return (12LL * c->double_blocks + 3LL * c->single_blocks + 2) * c->hidden;
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
