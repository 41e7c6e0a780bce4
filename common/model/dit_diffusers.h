/* dit_diffusers.h: a diffusers transformer folder as users have it
 * (FLUX.1-dev/transformer, stable-diffusion-3-medium-diffusers/transformer):
 * config.json read into a struct ts_dit_config, and the folder's tensors
 * mapped onto the engine's weight layout (exec/ts_dit.h).
 *
 * Classes: FluxTransformer2DModel and SD3Transformer2DModel (diffusers
 * 0.3x/0.4x tensor names). Keys a config.json leaves out take diffusers'
 * defaults for that class. Not supported (TS_EINVAL naming the key): FLUX
 * patch_size other than 1 (latents are packed 2x2 by the pipeline), SD3
 * without pos_embed_max_size, SD3.5's dual attention layers, q/k norms
 * other than RMSNorm.
 *
 * The engine's tensors: every weight is a [rows][cols] bf16 matrix (a bias
 * or a norm scale has cols 1), named by a slot (struct ts_dit_wslot). The
 * map fills any range of a slot's rows from the checkpoint, converting
 * F32/F16/BF16 to bf16, so a loader can stream a large tensor in pieces. */
#ifndef TS_DIT_DIFFUSERS_H
#define TS_DIT_DIFFUSERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "model/dit_config.h"

/* Reads DIR/config.json into *cfg: the family from "_class_name", the
 * shapes from its keys (text_tokens: 512 for FLUX, 333 for SD3; the engine
 * may change it). TS_ENOTFOUND without the file, TS_EPARSE for bad JSON
 * (line, column), TS_EINVAL naming the key for a value of the wrong type or
 * an unsupported one. */
int ts_dit_config_from_diffusers(const char *dir, struct ts_dit_config *cfg,
				 struct ts_error *err);

/* The engine's weight tensors. Joint-block kinds take `block` and `txt`
 * (the text stream's weights, else the image stream's); single-block kinds
 * take `block`. */
enum ts_dit_wkind {
	TS_W_IMG_IN, TS_W_TXT_IN, TS_W_T1, TS_W_T2, TS_W_G1, TS_W_G2, TS_W_V1, TS_W_V2,
	TS_W_MOD,  /* every block's adaLN rows, then the final layer's (dit_config.h) */
	TS_W_OUT,  /* rows ordered (channel, patch row, patch column) */
	TS_W_POS,  /* SD3's position table [pos_embed_max^2][hidden] */
	TS_W_QKV, TS_W_PROJ, TS_W_FC1, TS_W_FC2, TS_W_QN, TS_W_KN,
	TS_W_LIN1, /* q, k, v, then the MLP's first layer */
	TS_W_LIN2, TS_W_SQN, TS_W_SKN
};

struct ts_dit_wslot {
	enum ts_dit_wkind kind;
	int block;
	bool txt;
	bool bias; /* the layer's bias [rows][1], else its weight */
};

/* "joint block 3 text qkv weight" and the like into buf. */
void ts_dit_wslot_name(const struct ts_dit_wslot *s, char *buf, int size);

struct ts_dit_ckpt; /* an opened folder: its config and tensors */

/* Reads DIR's config.json and opens its safetensors (model/dit_diffusers.h,
 * io/safetensors.h: ts_st_set_open_dir with stem diffusion_pytorch_model). */
int ts_dit_ckpt_open(struct ts_dit_ckpt **out, const char *dir, struct ts_error *err);

void ts_dit_ckpt_close(struct ts_dit_ckpt *ck);

const struct ts_dit_config *ts_dit_ckpt_config(const struct ts_dit_ckpt *ck);

/* Rows [row0, row0 + nrows) of slot s, an engine tensor of rows x cols,
 * into dst (nrows * cols bf16), from the checkpoint tensors that make it
 * up (rows the model lacks, as the text gates of SD3's last block, are 0).
 * TS_EPARSE naming the tensor and folder when one is missing or its shape
 * is not the config's; the conversion's errors (io/safetensors.h);
 * TS_EINVAL when rows x cols is not the slot's shape under this config. */
int ts_dit_ckpt_fill(struct ts_dit_ckpt *ck, const struct ts_dit_wslot *s, int64_t rows,
		     int64_t cols, int64_t row0, int64_t nrows, uint16_t *dst,
		     struct ts_error *err);

/* After every slot was filled: TS_EPARSE naming a tensor of the folder that
 * no slot used (a checkpoint of another architecture or depth). */
int ts_dit_ckpt_check_used(const struct ts_dit_ckpt *ck, struct ts_error *err);

#endif
