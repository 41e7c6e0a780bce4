/* sim_backend.c: the simulated cluster (see sim_backend.h). */
#include "sim_backend.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "event_heap.h"

struct sim {
	struct ts_sim_opts o;
	const struct ts_classes *cls;
	struct ts_event_heap heap;
	gsl_rng *rng;
	ts_ns now;
};

void ts_sim_opts_defaults(struct ts_sim_opts *o)
{
	*o = (struct ts_sim_opts){ .noise = false, .seed = 1, .move_cost = true, .move_fixed_ns = 30 * TS_NS_PER_US,
				   .move_gbps = 50.0 };
}

ts_ns ts_sim_move_ns(const struct ts_sim_opts *o, int32_t height, int32_t width)
{
	if (!o->move_cost)
		return 0;
	double bytes = (double)(height / 8) * (width / 8) * 16 * 2;
	return o->move_fixed_ns + (ts_ns)(bytes / o->move_gbps + 0.5); /* GB/s == bytes/ns */
}

int ts_sim_create(void **self, const struct ts_sim_opts *o, const struct ts_classes *cls,
		  struct ts_error *err)
{
	if (!(o->move_gbps > 0) || o->move_fixed_ns < 0)
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

/* Time of n steps. With noise the sum of n independent N(T, (cv T)^2) steps
 * is drawn at once as N(nT, n (cv T)^2), clipped at half the mean. */
static ts_ns steps_time(struct sim *s, const struct ts_class *c, int bi, int d, int n)
{
	double mean = (double)c->step[bi][d] * n;
	if (!s->o.noise || c->cv[bi][d] <= 0)
		return (ts_ns)mean;
	double sd = c->cv[bi][d] * (double)c->step[bi][d] * sqrt((double)n);
	double t = mean + gsl_ran_gaussian_ziggurat(s->rng, sd);
	return (ts_ns)(t < 0.5 * mean ? 0.5 * mean : t);
}

static int sim_launch(void *self, int32_t id, const struct ts_launch *l,
		      const struct ts_sched_view *v, struct ts_error *err)
{
	struct sim *s = self;
	const struct ts_request *q = &v->req[l->req[0]];
	const struct ts_class *c = &s->cls->cls[q->cls];
	int d = ts_deg_index(ts_popcount64(l->gpus));
	int bi = ts_deg_index(l->nreq);
	ts_ns move = 0;
	/* the latent is on every GPU of the request's last set, so only GPUs
	 * outside it need a copy: running on a subset moves nothing */
	for (int i = 0; i < l->nreq; i++) {
		uint64_t prev = v->st[l->req[i]].gpus;
		if (prev && (l->gpus & ~prev))
			move = ts_sim_move_ns(&s->o, q->height, q->width);
	}
	ts_ns steps_start = s->now + move;
	struct ts_event ev = { .t = steps_start + steps_time(s, c, bi, d, l->nsteps), .id = id,
			       .start = s->now, .steps_start = steps_start };
	if (ts_event_heap_push(&s->heap, ev))
		return ts_err_set(err, TS_ENOMEM, "out of memory in the event heap");
	return 0;
}

static int sim_wait(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err)
{
	struct sim *s = self;
	(void)err;
	const struct ts_event *top = ts_event_heap_peek(&s->heap);
	if (top && top->t <= until) {
		struct ts_event ev;
		ts_event_heap_pop(&s->heap, &ev);
		s->now = ev.t;
		*c = (struct ts_completion){ .launch_id = ev.id, .start = ev.start,
					     .steps_start = ev.steps_start, .end = ev.t };
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
	ts_event_heap_free(&s->heap);
	gsl_rng_free(s->rng);
	free(s);
}

const struct ts_backend_ops ts_sim_backend = {
	.name = "sim",
	.now = sim_now,
	.launch = sim_launch,
	.wait = sim_wait,
	.close = sim_close,
};
