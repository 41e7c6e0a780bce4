/* ts_dit.h: the DiT step engine (exec/cuda/ts_dit_model.cu, ts_dit_engine.cu):
 * FLUX- and SD3-style transformers, either a preset's shapes (FLUX.1-dev,
 * SD3-medium) with synthetic seeded bf16 weights generated on the GPU, or a
 * diffusers checkpoint folder's config and weights (model/dit_diffusers.h),
 * run one denoising step at a time on a group of GPUs with Ulysses sequence
 * parallelism over NCCL. The step computes what diffusers'
 * FluxTransformer2DModel / SD3Transformer2DModel forward computes, then the
 * flow-matching Euler update. Plain C. */
#ifndef TS_DIT_H
#define TS_DIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "model/dit_config.h" /* struct ts_dit_config, ts_dit_config_lookup() */

/* Parameters of the preset (weights and biases), for memory figures. */
int64_t ts_dit_param_count(const struct ts_dit_config *cfg);

/* Image tokens of a height x width image: (height/16) * (width/16) for an
 * 8x VAE and 2x2 patches. */
int64_t ts_dit_image_tokens(const struct ts_dit_config *cfg, int height, int width);

struct ts_dit_engine;  /* weights and workspaces on ngpus GPUs, NCCL groups */
struct ts_dit_request; /* one request: `batch` images of one prompt being denoised */

/* How to open an engine. */
struct ts_dit_engine_opts {
	const char *model;   /* preset name ("flux-dev", "sd3-medium"); ignored with weights */
	const char *weights; /* diffusers transformer folder (config.json and
				diffusion_pytorch_model*.safetensors), or NULL:
				synthetic weights of the preset */
	int ngpus;
	uint64_t weight_seed; /* synthetic weights only */
	int text_tokens;      /* text tokens of every request; 0: the model's
				 (512 for FLUX, 333 for SD3) */
};

/* Opens an engine on GPUs 0..ngpus-1: creates a stream, cuBLASLt context,
 * cuDNN attention context (on every GPU where libcudnn.so.9 loads and starts
 * on all of them, else on none) and the model's weights on each. Every GPU
 * holds all weights (Ulysses SP replicates them). Synthetic weights are
 * generated on the GPUs from weight_seed; a checkpoint's are read from its
 * mapped files, converted to bf16 once and copied to every GPU, and the
 * open fails (naming tensor and file) on a missing tensor, one of the wrong
 * shape or dtype, a truncated file or bad header, or a tensor the model
 * does not use. TS_EINVAL for a head width other than 64 or 128 or a hidden
 * width not a multiple of 8 (the kernels'). */
int ts_dit_engine_open_opts(struct ts_dit_engine **out, const struct ts_dit_engine_opts *o,
			    struct ts_error *err);

/* ts_dit_engine_open_opts() with synthetic weights of preset `model`. */
int ts_dit_engine_open(struct ts_dit_engine **out, const char *model, int ngpus,
		       uint64_t weight_seed, struct ts_error *err);

/* Frees everything the engine owns on every GPU; NULL is a no-op. Requests
 * must be closed first. */
void ts_dit_engine_close(struct ts_dit_engine *e);

/* The engine's model: its preset, or the checkpoint's config (named after
 * its class), with the engine's text token count. */
const struct ts_dit_config *ts_dit_engine_config(const struct ts_dit_engine *e);

/* Creates and caches the NCCL communicators of GPU set `gpus` now, instead
 * of at its first step (a no-op for one GPU). Safe to call while steps run
 * on other, disjoint GPU sets. TS_EINVAL for GPUs outside the engine,
 * TS_EDEVICE naming the NCCL call on failure. */
int ts_dit_engine_warm_group(struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err);

/* Aborts every cached communicator (ncclCommAbort), so ranks blocked in a
 * collective return with an error instead of hanging; later steps create
 * fresh ones. Callable from any thread, also while steps run. A step whose
 * rank fails does this itself for its own group after a grace period. */
void ts_dit_engine_abort(struct ts_dit_engine *e);

/* CUDA graphs. With graphs on, the first step of a (height, width, batch,
 * GPU group) key runs eagerly (it warms NCCL connections, cuBLASLt and
 * kernel loading), the second is captured on every GPU of the group into a
 * CUDA graph (one per GPU) and launched, and later steps of that key, of
 * any request or batch of requests with that many images in all, replay it
 * (cudaGraphLaunch) instead of issuing each launch. A graph step copies the
 * requests' latents (and, for each image slot whose staged conditioning is
 * not that request's, its conditioning) into fixed staging buffers of the
 * workspace (`batch` latents and conditionings more per GPU) before the
 * launch and the latents back after it; each image's sigmas and guidance
 * are read from device memory written just before. Results are bitwise
 * those of eager steps of the same requests in the same order. Cached
 * graphs of a GPU are dropped before its workspace is reallocated (a larger
 * shape) and those of a group before its communicators are aborted; at most
 * 64 keys are cached (least recently used evicted). A failed capture on one
 * GPU falls back to eager launches; on a group of several GPUs the ranks
 * wait for each other's capture and none launches when one failed: the step
 * fails with TS_EDEVICE naming the CUDA call and GPU (nothing ran, the
 * latent is unchanged). Either way the key stays eager from then on.
 * Default: off. Call only while no step runs. */
void ts_dit_engine_set_graphs(struct ts_dit_engine *e, bool on);
bool ts_dit_engine_graphs(const struct ts_dit_engine *e);

/* Attention kernel of the steps (enum ts_attn_kernel of ts_attention.h).
 * Default TS_ATTN_AUTO: cuDNN's fused SDPA where libcudnn.so.9 (9.13 or
 * later) loaded when the engine opened and it takes the shape (all but a
 * batch of several images at SP > 1), else the fastest own kernel. TS_EINVAL for a kernel these
 * GPUs or this build can't run (the reason is in err: for cuDNN, why it did
 * not load or start), or once a request has been opened (steps that ran and
 * graphs captured keep their kernel). */
int ts_dit_engine_set_attention(struct ts_dit_engine *e, int kernel, struct ts_error *err);
int ts_dit_engine_attention(const struct ts_dit_engine *e);

/* Graph activity since the engine opened, counted per step (not per GPU). */
struct ts_dit_graph_stats {
	int64_t captures;  /* steps captured and launched */
	int64_t replays;   /* steps replayed from the cache */
	int64_t fallbacks; /* captures that failed and ran eagerly */
	int cached;        /* keys holding graphs now */
};
void ts_dit_engine_graph_stats(struct ts_dit_engine *e, struct ts_dit_graph_stats *out);

/* Concurrency: steps (single or batched), moves and requests of different
 * requests may run at once from different threads when their GPU sets are
 * disjoint; one request is used by one thread at a time. */

/* Starts a request of `batch` images of height x width (multiples of 16)
 * for `steps` denoising steps: noise latent and text conditioning come from
 * `seed` (ts_dit_request_set_inputs() replaces them). Device memory is
 * taken lazily on the GPUs the request runs on. Sigmas follow the
 * flow-matching schedule with shift 3, the guidance scale is 3.5
 * (ts_dit_request_set_schedule() replaces them). TS_EINVAL for an image
 * larger than an SD3 model's position table (pos_embed_max x 16 pixels). */
int ts_dit_request_open(struct ts_dit_engine *e, struct ts_dit_request **out, int height,
			int width, int batch, int steps, uint64_t seed, struct ts_error *err);

/* Frees the request's device memory on every GPU; NULL is a no-op. */
void ts_dit_request_close(struct ts_dit_request *r);

/* Runs the request's next denoising step on the GPUs of `gpus` (a mask; its
 * popcount is the SP degree, a divisor of the head count): patchify and
 * embed, all blocks with Ulysses all-to-all around attention, final layer,
 * unpatchify and the flow-matching Euler update of the latent, which every
 * GPU of the group then holds. If the group differs from the last step's,
 * the latent first moves to the new GPUs (peer copies). Blocks until the
 * step is done on all GPUs. TS_ERANGE once all steps ran. The same as
 * ts_dit_batch_step(e, &r, 1, gpus, err). */
int ts_dit_request_step(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t gpus,
			struct ts_error *err);

/* Runs the next step of n separate requests together, as one batch of all
 * their images (selective batching): each request at its own step index,
 * so each image gets its own timestep embedding, adaLN modulation and
 * Euler update (sigma and sigma_next of its request's schedule). The
 * requests must be distinct, of one engine, of one height x width, with
 * steps left, and have TS_MAX_BATCH images at most together; text length
 * is fixed per model preset (text_tokens), so no image needs a mask of its
 * own. Each request's latent first moves to `gpus` as in
 * ts_dit_request_step() (they may come from different GPU sets); the
 * latents and conditioning are gathered, in the order of reqs, into the
 * staging buffers of each GPU's workspace, the step runs there (Ulysses SP
 * over the group as for one request; CUDA graphs keyed by the total number
 * of images) and the updated latents are scattered back. Afterwards every
 * request holds what a step of it alone would give, up to the rounding of
 * kernels whose choice depends on the batch size (cuBLASLt's algorithm per
 * GEMM shape; at SP > 1 cuDNN attention takes one image only, so a batch
 * runs the own attention kernel): tests/gpu/test_batch_step.c states the
 * bound. n == 1 is ts_dit_request_step() (no staging copies). TS_EINVAL
 * naming the request for a bad batch, TS_ERANGE when one has run all its
 * steps; then nothing ran. On a device error no request advances. */
int ts_dit_batch_step(struct ts_dit_engine *e, struct ts_dit_request *const *reqs, int n,
		      uint64_t gpus, struct ts_error *err);

/* Copies the latent to the GPUs of `gpus` that lack it (what
 * ts_dit_request_step() does on a degree change); *ms receives the wall time
 * of the copies, 0 when nothing moved. */
int ts_dit_request_move(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t gpus,
			double *ms, struct ts_error *err);

/* Steps already run. */
int ts_dit_request_steps_done(const struct ts_dit_request *r);

/* Copies the current latent (fp32, [batch][channels][height/8][width/8])
 * to host memory `out` of ts_dit_request_latent_size() floats. */
int64_t ts_dit_request_latent_size(const struct ts_dit_request *r);
int ts_dit_request_latent(const struct ts_dit_request *r, float *out, struct ts_error *err);

/* A request's model inputs from host memory; NULL keeps the seeded one. */
struct ts_dit_inputs {
	const float *latent; /* [batch][channels][height/8][width/8] (fp32 on the GPU) */
	const float *text;   /* [batch][text_tokens][text_dim], rounded to bf16 */
	const float *pooled; /* [batch][pooled_dim], rounded to bf16 */
};

/* Replaces the seeded latent and conditioning (copies are kept). Only
 * before the request's first step or move: TS_EINVAL after. */
int ts_dit_request_set_inputs(struct ts_dit_request *r, const struct ts_dit_inputs *in,
			      struct ts_error *err);

/* Replaces the noise levels: step i runs the model at sigmas[i] (its
 * timestep is sigmas[i] x 1000) and moves the latent to sigmas[i + 1];
 * sigmas has steps + 1 values. `guidance` is the scale FLUX's guidance
 * embedding sees (x 1000 inside). Any time between steps. */
int ts_dit_request_set_schedule(struct ts_dit_request *r, const float *sigmas, float guidance,
				struct ts_error *err);

/* Copies the model output of the request's last step (the predicted
 * velocity, before the Euler update; fp32, the latent's layout) to `out`
 * (ts_dit_request_latent_size() floats). It lives in the workspace of the
 * step's GPUs: TS_EINVAL when no step ran or another request's step has
 * run on those GPUs since. */
int ts_dit_request_output(struct ts_dit_engine *e, const struct ts_dit_request *r, float *out,
			  struct ts_error *err);

/* Device memory in use on GPU `gpu` right now and the largest value seen
 * after any step so far (bytes, cudaMemGetInfo). */
int ts_dit_engine_memory(struct ts_dit_engine *e, int gpu, int64_t *now, int64_t *peak,
			 struct ts_error *err);

#endif
