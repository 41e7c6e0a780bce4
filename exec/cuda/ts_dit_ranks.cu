/* ts_dit_ranks.cu: one denoising step of a request, or of a batch of
 * requests of one shape, on a GPU group: one host thread per GPU runs its
 * rank's share (eagerly, or captured into and replayed from a CUDA graph);
 * a failed rank aborts the group so the others leave their collectives. A
 * batch of several requests (and every graph step) runs on the staging
 * buffers of the workspace: each request's latent and conditioning are
 * gathered into its samples' rows there and its latent scattered back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_engine_internal.cuh"

extern "C" {
#include "ts_kernels.h"
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

/* One request of a step, on one GPU: its own buffers there and the
 * samples of the step's batch it fills. */
struct ts_member {
	struct ts_dit_req_gpu *req;
	uint64_t serial;
	int first, batch;
	bool copy_cond; /* the staging holds other conditioning in its samples */
};

/* One rank's thread: its share of the step, then wait for it. A staged step
 * (a graph step, or a batch of several requests) reads the requests through
 * the staging copy `stage` of GPU dev's workspace: rs.rg points there, the
 * members at the requests' own buffers. */
struct ts_rank_job {
	struct ts_dit_rank_step rs;
	int dev;
	int rc;
	struct ts_error err;
	struct ts_step_sync *sync;
	enum ts_step_mode mode;
	bool staged;
	struct ts_dit_graph *graph;
	struct ts_dit_gpu *gpu;
	struct ts_member mem[TS_MAX_BATCH];
	int nmem;
	struct ts_dit_req_gpu stage;
	size_t latent_bytes, txt_bytes, pooled_bytes; /* of one sample */
	bool fell_back; /* the capture failed; the step ran eagerly */
	bool peer_failed; /* captured, but a peer's capture failed */
};

/* A failed rank's peers get this long to finish before the group is aborted. */
#define TS_RANK_GRACE_S 5

/* Copies `samples` samples of `bytes` each on the job's stream: from src
 * (sample 0) to sample `first` of dst, or back when `out`. */
static int ts_stage_copy(const struct ts_rank_job *j, void *dst, const void *src, int first,
			 int samples, size_t bytes, bool out, struct ts_error *err)
{
	char *d = (char *)dst + (out ? 0 : (size_t)first * bytes);
	const char *s = (const char *)src + (out ? (size_t)first * bytes : 0);
	TS_CUDA(cudaMemcpyAsync(d, s, (size_t)samples * bytes, cudaMemcpyDeviceToDevice, j->rs.st),
		err);
	return 0;
}

/* Each member's latent (and conditioning, when the staging holds another's
 * in its samples) into its samples of the staging buffers. */
static int ts_stage_in(const struct ts_rank_job *j, struct ts_error *err)
{
	for (int i = 0; i < j->nmem; i++) {
		const struct ts_member *m = &j->mem[i];
		TS_TRY(ts_stage_copy(j, j->stage.latent, m->req->latent, m->first, m->batch,
				     j->latent_bytes, false, err));
		if (!m->copy_cond)
			continue;
		TS_TRY(ts_stage_copy(j, j->stage.txt_emb, m->req->txt_emb, m->first, m->batch,
				     j->txt_bytes, false, err));
		TS_TRY(ts_stage_copy(j, j->stage.pooled, m->req->pooled, m->first, m->batch,
				     j->pooled_bytes, false, err));
	}
	return 0;
}

/* The updated latents back to the members. */
static int ts_stage_out(const struct ts_rank_job *j, struct ts_error *err)
{
	for (int i = 0; i < j->nmem; i++) {
		const struct ts_member *m = &j->mem[i];
		TS_TRY(ts_stage_copy(j, m->req->latent, j->stage.latent, m->first, m->batch,
				     j->latent_bytes, true, err));
	}
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

/* The launches one by one; a batch of several requests between the
 * staging copies. */
static int ts_rank_eager_step(const struct ts_rank_job *j, struct ts_error *err)
{
	TS_TRY(ts_dit_rank_step_upload(&j->rs, err));
	if (!j->staged)
		return ts_dit_rank_step_enqueue(&j->rs, err);
	TS_TRY(ts_stage_in(j, err));
	TS_TRY(ts_dit_rank_step_enqueue(&j->rs, err));
	return ts_stage_out(j, err);
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

/* Each sample's noise levels: those of its request's own next step. */
static void ts_rank_sigmas(struct ts_dit_rank_step *rs, struct ts_dit_request *const *reqs, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		const struct ts_dit_request *r = reqs[i];
		for (int k = 0; k < r->batch; k++, s++) {
			rs->sigma[s] = r->sigmas ? r->sigmas[r->done] : ts_dit_sigma(r->done, r->steps);
			rs->sigma_next[s] = r->sigmas ? r->sigmas[r->done + 1]
						      : ts_dit_sigma(r->done + 1, r->steps);
		}
	}
	rs->guidance = reqs[0]->guidance; /* equal in a batch (ts_check_batch) */
}

/* The members of job j on GPU d: the requests' buffers there, their
 * samples in order. */
static void ts_job_members(struct ts_rank_job *j, struct ts_dit_request *const *reqs, int n, int d)
{
	const struct ts_dit_config *c = &reqs[0]->e->cfg;
	const struct ts_dit_request *r0 = reqs[0];
	int first = 0;
	j->nmem = n;
	for (int i = 0; i < n; i++) {
		struct ts_member *m = &j->mem[i];
		m->req = &reqs[i]->g[d];
		m->serial = reqs[i]->serial;
		m->first = first;
		m->batch = reqs[i]->batch;
		first += m->batch;
	}
	j->latent_bytes = (size_t)c->latent_channels * (r0->height / c->vae_scale) *
			  (r0->width / c->vae_scale) * sizeof(float);
	j->txt_bytes = (size_t)(c->text_tokens + TS_TXT_PAD) * c->text_dim * sizeof(bf16);
	j->pooled_bytes = (size_t)c->pooled_dim * sizeof(bf16);
}

/* One job per GPU of `gpus`, eager and on the requests' own buffers (a
 * batch of `batch` samples in all). */
static void ts_jobs_fill(struct ts_dit_engine *e, struct ts_dit_request *const *reqs, int n,
			 int batch, uint64_t gpus, const struct ts_dit_group *grp,
			 struct ts_rank_job *jobs)
{
	int k = ts_gpus_count(gpus), rank = 0;
	for (int d = 0; d < e->ngpus; d++) {
		if (!(gpus >> d & 1))
			continue;
		struct ts_rank_job *j = &jobs[rank];
		struct ts_dit_rank_step *rs = &j->rs;
		j->dev = d;
		j->gpu = &e->gpu[d];
		ts_job_members(j, reqs, n, d);
		rs->cfg = &e->cfg;
		rs->w = &e->gpu[d].w;
		rs->ws = &e->gpu[d].ws;
		rs->gemm = e->gpu[d].gemm;
		rs->cudnn = e->gpu[d].cudnn;
		rs->attn_kernel = e->attn_kernel;
		rs->st = e->gpu[d].st;
		rs->comm = grp ? grp->comm[rank] : NULL;
		rs->rank = rank;
		rs->ranks = k;
		rs->batch = batch;
		rs->height = reqs[0]->height;
		rs->width = reqs[0]->width;
		rs->rg = j->mem[0].req;
		ts_rank_sigmas(rs, reqs, n);
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
			memset(e->gpu[j->dev].staged_cond, 0, sizeof(e->gpu[j->dev].staged_cond));
		}
		if (ts_dit_ws_prepare(&j->rs, staged, err))
			return ts_err_prefix(err, "workspace of GPU %d", j->dev);
	}
	return 0;
}

/* What the staging holds in sample slot `first + k` after member m's
 * conditioning was copied there: its request's sample k. */
static uint64_t ts_cond_key(const struct ts_member *m, int k)
{
	return m->serial * TS_MAX_BATCH + (uint64_t)k;
}

/* Whether member m's conditioning must be copied into the staging (it
 * holds another's in one of m's samples); records that it will be there. */
static bool ts_member_copy_cond(uint64_t *staged_cond, const struct ts_member *m)
{
	bool copy = false;
	for (int k = 0; k < m->batch; k++) {
		copy = copy || staged_cond[m->first + k] != ts_cond_key(m, k);
		staged_cond[m->first + k] = ts_cond_key(m, k);
	}
	return copy;
}

/* Sets every job's mode; graph steps and batches of several requests read
 * and write the staging buffers. */
static void ts_jobs_stage(struct ts_rank_job *jobs, int k, struct ts_dit_graph *graph,
			  enum ts_step_mode mode)
{
	for (int i = 0; i < k; i++) {
		struct ts_rank_job *j = &jobs[i];
		j->mode = mode;
		j->graph = graph;
		j->staged = mode != TS_M_EAGER || j->nmem > 1;
		if (!j->staged)
			continue;
		ts_dit_ws_staging(&j->gpu->ws, &j->stage);
		j->rs.rg = &j->stage;
		for (int m = 0; m < j->nmem; m++)
			j->mem[m].copy_cond = ts_member_copy_cond(j->gpu->staged_cond, &j->mem[m]);
	}
}

/* After a failed staged step the staging holds nobody's conditioning. */
static void ts_jobs_unstage(struct ts_rank_job *jobs, int k)
{
	for (int i = 0; i < k; i++)
		if (jobs[i].staged)
			memset(jobs[i].gpu->staged_cond, 0, sizeof(jobs[i].gpu->staged_cond));
}

static bool ts_jobs_fell_back(const struct ts_rank_job *jobs, int k)
{
	for (int i = 0; i < k; i++)
		if (jobs[i].fell_back)
			return true;
	return false;
}

/* Runs the step of `jobs`: eager, captured or replayed (ts_dit.h). */
static int ts_step_jobs(struct ts_dit_engine *e, uint64_t gpus, struct ts_dit_group *grp,
			struct ts_rank_job *jobs, int k, struct ts_error *err)
{
	enum ts_graph_state state = TS_G_NEW;
	const struct ts_dit_rank_step *rs = &jobs[0].rs;
	int slot = grp ? (int)(grp - e->group) : -1;
	struct ts_dit_graph *graph =
		e->graphs ? ts_graph_acquire(e, rs->height, rs->width, rs->batch, gpus, slot, &state)
			  : NULL;
	bool staged = jobs[0].nmem > 1 || (graph && (state == TS_G_SEEN || state == TS_G_READY));
	enum ts_step_mode mode = TS_M_EAGER;
	int rc = ts_prepare_ranks(e, jobs, k, staged, err);
	if (!rc) {
		mode = ts_graph_mode(e, graph); /* READY may have become SEEN */
		ts_jobs_stage(jobs, k, graph, mode);
		rc = ts_run_jobs(e, grp, jobs, k, err);
		if (rc)
			ts_jobs_unstage(jobs, k);
	}
	ts_graph_release(e, graph, mode, ts_jobs_fell_back(jobs, k), rc);
	return rc;
}

/* The largest device memory in use seen on each GPU of `gpus`. */
static void ts_note_peak(struct ts_dit_engine *e, uint64_t gpus)
{
	for (int d = 0; d < e->ngpus; d++) {
		size_t fr = 0, tot = 0;
		if (!(gpus >> d & 1) || cudaSetDevice(d) != cudaSuccess ||
		    cudaMemGetInfo(&fr, &tot) != cudaSuccess)
			continue;
		if ((int64_t)(tot - fr) > e->gpu[d].peak_mem)
			e->gpu[d].peak_mem = (int64_t)(tot - fr);
	}
}

/* Marks the step output of `gpus` as that of `serial` (0: none). */
static void ts_set_output_of(struct ts_dit_engine *e, uint64_t gpus, uint64_t serial)
{
	for (int d = 0; d < e->ngpus; d++)
		if (gpus >> d & 1)
			e->gpu[d].output_of = serial;
}

extern "C" int ts_dit_batch_step(struct ts_dit_engine *e, struct ts_dit_request *const *reqs,
				 int n, uint64_t gpus, struct ts_error *err)
{
	double moved;
	struct ts_dit_group *grp = NULL;
	struct ts_rank_job *jobs;
	int k = ts_gpus_count(gpus), batch = 0, rc;
	TS_TRY(ts_check_batch(e, reqs, n, &batch, err));
	TS_TRY(ts_check_mask(e, gpus, err));
	for (int i = 0; i < n; i++)
		TS_TRY(ts_dit_request_move(e, reqs[i], gpus, &moved, err));
	if (k > 1)
		TS_TRY(ts_group_get(e, gpus, &grp, err));
	jobs = (struct ts_rank_job *)calloc((size_t)k, sizeof(*jobs));
	if (!jobs)
		return ts_err_set(err, TS_ENOMEM, "step: out of host memory");
	ts_jobs_fill(e, reqs, n, batch, gpus, grp, jobs);
	ts_set_output_of(e, gpus, 0); /* a failed step leaves no output */
	rc = ts_step_jobs(e, gpus, grp, jobs, k, err);
	free(jobs);
	if (rc)
		return rc;
	ts_note_peak(e, gpus);
	/* the output stays readable after a step of one request only */
	ts_set_output_of(e, gpus, n == 1 ? reqs[0]->serial : 0);
	for (int i = 0; i < n; i++) {
		reqs[i]->holders = gpus;
		reqs[i]->done++;
	}
	return 0;
}

extern "C" int ts_dit_request_step(struct ts_dit_engine *e, struct ts_dit_request *r,
				   uint64_t gpus, struct ts_error *err)
{
	return ts_dit_batch_step(e, &r, 1, gpus, err);
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

extern "C" int ts_dit_request_output(struct ts_dit_engine *e, const struct ts_dit_request *r,
				     float *out, struct ts_error *err)
{
	if (!r->done || !r->holders)
		return ts_err_set(err, TS_EINVAL, "output: the request has run no step yet");
	int src = __builtin_ctzll(r->holders);
	const struct ts_dit_gpu *g = &e->gpu[src];
	if (g->output_of != r->serial)
		return ts_err_set(err, TS_EINVAL, "output: a step of another request has run on GPU %d since this request's last step",
				  src);
	size_t bytes = (size_t)ts_dit_request_latent_size(r) * sizeof(float);
	if (g->ws.cap[TS_B_VIMG] < bytes)
		return ts_err_set(err, TS_EINVAL, "output: GPU %d's workspace holds no output of this size", src);
	TS_CUDA(cudaSetDevice(src), err);
	TS_CUDA(cudaMemcpy(out, g->ws.buf[TS_B_VIMG], bytes, cudaMemcpyDeviceToHost), err);
	return 0;
}
