/* fixed_sp.c: the fixed-degree baselines fixed-sp:K (FCFS) and edf-fixed:K (EDF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/baselines.h"
#include "sched/queue.h"

struct fixed_sp {
	int k;
	int gpus;
	bool edf;
	struct ts_fifo fifo;   /* FCFS order (fixed-sp) */
	struct ts_rheap heap;  /* deadline order (edf-fixed) */
	int oom;               /* a queue push failed; reported at the next plan */
	char desc[96];
};

int ts_parse_degree(const char *text, int gpus, const char *what, struct ts_error *err)
{
	char *end = NULL;
	long k = text ? strtol(text, &end, 10) : 0;
	if (!text || end == text || *end != '\0' || k < 1 || k > gpus || ts_deg_index((int)k) < 0)
		return ts_err_set(err, TS_EINVAL,
				  "%s needs a degree that is a power of two between 1 and the GPU count (%d); got '%s'",
				  what, gpus, text ? text : "");
	return (int)k;
}

int ts_plan_whole_request(struct ts_plan *out, const struct ts_sched_view *v, int32_t r,
			  uint64_t gpus, struct ts_error *err)
{
	struct ts_launch l = { .nreq = 1, .req = { r }, .gpus = gpus,
			       .nsteps = v->req[r].steps - v->st[r].steps_done };
	return ts_plan_push(out, &l, err);
}

int ts_require_degree_all(const struct ts_classes *cs, int k, struct ts_error *err)
{
	for (int32_t c = 0; c < cs->n; c++) {
		int rc = ts_classes_require(cs, c, k, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int fixed_init_common(void **self, const char *params, const struct ts_policy_env *env,
			     bool edf, struct ts_error *err)
{
	const char *name = edf ? "edf-fixed:K" : "fixed-sp:K";
	int k = ts_parse_degree(params, env->gpus, name, err);
	if (k < 0)
		return k;
	int rc = ts_require_degree_all(env->cls, k, err);
	if (rc)
		return rc;
	struct fixed_sp *p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	p->k = k;
	p->gpus = env->gpus;
	p->edf = edf;
	snprintf(p->desc, sizeof(p->desc), "{\"degree\":%d,\"groups\":%d,\"queue\":\"%s\"}", k,
		 env->gpus / k, edf ? "edf" : "fcfs");
	*self = p;
	return 0;
}

static int fixed_sp_init(void **self, const char *params, const struct ts_policy_env *env,
			 struct ts_error *err)
{
	return fixed_init_common(self, params, env, false, err);
}

static int edf_fixed_init(void **self, const char *params, const struct ts_policy_env *env,
			  struct ts_error *err)
{
	return fixed_init_common(self, params, env, true, err);
}

static void fixed_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct fixed_sp *p = self;
	int rc = p->edf ? ts_rheap_push(&p->heap, v->req[r].deadline, r) : ts_fifo_push(&p->fifo, r);
	if (rc)
		p->oom = 1;
}

static bool fixed_queue_empty(const struct fixed_sp *p)
{
	return p->edf ? p->heap.len == 0 : p->fifo.len == 0;
}

static int32_t fixed_queue_pop(struct fixed_sp *p)
{
	return p->edf ? ts_rheap_pop(&p->heap).r : ts_fifo_pop(&p->fifo);
}

static int fixed_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct fixed_sp *p = self;
	if (p->oom)
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing requests");
	uint64_t busy = v->busy;
	out->wake_at = -1;
	while (!fixed_queue_empty(p)) {
		uint64_t block = ts_free_aligned_block(busy, p->gpus, p->k);
		if (!block)
			break;
		int rc = ts_plan_whole_request(out, v, fixed_queue_pop(p), block, err);
		if (rc)
			return rc;
		busy |= block;
	}
	return 0;
}

static const char *fixed_describe(void *self)
{
	return ((struct fixed_sp *)self)->desc;
}

static void fixed_close(void *self)
{
	struct fixed_sp *p = self;
	if (!p)
		return;
	ts_fifo_free(&p->fifo);
	ts_rheap_free(&p->heap);
	free(p);
}

const struct ts_policy_ops ts_policy_fixed_sp = {
	.name = "fixed-sp",
	.init = fixed_sp_init,
	.on_arrival = fixed_on_arrival,
	.plan = fixed_plan,
	.describe = fixed_describe,
	.close = fixed_close,
};

const struct ts_policy_ops ts_policy_edf_fixed = {
	.name = "edf-fixed",
	.init = edf_fixed_init,
	.on_arrival = fixed_on_arrival,
	.plan = fixed_plan,
	.describe = fixed_describe,
	.close = fixed_close,
};
