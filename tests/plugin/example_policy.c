/* example_policy.c: a policy built outside the tetriserve tree, against the
 * installed headers (docs/PLUGINS.md):
 *
 *   cc -shared -fPIC -o example.so example_policy.c $(pkg-config --cflags --libs tetriserve)
 *   tetriserve sim --policy plugin:$PWD/example.so:defer_late=off
 *
 * "example-edf": every request runs all its steps on one GPU; waiting
 * requests start in deadline order (ties by arrival). Its one option,
 * defer_late (on|off, default on): a request that can no longer meet its
 * deadline even if it started now (its steps at the profile's one-GPU step
 * time) waits behind every request that still can. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/gpuset.h"
#include "core/heap.h"
#include "sched/plugin.h"
#include "sched/policy.h"
#include "sched/spec.h"

struct example_opts {
	bool defer_late;
};

static const struct ts_policy_option example_options[] = {
	{ .key = "defer_late", .kind = TS_OPT_SWITCH, .offset = offsetof(struct example_opts, defer_late),
	  .def = "on", .help = "requests that cannot meet their deadline wait behind those that can" },
	{ 0 },
};

struct example {
	struct example_opts o;
	int gpus;
	struct ts_heap edf;   /* waiting requests: key deadline, sequence request index */
	struct ts_heap late;  /* those found unable to meet their deadline (defer_late=on) */
	int oom;              /* a queue could not grow; reported by the next plan */
	char *desc;           /* describe() text */
};

static void example_close(void *self)
{
	struct example *p = self;
	if (!p)
		return;
	ts_heap_free(&p->edf);
	ts_heap_free(&p->late);
	free(p->desc);
	free(p);
}

/* The options and what they imply, as the JSON object describe() returns. */
static char *example_describe_text(const struct example *p)
{
	json_t *obj = ts_spec_options_json(example_options, &p->o);
	char *text = NULL;
	if (obj && !json_object_set_new(obj, "gpus_per_request", json_integer(1)))
		text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	return text;
}

static int example_init(void **self, const char *params, const struct ts_policy_env *env,
			struct ts_error *err)
{
	struct example *p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int rc = ts_spec_parse_options("example-edf", example_options, params, &p->o, err);
	for (int32_t c = 0; !rc && c < env->cls->n; c++)
		rc = ts_classes_require(env->cls, c, 1, err);  /* one-GPU cells: checked before the run */
	p->gpus = env->gpus;
	if (!rc && !(p->desc = example_describe_text(p)))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	if (rc) {
		example_close(p);
		return rc;
	}
	*self = p;
	return 0;
}

static void example_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct example *p = self;
	if (ts_heap_push_seq(&p->edf, v->req[r].deadline, (uint64_t)r, r))
		p->oom = 1;
}

/* Can request r still meet its deadline if it starts now on one GPU? */
static bool can_meet(const struct ts_sched_view *v, int32_t r)
{
	const struct ts_request *q = &v->req[r];
	ts_ns step = ts_class_step(v->cls, q->cls, 1, 1);
	return v->now + (ts_ns)(q->steps - v->st[r].steps_done) * step <= q->deadline;
}

/* The next request to start, -1 when none waits. */
static int32_t example_next(struct example *p, const struct ts_sched_view *v)
{
	struct ts_heap_node n;
	while (ts_heap_pop(&p->edf, &n)) {
		int32_t r = (int32_t)n.val;
		if (!p->o.defer_late || can_meet(v, r))
			return r;
		if (ts_heap_push_seq(&p->late, n.key, n.seq, n.val))
			p->oom = 1;
	}
	return ts_heap_pop(&p->late, &n) ? (int32_t)n.val : -1;
}

static int example_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
			struct ts_error *err)
{
	struct example *p = self;
	uint64_t busy = v->busy;
	out->wake_at = -1;
	for (uint64_t gpu; !p->oom && (gpu = ts_gpus_find_free_block(busy, p->gpus, 1));) {
		int32_t r = example_next(p, v);
		if (r < 0)
			break;
		struct ts_launch l = { .nreq = 1, .req = { r }, .gpus = gpu,
				       .nsteps = v->req[r].steps - v->st[r].steps_done };
		int rc = ts_plan_push(out, &l, err);
		if (rc)
			return rc;
		busy |= gpu;
	}
	return p->oom ? ts_err_set(err, TS_ENOMEM, "example-edf: out of memory queueing requests") : 0;
}

static const char *example_describe(void *self)
{
	return ((struct example *)self)->desc;
}

static const struct ts_policy_ops example_ops = {
	.name = "example-edf",
	.summary = "earliest deadline first, one GPU per request (a plug-in)",
	.options = example_options,
	.init = example_init,
	.on_arrival = example_on_arrival,
	.plan = example_plan,
	.describe = example_describe,
	.close = example_close,
};

/* The entry point; a plug-in writes TS_POLICY_PLUGIN(example_ops). It is
 * spelled out here for the test's variants: -DEXAMPLE_ABI_VERSION=N builds
 * a plug-in that claims another ABI version, -DEXAMPLE_NO_ENTRY one without
 * an entry point; tetriserve must refuse both. */
#ifndef EXAMPLE_ABI_VERSION
#define EXAMPLE_ABI_VERSION TS_POLICY_ABI_VERSION
#endif
#ifndef EXAMPLE_NO_ENTRY
const struct ts_policy_ops *tetriserve_policy_entry(int *abi_version)
{
	*abi_version = EXAMPLE_ABI_VERSION;
	return &example_ops;
}
#endif
