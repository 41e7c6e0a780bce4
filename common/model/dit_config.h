/* dit_config.h: the shapes of the DiT models (FLUX.1-dev, SD3-medium), a
 * backend-neutral description that the CUDA engine (exec/ts_dit.h) builds
 * its weights from and the step-time model (model/step_model.h) counts the
 * work of a step from. */
#ifndef TS_DIT_CONFIG_H
#define TS_DIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"

/* The shape of a model preset. */
struct ts_dit_config {
	char name[32];
	int hidden, heads, head_dim;
	int double_blocks;   /* joint blocks, separate text and image weights */
	int single_blocks;   /* FLUX single-stream blocks (fused linear1/linear2) */
	int text_tokens, text_dim, pooled_dim;
	int latent_channels, patch, vae_scale;
	int mlp_ratio;
	bool rope, qk_norm, guidance;
	float rope_theta;
	int rope_axes[3];
};

/* Fills *cfg with the preset named `model` ("flux-dev", "sd3-medium");
 * TS_EINVAL naming the model and the known presets otherwise. */
int ts_dit_config_lookup(const char *model, struct ts_dit_config *cfg, struct ts_error *err);

/* The known preset names as "a, b" into buf (always NUL-terminated). */
void ts_dit_config_names(char *buf, int size);

#endif
