/* fixed_sp.c: the fixed-degree baseline fixed-sp:K (and its alias edf-fixed:K). */
#include <stddef.h>
#include <stdlib.h>

#include "sched/baseline_queue.h"
#include "sched/baselines.h"

struct fixed_opts {
	int degree;
	int order;
	int late;
};

static const struct ts_policy_option fixed_options[] = {
	{ .key = "degree", .kind = TS_OPT_INT, .offset = offsetof(struct fixed_opts, degree), .min = 1,
	  .max = TS_MAX_GPUS, .positional = true,
	  .help = "GPUs of every request: a power of two no larger than the node" },
	{ .key = "order", .kind = TS_OPT_CHOICE, .offset = offsetof(struct fixed_opts, order),
	  .choices = ts_bq_order_names, .def = "fcfs",
	  .help = "queue order: arrival (fcfs) or earliest deadline first (edf; ties by arrival)" },
	{ .key = "late", .kind = TS_OPT_CHOICE, .offset = offsetof(struct fixed_opts, late),
	  .choices = ts_bq_late_names, .def = "serve",
	  .help = "a request that cannot make its deadline when it is about to start: serve it, "
		  "defer it (one step at a time when nobody waits) or drop it" },
	{ 0 },
};

struct fixed_sp {
	struct fixed_opts o;
	struct ts_bq q;
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
	if (!rc)
		rc = ts_bq_init(&p->q, p->o.order, p->o.late, env->trace->n, err);
	if (!rc) {
		p->desc = ts_policy_describe_json(fixed_options, &p->o,
						  json_pack("{s:i}", "groups", env->gpus / p->o.degree));
		if (!p->desc)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	if (rc) {
		ts_bq_free(&p->q);
		free(p);
		return rc;
	}
	*self = p;
	return 0;
}

static void fixed_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	ts_bq_arrive(&((struct fixed_sp *)self)->q, v, r);
}

static void fixed_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	ts_bq_launch_end(&((struct fixed_sp *)self)->q, v, r);
}

static int fixed_degree(const void *self, const struct ts_sched_view *v, int32_t r)
{
	(void)v, (void)r;
	return ((const struct fixed_sp *)self)->o.degree;
}

static int fixed_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct fixed_sp *p = self;
	return ts_bq_plan(&p->q, v, fixed_degree, p, out, err);
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
	ts_bq_free(&p->q);
	free(p->desc);
	free(p);
}

const struct ts_policy_ops ts_policy_fixed_sp = {
	.name = "fixed-sp",
	.summary = "every request on K GPUs for all its steps, N/K groups serving one queue",
	.options = fixed_options,
	.init = fixed_init,
	.on_arrival = fixed_on_arrival,
	.on_launch_end = fixed_on_launch_end,
	.plan = fixed_plan,
	.describe = fixed_describe,
	.close = fixed_close,
};
