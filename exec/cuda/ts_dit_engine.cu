/* ts_dit_engine.cu: the engine across GPUs: per-GPU weights, streams and
 * cuBLASLt contexts; NCCL communicators per GPU group (made on first use by
 * ncclCommInitAll and cached); requests whose latent is replicated on the
 * GPUs of their last group and moves by peer copies when the group changes;
 * one host thread per GPU of a step. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "core/ts_types.h"
#include "ts_kernels.h"
}

#define TS_MAX_GROUPS 64

struct ts_dit_gpu {
	cudaStream_t st;
	struct ts_gemm *gemm;
	struct ts_dit_weights w;
	struct ts_dit_ws ws;
	int64_t peak_mem;
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
	pthread_mutex_t lock; /* guards group[] and ngroups */
};

struct ts_dit_request {
	struct ts_dit_engine *e;
	int height, width, batch, steps, done;
	uint64_t seed;
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

static int ts_gpu_open(struct ts_dit_engine *e, int dev, uint64_t seed, struct ts_error *err)
{
	struct ts_dit_gpu *g = &e->gpu[dev];
	TS_CUDA(cudaSetDevice(dev), err);
	TS_CUDA(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking), err);
	TS_TRY(ts_gemm_create(&g->gemm, 32u << 20, err));
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
	rc = ts_dit_config_lookup(model, &e->cfg, err);
	if (rc)
		goto out_close;
	e->ngpus = ngpus;
	for (int dev = 0; dev < ngpus; dev++) {
		rc = ts_gpu_open(e, dev, weight_seed, err);
		if (rc) {
			ts_err_prefix(err, "engine: GPU %d", dev);
			goto out_close;
		}
	}
	ts_enable_peers(ngpus);
	*out = e;
	return 0;
out_close:
	ts_dit_engine_close(e);
	return rc;
}

extern "C" void ts_dit_engine_close(struct ts_dit_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->ngroups; i++)
		for (int r = 0; !e->group[i].dead && r < ts_popcount64(e->group[i].mask); r++)
			ncclCommDestroy(e->group[i].comm[r]);
	for (int dev = 0; dev < e->ngpus; dev++) {
		struct ts_dit_gpu *g = &e->gpu[dev];
		cudaSetDevice(dev);
		ts_dit_ws_free(&g->ws);
		ts_dit_weights_free(&g->w);
		ts_gemm_destroy(g->gemm);
		if (g->st)
			cudaStreamDestroy(g->st);
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
 * collectives return) and retires it. */
static void ts_group_abort(struct ts_dit_engine *e, struct ts_dit_group *g)
{
	pthread_mutex_lock(&e->lock);
	bool was_dead = g->dead;
	g->dead = true;
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
 * blocked in a collective waiting for it. */
struct ts_step_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, failed;
};

/* One rank's thread: its share of the step, then wait for it. */
struct ts_rank_job {
	struct ts_dit_rank_step rs;
	int dev;
	int rc;
	struct ts_error err;
	struct ts_step_sync *sync;
};

/* A failed rank's peers get this long to finish before the group is aborted. */
#define TS_RANK_GRACE_S 5

static void ts_rank_job_run(struct ts_rank_job *j)
{
	j->rc = 0;
	cudaError_t ce = cudaSetDevice(j->dev);
	if (ce != cudaSuccess) {
		j->rc = ts_err_set(&j->err, TS_EDEVICE, "cudaSetDevice(%d): %s", j->dev,
				   cudaGetErrorString(ce));
		return;
	}
	j->rc = ts_dit_rank_step_run(&j->rs, &j->err);
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

/* Runs the jobs, one thread each (inline when there is one). */
static int ts_run_jobs(struct ts_dit_engine *e, struct ts_dit_group *grp, struct ts_rank_job *jobs,
		       int k, struct ts_error *err)
{
	pthread_t th[TS_MAX_GPUS];
	struct ts_step_sync sy = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
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
			pthread_mutex_unlock(&sy.mu);
		}
		ts_wait_ranks(e, grp, &sy, started);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		if (started < k)
			return ts_err_set(err, TS_ENOMEM, "step: cannot start thread %d of %d", started, k);
	}
	for (int i = 0; i < k && !rc; i++) {
		if (jobs[i].rc) {
			rc = jobs[i].rc;
			ts_err_set(err, rc, "rank %d (GPU %d): %s", jobs[i].rs.rank, jobs[i].dev,
				   jobs[i].err.msg);
		}
	}
	return rc;
}

extern "C" int ts_dit_request_step(struct ts_dit_engine *e, struct ts_dit_request *r,
				   uint64_t gpus, struct ts_error *err)
{
	double moved;
	struct ts_dit_group *grp = NULL;
	struct ts_rank_job *jobs;
	int k = ts_popcount64(gpus), rank = 0, rc;
	if (r->done >= r->steps)
		return ts_err_set(err, TS_ERANGE, "step: all %d steps already ran", r->steps);
	TS_TRY(ts_dit_request_move(e, r, gpus, &moved, err));
	if (k > 1)
		TS_TRY(ts_group_get(e, gpus, &grp, err));
	jobs = (struct ts_rank_job *)calloc((size_t)k, sizeof(*jobs));
	if (!jobs)
		return ts_err_set(err, TS_ENOMEM, "step: out of host memory");
	for (int d = 0; d < e->ngpus; d++) {
		if (!(gpus >> d & 1))
			continue;
		struct ts_dit_rank_step *rs = &jobs[rank].rs;
		jobs[rank].dev = d;
		rs->cfg = &e->cfg;
		rs->w = &e->gpu[d].w;
		rs->ws = &e->gpu[d].ws;
		rs->gemm = e->gpu[d].gemm;
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
	rc = ts_run_jobs(e, grp, jobs, k, err);
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
