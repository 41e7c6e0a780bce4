/* test_dit_diffusers.c: model/dit_diffusers.h. config.json of both classes
 * (the committed tiny checkpoints, which diffusers itself wrote) and each
 * refused key; the map from diffusers' tensors to the engine's weight slots
 * checked against the tensors read directly (fused q/k/v, the modulation
 * rows with AdaLayerNormContinuous's (scale, shift) order swapped, SD3's
 * output feature order and conv patch weights, the text rows SD3's last
 * block lacks), chunked fills, F32 checkpoints, and each error: a missing
 * tensor, a wrong shape, an unused tensor, a slot the model has not.
 * Argument: the tests/data folder. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io_fixture.h"
#include "model/dit_diffusers.h"
#include "st_write.h"
#include "test_util.h"

static struct ts_error err;
static char flux_dir[512], sd3_dir[512];

static void test_configs(void)
{
	struct ts_dit_config c;
	TS_CHECK_MSG(ts_dit_config_from_diffusers(flux_dir, &c, &err) == 0, "%s", err.msg);
	TS_CHECK(c.family == TS_DIT_FLUX && !strcmp(c.name, "FluxTransformer2DModel"));
	TS_CHECK(c.hidden == 128 && c.heads == 2 && c.head_dim == 64 && c.double_blocks == 1 &&
		 c.single_blocks == 1 && c.text_dim == 32 && c.pooled_dim == 16);
	TS_CHECK(c.latent_channels == 16 && c.patch == 2 && c.vae_scale == 8 && c.guidance && c.rope &&
		 c.qk_norm && c.timestep_bf16 && !c.pos_embed_max && !c.last_text_pre_only);
	TS_CHECK(c.rope_axes[0] == 8 && c.rope_axes[1] == 28 && c.rope_axes[2] == 28 && c.text_tokens == 512);
	TS_CHECK_MSG(ts_dit_config_from_diffusers(sd3_dir, &c, &err) == 0, "%s", err.msg);
	TS_CHECK(c.family == TS_DIT_SD3 && c.hidden == 128 && c.double_blocks == 1 && !c.single_blocks);
	TS_CHECK(c.latent_channels == 16 && c.patch == 2 && c.pos_embed_max == 16 && c.last_text_pre_only &&
		 !c.rope && !c.qk_norm && !c.guidance && !c.timestep_bf16 && c.text_tokens == 333);
}

/* config.json with `text` in a fresh folder must fail with `want`. */
static void expect_config_error(const char *text, int code, const char *want)
{
	static int n;
	char name[64];
	struct ts_dit_config c;
	snprintf(name, sizeof(name), "cfg%d", n++);
	const char *path = io_temp_path(name);
	TS_CHECK(mkdir(path, 0700) == 0);
	char file[128];
	snprintf(file, sizeof(file), "%s/config.json", name);
	io_temp_file(file, text);
	int rc = ts_dit_config_from_diffusers(path, &c, &err);
	TS_CHECK_MSG(rc == code, "%s: got %d (%s)", text, rc, err.msg);
	TS_CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

static void test_config_errors(void)
{
	const char *F = "{\"_class_name\": \"FluxTransformer2DModel\", ";
	const char *S = "{\"_class_name\": \"SD3Transformer2DModel\", \"caption_projection_dim\": 1152, ";
	char t[512];
	expect_config_error("{\"_class_name\": \"UNet2DConditionModel\"}", TS_EINVAL, "UNet2DConditionModel");
	expect_config_error("{\"num_layers\": ", TS_EPARSE, "line 1");
	snprintf(t, sizeof(t), "%s\"patch_size\": 2}", F);
	expect_config_error(t, TS_EINVAL, "\"patch_size\" 2");
	snprintf(t, sizeof(t), "%s\"num_layers\": \"19\"}", F);
	expect_config_error(t, TS_EINVAL, "\"num_layers\" is not an integer");
	snprintf(t, sizeof(t), "%s\"out_channels\": 16}", F);
	expect_config_error(t, TS_EINVAL, "\"out_channels\" 16");
	snprintf(t, sizeof(t), "%s\"axes_dims_rope\": [16, 56, 50]}", F);
	expect_config_error(t, TS_EINVAL, "axes_dims_rope");
	snprintf(t, sizeof(t), "%s\"guidance_embeds\": 1}", F);
	expect_config_error(t, TS_EINVAL, "guidance_embeds");
	snprintf(t, sizeof(t), "%s\"dual_attention_layers\": [0, 1]}", S);
	expect_config_error(t, TS_EINVAL, "dual_attention_layers");
	snprintf(t, sizeof(t), "%s\"qk_norm\": \"layer_norm\"}", S);
	expect_config_error(t, TS_EINVAL, "qk_norm");
	snprintf(t, sizeof(t), "%s\"pos_embed_max_size\": null}", S);
	expect_config_error(t, TS_EINVAL, "pos_embed_max_size");
	expect_config_error("{\"_class_name\": \"SD3Transformer2DModel\", \"num_attention_heads\": 24}", TS_EINVAL,
			    "\"caption_projection_dim\" 1152 is not heads x head_dim = 1536");
	struct ts_dit_config c;
	TS_CHECK(ts_dit_config_from_diffusers("no/such/dir", &c, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "no/such/dir/config.json") != NULL, "%s", err.msg);
	snprintf(t, sizeof(t), "%s\"qk_norm\": \"rms_norm\", \"dual_attention_layers\": []}", S);
	expect_config_error(t, TS_OK, ""); /* SD3.5-large style: fine */
}

/* The engine's shape of slot s under c, as exec/cuda/ts_dit_weights.cu
 * carves it. */
static void slot_shape(const struct ts_dit_config *c, const struct ts_dit_wslot *s, int64_t *rows,
		       int64_t *cols)
{
	int64_t d = c->hidden, f = 4 * d, feat = (int64_t)c->latent_channels * c->patch * c->patch;
	int64_t r = d, k = d;
	switch (s->kind) {
	case TS_W_IMG_IN: k = feat; break;
	case TS_W_TXT_IN: k = c->text_dim; break;
	case TS_W_T1: case TS_W_G1: k = 256; break;
	case TS_W_V1: k = c->pooled_dim; break;
	case TS_W_MOD: r = ts_dit_mod_columns(c); break;
	case TS_W_OUT: r = feat; break;
	case TS_W_POS: r = (int64_t)c->pos_embed_max * c->pos_embed_max; break;
	case TS_W_QKV: r = 3 * d; break;
	case TS_W_FC1: r = f; break;
	case TS_W_FC2: k = f; break;
	case TS_W_QN: case TS_W_KN: case TS_W_SQN: case TS_W_SKN: r = c->head_dim; k = 1; break;
	case TS_W_LIN1: r = 3 * d + f; break;
	case TS_W_LIN2: k = d + f; break;
	default: break;
	}
	*rows = r;
	*cols = s->bias ? 1 : k;
}

/* Slot s filled whole (malloc'ed), NULL on error (err set). */
static uint16_t *fill(struct ts_dit_ckpt *ck, struct ts_dit_wslot s, int64_t *rows, int64_t *cols)
{
	slot_shape(ts_dit_ckpt_config(ck), &s, rows, cols);
	uint16_t *v = malloc((size_t)(*rows * *cols) * 2 + 2);
	if (v && ts_dit_ckpt_fill(ck, &s, *rows, *cols, 0, *rows, v, &err)) {
		free(v);
		v = NULL;
	}
	return v;
}

/* Tensor `name` of folder s as bf16 (malloc'ed). */
static uint16_t *raw(struct ts_st_set *s, const char *name, int64_t *n)
{
	const struct ts_st_tensor *t = ts_st_set_find(s, name);
	TS_CHECK_MSG(t != NULL, "no tensor %s", name);
	if (!t)
		return NULL;
	uint16_t *v = malloc((size_t)t->nelem * 2 + 2);
	TS_CHECK(v && ts_st_read_bf16(t, 0, t->nelem, v, &err) == 0);
	*n = t->nelem;
	return v;
}

/* Rows [row0, row0 + n) of slot values v (cols wide) equal elements
 * [src0, src0 + n * cols) of tensor `name`. */
static void same_rows(struct ts_st_set *s, const uint16_t *v, int64_t cols, int64_t row0, int64_t n,
		      const char *name, int64_t src0)
{
	int64_t have = 0;
	uint16_t *t = raw(s, name, &have);
	TS_CHECK_MSG(t && src0 + n * cols <= have && !memcmp(v + row0 * cols, t + src0, (size_t)(n * cols) * 2),
		     "slot rows %lld.. differ from %s", (long long)row0, name);
	free(t);
}

static struct ts_dit_wslot slot(enum ts_dit_wkind k, int block, bool txt, bool bias)
{
	struct ts_dit_wslot s = {k, block, txt, bias};
	return s;
}

static void test_flux_map(struct ts_dit_ckpt *ck, struct ts_st_set *s)
{
	int64_t r, c, d = 128;
	uint16_t *v = fill(ck, slot(TS_W_QKV, 0, false, false), &r, &c);
	TS_CHECK_MSG(v, "%s", err.msg);
	if (v) {
		same_rows(s, v, c, 0, d, "transformer_blocks.0.attn.to_q.weight", 0);
		same_rows(s, v, c, d, d, "transformer_blocks.0.attn.to_k.weight", 0);
		same_rows(s, v, c, 2 * d, d, "transformer_blocks.0.attn.to_v.weight", 0);
	}
	free(v);
	v = fill(ck, slot(TS_W_QKV, 0, true, true), &r, &c);
	if (v)
		same_rows(s, v, 1, d, d, "transformer_blocks.0.attn.add_k_proj.bias", 0);
	free(v);
	v = fill(ck, slot(TS_W_LIN1, 0, false, false), &r, &c);
	if (v)
		same_rows(s, v, c, 3 * d, 4 * d, "single_transformer_blocks.0.proj_mlp.weight", 0);
	free(v);
	v = fill(ck, slot(TS_W_QN, 0, true, false), &r, &c);
	if (v)
		same_rows(s, v, 1, 0, 64, "transformer_blocks.0.attn.norm_added_q.weight", 0);
	free(v);
	/* modulation: joint block 0 image then text, single block 0, final
	 * (norm_out's scale rows 0..d go to the engine's scale, after shift) */
	v = fill(ck, slot(TS_W_MOD, 0, false, false), &r, &c);
	TS_CHECK(r == (12 + 3 + 2) * d && c == d);
	if (v) {
		same_rows(s, v, c, 0, 6 * d, "transformer_blocks.0.norm1.linear.weight", 0);
		same_rows(s, v, c, 6 * d, 6 * d, "transformer_blocks.0.norm1_context.linear.weight", 0);
		same_rows(s, v, c, 12 * d, 3 * d, "single_transformer_blocks.0.norm.linear.weight", 0);
		same_rows(s, v, c, 15 * d, d, "norm_out.linear.weight", d * d);
		same_rows(s, v, c, 16 * d, d, "norm_out.linear.weight", 0);
	}
	free(v);
	v = fill(ck, slot(TS_W_MOD, 0, false, true), &r, &c);
	if (v) {
		same_rows(s, v, 1, 15 * d, d, "norm_out.linear.bias", d);
		same_rows(s, v, 1, 16 * d, d, "norm_out.linear.bias", 0);
	}
	free(v);
	v = fill(ck, slot(TS_W_OUT, 0, false, false), &r, &c);
	if (v)
		same_rows(s, v, c, 0, 64, "proj_out.weight", 0);
	free(v);
}

/* Output feature f = (channel k, patch row py, column px) is diffusers'
 * row (py * 2 + px) * 16 + k; the text rows of the only (last) block's
 * modulation beyond shift and scale are 0. */
static void test_sd3_map(struct ts_dit_ckpt *ck, struct ts_st_set *s)
{
	int64_t r, c, d = 128;
	uint16_t *v = fill(ck, slot(TS_W_OUT, 0, false, false), &r, &c);
	TS_CHECK_MSG(v && r == 64 && c == d, "%s", err.msg);
	/* f = 4 k + 2 py + px, so (py * 2 + px) * 16 + k = (f % 4) * 16 + f / 4 */
	for (int f = 0; v && f < 64; f++)
		same_rows(s, v, c, f, 1, "proj_out.weight", ((f % 4) * 16 + f / 4) * d);
	free(v);
	v = fill(ck, slot(TS_W_OUT, 0, false, true), &r, &c);
	for (int f = 0; v && f < 64; f++)
		same_rows(s, v, 1, f, 1, "proj_out.bias", (f % 4) * 16 + f / 4);
	free(v);
	v = fill(ck, slot(TS_W_IMG_IN, 0, false, false), &r, &c);
	if (v)
		same_rows(s, v, c, 0, d, "pos_embed.proj.weight", 0);
	free(v);
	v = fill(ck, slot(TS_W_POS, 0, false, false), &r, &c);
	if (v)
		same_rows(s, v, c, 0, 256, "pos_embed.pos_embed", 0);
	free(v);
	v = fill(ck, slot(TS_W_MOD, 0, false, false), &r, &c);
	TS_CHECK(r == 14 * d);
	if (v) {
		same_rows(s, v, c, 6 * d, d, "transformer_blocks.0.norm1_context.linear.weight", d * d);
		same_rows(s, v, c, 7 * d, d, "transformer_blocks.0.norm1_context.linear.weight", 0);
		bool zero = true;
		for (int64_t i = 8 * d * c; i < 12 * d * c; i++)
			zero = zero && v[i] == 0;
		TS_CHECK_MSG(zero, "gates of a text stream without them are not 0");
		same_rows(s, v, c, 12 * d, d, "norm_out.linear.weight", d * d);
	}
	free(v);
	struct ts_dit_wslot bad[3] = {slot(TS_W_G1, 0, false, false), slot(TS_W_PROJ, 0, true, false),
				      slot(TS_W_QN, 0, false, false)};
	for (int i = 0; i < 3; i++) {
		uint16_t one[1];
		TS_CHECK(ts_dit_ckpt_fill(ck, &bad[i], 1, 1, 0, 1, one, &err) == TS_EINVAL);
		TS_CHECK_MSG(strstr(err.msg, "has no") != NULL, "%s", err.msg);
	}
}

/* Fills every slot of the model as the engine does (each weight and bias,
 * norms, the position table); 0 when all succeed, else the first error.
 * The modulation is also filled in 3 chunks, which must give the same. */
static int fill_all(struct ts_dit_ckpt *ck)
{
	const struct ts_dit_config *c = ts_dit_ckpt_config(ck);
	struct ts_dit_wslot list[256];
	int n = 0;
	for (int k = TS_W_IMG_IN; k <= TS_W_OUT; k++)
		if (c->guidance || (k != TS_W_G1 && k != TS_W_G2))
			list[n++] = slot((enum ts_dit_wkind)k, 0, false, false);
	if (c->pos_embed_max)
		list[n++] = slot(TS_W_POS, 0, false, false);
	for (int i = 0; i < c->double_blocks; i++)
		for (int t = 0; t < 2; t++)
			for (int k = TS_W_QKV; k <= TS_W_KN; k++)
				if ((c->qk_norm || k < TS_W_QN) &&
				    !(t && ts_dit_text_pre_only(c, i) && k >= TS_W_PROJ && k <= TS_W_FC2))
					list[n++] = slot((enum ts_dit_wkind)k, i, t, false);
	for (int i = 0; i < c->single_blocks; i++)
		for (int k = TS_W_LIN1; k <= TS_W_SKN; k++)
			list[n++] = slot((enum ts_dit_wkind)k, i, false, false);
	for (int j = 0; j < n; j++) {
		int64_t r, cols;
		for (int b = 0; b < 2; b++) {
			list[j].bias = b;
			bool norm = list[j].kind == TS_W_QN || list[j].kind == TS_W_KN ||
				    list[j].kind == TS_W_SQN || list[j].kind == TS_W_SKN || list[j].kind == TS_W_POS;
			if (b && norm)
				continue;
			uint16_t *v = fill(ck, list[j], &r, &cols);
			if (!v)
				return -1;
			free(v);
		}
	}
	return 0;
}

static void test_chunks(struct ts_dit_ckpt *ck)
{
	int64_t r, c;
	uint16_t *whole = fill(ck, slot(TS_W_MOD, 0, false, false), &r, &c);
	uint16_t *parts = malloc((size_t)(r * c) * 2);
	struct ts_dit_wslot s = slot(TS_W_MOD, 0, false, false);
	int64_t cut[4] = {0, 7, r / 2 + 3, r};
	for (int i = 0; whole && parts && i < 3; i++)
		TS_CHECK(ts_dit_ckpt_fill(ck, &s, r, c, cut[i], cut[i + 1] - cut[i], parts + cut[i] * c, &err) == 0);
	TS_CHECK(whole && parts && !memcmp(whole, parts, (size_t)(r * c) * 2));
	TS_CHECK(ts_dit_ckpt_fill(ck, &s, r + 1, c, 0, 1, parts, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "modulation weight") != NULL, "%s", err.msg);
	TS_CHECK(ts_dit_ckpt_fill(ck, &s, r, c, r - 1, 2, parts, &err) == TS_EINVAL);
	free(whole), free(parts);
}

/* A copy of folder `src` as `name`: without tensor `skip`, with tensor
 * `bad_shape` given one row less, with an extra tensor, or (f32) in F32. */
struct ckpt_edit {
	const char *skip, *bad_shape;
	bool extra, f32;
};

static const char *copy_ckpt(const char *src, const char *name, const struct ckpt_edit *ed)
{
	struct ts_st_set *s = NULL;
	static char dir[64][640];
	static int ndir;
	TS_CHECK(ts_st_set_open_dir(&s, src, "diffusion_pytorch_model", &err) == 0);
	struct st_entry *e = calloc((size_t)s->n + 1, sizeof(*e));
	float **conv = calloc((size_t)s->n + 1, sizeof(*conv));
	int n = 0;
	for (int i = 0; i < s->n; i++) {
		const struct ts_st_tensor *t = s->sorted[i];
		if (ed->skip && !strcmp(t->name, ed->skip))
			continue;
		struct st_entry x = {t->name, ts_st_dtype_name(t->dtype), t->ndim, {0}, t->data, t->bytes};
		memcpy(x.shape, t->shape, sizeof(t->shape));
		if (ed->bad_shape && !strcmp(t->name, ed->bad_shape)) {
			x.shape[0]--;
			x.bytes -= t->bytes / (size_t)t->shape[0];
		}
		if (ed->f32) {
			conv[n] = malloc((size_t)t->nelem * 4 + 4);
			TS_CHECK(ts_st_read_f32(t, 0, t->nelem, conv[n], &err) == 0);
			x.dtype = "F32";
			x.data = conv[n];
			x.bytes = (size_t)t->nelem * 4;
		}
		e[n++] = x;
	}
	static const float one = 1.0f;
	if (ed->extra)
		e[n++] = (struct st_entry){"transformer_blocks.7.attn.to_q.bias", "F32", 1, {1}, &one, 4};
	snprintf(dir[ndir], sizeof(dir[0]), "%s", io_temp_path(name));
	TS_CHECK(mkdir(dir[ndir], 0700) == 0);
	char rel[128], *cfg = NULL, path[700];
	snprintf(rel, sizeof(rel), "%s/diffusion_pytorch_model.safetensors", name);
	TS_CHECK(st_write(io_temp_path(rel), e, n, false) == 0);
	snprintf(path, sizeof(path), "%s/config.json", src);
	snprintf(rel, sizeof(rel), "%s/config.json", name);
	TS_CHECK((cfg = io_slurp(path, NULL)) != NULL);
	io_temp_file(rel, cfg ? cfg : "");
	free(cfg);
	for (int i = 0; i < n; i++)
		free(conv[i]);
	free(conv), free(e);
	ts_st_set_close(s);
	return dir[ndir++];
}

/* Opening and filling the copy fails (check_used included) with `want`. */
static void expect_load_error(const char *dir, int code, const char *want)
{
	struct ts_dit_ckpt *ck = NULL;
	int rc = ts_dit_ckpt_open(&ck, dir, &err);
	if (!rc)
		rc = fill_all(ck) ? err.code : ts_dit_ckpt_check_used(ck, &err);
	TS_CHECK_MSG(rc == code, "%s: got %d (%s)", dir, rc, err.msg);
	TS_CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
	ts_dit_ckpt_close(ck);
}

/* Every slot of folder `dir` fills and uses every tensor; then the
 * folder's own checks. */
static void test_folder(const char *dir, void (*check)(struct ts_dit_ckpt *, struct ts_st_set *))
{
	struct ts_dit_ckpt *ck = NULL;
	struct ts_st_set *s = NULL;
	TS_CHECK_MSG(ts_dit_ckpt_open(&ck, dir, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(ts_st_set_open_dir(&s, dir, "diffusion_pytorch_model", &err) == 0, "%s", err.msg);
	if (ck && s) {
		TS_CHECK_MSG(fill_all(ck) == 0, "%s", err.msg);
		TS_CHECK_MSG(ts_dit_ckpt_check_used(ck, &err) == 0, "%s", err.msg);
		check(ck, s);
		test_chunks(ck);
	}
	ts_st_set_close(s);
	ts_dit_ckpt_close(ck);
}

static void test_errors_and_f32(void)
{
	struct ckpt_edit skip = {"transformer_blocks.0.attn.to_k.weight", NULL, false, false};
	struct ckpt_edit shape = {NULL, "context_embedder.weight", false, false};
	struct ckpt_edit extra = {NULL, NULL, true, false}, f32 = {NULL, NULL, false, true};
	expect_load_error(copy_ckpt(sd3_dir, "skip", &skip), TS_EPARSE,
			  "'transformer_blocks.0.attn.to_k.weight' is missing");
	expect_load_error(copy_ckpt(sd3_dir, "shape", &shape), TS_EPARSE,
			  "has shape [127, 32]; config.json implies [128, 32]");
	expect_load_error(copy_ckpt(sd3_dir, "extra", &extra), TS_EPARSE,
			  "'transformer_blocks.7.attn.to_q.bias'");
	const char *dir = copy_ckpt(sd3_dir, "f32", &f32);
	struct ts_dit_ckpt *a = NULL, *b = NULL;
	int64_t r, c;
	TS_CHECK(ts_dit_ckpt_open(&a, dir, &err) == 0 && ts_dit_ckpt_open(&b, sd3_dir, &err) == 0);
	if (a && b) {
		uint16_t *x = fill(a, slot(TS_W_MOD, 0, false, false), &r, &c);
		uint16_t *y = fill(b, slot(TS_W_MOD, 0, false, false), &r, &c);
		TS_CHECK_MSG(x && y && !memcmp(x, y, (size_t)(r * c) * 2), "F32 and BF16 copies differ");
		free(x), free(y);
		TS_CHECK(fill_all(a) == 0 && ts_dit_ckpt_check_used(a, &err) == 0);
	}
	ts_dit_ckpt_close(a);
	ts_dit_ckpt_close(b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_dit_diffusers TESTS_DATA_DIR\n");
		return 2;
	}
	snprintf(flux_dir, sizeof(flux_dir), "%s/tiny_flux", argv[1]);
	snprintf(sd3_dir, sizeof(sd3_dir), "%s/tiny_sd3", argv[1]);
	test_configs();
	test_config_errors();
	test_folder(flux_dir, test_flux_map);
	test_folder(sd3_dir, test_sd3_map);
	test_errors_and_f32();
	io_fixture_cleanup();
	io_fixture_cleanup(); /* again: folders empty only after their files went */
	return ts_test_result("test_dit_diffusers");
}
