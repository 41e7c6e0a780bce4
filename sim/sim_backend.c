/* sim_backend.c: the simulated cluster (see sim_backend.h). */
#include "sim_backend.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "core/gpuset.h"
#include "core/heap.h"

/* A launch in flight. Its heap node's key is its end and its value the
 * launch id plus TS_MAX_GPUS times its generation: a cancel that cuts the
 * launch pushes a new node with the next generation, and the old one is
 * skipped when it comes out. */
struct sim_launch {
	ts_ns start, steps_start, end;
	int32_t nsteps;
	int64_t gen;
};

struct sim {
	struct ts_sim_opts o;
	const struct ts_classes *cls;
	struct ts_heap events;                     /* key: end time, val: launch id */
	struct sim_launch launch[TS_MAX_GPUS];     /* by launch id (the driver's slots) */
	gsl_rng *rng;
	ts_ns now;
};

void ts_sim_opts_defaults(struct ts_sim_opts *o)
{
	*o = (struct ts_sim_opts){ .noise = false, .seed = 1 };
	ts_move_model_defaults(&o->move);
}

ts_ns ts_sim_move_ns(const struct ts_sim_opts *o, int32_t height, int32_t width)
{
	return ts_move_ns(&o->move, height, width);
}

int ts_sim_create(void **self, const struct ts_sim_opts *o, const struct ts_classes *cls,
		  struct ts_error *err)
{
	if (!(o->move.gbps > 0) || o->move.fixed_ns < 0)
		return ts_err_set(err, TS_EINVAL, "latent move cost needs bandwidth > 0 and fixed cost >= 0");
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	s->rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!s->rng) {
		free(s);
		return ts_err_set(err, TS_ENOMEM, "out of memory for the noise generator");
	}
	gsl_rng_set(s->rng, (unsigned long)o->seed);
	s->o = *o;
	s->cls = cls;
	*self = s;
	return 0;
}

static ts_ns sim_now(void *self)
{
	return ((struct sim *)self)->now;
}

/* Time of n steps of mean `step` and coefficient of variation cv. With
 * noise the sum of n independent N(T, (cv T)^2) steps is drawn at once as
 * N(nT, n (cv T)^2), clipped to [mean / 2, 3 mean / 2]: symmetric, so the
 * clipped law keeps the mean nT, and the time stays representable for any
 * cv (the profile holds cv <= 10; at the measured cvs, <= 0.05, a clip is a
 * ten-sigma event). */
static ts_ns steps_time(struct sim *s, ts_ns step, double cv, int n)
{
	double mean = (double)step * n;
	if (!s->o.noise || !(cv > 0))
		return (ts_ns)mean;
	double sd = cv * (double)step * sqrt((double)n);
	double t = mean + gsl_ran_gaussian_ziggurat(s->rng, sd);
	if (!(t >= 0.5 * mean))   /* also NaN */
		t = 0.5 * mean;
	if (t > 1.5 * mean)
		t = 1.5 * mean;
	return (ts_ns)t;
}

/* The latent is on every GPU of a request's last set, so only GPUs outside
 * it need a copy: running on a subset moves nothing. */
static ts_ns sim_move_ns(void *self, const struct ts_launch *l, const struct ts_sched_view *v)
{
	return ts_launch_move_ns(&((struct sim *)self)->o.move, l, v);
}

static int sim_launch(void *self, int32_t id, const struct ts_launch *l,
		      const struct ts_sched_view *v, struct ts_error *err)
{
	struct sim *s = self;
	const struct ts_request *q = &v->req[l->req[0]];
	int k = ts_gpus_count(l->gpus);
	ts_ns step = ts_class_step(s->cls, q->cls, k, l->nreq);
	if (id < 0 || id >= TS_MAX_GPUS || step <= 0)
		return ts_err_set(err, TS_EINVAL, "sim: launch %d of request %lld at sp %d batch %d: no step time",
				  id, (long long)q->id, k, l->nreq);
	double cv = s->cls->cls[q->cls].cv[ts_deg_index(l->nreq)][ts_deg_index(k)];
	ts_ns steps_start = s->now + sim_move_ns(s, l, v);
	struct sim_launch *x = &s->launch[id];
	*x = (struct sim_launch){ .start = s->now, .steps_start = steps_start, .nsteps = l->nsteps,
				  .end = steps_start + steps_time(s, step, cv, l->nsteps), .gen = x->gen + 1 };
	if (ts_heap_push(&s->events, x->end, id + TS_MAX_GPUS * x->gen))
		return ts_err_set(err, TS_ENOMEM, "out of memory in the event heap");
	return 0;
}

/* Cuts launch id at its first step boundary at or after `at` (the steps of
 * a launch are evenly spaced over its drawn duration). */
static int sim_cancel(void *self, int32_t id, ts_ns at, struct ts_error *err)
{
	struct sim *s = self;
	struct sim_launch *x = &s->launch[id];
	double per_step = (double)(x->end - x->steps_start) / x->nsteps;
	double k = at <= x->steps_start ? 0 : ceil((double)(at - x->steps_start) / per_step);
	if (k >= x->nsteps)
		return 0;
	x->nsteps = (int32_t)k;
	x->end = x->steps_start + (ts_ns)llround(k * per_step);
	x->gen++;
	if (ts_heap_push(&s->events, x->end, id + TS_MAX_GPUS * x->gen))
		return ts_err_set(err, TS_ENOMEM, "out of memory in the event heap");
	return 0;
}

static int sim_wait(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err)
{
	struct sim *s = self;
	(void)err;
	const struct ts_heap_node *top;
	while ((top = ts_heap_peek(&s->events)) && top->key <= until) {
		struct ts_heap_node ev;
		ts_heap_pop(&s->events, &ev);
		int32_t id = (int32_t)(ev.val % TS_MAX_GPUS);
		const struct sim_launch *x = &s->launch[id];
		if (ev.val / TS_MAX_GPUS != x->gen)
			continue; /* the launch was cut: a later node ends it */
		s->now = ev.key;
		*c = (struct ts_completion){ .launch_id = id, .nsteps = x->nsteps, .start = x->start,
					     .steps_start = x->steps_start, .end = ev.key };
		return 1;
	}
	if (until != INT64_MAX && until > s->now)
		s->now = until;
	return 0;
}

static void sim_close(void *self)
{
	struct sim *s = self;
	if (!s)
		return;
	ts_heap_free(&s->events);
	gsl_rng_free(s->rng);
	free(s);
}

const struct ts_backend_ops ts_sim_backend = {
	.name = "sim",
	.now = sim_now,
	.launch = sim_launch,
	.wait = sim_wait,
	.cancel = sim_cancel,
	.move_ns = sim_move_ns,
	.close = sim_close,
};

static int factory_create(void *ctx, const struct ts_run_inputs *in, int gpus,
			  volatile sig_atomic_t *stop, struct ts_backend *out, struct ts_error *err)
{
	(void)gpus, (void)stop;
	out->ops = &ts_sim_backend;
	return ts_sim_create(&out->self, ctx, &in->cls, err);
}

static int factory_describe(void *ctx, json_t *options)
{
	const struct ts_sim_opts *o = ctx;
	return ts_run_options_add(options, json_pack("{s:b, s:b, s:f, s:f}", "noise", o->noise, "move_cost",
						     o->move.on, "move_us", (double)o->move.fixed_ns / 1e3,
						     "move_gbps", o->move.gbps));
}

struct ts_backend_factory ts_sim_factory(const struct ts_sim_opts *o)
{
	return (struct ts_backend_factory){ .name = "sim", .create = factory_create,
					    .describe = factory_describe, .ctx = (void *)o };
}

void ts_sim_opts_from_json(struct ts_sim_opts *o, const json_t *options)
{
	const json_t *v;
	if (json_is_boolean(v = json_object_get(options, "noise")))
		o->noise = json_is_true(v);
	if (json_is_boolean(v = json_object_get(options, "move_cost")))
		o->move.on = json_is_true(v);
	if (json_is_number(v = json_object_get(options, "move_us")))
		o->move.fixed_ns = (ts_ns)llround(json_number_value(v) * 1e3);
	if (json_is_number(v = json_object_get(options, "move_gbps")))
		o->move.gbps = json_number_value(v);
}
