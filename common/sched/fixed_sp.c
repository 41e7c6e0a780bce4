/* fixed_sp.c: the fixed-degree baseline fixed-sp:K (and its alias edf-fixed:K). */
#include <stddef.h>
#include <stdlib.h>

#include "core/gpuset.h"
#include "core/heap.h"
#include "sched/baselines.h"
#include "sched/queue.h"

enum fixed_order { ORDER_FCFS, ORDER_EDF };

struct fixed_opts {
	int degree;
	int order;
};

static const char *const order_names[] = { "fcfs", "edf", NULL };

static const struct ts_policy_option fixed_options[] = {
	{ .key = "degree", .kind = TS_OPT_INT, .offset = offsetof(struct fixed_opts, degree), .min = 1,
	  .max = TS_MAX_GPUS, .positional = true,
	  .help = "GPUs of every request: a power of two no larger than the node" },
	{ .key = "order", .kind = TS_OPT_CHOICE, .offset = offsetof(struct fixed_opts, order),
	  .choices = order_names, .def = "fcfs",
	  .help = "queue order: arrival (fcfs) or earliest deadline first (edf; ties by arrival)" },
	{ 0 },
};

struct fixed_sp {
	struct fixed_opts o;
	int gpus;
	struct ts_fifo fifo;   /* order=fcfs */
	struct ts_heap heap;   /* order=edf: key deadline, sequence request index */
	int oom;               /* a queue push failed; reported at the next plan */
	char *desc;
};

static int fixed_check(const struct fixed_opts *o, int gpus, struct ts_error *err)
{
	if (o->degree == 0)
		return ts_err_set(err, TS_EINVAL, "fixed-sp needs a degree: fixed-sp:K (K = 1, 2, 4, ... <= %d)",
				  gpus);
	if (o->degree > gpus || ts_deg_index(o->degree) < 0)
		return ts_err_set(err, TS_EINVAL,
				  "fixed-sp: degree %d is not a power of two between 1 and the GPU count (%d)",
				  o->degree, gpus);
	return 0;
}

static int fixed_init(void **self, const char *params, const struct ts_policy_env *env,
		      struct ts_error *err)
{
	struct fixed_sp *p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int rc = ts_spec_parse_options("fixed-sp", fixed_options, params, &p->o, err);
	if (!rc)
		rc = fixed_check(&p->o, env->gpus, err);
	if (!rc)
		rc = ts_require_degree_all(env->cls, p->o.degree, err);
	if (!rc) {
		p->gpus = env->gpus;
		p->desc = ts_policy_describe_json(fixed_options, &p->o,
						  json_pack("{s:i}", "groups", env->gpus / p->o.degree));
		if (!p->desc)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	if (rc) {
		free(p);
		return rc;
	}
	*self = p;
	return 0;
}

static void fixed_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct fixed_sp *p = self;
	int rc = p->o.order == ORDER_EDF ? ts_heap_push_seq(&p->heap, v->req[r].deadline, (uint64_t)r, r)
					 : ts_fifo_push(&p->fifo, r);
	if (rc)
		p->oom = 1;
}

static bool fixed_queue_empty(const struct fixed_sp *p)
{
	return p->o.order == ORDER_EDF ? p->heap.len == 0 : p->fifo.len == 0;
}

static int32_t fixed_queue_pop(struct fixed_sp *p)
{
	struct ts_heap_node n;
	if (p->o.order != ORDER_EDF)
		return ts_fifo_pop(&p->fifo);
	ts_heap_pop(&p->heap, &n);
	return (int32_t)n.val;
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
		uint64_t block = ts_gpus_find_free_block(busy, p->gpus, p->o.degree);
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
	ts_heap_free(&p->heap);
	free(p->desc);
	free(p);
}

const struct ts_policy_ops ts_policy_fixed_sp = {
	.name = "fixed-sp",
	.summary = "every request on K GPUs for all its steps, N/K groups serving one queue",
	.options = fixed_options,
	.init = fixed_init,
	.on_arrival = fixed_on_arrival,
	.plan = fixed_plan,
	.describe = fixed_describe,
	.close = fixed_close,
};
