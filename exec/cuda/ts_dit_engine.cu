/* ts_dit_engine.cu: the engine across GPUs: per-GPU weights, streams and
 * cuBLASLt contexts, the attention choice; requests whose latent is
 * replicated on the GPUs of their last group and moves by peer copies when
 * the group changes. The communicators (ts_dit_groups.cu), the graph cache
 * (ts_dit_graphs.cu) and the step's rank threads (ts_dit_ranks.cu) are
 * files of their own (ts_dit_engine_internal.cuh). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_engine_internal.cuh"

extern "C" {
#include "core/clock.h"
#include "ts_kernels.h"
}

/* ---- engine ----------------------------------------------------------------- */

/* cuDNN attention on GPU dev where it loads and starts; where not, the GPU
 * runs the own kernels and e->cudnn_why keeps the reason (not an error:
 * cuDNN is optional). */
static void ts_gpu_open_cudnn(struct ts_dit_engine *e, int dev)
{
	const char *why = NULL;
	struct ts_error derr = {0, ""};
	if (!ts_attn_cudnn_available(&why))
		snprintf(e->cudnn_why, sizeof(e->cudnn_why), "%s", why);
	else if (ts_attn_cudnn_create(&e->gpu[dev].cudnn, &derr))
		snprintf(e->cudnn_why, sizeof(e->cudnn_why), "GPU %d: %s", dev, derr.msg);
}

/* cuDNN on all GPUs or on none: a group whose ranks ran different
 * attention implementations would give results that depend on placement. */
static void ts_drop_cudnn(struct ts_dit_engine *e)
{
	for (int dev = 0; dev < e->ngpus; dev++) {
		if (!e->gpu[dev].cudnn)
			continue;
		cudaSetDevice(dev);
		ts_attn_cudnn_destroy(e->gpu[dev].cudnn);
		e->gpu[dev].cudnn = NULL;
	}
}

/* Stream, cuBLASLt, cuDNN and the weights of GPU dev: generated from
 * `seed`, or only placed (filled by ts_engine_load()) when `placed`. */
static int ts_gpu_open(struct ts_dit_engine *e, int dev, uint64_t seed, bool placed,
		       struct ts_error *err)
{
	struct ts_dit_gpu *g = &e->gpu[dev];
	TS_CUDA(cudaSetDevice(dev), err);
	TS_CUDA(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking), err);
	TS_TRY(ts_gemm_create(&g->gemm, 32u << 20, err));
	ts_gpu_open_cudnn(e, dev);
	if (placed)
		TS_TRY(ts_dit_weights_place(&g->w, &e->cfg, err));
	else
		TS_TRY(ts_dit_weights_create(&g->w, &e->cfg, seed, g->st, err));
	TS_CUDA(cudaStreamSynchronize(g->st), err);
	return 0;
}

/* Peer access lets copies and NCCL go GPU to GPU; without it, peer copies
 * still work (staged through the host), so failure is not an error. */
static void ts_enable_peers(int ngpus)
{
	for (int a = 0; a < ngpus; a++) {
		for (int b = 0; b < ngpus; b++) {
			int ok = 0;
			if (a == b || cudaDeviceCanAccessPeer(&ok, a, b) != cudaSuccess || !ok)
				continue;
			cudaSetDevice(a);
			cudaDeviceEnablePeerAccess(b, 0);
		}
	}
	cudaGetLastError(); /* "already enabled" is fine */
}

/* The model of o: a preset's or a checkpoint's config (*ck opened), with
 * the text token count of o, and shapes the kernels take. */
static int ts_engine_config(struct ts_dit_engine *e, const struct ts_dit_engine_opts *o,
			    struct ts_dit_ckpt **ck, struct ts_error *err)
{
	struct ts_dit_config *c = &e->cfg;
	if (o->weights)
		TS_TRY(ts_dit_ckpt_open(ck, o->weights, err));
	else
		TS_TRY(ts_dit_config_lookup(o->model ? o->model : "(none)", c, err));
	if (*ck)
		*c = *ts_dit_ckpt_config(*ck);
	if (o->text_tokens < 0 || o->text_tokens > (1 << 16))
		return ts_err_set(err, TS_EINVAL, "engine: %d text tokens not in 0..65536", o->text_tokens);
	if (o->text_tokens)
		c->text_tokens = o->text_tokens;
	if ((c->head_dim != 64 && c->head_dim != 128) || c->hidden % 8 || c->text_dim % 8 ||
	    c->pooled_dim % 8)
		return ts_err_set(err, TS_EINVAL, "engine: %s has head width %d, hidden %d, text width %d, pooled width %d: the kernels take heads of 64 or 128 and widths that are multiples of 8",
				  c->name, c->head_dim, c->hidden, c->text_dim, c->pooled_dim);
	return 0;
}

/* Every GPU's placed weights from the checkpoint, then the check that the
 * model used all of its tensors. */
static int ts_engine_load(struct ts_dit_engine *e, struct ts_dit_ckpt *ck, struct ts_error *err)
{
	struct ts_dit_weights *w[TS_MAX_GPUS];
	for (int d = 0; d < e->ngpus; d++)
		w[d] = &e->gpu[d].w;
	TS_TRY(ts_dit_weights_upload(w, e->ngpus, &e->cfg, ck, err));
	return ts_dit_ckpt_check_used(ck, err);
}

extern "C" int ts_dit_engine_open_opts(struct ts_dit_engine **out,
				       const struct ts_dit_engine_opts *o, struct ts_error *err)
{
	int have = 0, rc, ngpus = o->ngpus;
	struct ts_dit_ckpt *ck = NULL;
	*out = NULL;
	if (cudaGetDeviceCount(&have) != cudaSuccess)
		have = 0;
	if (ngpus < 1 || ngpus > TS_MAX_GPUS || ngpus > have)
		return ts_err_set(err, TS_EINVAL, "engine: %d GPUs requested, %d present", ngpus, have);
	struct ts_dit_engine *e = (struct ts_dit_engine *)calloc(1, sizeof(*e));
	if (!e)
		return ts_err_set(err, TS_ENOMEM, "engine: out of host memory");
	pthread_mutex_init(&e->lock, NULL);
	for (int dev = 0; dev < ngpus; dev++)
		pthread_mutex_init(&e->gpu[dev].glock, NULL);
	e->ngpus = ngpus;
	rc = ts_engine_config(e, o, &ck, err);
	for (int dev = 0; !rc && dev < ngpus; dev++)
		if ((rc = ts_gpu_open(e, dev, o->weight_seed, ck != NULL, err)))
			ts_err_prefix(err, "engine: GPU %d", dev);
	if (!rc && ck)
		rc = ts_engine_load(e, ck, err);
	ts_dit_ckpt_close(ck);
	if (rc) {
		ts_dit_engine_close(e);
		return rc;
	}
	if (e->cudnn_why[0])
		ts_drop_cudnn(e);
	ts_enable_peers(ngpus);
	*out = e;
	return 0;
}

extern "C" int ts_dit_engine_open(struct ts_dit_engine **out, const char *model, int ngpus,
				  uint64_t weight_seed, struct ts_error *err)
{
	struct ts_dit_engine_opts o = {model, NULL, ngpus, weight_seed, 0};
	return ts_dit_engine_open_opts(out, &o, err);
}

/* Whether every GPU of e can run the wgmma attention kernel; *bad is the
 * first that cannot. Leaves the calling thread's current device as it was. */
static bool ts_engine_has_wgmma(const struct ts_dit_engine *e, int *bad)
{
	int cur = 0;
	bool ok = true;
	cudaGetDevice(&cur);
	for (int d = 0; ok && d < e->ngpus; d++) {
		ok = cudaSetDevice(d) == cudaSuccess && ts_attention_has_wgmma();
		*bad = d;
	}
	cudaSetDevice(cur);
	cudaGetLastError();
	return ok;
}

extern "C" int ts_dit_engine_set_attention(struct ts_dit_engine *e, int kernel,
					   struct ts_error *err)
{
	int bad = 0, rc = 0;
	if (kernel < TS_ATTN_AUTO || kernel > TS_ATTN_CUDNN)
		return ts_err_set(err, TS_EINVAL, "engine: unknown attention kernel %d", kernel);
	if (kernel == TS_ATTN_CUDNN && e->cudnn_why[0])
		return ts_err_set(err, TS_EINVAL, "engine: cuDNN attention asked for, but %s",
				  e->cudnn_why);
	if (kernel == TS_ATTN_WGMMA && !ts_engine_has_wgmma(e, &bad))
		return ts_err_set(err, TS_EINVAL, "engine: the wgmma attention kernel needs sm_90 "
				  "GPUs and a -Dgpu_arch=90 build (GPU %d)", bad);
	/* Steps that ran (and graphs captured) used the old kernel; a key seen
	 * eagerly would be captured next with a cuDNN plan still to build. */
	pthread_mutex_lock(&e->lock);
	if (e->next_serial)
		rc = ts_err_set(err, TS_EINVAL, "engine: the attention kernel is chosen before the "
				"first request opens");
	else
		e->attn_kernel = kernel;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

extern "C" int ts_dit_engine_attention(const struct ts_dit_engine *e)
{
	return e->attn_kernel;
}

extern "C" void ts_dit_engine_close(struct ts_dit_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < TS_MAX_GRAPHS; i++) /* before the communicators they hold */
		if (e->graph[i].used)
			ts_graph_drop_execs(e, &e->graph[i], true);
	for (int i = 0; i < e->ngroups; i++)
		for (int r = 0; !e->group[i].dead && r < ts_gpus_count(e->group[i].mask); r++)
			ncclCommDestroy(e->group[i].comm[r]);
	for (int dev = 0; dev < e->ngpus; dev++) {
		struct ts_dit_gpu *g = &e->gpu[dev];
		cudaSetDevice(dev);
		ts_dit_ws_free(&g->ws);
		ts_dit_weights_free(&g->w);
		ts_gemm_destroy(g->gemm);
		ts_attn_cudnn_destroy(g->cudnn);
		if (g->st)
			cudaStreamDestroy(g->st);
		pthread_mutex_destroy(&g->glock);
	}
	pthread_mutex_destroy(&e->lock);
	free(e);
}

extern "C" const struct ts_dit_config *ts_dit_engine_config(const struct ts_dit_engine *e)
{
	return &e->cfg;
}

extern "C" int ts_dit_engine_memory(struct ts_dit_engine *e, int gpu, int64_t *now,
				    int64_t *peak, struct ts_error *err)
{
	size_t fr = 0, tot = 0;
	if (gpu < 0 || gpu >= e->ngpus)
		return ts_err_set(err, TS_EINVAL, "engine: no GPU %d", gpu);
	TS_CUDA(cudaSetDevice(gpu), err);
	TS_CUDA(cudaMemGetInfo(&fr, &tot), err);
	*now = (int64_t)(tot - fr);
	*peak = e->gpu[gpu].peak_mem > *now ? e->gpu[gpu].peak_mem : *now;
	return 0;
}

/* ---- requests --------------------------------------------------------------- */

/* TS_EINVAL unless a height x width image fits the model: a positive
 * multiple of the patch in pixels, within an SD3 position table. */
static int ts_check_size(const struct ts_dit_config *c, int height, int width,
			 struct ts_error *err)
{
	int px = c->vae_scale * c->patch;
	if (height < px || width < px || height % px || width % px)
		return ts_err_set(err, TS_EINVAL, "request: %dx%d is not a positive multiple of %d pixels",
				  height, width, px);
	if (c->pos_embed_max && (height / px > c->pos_embed_max || width / px > c->pos_embed_max))
		return ts_err_set(err, TS_EINVAL, "request: %dx%d is %dx%d patches, more than %s's %dx%d position table",
				  height, width, height / px, width / px, c->name, c->pos_embed_max,
				  c->pos_embed_max);
	return 0;
}

extern "C" int ts_dit_request_open(struct ts_dit_engine *e, struct ts_dit_request **out,
				   int height, int width, int batch, int steps, uint64_t seed,
				   struct ts_error *err)
{
	*out = NULL;
	TS_TRY(ts_check_size(&e->cfg, height, width, err));
	if (batch < 1 || batch > TS_MAX_BATCH || steps < 1)
		return ts_err_set(err, TS_EINVAL, "request: batch %d not in 1..%d or steps %d < 1",
				  batch, TS_MAX_BATCH, steps);
	struct ts_dit_request *r = (struct ts_dit_request *)calloc(1, sizeof(*r));
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "request: out of host memory");
	r->e = e;
	r->height = height;
	r->width = width;
	r->batch = batch;
	r->steps = steps;
	r->seed = seed;
	r->guidance = 3.5f;
	pthread_mutex_lock(&e->lock);
	r->serial = ++e->next_serial;
	pthread_mutex_unlock(&e->lock);
	*out = r;
	return 0;
}

extern "C" void ts_dit_request_close(struct ts_dit_request *r)
{
	if (!r)
		return;
	for (int d = 0; d < r->e->ngpus; d++) {
		if (!(r->allocated >> d & 1))
			continue;
		cudaSetDevice(d);
		cudaFree(r->g[d].latent);
		cudaFree(r->g[d].txt_emb);
		cudaFree(r->g[d].pooled);
	}
	free(r->in_latent);
	free(r->in_text);
	free(r->in_pooled);
	free(r->sigmas);
	free(r);
}

extern "C" int64_t ts_dit_request_latent_size(const struct ts_dit_request *r)
{
	const struct ts_dit_config *c = &r->e->cfg;
	return (int64_t)r->batch * c->latent_channels * (r->height / c->vae_scale) *
	       (r->width / c->vae_scale);
}

extern "C" int ts_dit_request_steps_done(const struct ts_dit_request *r)
{
	return r->done;
}

/* A malloc'ed copy of n floats into *dst (NULL src: nothing). */
static int ts_keep_copy(float **dst, const float *src, size_t n, struct ts_error *err)
{
	if (!src)
		return 0;
	*dst = (float *)malloc(n * sizeof(float));
	if (!*dst)
		return ts_err_set(err, TS_ENOMEM, "request inputs: out of host memory");
	memcpy(*dst, src, n * sizeof(float));
	return 0;
}

extern "C" int ts_dit_request_set_inputs(struct ts_dit_request *r, const struct ts_dit_inputs *in,
					 struct ts_error *err)
{
	const struct ts_dit_config *c = &r->e->cfg;
	if (r->allocated || r->done)
		return ts_err_set(err, TS_EINVAL, "request inputs: set them before the first step or move");
	TS_TRY(ts_keep_copy(&r->in_latent, in->latent, (size_t)ts_dit_request_latent_size(r), err));
	TS_TRY(ts_keep_copy(&r->in_text, in->text, (size_t)r->batch * c->text_tokens * c->text_dim, err));
	return ts_keep_copy(&r->in_pooled, in->pooled, (size_t)r->batch * c->pooled_dim, err);
}

extern "C" int ts_dit_request_set_schedule(struct ts_dit_request *r, const float *sigmas,
					   float guidance, struct ts_error *err)
{
	for (int i = 0; i <= r->steps; i++)
		if (!isfinite(sigmas[i]))
			return ts_err_set(err, TS_EINVAL, "schedule: sigma %d is not finite", i);
	if (!isfinite(guidance))
		return ts_err_set(err, TS_EINVAL, "schedule: the guidance scale is not finite");
	free(r->sigmas);
	r->sigmas = NULL;
	TS_TRY(ts_keep_copy(&r->sigmas, sigmas, (size_t)r->steps + 1, err));
	r->guidance = guidance;
	return 0;
}

float ts_dit_sigma(int i, int steps)
{
	const float shift = 3.0f;
	float t = 1.0f - (float)i / (float)steps;
	return shift * t / (1.0f + (shift - 1.0f) * t);
}

/* Latent and conditioning on GPU dev: the request's inputs, or for a fresh
 * request the seeded noise and conditioning, the same on every GPU. */
int ts_request_alloc(struct ts_dit_request *r, int dev, struct ts_error *err)
{
	if (r->allocated >> dev & 1)
		return 0;
	struct ts_dit_req_gpu *rg = &r->g[dev];
	cudaStream_t st = r->e->gpu[dev].st;
	size_t n = (size_t)ts_dit_request_latent_size(r);
	TS_CUDA(cudaSetDevice(dev), err);
	TS_CUDA(cudaMalloc(&rg->latent, n * sizeof(float)), err);
	r->allocated |= 1ULL << dev;
	TS_TRY(ts_dit_cond_create(rg, &r->e->cfg, r->batch, r->seed, r->in_text, r->in_pooled, st,
				  err));
	if (r->done == 0 && r->in_latent)
		TS_CUDA(cudaMemcpyAsync(rg->latent, r->in_latent, n * sizeof(float),
					cudaMemcpyHostToDevice, st), err);
	else if (r->done == 0)
		TS_TRY(ts_k_fill_normal_f32(rg->latent, n, r->seed, st, err));
	TS_CUDA(cudaStreamSynchronize(st), err);
	return 0;
}

int ts_check_mask(const struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err)
{
	int k = ts_gpus_count(gpus);
	uint64_t all = ts_gpus_all(e->ngpus);
	if (!gpus || (gpus & ~all) || e->cfg.heads % k)
		return ts_err_set(err, TS_EINVAL, "step: GPU mask 0x%llx invalid for %d GPUs and %d heads",
				  (unsigned long long)gpus, e->ngpus, e->cfg.heads);
	return 0;
}

int ts_check_batch(const struct ts_dit_engine *e, struct ts_dit_request *const *reqs, int n,
		   int *batch, struct ts_error *err)
{
	*batch = 0;
	if (n < 1 || n > TS_MAX_BATCH || !reqs)
		return ts_err_set(err, TS_EINVAL, "batch step: %d requests, not 1..%d", n, TS_MAX_BATCH);
	for (int i = 0; i < n; i++) {
		const struct ts_dit_request *r = reqs[i];
		if (!r || r->e != e)
			return ts_err_set(err, TS_EINVAL, "batch step: request %d of %d is %s", i, n,
					  r ? "of another engine" : "NULL");
		if (r->height != reqs[0]->height || r->width != reqs[0]->width)
			return ts_err_set(err, TS_EINVAL, "batch step: request %d is %dx%d, request 0 %dx%d",
					  i, r->height, r->width, reqs[0]->height, reqs[0]->width);
		for (int j = 0; j < i; j++)
			if (reqs[j] == r)
				return ts_err_set(err, TS_EINVAL, "batch step: request %d appears twice (also %d)",
						  i, j);
		if (r->done >= r->steps)
			return ts_err_set(err, TS_ERANGE, "step: all %d steps already ran%s", r->steps,
					  n > 1 ? " (a request of the batch)" : "");
		if (r->guidance != reqs[0]->guidance) /* one guidance value a step */
			return ts_err_set(err, TS_EINVAL, "batch step: request %d has guidance %g, request 0 %g",
					  i, r->guidance, reqs[0]->guidance);
		*batch += r->batch;
	}
	if (*batch > TS_MAX_BATCH)
		return ts_err_set(err, TS_EINVAL, "batch step: %d images in %d requests, at most %d",
				  *batch, n, TS_MAX_BATCH);
	return 0;
}

extern "C" int ts_dit_request_move(struct ts_dit_engine *e, struct ts_dit_request *r,
				   uint64_t gpus, double *ms, struct ts_error *err)
{
	*ms = 0.0;
	TS_TRY(ts_check_mask(e, gpus, err));
	for (int d = 0; d < e->ngpus; d++)
		if (gpus >> d & 1)
			TS_TRY(ts_request_alloc(r, d, err));
	uint64_t need = gpus & ~r->holders;
	if (!r->holders) { /* nothing ran yet: every new GPU holds the noise */
		r->holders = gpus;
		return 0;
	}
	if (!need)
		return 0;
	int src = __builtin_ctzll(r->holders);
	size_t bytes = (size_t)ts_dit_request_latent_size(r) * sizeof(float);
	double t0 = (double)ts_clock_ns() / 1e6;
	for (int d = 0; d < e->ngpus; d++) {
		if (!(need >> d & 1))
			continue;
		TS_CUDA(cudaSetDevice(d), err);
		TS_CUDA(cudaMemcpyPeerAsync(r->g[d].latent, d, r->g[src].latent, src, bytes,
					    e->gpu[d].st), err);
	}
	for (int d = 0; d < e->ngpus; d++) {
		if (!(need >> d & 1))
			continue;
		TS_CUDA(cudaSetDevice(d), err);
		TS_CUDA(cudaStreamSynchronize(e->gpu[d].st), err);
	}
	*ms = (double)ts_clock_ns() / 1e6 - t0;
	r->holders |= need;
	return 0;
}

