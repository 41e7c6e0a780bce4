/* dit_config.h: the shapes of the DiT models (FLUX.1-dev, SD3-medium), a
 * backend-neutral description that the CUDA engine (exec/ts_dit.h) builds
 * its weights from and the step-time model (model/step_model.h) counts the
 * work of a step from. The presets are the published models' shapes; a
 * diffusers checkpoint folder gives its own (model/dit_diffusers.h). */
#ifndef TS_DIT_CONFIG_H
#define TS_DIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"

/* The architecture a config follows (and whose diffusers tensor names its
 * checkpoints use): FLUX (FluxTransformer2DModel: joint blocks, then
 * single-stream blocks, RoPE, q/k RMSNorm) or SD3 (SD3Transformer2DModel:
 * joint blocks, a sin-cos position table, optional q/k RMSNorm). */
enum ts_dit_family { TS_DIT_FLUX = 0, TS_DIT_SD3 = 1 };

/* The shape of a model. */
struct ts_dit_config {
	char name[32];
	int family; /* enum ts_dit_family */
	int hidden, heads, head_dim;
	int double_blocks;   /* joint blocks, separate text and image weights */
	int single_blocks;   /* FLUX single-stream blocks (fused linear1/linear2) */
	int text_tokens, text_dim, pooled_dim;
	int latent_channels, patch, vae_scale;
	int mlp_ratio;
	bool rope, qk_norm, guidance;
	float rope_theta;
	int rope_axes[3];
	/* SD3: a table of pos_embed_max x pos_embed_max position vectors whose
	 * centre crop is added to the image tokens; 0: none. */
	int pos_embed_max;
	/* SD3: the last joint block's text stream only feeds the attention (its
	 * keys and values); it has no output projection, MLP or gates. */
	bool last_text_pre_only;
	/* FLUX in diffusers: the timestep and the guidance scale are rounded to
	 * bf16 (the weights' dtype) before and after their scaling by 1000. */
	bool timestep_bf16;
};

/* Fills *cfg with the preset named `model` ("flux-dev", "sd3-medium");
 * TS_EINVAL naming the model and the known presets otherwise. */
int ts_dit_config_lookup(const char *model, struct ts_dit_config *cfg, struct ts_error *err);

/* The known preset names as "a, b" into buf (always NUL-terminated). */
void ts_dit_config_names(char *buf, int size);

/* The adaLN modulation rows of one sample, all computed by one linear layer
 * from silu(conditioning): joint block i holds 12 x hidden rows from
 * ts_dit_mod_double(c, i, 0) (image: shift, scale, gate of the attention,
 * then of the MLP) and from ts_dit_mod_double(c, i, 1) (text, the same);
 * single block i 3 x hidden (shift, scale, gate); the final layer 2 x
 * hidden (shift, scale) from ts_dit_mod_final(). ts_dit_mod_columns() is
 * the total. */
int64_t ts_dit_mod_columns(const struct ts_dit_config *c);
int64_t ts_dit_mod_double(const struct ts_dit_config *c, int block, int txt);
int64_t ts_dit_mod_single(const struct ts_dit_config *c, int block);
int64_t ts_dit_mod_final(const struct ts_dit_config *c);

/* Whether joint block `block` has a text stream that ends after the
 * attention (last_text_pre_only and the last block). */
bool ts_dit_text_pre_only(const struct ts_dit_config *c, int block);

#endif
