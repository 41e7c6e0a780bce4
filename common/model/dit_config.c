/* dit_config.c: the model presets (shapes only; weights are exec/'s). */
#include "model/dit_config.h"

#include <stdio.h>
#include <string.h>

static const struct ts_dit_config ts_presets[] = {
	/* FLUX.1-dev: 19 double + 38 single blocks, T5 512 tokens x 4096,
	 * CLIP pooled 768, guidance embedding, 3-axis RoPE (16, 56, 56). */
	{ "flux-dev", 3072, 24, 128, 19, 38, 512, 4096, 768, 16, 2, 8, 4, true, true, true,
	  10000.0f, { 16, 56, 56 } },
	/* SD3-medium: 24 joint blocks, 333 text tokens (77 CLIP + 256 T5) x
	 * 4096, pooled 2048; no RoPE (learned positions), no q/k norm. */
	{ "sd3-medium", 1536, 24, 64, 24, 0, 333, 4096, 2048, 16, 2, 8, 4, false, false, false,
	  10000.0f, { 0, 0, 0 } },
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
