/* ts_exec_dit.c: the executor's device layer over the DiT engine. */
#include "ts_exec_dit.h"

#include "ts_dit.h"

static int dit_open(void *dev, const struct ts_request *q, void **handle, struct ts_error *err)
{
	struct ts_dit_request *r = NULL;
	int rc = ts_dit_request_open(dev, &r, q->height, q->width, 1, q->steps, q->seed, err);
	*handle = r;
	return rc;
}

static int dit_move(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	double ms;
	return ts_dit_request_move(dev, handle, gpus, &ms, err);
}

/* A fresh request's move allocates its latent and conditioning on every
 * GPU of the set and fills the seeded noise there (ts_dit.h): the first
 * step on any subset then copies nothing. */
static int dit_reserve(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	double ms;
	return ts_dit_request_move(dev, handle, gpus, &ms, err);
}

static int dit_step(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	return ts_dit_request_step(dev, handle, gpus, err);
}

static int dit_step_batch(void *dev, void *const *handles, int n, uint64_t gpus, struct ts_error *err)
{
	return ts_dit_batch_step(dev, (struct ts_dit_request *const *)handles, n, gpus, err);
}

static void dit_close(void *dev, void *handle)
{
	(void)dev;
	ts_dit_request_close(handle);
}

static int dit_warm_group(void *dev, uint64_t gpus, struct ts_error *err)
{
	return ts_dit_engine_warm_group(dev, gpus, err);
}

static void dit_abort(void *dev)
{
	ts_dit_engine_abort(dev);
}

const struct ts_exec_device_ops ts_exec_dit_ops = {
	.open = dit_open,
	.move = dit_move,
	.step = dit_step,
	.step_batch = dit_step_batch,
	.close = dit_close,
	.reserve = dit_reserve,
	.warm_group = dit_warm_group,
	.abort = dit_abort,
};
