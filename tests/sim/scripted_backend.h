/* scripted_backend.h: a backend for the driver's tests whose launches take
 * their modelled time (profile steps plus the default latent-move model)
 * times a factor, plus a delay before they start, both chosen per launch
 * by the test, the way steps on hardware run a little slower or faster
 * than the profile and launches start a little after the call. Its clock
 * is virtual, like the simulator's. It logs every launch with the model
 * time the driver made it at (v->now), so tests compare decisions. */
#ifndef TS_SCRIPTED_BACKEND_H
#define TS_SCRIPTED_BACKEND_H

#include <stdint.h>
#include <string.h>

#include "core/gpuset.h"
#include "driver/driver.h"
#include "driver/timing.h"

#define SCRIPTED_MAX_LOG 4096

/* One decision: a launch as the driver made it. */
struct scripted_decision {
	ts_ns at;           /* model time (v->now) */
	struct ts_launch l;
};

struct scripted {
	/* duration factor and start delay of launch k (0, 1, ... in launch
	 * order); NULL factor: 1.0, NULL delay: 0 */
	double (*factor)(void *user, int k);
	ts_ns (*delay)(void *user, int k);
	void *user;
	const struct ts_classes *cls;
	struct ts_move_model move;
	ts_ns now;
	int nlaunch;
	struct ts_completion pending[TS_MAX_GPUS];
	bool busy[TS_MAX_GPUS];
	struct scripted_decision log[SCRIPTED_MAX_LOG];
	int nlog;
};

static inline void scripted_init(struct scripted *b, const struct ts_classes *cls)
{
	memset(b, 0, sizeof(*b));
	b->cls = cls;
	ts_move_model_defaults(&b->move);
}

static ts_ns scripted_now(void *self)
{
	return ((struct scripted *)self)->now;
}

static ts_ns scripted_move_ns(void *self, const struct ts_launch *l, const struct ts_sched_view *v)
{
	return ts_launch_move_ns(&((struct scripted *)self)->move, l, v);
}

static int scripted_launch(void *self, int32_t id, const struct ts_launch *l,
			   const struct ts_sched_view *v, struct ts_error *err)
{
	struct scripted *b = self;
	const struct ts_request *q = &v->req[l->req[0]];
	ts_ns step = ts_class_step(b->cls, q->cls, ts_gpus_count(l->gpus), l->nreq);
	ts_ns move = scripted_move_ns(self, l, v);
	int k = b->nlaunch++;
	double f = b->factor ? b->factor(b->user, k) : 1.0;
	ts_ns start = b->now + (b->delay ? b->delay(b->user, k) : 0);
	if (id < 0 || id >= TS_MAX_GPUS || b->busy[id] || b->nlog == SCRIPTED_MAX_LOG)
		return ts_err_set(err, TS_EINVAL, "scripted backend: bad launch id %d or log full", id);
	b->log[b->nlog++] = (struct scripted_decision){ .at = v->now, .l = *l };
	b->busy[id] = true;
	b->pending[id] = (struct ts_completion){
		.launch_id = id, .nsteps = l->nsteps, .start = start, .steps_start = start + move,
		.end = start + (ts_ns)(f * (double)(move + step * l->nsteps)),
	};
	if (b->pending[id].steps_start > b->pending[id].end)
		b->pending[id].steps_start = b->pending[id].end;
	return 0;
}

/* The earliest pending completion up to `until` (ties: lowest id). */
static int scripted_wait(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err)
{
	struct scripted *b = self;
	int best = -1;
	(void)err;
	for (int i = 0; i < TS_MAX_GPUS; i++)
		if (b->busy[i] && (best < 0 || b->pending[i].end < b->pending[best].end))
			best = i;
	if (best >= 0 && b->pending[best].end <= until) {
		*c = b->pending[best];
		b->busy[best] = false;
		if (c->end > b->now)
			b->now = c->end;
		return 1;
	}
	if (until != INT64_MAX && until > b->now)
		b->now = until;
	return 0;
}

static void scripted_close(void *self)
{
	(void)self;
}

static const struct ts_backend_ops scripted_ops = {
	.name = "scripted", .now = scripted_now, .launch = scripted_launch,
	.wait = scripted_wait, .move_ns = scripted_move_ns, .close = scripted_close,
};

/* Whether two decision logs are the same (times, requests, GPUs, steps);
 * prints the first difference. */
static inline bool scripted_same_log(const struct scripted *a, const struct scripted *b, const char *what)
{
	for (int i = 0; i < a->nlog || i < b->nlog; i++) {
		const struct scripted_decision *x = i < a->nlog ? &a->log[i] : NULL;
		const struct scripted_decision *y = i < b->nlog ? &b->log[i] : NULL;
		bool same = x && y && x->at == y->at && x->l.nreq == y->l.nreq && x->l.gpus == y->l.gpus &&
			    x->l.nsteps == y->l.nsteps && !memcmp(x->l.req, y->l.req, sizeof(int32_t) * (size_t)x->l.nreq);
		if (!same) {
			fprintf(stderr, "%s: decision %d differs: %lld req %d gpus 0x%llx x%d vs %lld req %d gpus 0x%llx x%d\n",
				what, i, x ? (long long)x->at : -1LL, x ? x->l.req[0] : -1,
				x ? (unsigned long long)x->l.gpus : 0ULL, x ? x->l.nsteps : 0,
				y ? (long long)y->at : -1LL, y ? y->l.req[0] : -1,
				y ? (unsigned long long)y->l.gpus : 0ULL, y ? y->l.nsteps : 0);
			return false;
		}
	}
	return true;
}

#endif
