/* ts_dit_engine.cu: the engine across GPUs: per-GPU weights, streams and
 * cuBLASLt contexts; NCCL communicators per GPU group (made on first use by
 * ncclCommInitAll and cached); requests whose latent is replicated on the
 * GPUs of their last group and moves by peer copies when the group changes;
 * one host thread per GPU of a step; optionally, each step shape's launches
 * captured once per GPU into a CUDA graph and replayed (ts_dit.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "core/ts_types.h"
#include "ts_kernels.h"
}

#define TS_MAX_GROUPS 64
#define TS_MAX_GRAPHS 64

struct ts_dit_gpu {
	cudaStream_t st;
	struct ts_gemm *gemm;
	struct ts_attn_cudnn *cudnn; /* NULL where cuDNN did not load */
	struct ts_dit_weights w;
	struct ts_dit_ws ws;
	int64_t peak_mem;
	pthread_mutex_t glock; /* guards the exec[]/sealed[] slots of this GPU's ranks */
	uint64_t staged_cond;  /* request whose conditioning the staging holds, 0: none */
};

/* Where a step key stands: seen never, once (ran eagerly), captured, or
 * left eager after a failed capture. */
enum ts_graph_state { TS_G_NEW, TS_G_SEEN, TS_G_READY, TS_G_EAGER };

/* One cached step key and its graphs, one per rank. Entries are found,
 * added and evicted under the engine lock; a step marks its entry busy so
 * nobody evicts it meanwhile. exec[r] and sealed[r] are read and written
 * under the glock of rank r's GPU, because ts_dit_engine_abort() may drop
 * them while the step's rank threads run. */
struct ts_dit_graph {
	bool used;
	int busy;
	uint64_t mask;
	int group; /* slot in e->group[], -1 for one GPU */
	int height, width, batch;
	enum ts_graph_state state;
	uint64_t last_use;
	cudaGraphExec_t exec[TS_MAX_GPUS];
	bool sealed[TS_MAX_GPUS]; /* the group was aborted: never launch again */
};

struct ts_dit_group {
	uint64_t mask;
	bool dead;                    /* aborted: never used or destroyed again */
	ncclComm_t comm[TS_MAX_GPUS]; /* indexed by rank within the group */
};

struct ts_dit_engine {
	struct ts_dit_config cfg;
	int ngpus;
	struct ts_dit_gpu gpu[TS_MAX_GPUS];
	struct ts_dit_group group[TS_MAX_GROUPS];
	int ngroups;
	pthread_mutex_t lock; /* guards group[], ngroups, graph[], the counters */
	bool graphs;
	int attn_kernel;     /* enum ts_attn_kernel */
	char cudnn_why[256]; /* why a GPU has no cuDNN context ("" if all have) */
	struct ts_dit_graph graph[TS_MAX_GRAPHS];
	uint64_t graph_clock, next_serial;
	struct ts_dit_graph_stats gstats;
};

struct ts_dit_request {
	struct ts_dit_engine *e;
	int height, width, batch, steps, done;
	uint64_t seed;
	uint64_t serial;    /* unique in the engine, never 0 */
	uint64_t holders;   /* GPUs whose latent is current */
	uint64_t allocated; /* GPUs with state allocated */
	struct ts_dit_req_gpu g[TS_MAX_GPUS];
};

/* Flow-matching schedule: sigma(t) with the SD3 shift 3 over t = 1 - i/S. */
static float ts_sigma(int i, int steps)
{
	const float shift = 3.0f;
	float t = 1.0f - (float)i / (float)steps;
	return shift * t / (1.0f + (shift - 1.0f) * t);
}

static double ts_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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

static int ts_gpu_open(struct ts_dit_engine *e, int dev, uint64_t seed, struct ts_error *err)
{
	struct ts_dit_gpu *g = &e->gpu[dev];
	TS_CUDA(cudaSetDevice(dev), err);
	TS_CUDA(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking), err);
	TS_TRY(ts_gemm_create(&g->gemm, 32u << 20, err));
	ts_gpu_open_cudnn(e, dev);
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

extern "C" int ts_dit_engine_open(struct ts_dit_engine **out, const char *model, int ngpus,
				  uint64_t weight_seed, struct ts_error *err)
{
	int have = 0, rc;
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
	rc = ts_dit_config_lookup(model, &e->cfg, err);
	if (rc)
		goto out_close;
	for (int dev = 0; dev < ngpus; dev++) {
		rc = ts_gpu_open(e, dev, weight_seed, err);
		if (rc) {
			ts_err_prefix(err, "engine: GPU %d", dev);
			goto out_close;
		}
	}
	if (e->cudnn_why[0])
		ts_drop_cudnn(e);
	ts_enable_peers(ngpus);
	*out = e;
	return 0;
out_close:
	ts_dit_engine_close(e);
	return rc;
}

/* ---- CUDA graph cache --------------------------------------------------------- */

/* Destroys the graphs of entry g on every GPU of its mask; with `seal` its
 * ranks may never launch again (their group is being aborted). A graph
 * still running is freed by CUDA when it completes. */
static void ts_graph_drop_execs(struct ts_dit_engine *e, struct ts_dit_graph *g, bool seal)
{
	int rank = 0;
	for (int d = 0; d < e->ngpus; d++) {
		if (!(g->mask >> d & 1))
			continue;
		pthread_mutex_lock(&e->gpu[d].glock);
		if (g->exec[rank])
			cudaGraphExecDestroy(g->exec[rank]);
		g->exec[rank] = NULL;
		g->sealed[rank] = g->sealed[rank] || seal;
		pthread_mutex_unlock(&e->gpu[d].glock);
		rank++;
	}
}

/* Before GPU dev's workspace moves: drops the graphs of every key that runs
 * on dev; a key captured before is captured again at its next step. */
static void ts_graphs_drop_gpu(struct ts_dit_engine *e, int dev)
{
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < TS_MAX_GRAPHS; i++) {
		struct ts_dit_graph *g = &e->graph[i];
		if (!g->used || !(g->mask >> dev & 1))
			continue;
		ts_graph_drop_execs(e, g, false);
		if (g->state == TS_G_READY)
			g->state = TS_G_SEEN;
	}
	pthread_mutex_unlock(&e->lock);
}

/* Drops and seals the graphs of group slot `slot` (engine lock held):
 * aborting or destroying a communicator waits until no graph holds it. */
static void ts_graphs_seal_group(struct ts_dit_engine *e, int slot)
{
	for (int i = 0; i < TS_MAX_GRAPHS; i++)
		if (e->graph[i].used && e->graph[i].group == slot)
			ts_graph_drop_execs(e, &e->graph[i], true);
}

static bool ts_graph_is(const struct ts_dit_graph *g, uint64_t mask, int slot,
			const struct ts_dit_request *r)
{
	return g->used && g->mask == mask && g->group == slot && g->height == r->height &&
	       g->width == r->width && g->batch == r->batch;
}

/* Whether slot a is a better place for a new key than b: free before used,
 * then least recently used; busy slots are never taken. */
static bool ts_graph_better_victim(const struct ts_dit_graph *a, const struct ts_dit_graph *b)
{
	if (a->busy)
		return false;
	if (!b)
		return true;
	if (a->used != b->used)
		return !a->used;
	return a->last_use < b->last_use;
}

/* The cache entry of r's step on `gpus` (group slot `slot`), added when
 * new, evicting the least recently used idle one; marked busy until
 * ts_graph_release(). *state receives its state. NULL when every entry is
 * busy: the step then runs eagerly. */
static struct ts_dit_graph *ts_graph_acquire(struct ts_dit_engine *e, const struct ts_dit_request *r,
					     uint64_t gpus, int slot, enum ts_graph_state *state)
{
	struct ts_dit_graph *hit = NULL, *victim = NULL;
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < TS_MAX_GRAPHS && !hit; i++) {
		if (ts_graph_is(&e->graph[i], gpus, slot, r))
			hit = &e->graph[i];
		else if (ts_graph_better_victim(&e->graph[i], victim))
			victim = &e->graph[i];
	}
	if (!hit && victim) {
		if (victim->used)
			ts_graph_drop_execs(e, victim, false);
		memset(victim, 0, sizeof(*victim));
		victim->used = true;
		victim->mask = gpus;
		victim->group = slot;
		victim->height = r->height;
		victim->width = r->width;
		victim->batch = r->batch;
		victim->state = TS_G_NEW;
		hit = victim;
	}
	if (hit) {
		hit->busy++;
		hit->last_use = ++e->graph_clock;
		*state = hit->state;
	}
	pthread_mutex_unlock(&e->lock);
	return hit;
}

/* How a step runs. */
enum ts_step_mode { TS_M_EAGER, TS_M_CAPTURE, TS_M_REPLAY };

static enum ts_step_mode ts_graph_mode(struct ts_dit_engine *e, struct ts_dit_graph *g)
{
	if (!g)
		return TS_M_EAGER;
	pthread_mutex_lock(&e->lock);
	enum ts_graph_state st = g->state;
	pthread_mutex_unlock(&e->lock);
	return st == TS_G_SEEN ? TS_M_CAPTURE : st == TS_G_READY ? TS_M_REPLAY : TS_M_EAGER;
}

/* Records how the step of entry g went (rc: its result) and unmarks it. */
static void ts_graph_release(struct ts_dit_engine *e, struct ts_dit_graph *g, enum ts_step_mode mode,
			     bool fell_back, int rc)
{
	if (!g)
		return;
	pthread_mutex_lock(&e->lock);
	if (mode == TS_M_EAGER && !rc && g->state == TS_G_NEW) {
		g->state = TS_G_SEEN;
	} else if (mode == TS_M_CAPTURE && fell_back) {
		g->state = TS_G_EAGER;
		e->gstats.fallbacks++;
	} else if (mode == TS_M_CAPTURE && rc) {
		ts_graph_drop_execs(e, g, false); /* the ranks that did capture */
		g->state = TS_G_EAGER;
	} else if (mode == TS_M_CAPTURE) {
		g->state = TS_G_READY;
		e->gstats.captures++;
	} else if (mode == TS_M_REPLAY && !rc) {
		e->gstats.replays++;
	}
	g->busy--;
	pthread_mutex_unlock(&e->lock);
}

extern "C" void ts_dit_engine_set_graphs(struct ts_dit_engine *e, bool on)
{
	e->graphs = on;
}

extern "C" bool ts_dit_engine_graphs(const struct ts_dit_engine *e)
{
	return e->graphs;
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

extern "C" void ts_dit_engine_graph_stats(struct ts_dit_engine *e, struct ts_dit_graph_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->gstats;
	out->cached = 0;
	for (int i = 0; i < TS_MAX_GRAPHS; i++)
		out->cached += e->graph[i].used && e->graph[i].state == TS_G_READY;
	pthread_mutex_unlock(&e->lock);
}

extern "C" void ts_dit_engine_close(struct ts_dit_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < TS_MAX_GRAPHS; i++) /* before the communicators they hold */
		if (e->graph[i].used)
			ts_graph_drop_execs(e, &e->graph[i], true);
	for (int i = 0; i < e->ngroups; i++)
		for (int r = 0; !e->group[i].dead && r < ts_popcount64(e->group[i].mask); r++)
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

/* The communicators of a GPU group, created on first use. The lock is not
 * held during ncclCommInitAll, so steps of other groups start meanwhile; the
 * same mask is never looked up twice at once (the backend runs one launch
 * per GPU), and a slot is published only once its communicators exist. */
static int ts_group_get(struct ts_dit_engine *e, uint64_t mask, struct ts_dit_group **out,
			struct ts_error *err)
{
	struct ts_dit_group fresh;
	int devs[TS_MAX_GPUS], k = 0;
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < e->ngroups; i++) {
		if (e->group[i].mask == mask && !e->group[i].dead) {
			*out = &e->group[i];
			pthread_mutex_unlock(&e->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&e->lock);
	memset(&fresh, 0, sizeof(fresh));
	for (int d = 0; d < e->ngpus; d++)
		if (mask >> d & 1)
			devs[k++] = d;
	ncclResult_t nr = ncclCommInitAll(fresh.comm, k, devs);
	if (nr != ncclSuccess)
		return ts_err_set(err, TS_EDEVICE, "%s:%d: ncclCommInitAll(%d GPUs, mask 0x%llx): %s",
				  __FILE__, __LINE__, k, (unsigned long long)mask, ncclGetErrorString(nr));
	fresh.mask = mask;
	pthread_mutex_lock(&e->lock);
	if (e->ngroups == TS_MAX_GROUPS) {
		pthread_mutex_unlock(&e->lock);
		for (int r = 0; r < k; r++)
			ncclCommDestroy(fresh.comm[r]);
		return ts_err_set(err, TS_ERANGE, "engine: more than %d distinct GPU groups", TS_MAX_GROUPS);
	}
	e->group[e->ngroups] = fresh;
	*out = &e->group[e->ngroups++];
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* Aborts the communicators of g (ncclCommAbort makes ranks blocked in its
 * collectives return) and retires it, its graphs destroyed first. */
static void ts_group_abort(struct ts_dit_engine *e, struct ts_dit_group *g)
{
	pthread_mutex_lock(&e->lock);
	bool was_dead = g->dead;
	g->dead = true;
	if (!was_dead)
		ts_graphs_seal_group(e, (int)(g - e->group));
	pthread_mutex_unlock(&e->lock);
	for (int r = 0; !was_dead && r < ts_popcount64(g->mask); r++)
		ncclCommAbort(g->comm[r]);
}

extern "C" int ts_dit_engine_warm_group(struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err)
{
	struct ts_dit_group *g;
	uint64_t all = e->ngpus == 64 ? ~0ULL : (1ULL << e->ngpus) - 1;
	if (!gpus || (gpus & ~all))
		return ts_err_set(err, TS_EINVAL, "engine: GPU set 0x%llx outside GPUs 0..%d",
				  (unsigned long long)gpus, e->ngpus - 1);
	if (ts_popcount64(gpus) < 2)
		return 0;
	return ts_group_get(e, gpus, &g, err);
}

extern "C" void ts_dit_engine_abort(struct ts_dit_engine *e)
{
	pthread_mutex_lock(&e->lock);
	int n = e->ngroups;
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < n; i++)
		ts_group_abort(e, &e->group[i]);
}

/* ---- requests --------------------------------------------------------------- */

extern "C" int ts_dit_request_open(struct ts_dit_engine *e, struct ts_dit_request **out,
				   int height, int width, int batch, int steps, uint64_t seed,
				   struct ts_error *err)
{
	int px = e->cfg.vae_scale * e->cfg.patch;
	*out = NULL;
	if (height < px || width < px || height % px || width % px)
		return ts_err_set(err, TS_EINVAL, "request: %dx%d is not a positive multiple of %d pixels",
				  height, width, px);
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

/* Latent and conditioning on GPU dev; a fresh request's latent is the
 * seeded noise, the same on every GPU. */
static int ts_request_alloc(struct ts_dit_request *r, int dev, struct ts_error *err)
{
	if (r->allocated >> dev & 1)
		return 0;
	struct ts_dit_req_gpu *rg = &r->g[dev];
	cudaStream_t st = r->e->gpu[dev].st;
	size_t n = (size_t)ts_dit_request_latent_size(r);
	TS_CUDA(cudaSetDevice(dev), err);
	TS_CUDA(cudaMalloc(&rg->latent, n * sizeof(float)), err);
	r->allocated |= 1ULL << dev;
	TS_TRY(ts_dit_cond_create(rg, &r->e->cfg, r->batch, r->seed, st, err));
	if (r->done == 0)
		TS_TRY(ts_k_fill_normal_f32(rg->latent, n, r->seed, st, err));
	TS_CUDA(cudaStreamSynchronize(st), err);
	return 0;
}

static int ts_check_mask(const struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err)
{
	int k = ts_popcount64(gpus);
	uint64_t all = e->ngpus == 64 ? ~0ULL : (1ULL << e->ngpus) - 1;
	if (!gpus || (gpus & ~all) || e->cfg.heads % k)
		return ts_err_set(err, TS_EINVAL, "step: GPU mask 0x%llx invalid for %d GPUs and %d heads",
				  (unsigned long long)gpus, e->ngpus, e->cfg.heads);
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
	double t0 = ts_now_ms();
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
	*ms = ts_now_ms() - t0;
	r->holders |= need;
	return 0;
}

/* What the ranks of one step share: a count of finished ranks and failures,
 * so the caller can abort the group when one rank fails and the others stay
 * blocked in a collective waiting for it; and the capture barrier of a
 * capture step (`expected` ranks arrive, how many captured nothing). */
struct ts_step_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, failed;
	int expected, arrived, capture_failed;
};

/* One rank's thread: its share of the step, then wait for it. A graph step
 * reads the request through the staging copy `stage` of GPU dev's
 * workspace: rs.rg points there, `req` at the request's own buffers. */
struct ts_rank_job {
	struct ts_dit_rank_step rs;
	int dev;
	int rc;
	struct ts_error err;
	struct ts_step_sync *sync;
	enum ts_step_mode mode;
	struct ts_dit_graph *graph;
	struct ts_dit_gpu *gpu;
	struct ts_dit_req_gpu *req, stage;
	size_t latent_bytes, txt_bytes, pooled_bytes;
	bool copy_cond; /* the staging holds another request's conditioning */
	bool fell_back; /* the capture failed; the step ran eagerly */
	bool peer_failed; /* captured, but a peer's capture failed */
};

/* A failed rank's peers get this long to finish before the group is aborted. */
#define TS_RANK_GRACE_S 5

/* The request's latent (and conditioning, when the staging holds another
 * request's) into the staging buffers the graph reads. */
static int ts_stage_in(const struct ts_rank_job *j, struct ts_error *err)
{
	cudaStream_t st = j->rs.st;
	TS_CUDA(cudaMemcpyAsync(j->stage.latent, j->req->latent, j->latent_bytes,
				cudaMemcpyDeviceToDevice, st), err);
	if (!j->copy_cond)
		return 0;
	TS_CUDA(cudaMemcpyAsync(j->stage.txt_emb, j->req->txt_emb, j->txt_bytes,
				cudaMemcpyDeviceToDevice, st), err);
	TS_CUDA(cudaMemcpyAsync(j->stage.pooled, j->req->pooled, j->pooled_bytes,
				cudaMemcpyDeviceToDevice, st), err);
	return 0;
}

/* The updated latent back to the request. */
static int ts_stage_out(const struct ts_rank_job *j, struct ts_error *err)
{
	TS_CUDA(cudaMemcpyAsync(j->req->latent, j->stage.latent, j->latent_bytes,
				cudaMemcpyDeviceToDevice, j->rs.st), err);
	return 0;
}

/* Captures the rank's launches on its stream into an instantiated graph
 * *out. Thread-local capture mode: other threads (other groups' steps) may
 * allocate and synchronise meanwhile. Nothing runs during a capture, so a
 * failed one leaves the GPU's state as it was. */
static int ts_rank_capture(const struct ts_rank_job *j, cudaGraphExec_t *out, struct ts_error *err)
{
	cudaGraph_t graph = NULL;
	cudaStream_t st = j->rs.st;
	int rc;
	*out = NULL;
	TS_CUDA_GOTO(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), err, rc, out);
	rc = ts_dit_rank_step_enqueue(&j->rs, err);
	if (rc) {
		cudaStreamEndCapture(st, &graph); /* ends the broken capture */
		cudaGetLastError();
		goto out_graph;
	}
	TS_CUDA_GOTO(cudaStreamEndCapture(st, &graph), err, rc, out_graph);
	TS_CUDA_GOTO(cudaGraphInstantiate(out, graph, 0), err, rc, out_graph);
out_graph:
	if (graph)
		cudaGraphDestroy(graph);
out:
	if (rc)
		ts_err_prefix(err, "graph capture on GPU %d", j->dev);
	return rc;
}

/* Launches the rank's graph: `fresh` (just captured; stored in the cache
 * entry unless the group was aborted meanwhile) or the cached one. Under the
 * GPU's glock, so that an abort cannot destroy it in between. */
static int ts_rank_launch(struct ts_rank_job *j, cudaGraphExec_t fresh, struct ts_error *err)
{
	struct ts_dit_graph *g = j->graph;
	int r = j->rs.rank, rc = 0;
	pthread_mutex_lock(&j->gpu->glock);
	if (fresh && !g->sealed[r]) {
		if (g->exec[r])
			cudaGraphExecDestroy(g->exec[r]);
		g->exec[r] = fresh;
		fresh = NULL;
	}
	if (!g->exec[r]) {
		rc = ts_err_set(err, TS_EDEVICE, "graph step on GPU %d: its graph was dropped (group aborted)",
				j->dev);
		goto out_unlock;
	}
	TS_CUDA_GOTO(cudaGraphLaunch(g->exec[r], j->rs.st), err, rc, out_unlock);
out_unlock:
	pthread_mutex_unlock(&j->gpu->glock);
	if (fresh)
		cudaGraphExecDestroy(fresh);
	return rc;
}

/* Waits until every rank of a capture step has captured or failed to;
 * whether all of them captured. Nothing was launched before it, so when one
 * failed, no rank launches and none is left waiting in a collective. */
static bool ts_capture_barrier(struct ts_step_sync *sy, int ranks, bool ok)
{
	pthread_mutex_lock(&sy->mu);
	sy->arrived++;
	sy->capture_failed += !ok;
	pthread_cond_broadcast(&sy->cv);
	while (sy->arrived < sy->expected)
		pthread_cond_wait(&sy->cv, &sy->mu);
	bool all = !sy->capture_failed && sy->expected == ranks;
	pthread_mutex_unlock(&sy->mu);
	return all;
}

/* A capture step of a group: capture, then launch only if every rank
 * captured; otherwise the step fails on every rank. */
static int ts_rank_group_capture(struct ts_rank_job *j, struct ts_error *err)
{
	cudaGraphExec_t fresh = NULL;
	int rc = ts_dit_rank_step_upload(&j->rs, err);
	if (!rc)
		rc = ts_stage_in(j, err);
	if (!rc)
		rc = ts_rank_capture(j, &fresh, err);
	if (!ts_capture_barrier(j->sync, j->rs.ranks, rc == 0)) {
		if (fresh)
			cudaGraphExecDestroy(fresh);
		j->peer_failed = !rc;
		return rc ? rc : ts_err_set(err, TS_EDEVICE, "graph step on GPU %d: the capture of a peer failed, no rank launched",
					    j->dev);
	}
	TS_TRY(ts_rank_launch(j, fresh, err));
	return ts_stage_out(j, err);
}

/* Capture (when the key's graph is due) or replay, between the staging
 * copies. A failed capture on one GPU runs the same launches eagerly. */
static int ts_rank_graph_step(struct ts_rank_job *j, struct ts_error *err)
{
	cudaGraphExec_t fresh = NULL;
	if (j->mode == TS_M_CAPTURE && j->rs.ranks > 1)
		return ts_rank_group_capture(j, err);
	TS_TRY(ts_dit_rank_step_upload(&j->rs, err));
	TS_TRY(ts_stage_in(j, err));
	if (j->mode == TS_M_CAPTURE && ts_rank_capture(j, &fresh, err)) {
		j->fell_back = true;
		TS_TRY(ts_dit_rank_step_enqueue(&j->rs, err));
		return ts_stage_out(j, err);
	}
	TS_TRY(ts_rank_launch(j, fresh, err));
	return ts_stage_out(j, err);
}

static int ts_rank_eager_step(const struct ts_rank_job *j, struct ts_error *err)
{
	TS_TRY(ts_dit_rank_step_upload(&j->rs, err));
	return ts_dit_rank_step_enqueue(&j->rs, err);
}

static void ts_rank_job_run(struct ts_rank_job *j)
{
	j->rc = 0;
	cudaError_t ce = cudaSetDevice(j->dev);
	if (ce != cudaSuccess) {
		j->rc = ts_err_set(&j->err, TS_EDEVICE, "cudaSetDevice(%d): %s", j->dev,
				   cudaGetErrorString(ce));
		if (j->mode == TS_M_CAPTURE && j->rs.ranks > 1) /* the peers wait for it */
			ts_capture_barrier(j->sync, j->rs.ranks, false);
		return;
	}
	j->rc = j->mode == TS_M_EAGER ? ts_rank_eager_step(j, &j->err) : ts_rank_graph_step(j, &j->err);
	if (!j->rc) {
		ce = cudaStreamSynchronize(j->rs.st);
		if (ce != cudaSuccess)
			j->rc = ts_err_set(&j->err, TS_EDEVICE, "%s:%d: step on GPU %d: %s", __FILE__,
					   __LINE__, j->dev, cudaGetErrorString(ce));
	}
}

static void *ts_rank_thread(void *arg)
{
	struct ts_rank_job *j = (struct ts_rank_job *)arg;
	ts_rank_job_run(j);
	pthread_mutex_lock(&j->sync->mu);
	j->sync->done++;
	j->sync->failed += j->rc != 0;
	pthread_cond_broadcast(&j->sync->cv);
	pthread_mutex_unlock(&j->sync->mu);
	return NULL;
}

/* Waits until `started` ranks finished; when one failed and the others are
 * still blocked TS_RANK_GRACE_S later, aborts the group's communicators. */
static void ts_wait_ranks(struct ts_dit_engine *e, struct ts_dit_group *grp, struct ts_step_sync *sy,
			  int started)
{
	struct timespec dl = {0, 0};
	bool aborted = false;
	pthread_mutex_lock(&sy->mu);
	while (sy->done < started) {
		if (!sy->failed || aborted) {
			pthread_cond_wait(&sy->cv, &sy->mu);
			continue;
		}
		if (!dl.tv_sec) {
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += TS_RANK_GRACE_S;
		}
		if (pthread_cond_timedwait(&sy->cv, &sy->mu, &dl) == ETIMEDOUT) {
			pthread_mutex_unlock(&sy->mu);
			ts_group_abort(e, grp);
			pthread_mutex_lock(&sy->mu);
			aborted = true;
		}
	}
	pthread_mutex_unlock(&sy->mu);
}

/* The failed job whose error to report: the first that failed on its own
 * (not only because a peer's capture failed); NULL when all succeeded. */
static const struct ts_rank_job *ts_first_failure(const struct ts_rank_job *jobs, int k)
{
	const struct ts_rank_job *any = NULL;
	for (int i = 0; i < k; i++) {
		if (jobs[i].rc && !jobs[i].peer_failed)
			return &jobs[i];
		if (jobs[i].rc && !any)
			any = &jobs[i];
	}
	return any;
}

/* Runs the jobs, one thread each (inline when there is one). */
static int ts_run_jobs(struct ts_dit_engine *e, struct ts_dit_group *grp, struct ts_rank_job *jobs,
		       int k, struct ts_error *err)
{
	pthread_t th[TS_MAX_GPUS];
	struct ts_step_sync sy = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, k, 0, 0 };
	int started = 0, rc = 0;
	if (k == 1) {
		ts_rank_job_run(&jobs[0]);
	} else {
		for (; started < k; started++) {
			jobs[started].sync = &sy;
			if (pthread_create(&th[started], NULL, ts_rank_thread, &jobs[started]))
				break;
		}
		if (started < k) { /* the missing rank never joins: free the others */
			pthread_mutex_lock(&sy.mu);
			sy.failed++;
			sy.expected = started;
			pthread_cond_broadcast(&sy.cv);
			pthread_mutex_unlock(&sy.mu);
		}
		ts_wait_ranks(e, grp, &sy, started);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		if (started < k)
			return ts_err_set(err, TS_ENOMEM, "step: cannot start thread %d of %d", started, k);
	}
	const struct ts_rank_job *first = ts_first_failure(jobs, k);
	if (first)
		rc = ts_err_set(err, first->rc, "rank %d (GPU %d): %s", first->rs.rank, first->dev,
				first->err.msg);
	return rc;
}

/* One job per GPU of `gpus`, eager and on the request's own buffers. */
static void ts_jobs_fill(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t gpus,
			 const struct ts_dit_group *grp, struct ts_rank_job *jobs)
{
	const struct ts_dit_config *c = &e->cfg;
	int k = ts_popcount64(gpus), rank = 0;
	for (int d = 0; d < e->ngpus; d++) {
		if (!(gpus >> d & 1))
			continue;
		struct ts_rank_job *j = &jobs[rank];
		struct ts_dit_rank_step *rs = &j->rs;
		j->dev = d;
		j->gpu = &e->gpu[d];
		j->req = &r->g[d];
		j->latent_bytes = (size_t)ts_dit_request_latent_size(r) * sizeof(float);
		j->txt_bytes = (size_t)r->batch * (c->text_tokens + TS_TXT_PAD) * c->text_dim * sizeof(bf16);
		j->pooled_bytes = (size_t)r->batch * c->pooled_dim * sizeof(bf16);
		rs->cfg = c;
		rs->w = &e->gpu[d].w;
		rs->ws = &e->gpu[d].ws;
		rs->gemm = e->gpu[d].gemm;
		rs->cudnn = e->gpu[d].cudnn;
		rs->attn_kernel = e->attn_kernel;
		rs->st = e->gpu[d].st;
		rs->comm = grp ? grp->comm[rank] : NULL;
		rs->rank = rank;
		rs->ranks = k;
		rs->batch = r->batch;
		rs->height = r->height;
		rs->width = r->width;
		rs->rg = &r->g[d];
		rs->sigma = ts_sigma(r->done, r->steps);
		rs->sigma_next = ts_sigma(r->done + 1, r->steps);
		rs->guidance = 3.5f;
		rank++;
	}
}

/* Grows the workspaces of the step's GPUs (in this thread, before any rank
 * runs), first dropping the graphs that point into a buffer about to move. */
static int ts_prepare_ranks(struct ts_dit_engine *e, const struct ts_rank_job *jobs, int k,
			    bool staged, struct ts_error *err)
{
	for (int i = 0; i < k; i++) {
		const struct ts_rank_job *j = &jobs[i];
		TS_CUDA(cudaSetDevice(j->dev), err);
		if (ts_dit_ws_moves(&j->rs, staged)) {
			ts_graphs_drop_gpu(e, j->dev);
			e->gpu[j->dev].staged_cond = 0;
		}
		if (ts_dit_ws_prepare(&j->rs, staged, err))
			return ts_err_prefix(err, "workspace of GPU %d", j->dev);
	}
	return 0;
}

/* Sets every job's mode; graph steps read and write the staging buffers. */
static void ts_jobs_stage(const struct ts_dit_request *r, struct ts_rank_job *jobs, int k,
			  struct ts_dit_graph *graph, enum ts_step_mode mode)
{
	for (int i = 0; i < k; i++) {
		struct ts_rank_job *j = &jobs[i];
		j->mode = mode;
		j->graph = graph;
		if (mode == TS_M_EAGER)
			continue;
		ts_dit_ws_staging(&j->gpu->ws, &j->stage);
		j->rs.rg = &j->stage;
		j->copy_cond = j->gpu->staged_cond != r->serial;
		j->gpu->staged_cond = r->serial;
	}
}

/* After a failed graph step the staging holds nobody's conditioning. */
static void ts_jobs_unstage(struct ts_rank_job *jobs, int k)
{
	for (int i = 0; i < k; i++)
		if (jobs[i].mode != TS_M_EAGER)
			jobs[i].gpu->staged_cond = 0;
}

static bool ts_jobs_fell_back(const struct ts_rank_job *jobs, int k)
{
	for (int i = 0; i < k; i++)
		if (jobs[i].fell_back)
			return true;
	return false;
}

/* Runs the step of `jobs`: eager, captured or replayed (ts_dit.h). */
static int ts_step_jobs(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t gpus,
			struct ts_dit_group *grp, struct ts_rank_job *jobs, int k, struct ts_error *err)
{
	enum ts_graph_state state = TS_G_NEW;
	int slot = grp ? (int)(grp - e->group) : -1;
	struct ts_dit_graph *graph = e->graphs ? ts_graph_acquire(e, r, gpus, slot, &state) : NULL;
	bool staged = graph && (state == TS_G_SEEN || state == TS_G_READY);
	enum ts_step_mode mode = TS_M_EAGER;
	int rc = ts_prepare_ranks(e, jobs, k, staged, err);
	if (!rc) {
		mode = ts_graph_mode(e, graph); /* READY may have become SEEN */
		ts_jobs_stage(r, jobs, k, graph, mode);
		rc = ts_run_jobs(e, grp, jobs, k, err);
		if (rc)
			ts_jobs_unstage(jobs, k);
	}
	ts_graph_release(e, graph, mode, ts_jobs_fell_back(jobs, k), rc);
	return rc;
}

extern "C" int ts_dit_request_step(struct ts_dit_engine *e, struct ts_dit_request *r,
				   uint64_t gpus, struct ts_error *err)
{
	double moved;
	struct ts_dit_group *grp = NULL;
	struct ts_rank_job *jobs;
	int k = ts_popcount64(gpus), rc;
	if (r->done >= r->steps)
		return ts_err_set(err, TS_ERANGE, "step: all %d steps already ran", r->steps);
	TS_TRY(ts_dit_request_move(e, r, gpus, &moved, err));
	if (k > 1)
		TS_TRY(ts_group_get(e, gpus, &grp, err));
	jobs = (struct ts_rank_job *)calloc((size_t)k, sizeof(*jobs));
	if (!jobs)
		return ts_err_set(err, TS_ENOMEM, "step: out of host memory");
	ts_jobs_fill(e, r, gpus, grp, jobs);
	rc = ts_step_jobs(e, r, gpus, grp, jobs, k, err);
	free(jobs);
	if (rc)
		return rc;
	for (int d = 0; d < e->ngpus; d++) {
		size_t fr = 0, tot = 0;
		if (!(gpus >> d & 1) || cudaSetDevice(d) != cudaSuccess ||
		    cudaMemGetInfo(&fr, &tot) != cudaSuccess)
			continue;
		if ((int64_t)(tot - fr) > e->gpu[d].peak_mem)
			e->gpu[d].peak_mem = (int64_t)(tot - fr);
	}
	r->holders = gpus;
	r->done++;
	return 0;
}

extern "C" int ts_dit_request_latent(const struct ts_dit_request *r, float *out,
				     struct ts_error *err)
{
	if (!r->holders)
		return ts_err_set(err, TS_EINVAL, "latent: the request has not run on any GPU yet");
	int src = __builtin_ctzll(r->holders);
	TS_CUDA(cudaSetDevice(src), err);
	TS_CUDA(cudaMemcpy(out, r->g[src].latent, (size_t)ts_dit_request_latent_size(r) * sizeof(float),
			   cudaMemcpyDeviceToHost), err);
	return 0;
}
