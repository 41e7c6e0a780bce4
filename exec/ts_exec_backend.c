/* ts_exec_backend.c: the executor backend (see ts_exec_backend.h).
 *
 * Threads: the driver thread calls launch/wait/now; one worker per GPU runs
 * the launches whose lowest GPU it is (the driver never has two launches on
 * one GPU in flight, so a worker holds at most one command). One mutex
 * guards the commands, the completion queue and the reap list; a request's
 * handle, latent owner and step count are touched only by the worker running
 * it, and the mutex hand-offs (launch -> worker -> queue -> driver) order
 * those accesses. */
#include "ts_exec_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/gpuset.h"

/* A sleeping wait() wakes at least this often to look at the stop flag. */
#define EXEC_POLL_NS (50 * TS_NS_PER_MS)
#define EXEC_ABORT_AFTER_DEFAULT (10 * TS_NS_PER_S)

struct exec_cmd {
	int32_t id;
	int32_t nreq;               /* 1, or a batch of requests sharing each step */
	int32_t req[TS_MAX_BATCH];
	uint64_t gpus;
	int32_t nsteps;
};

struct exec_done {
	struct ts_completion c;
	int rc;
	struct ts_error err;
};

struct exec_backend;

struct exec_worker {
	struct exec_backend *b;
	pthread_t th;
	pthread_cond_t cv;  /* a command arrived or quit */
	bool has_cmd;
	struct exec_cmd cmd;
	atomic_bool cut;    /* the launch ends after the step in progress (cancel) */
};

struct exec_backend {
	struct ts_exec_config cfg;
	int64_t t0;                     /* CLOCK_MONOTONIC ns at creation */
	pthread_mutex_t mu;
	pthread_cond_t done_cv;         /* a completion was posted (CLOCK_MONOTONIC) */
	struct exec_done queue[TS_MAX_GPUS];
	int qhead, qlen;
	int inflight;                   /* launched, completion not yet taken by wait() */
	bool quit;
	atomic_bool cancel;             /* workers stop between steps */
	void **handle;                  /* per request index: the device's state, NULL before */
	uint64_t *owner;                /* per request: GPU set holding its latent, 0 = none */
	int32_t *steps_done;            /* per request: steps run on the device */
	int32_t *reap;                  /* finished requests whose handles wait for an idle node */
	size_t nreap;
	int nworkers;
	struct exec_worker w[TS_MAX_GPUS];
};

static ts_ns exec_now(void *self)
{
	return ts_clock_ns() - ((struct exec_backend *)self)->t0;
}

static struct timespec abs_timespec(const struct exec_backend *b, ts_ns t)
{
	int64_t a = b->t0 + t;
	return (struct timespec){ .tv_sec = a / TS_NS_PER_S, .tv_nsec = a % TS_NS_PER_S };
}

/* Closes the handles of finished requests. Only while nothing is in flight:
 * freeing device memory synchronises a GPU, which must not happen under a
 * running collective. Caller holds b->mu. */
static void reap_finished(struct exec_backend *b)
{
	for (size_t i = 0; i < b->nreap; i++) {
		int32_t r = b->reap[i];
		b->cfg.dev->close(b->cfg.dev_self, b->handle[r]);
		b->handle[r] = NULL;
	}
	b->nreap = 0;
}

/* "request ID step N" of the launch's requests (their next step), after
 * "batch of " when there are several, into buf. */
static const char *cmd_name(const struct exec_backend *b, const struct exec_cmd *cmd, char *buf,
			    size_t len)
{
	size_t at = (size_t)snprintf(buf, len, "%s", cmd->nreq > 1 ? "batch of " : "");
	for (int32_t i = 0; i < cmd->nreq && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%srequest %lld step %d", i ? ", " : "",
				       (long long)b->cfg.trace->req[cmd->req[i]].id,
				       b->steps_done[cmd->req[i]] + 1);
	return buf;
}

/* Opens the device state of the launch's requests that never ran. */
static int open_requests(struct exec_backend *b, const struct exec_cmd *cmd, struct ts_error *err)
{
	for (int32_t i = 0; i < cmd->nreq; i++) {
		int32_t r = cmd->req[i];
		const struct ts_request *q = &b->cfg.trace->req[r];
		if (!b->handle[r] && b->cfg.dev->open(b->cfg.dev_self, q, &b->handle[r], err))
			return ts_err_prefix(err, "exec: request %lld: open", (long long)q->id);
	}
	return 0;
}

/* Moves the latents that are not on the launch's GPUs yet (a subset of the
 * GPUs that hold one needs no copy); *moved when one moved. */
static int move_latents(struct exec_backend *b, const struct exec_cmd *cmd, bool *moved,
			struct ts_error *err)
{
	*moved = false;
	for (int32_t i = 0; i < cmd->nreq; i++) {
		int32_t r = cmd->req[i];
		if (!b->owner[r] || !(cmd->gpus & ~b->owner[r]))
			continue;
		if (b->cfg.dev->move(b->cfg.dev_self, b->handle[r], cmd->gpus, err))
			return ts_err_prefix(err, "exec: request %lld: latent move 0x%llx -> 0x%llx",
					     (long long)b->cfg.trace->req[r].id,
					     (unsigned long long)b->owner[r], (unsigned long long)cmd->gpus);
		b->owner[r] = cmd->gpus;
		*moved = true;
	}
	return 0;
}

/* One step of the launch's request, or of its batch together. */
static int step_requests(struct exec_backend *b, const struct exec_cmd *cmd, struct ts_error *err)
{
	const struct ts_exec_device_ops *dev = b->cfg.dev;
	void *h[TS_MAX_BATCH];
	char name[256];
	for (int32_t i = 0; i < cmd->nreq; i++)
		h[i] = b->handle[cmd->req[i]];
	int rc = cmd->nreq == 1 ? dev->step(b->cfg.dev_self, h[0], cmd->gpus, err)
				: dev->step_batch(b->cfg.dev_self, h, cmd->nreq, cmd->gpus, err);
	if (rc)
		return ts_err_prefix(err, "exec: %s on GPUs 0x%llx", cmd_name(b, cmd, name, sizeof(name)),
				     (unsigned long long)cmd->gpus);
	for (int32_t i = 0; i < cmd->nreq; i++) {
		b->owner[cmd->req[i]] = cmd->gpus;
		b->steps_done[cmd->req[i]]++;
	}
	return 0;
}

/* Runs one launch on the worker's thread: the latent moves when a GPU set
 * changed (their own segment: steps_start > start), then the steps, up to
 * the step in progress when the launch is cut. */
static int run_launch(struct exec_backend *b, struct exec_worker *w, const struct exec_cmd *cmd,
		      struct ts_completion *c, struct ts_error *err)
{
	char name[256];
	bool moved;
	c->launch_id = cmd->id;
	c->start = exec_now(b);
	c->steps_start = c->start;
	int rc = open_requests(b, cmd, err);
	if (!rc)
		rc = move_latents(b, cmd, &moved, err);
	if (rc)
		return rc;
	if (moved) {
		c->steps_start = exec_now(b);
		if (c->steps_start <= c->start)
			c->steps_start = c->start + 1; /* a move is always its own segment */
	}
	c->nsteps = 0;
	for (int32_t s = 0; s < cmd->nsteps && !atomic_load(&w->cut); s++) {
		if (atomic_load(&b->cancel))
			return ts_err_set(err, TS_EINTR, "exec: stopped before %s",
					  cmd_name(b, cmd, name, sizeof(name)));
		rc = step_requests(b, cmd, err);
		if (rc)
			return rc;
		c->nsteps++;
	}
	c->end = exec_now(b);
	return 0;
}

/* Appends a completion to the queue and wakes wait(). Caller holds b->mu. */
static void post_done(struct exec_backend *b, const struct exec_done *d)
{
	b->queue[(b->qhead + b->qlen) % TS_MAX_GPUS] = *d;
	b->qlen++;
	pthread_cond_broadcast(&b->done_cv);
}

static void *worker_main(void *arg)
{
	struct exec_worker *w = arg;
	struct exec_backend *b = w->b;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!w->has_cmd && !b->quit)
			pthread_cond_wait(&w->cv, &b->mu);
		if (!w->has_cmd)
			break;
		struct exec_cmd cmd = w->cmd;
		pthread_mutex_unlock(&b->mu);
		struct exec_done d = { .rc = 0 };
		d.rc = run_launch(b, w, &cmd, &d.c, &d.err);
		pthread_mutex_lock(&b->mu);
		for (int32_t i = 0; i < cmd.nreq && !d.rc && !b->cfg.keep_finished; i++)
			if (b->steps_done[cmd.req[i]] == b->cfg.trace->req[cmd.req[i]].steps)
				b->reap[b->nreap++] = cmd.req[i];
		w->has_cmd = false;
		post_done(b, &d);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void free_tables(struct exec_backend *b)
{
	free(b->handle);
	free(b->owner);
	free(b->steps_done);
	free(b->reap);
	free(b);
}

static void free_backend(struct exec_backend *b)
{
	for (int i = 0; i < b->cfg.gpus; i++)
		pthread_cond_destroy(&b->w[i].cv);
	pthread_cond_destroy(&b->done_cv);
	pthread_mutex_destroy(&b->mu);
	free_tables(b);
}

static int check_config(const struct ts_exec_config *cfg, struct ts_error *err)
{
	const struct ts_exec_device_ops *d = cfg->dev;
	if (cfg->gpus < 1 || cfg->gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "exec: GPU count %d outside 1..%d", cfg->gpus, TS_MAX_GPUS);
	if (!d || !d->open || !d->move || !d->step || !d->close || !cfg->trace)
		return ts_err_set(err, TS_EINVAL, "exec: device layer lacks open/move/step/close or no trace");
	return 0;
}

static int init_sync(struct exec_backend *b)
{
	pthread_condattr_t ca;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&b->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < b->cfg.gpus; i++)
		pthread_cond_init(&b->w[i].cv, NULL);
	return rc;
}

static int start_workers(struct exec_backend *b, struct ts_error *err)
{
	for (int i = 0; i < b->cfg.gpus; i++) {
		b->w[i].b = b;
		atomic_init(&b->w[i].cut, false);
		if (pthread_create(&b->w[i].th, NULL, worker_main, &b->w[i]))
			return ts_err_set(err, TS_ENOMEM, "exec: cannot start worker thread %d", i);
		b->nworkers = i + 1;
	}
	return 0;
}

/* Closes every open request handle; only while no worker runs. */
static void close_handles(struct exec_backend *b)
{
	for (size_t r = 0; r < b->cfg.trace->n; r++)
		if (b->handle[r])
			b->cfg.dev->close(b->cfg.dev_self, b->handle[r]);
}

/* Opens every request and reserves its memory on every GPU, one GPU at a
 * time (any single GPU is a valid set for every model). */
static int preallocate(struct exec_backend *b, struct ts_error *err)
{
	const struct ts_exec_device_ops *dev = b->cfg.dev;
	for (size_t r = 0; r < b->cfg.trace->n; r++) {
		const struct ts_request *q = &b->cfg.trace->req[r];
		int rc = dev->open(b->cfg.dev_self, q, &b->handle[r], err);
		for (int g = 0; !rc && dev->reserve && g < b->cfg.gpus; g++)
			rc = dev->reserve(b->cfg.dev_self, b->handle[r], 1ULL << g, err);
		if (rc)
			return ts_err_prefix(err, "exec: preallocating request %lld", (long long)q->id);
	}
	return 0;
}

int ts_exec_create(void **self, const struct ts_exec_config *cfg, struct ts_error *err)
{
	*self = NULL;
	int rc = check_config(cfg, err);
	if (rc)
		return rc;
	struct exec_backend *b = calloc(1, sizeof(*b));
	size_t n = cfg->trace->n ? cfg->trace->n : 1;
	if (!b)
		return ts_err_set(err, TS_ENOMEM, "exec: out of host memory");
	b->cfg = *cfg;
	b->cfg.keep_finished |= cfg->prealloc;
	if (!b->cfg.abort_after)
		b->cfg.abort_after = EXEC_ABORT_AFTER_DEFAULT;
	atomic_init(&b->cancel, false);
	b->handle = calloc(n, sizeof(*b->handle));
	b->owner = calloc(n, sizeof(*b->owner));
	b->steps_done = calloc(n, sizeof(*b->steps_done));
	b->reap = calloc(n, sizeof(*b->reap));
	if (!b->handle || !b->owner || !b->steps_done || !b->reap) {
		free_tables(b);
		return ts_err_set(err, TS_ENOMEM, "exec: out of host memory for %zu requests", n);
	}
	if (init_sync(b)) {
		free_backend(b);
		return ts_err_set(err, TS_ENOMEM, "exec: cannot create the backend's condition variables");
	}
	if (b->cfg.prealloc && (rc = preallocate(b, err))) {
		close_handles(b);
		free_backend(b);
		return rc;
	}
	b->t0 = ts_clock_ns();
	rc = start_workers(b, err);
	if (rc) {
		ts_exec_backend.close(b);
		return rc;
	}
	*self = b;
	return 0;
}

static int exec_launch(void *self, int32_t id, const struct ts_launch *l, const struct ts_sched_view *v,
		       struct ts_error *err)
{
	struct exec_backend *b = self;
	(void)v; /* the backend tracks where each latent lives itself */
	uint64_t all = ts_gpus_all(b->cfg.gpus);
	if (l->nreq < 1 || l->nreq > TS_MAX_BATCH)
		return ts_err_set(err, TS_EINVAL, "exec: launch of %d requests", l->nreq);
	if (l->nreq > 1 && !b->cfg.dev->step_batch)
		return ts_err_set(err, TS_EINVAL, "exec: batched launch of %d requests refused: the "
				  "device layer has no batched step (run tetriserve with --no-batching)",
				  l->nreq);
	for (int32_t i = 0; i < l->nreq; i++)
		if (!l->gpus || (l->gpus & ~all) || l->nsteps < 1 || l->req[i] < 0 ||
		    (size_t)l->req[i] >= b->cfg.trace->n)
			return ts_err_set(err, TS_EINVAL, "exec: bad launch (request %d, GPUs 0x%llx, %d steps)",
					  l->req[i], (unsigned long long)l->gpus, l->nsteps);
	struct exec_worker *w = &b->w[ts_gpus_first(l->gpus)];
	int rc = 0;
	pthread_mutex_lock(&b->mu);
	if (w->has_cmd) {
		rc = ts_err_set(err, TS_EINVAL, "exec: GPU %d already runs a launch",
				ts_gpus_first(l->gpus));
		goto out_unlock;
	}
	if (b->inflight == 0)
		reap_finished(b);
	w->cmd = (struct exec_cmd){ .id = id, .nreq = l->nreq, .gpus = l->gpus, .nsteps = l->nsteps };
	memcpy(w->cmd.req, l->req, sizeof(w->cmd.req));
	atomic_store(&w->cut, false);
	w->has_cmd = true;
	b->inflight++;
	pthread_cond_signal(&w->cv);
out_unlock:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* Cuts launch id after its step in progress: the worker checks between
 * steps (a step on GPUs cannot be interrupted). `at` is now on this clock. */
static int exec_cancel(void *self, int32_t id, ts_ns at, struct ts_error *err)
{
	struct exec_backend *b = self;
	(void)at, (void)err;
	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < b->nworkers; i++)
		if (b->w[i].has_cmd && b->w[i].cmd.id == id)
			atomic_store(&b->w[i].cut, true);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

/* Takes the oldest completion. Caller holds b->mu and checked qlen > 0. */
static int pop_done(struct exec_backend *b, struct ts_completion *c, struct ts_error *err)
{
	struct exec_done *d = &b->queue[b->qhead];
	b->qhead = (b->qhead + 1) % TS_MAX_GPUS;
	b->qlen--;
	b->inflight--;
	if (d->rc) {
		*err = d->err;
		return d->rc;
	}
	*c = d->c;
	return 1;
}

static int exec_wait(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err)
{
	struct exec_backend *b = self;
	int rc;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		if (b->qlen) {
			rc = pop_done(b, c, err);
			break;
		}
		if (b->inflight == 0)
			reap_finished(b);
		ts_ns t = exec_now(b);
		if (b->cfg.stop && *b->cfg.stop) {
			rc = ts_err_set(err, TS_EINTR, "exec: interrupted at t=%.3f s", ts_ns_to_s(t));
			break;
		}
		if (t >= until || (b->inflight == 0 && until == INT64_MAX)) {
			rc = 0;
			break;
		}
		struct timespec ts = abs_timespec(b, until - t < EXEC_POLL_NS ? until : t + EXEC_POLL_NS);
		pthread_cond_timedwait(&b->done_cv, &b->mu, &ts);
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static bool any_busy(const struct exec_backend *b)
{
	for (int i = 0; i < b->nworkers; i++)
		if (b->w[i].has_cmd)
			return true;
	return false;
}

/* Waits for the workers to finish their current step. When one is still
 * busy after abort_after, collectives are aborted once, and the wait goes on
 * in abort_after slices (no spinning): an aborted NCCL call returns. */
static void drain_workers(struct exec_backend *b)
{
	struct timespec ts = abs_timespec(b, exec_now(b) + b->cfg.abort_after);
	bool aborted = false;
	while (any_busy(b)) {
		if (pthread_cond_timedwait(&b->done_cv, &b->mu, &ts) != ETIMEDOUT)
			continue;
		ts = abs_timespec(b, exec_now(b) + b->cfg.abort_after);
		if (aborted || !b->cfg.dev->abort)
			continue;
		aborted = true;
		pthread_mutex_unlock(&b->mu);
		b->cfg.dev->abort(b->cfg.dev_self);
		pthread_mutex_lock(&b->mu);
	}
}

static void exec_close(void *self)
{
	struct exec_backend *b = self;
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->quit = true;
	atomic_store(&b->cancel, true);
	for (int i = 0; i < b->nworkers; i++)
		pthread_cond_signal(&b->w[i].cv);
	drain_workers(b);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; i < b->nworkers; i++)
		pthread_join(b->w[i].th, NULL);
	close_handles(b);
	free_backend(b);
}

void *ts_exec_request_handle(void *self, int32_t r)
{
	struct exec_backend *b = self;
	if (r < 0 || (size_t)r >= b->cfg.trace->n)
		return NULL;
	pthread_mutex_lock(&b->mu);
	void *h = b->handle[r];
	pthread_mutex_unlock(&b->mu);
	return h;
}

int ts_exec_warm_comms(const struct ts_exec_device_ops *dev, void *dev_self, int gpus, double *ms,
		       int *groups, struct ts_error *err)
{
	int64_t t0 = ts_clock_ns();
	*ms = 0;
	*groups = 0;
	if (!dev->warm_group)
		return 0;
	for (int k = 2; k <= gpus; k *= 2) {
		for (int j = 0; j + k <= gpus; j += k) {
			int rc = dev->warm_group(dev_self, ts_gpus_block(j, k), err);
			if (rc)
				return ts_err_prefix(err, "exec: communicator of GPUs 0x%llx",
						     (unsigned long long)ts_gpus_block(j, k));
			(*groups)++;
		}
	}
	*ms = (double)(ts_clock_ns() - t0) / 1e6;
	return 0;
}

static ts_ns exec_move_ns(void *self, const struct ts_launch *l, const struct ts_sched_view *v)
{
	return ts_launch_move_ns(&((struct exec_backend *)self)->cfg.move, l, v);
}

const struct ts_backend_ops ts_exec_backend = {
	.name = "exec",
	.now = exec_now,
	.launch = exec_launch,
	.wait = exec_wait,
	.cancel = exec_cancel,
	.move_ns = exec_move_ns,
	.close = exec_close,
};

static int factory_create(void *ctx, const struct ts_run_inputs *in, int gpus,
			  volatile sig_atomic_t *stop, struct ts_backend *out, struct ts_error *err)
{
	struct ts_exec_factory_ctx *x = ctx;
	struct ts_exec_config cfg = { .dev = x->dev, .dev_self = x->dev_self, .trace = &in->trace,
				      .gpus = gpus, .stop = stop, .prealloc = x->prealloc };
	ts_move_model_defaults(&cfg.move);
	out->ops = &ts_exec_backend;
	int64_t t0 = ts_clock_ns();
	int rc = ts_exec_create(&out->self, &cfg, err);
	x->prealloc_ms = (double)(ts_clock_ns() - t0) / 1e6;
	return rc;
}

static int factory_describe(void *ctx, json_t *options)
{
	const struct ts_exec_factory_ctx *x = ctx;
	struct ts_move_model m;
	ts_move_model_defaults(&m);
	return ts_run_options_add(options, json_pack("{s:i, s:b, s:b, s:b, s:f, s:f, s:s?}",
						     "warmup_steps", x->warmup_steps, "warm_comms",
						     x->warm_comms, "prealloc", x->prealloc, "move_cost",
						     m.on, "move_us", (double)m.fixed_ns / 1e3, "move_gbps",
						     m.gbps, "weights", x->weights));
}

struct ts_backend_factory ts_exec_factory(struct ts_exec_factory_ctx *ctx)
{
	return (struct ts_backend_factory){ .name = "exec", .create = factory_create,
					    .describe = factory_describe, .ctx = ctx };
}
