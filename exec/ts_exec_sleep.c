/* ts_exec_sleep.c: the executor's sleeping device (see ts_exec_sleep.h). */
#include "ts_exec_sleep.h"

#include <stdlib.h>
#include <time.h>

#include "core/gpuset.h"
#include "ts_validate.h"

static void sleep_ns(ts_ns ns)
{
	struct timespec ts = { .tv_sec = ns / TS_NS_PER_S, .tv_nsec = ns % TS_NS_PER_S };
	while (ns > 0 && nanosleep(&ts, &ts))
		;
}

static int sleep_open(void *dev, const struct ts_request *q, void **handle, struct ts_error *err)
{
	(void)dev;
	*handle = (void *)q; /* the request is all a step needs */
	return q ? 0 : ts_err_set(err, TS_EINVAL, "sleep device: no request");
}

static int sleep_move(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	const struct ts_exec_sleep *d = dev;
	const struct ts_request *q = handle;
	(void)gpus, (void)err;
	sleep_ns(ts_move_ns(&d->move, q->height, q->width));
	return 0;
}

static int sleep_step(void *dev, void *handle, uint64_t gpus, struct ts_error *err)
{
	const struct ts_exec_sleep *d = dev;
	const struct ts_request *q = handle;
	ts_ns t = ts_class_step(d->cls, q->cls, ts_gpus_count(gpus), 1);
	if (t <= 0)
		return ts_err_set(err, TS_EINVAL, "sleep device: no step time for %dx%d at SP %d", q->height,
				  q->width, ts_gpus_count(gpus));
	sleep_ns(t);
	return 0;
}

static void sleep_close(void *dev, void *handle)
{
	(void)dev, (void)handle;
}

const struct ts_exec_device_ops ts_exec_sleep_ops = {
	.open = sleep_open,
	.move = sleep_move,
	.step = sleep_step,
	.close = sleep_close,
};

/* ---- the sleeping device as the device of `validate --dry-run` ---- */

static int dry_open(const struct ts_validate_opts *o, const struct ts_run_inputs *in,
		    struct ts_exec_factory_ctx *x, struct ts_error *err)
{
	struct ts_exec_sleep *d = malloc(sizeof(*d));
	(void)o;
	if (!d)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	d->cls = &in->cls;
	ts_move_model_defaults(&d->move);
	x->dev = &ts_exec_sleep_ops;
	x->dev_self = d;
	return 0;
}

static void dry_close(struct ts_exec_factory_ctx *x)
{
	free(x->dev_self);
	x->dev_self = NULL;
}

const struct ts_validate_device ts_validate_dry_run = {
	.what = "dry run (no GPU: each step sleeps its profile time; no batched launches, so batching is off)",
	.open = dry_open,
	.close = dry_close,
};
