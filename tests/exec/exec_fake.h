/* exec_fake.h: a fake device layer for the executor backend's tests (no
 * GPU): a step (of one request, or of a batch of requests together) sleeps
 * for the class's profile step time at its degree and batch size and
 * records what happened, so tests can check the backend's bookkeeping:
 * which GPUs ran what and when, latent ownership (a step on GPUs that do not
 * hold the latent is an error), batches, concurrency, handle lifetimes,
 * injected failures. */
#ifndef TS_EXEC_FAKE_H
#define TS_EXEC_FAKE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/policy.h"
#include "ts_exec_backend.h"

struct fake_dev {
	const struct ts_classes *cls;
	pthread_mutex_t mu;
	long fail_at_step;       /* the step holding the n-th request step overall (1-based) fails; 0 = never */
	long steps, moves, opens, closes; /* steps: request steps (a batch step counts each member) */
	long batch_steps;        /* step_batch calls */
	int max_batch;           /* most requests in one step */
	int mixed_batch;         /* a batch step of requests of different classes */
	uint64_t busy;           /* GPUs running a fake step now */
	int running, max_running;
	int overlaps;            /* a step started on a GPU that another step held */
	int closed_while_running;
	int wrong_holder;        /* a step on GPUs that do not hold the latent */
	uint64_t warmed[TS_MAX_GPUS * 2];
	int nwarmed;
	void (*on_step)(struct fake_dev *d); /* called before each step; may be NULL */
	void *user;
};

struct fake_req {
	const struct ts_request *q;
	int done;
	uint64_t holder;         /* GPUs holding the latent; 0 before the first step */
	int moves;
};

static inline void fake_sleep_ns(ts_ns ns)
{
	struct timespec ts = { .tv_sec = ns / TS_NS_PER_S, .tv_nsec = ns % TS_NS_PER_S };
	while (nanosleep(&ts, &ts))
		;
}

static inline int fake_open(void *dev, const struct ts_request *q, void **handle, struct ts_error *err)
{
	struct fake_dev *d = dev;
	struct fake_req *r = calloc(1, sizeof(*r));
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "fake: out of memory");
	r->q = q;
	pthread_mutex_lock(&d->mu);
	d->opens++;
	pthread_mutex_unlock(&d->mu);
	*handle = r;
	return 0;
}

static inline int fake_move(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	struct fake_dev *d = dev;
	struct fake_req *r = handle;
	(void)err;
	pthread_mutex_lock(&d->mu);
	d->moves++;
	r->moves++;
	r->holder = gpus;
	pthread_mutex_unlock(&d->mu);
	fake_sleep_ns(20 * TS_NS_PER_US);
	return 0;
}

/* Marks the step's GPUs busy and checks its n requests; returns the
 * injected failure when due. */
static inline int fake_step_begin(struct fake_dev *d, struct fake_req *const *r, int n, uint64_t gpus,
				  struct ts_error *err)
{
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	long before = d->steps;
	d->steps += n;
	d->overlaps += (d->busy & gpus) != 0;
	for (int i = 0; i < n; i++) {
		d->wrong_holder += r[i]->holder && (gpus & ~r[i]->holder);
		d->mixed_batch += r[i]->q->cls != r[0]->q->cls;
	}
	d->max_batch = n > d->max_batch ? n : d->max_batch;
	d->busy |= gpus;
	if (++d->running > d->max_running)
		d->max_running = d->running;
	if (d->fail_at_step && before < d->fail_at_step && d->steps >= d->fail_at_step)
		rc = ts_err_set(err, TS_EDEVICE, "fake.c:1: injected failure on GPUs 0x%llx",
				(unsigned long long)gpus);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* One step of n requests together: the profile's time at batch n. */
static inline int fake_run(struct fake_dev *d, struct fake_req *const *r, int n, uint64_t gpus,
			   struct ts_error *err)
{
	if (d->on_step)
		d->on_step(d);
	int rc = fake_step_begin(d, r, n, gpus, err);
	if (!rc)
		fake_sleep_ns(ts_class_step(d->cls, r[0]->q->cls, __builtin_popcountll(gpus), n));
	pthread_mutex_lock(&d->mu);
	d->busy &= ~gpus;
	d->running--;
	for (int i = 0; i < n && !rc; i++) {
		r[i]->done++;
		r[i]->holder = gpus;
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static inline int fake_step(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	struct fake_req *r = handle;
	return fake_run(dev, &r, 1, gpus, err);
}

static inline int fake_step_batch(void *dev, void *const *handles, int n, uint64_t gpus,
				  struct ts_error *err)
{
	struct fake_dev *d = dev;
	pthread_mutex_lock(&d->mu);
	d->batch_steps++;
	pthread_mutex_unlock(&d->mu);
	return fake_run(d, (struct fake_req *const *)handles, n, gpus, err);
}

static inline void fake_close(void *dev, void *handle)
{
	struct fake_dev *d = dev;
	pthread_mutex_lock(&d->mu);
	d->closes++;
	d->closed_while_running += d->running > 0;
	pthread_mutex_unlock(&d->mu);
	free(handle);
}

static inline int fake_warm_group(void *dev, uint64_t gpus, struct ts_error *err)
{
	struct fake_dev *d = dev;
	(void)err;
	pthread_mutex_lock(&d->mu);
	d->warmed[d->nwarmed++] = gpus;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

static const struct ts_exec_device_ops fake_ops = {
	.open = fake_open, .move = fake_move, .step = fake_step, .step_batch = fake_step_batch,
	.close = fake_close, .warm_group = fake_warm_group,
};

static inline void fake_init(struct fake_dev *d, const struct ts_classes *cls)
{
	memset(d, 0, sizeof(*d));
	d->cls = cls;
	pthread_mutex_init(&d->mu, NULL);
}

#endif
