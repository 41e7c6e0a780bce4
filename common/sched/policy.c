/* policy.c: helpers shared by all policies and the policy registry. */
#include "sched/policy.h"

#include <stdlib.h>
#include <string.h>

#include "sched/baselines.h"

int ts_plan_push(struct ts_plan *plan, const struct ts_launch *l, struct ts_error *err)
{
	if (plan->n == plan->cap) {
		int32_t cap = plan->cap ? plan->cap * 2 : 16;
		struct ts_launch *p = realloc(plan->launch, (size_t)cap * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory growing a plan to %d launches", cap);
		plan->launch = p;
		plan->cap = cap;
	}
	plan->launch[plan->n++] = *l;
	return 0;
}

ts_ns ts_class_step(const struct ts_classes *cs, int32_t c, int k, int b)
{
	int d = ts_deg_index(k);
	int bi = ts_deg_index(b);
	if (c < 0 || c >= cs->n || d < 0 || d >= TS_NDEG || bi < 0 || bi >= TS_NBATCH)
		return -1;
	return cs->cls[c].step[bi][d];
}

static const struct ts_policy_ops *const registry[] = {
	&ts_policy_fixed_sp,
	&ts_policy_edf_fixed,
	&ts_policy_rssp,
	&ts_policy_tetriserve,
};

const struct ts_policy_ops *ts_policy_find(const char *spec, const char **params,
					   struct ts_error *err)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	*params = colon ? colon + 1 : NULL;
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		const char *name = registry[i]->name;
		if (strlen(name) == len && strncmp(name, spec, len) == 0)
			return registry[i];
	}
	ts_err_set(err, TS_EINVAL,
		   "unknown policy '%s' (known: fixed-sp:K, edf-fixed:K, rssp[:MAP], tetriserve)", spec);
	return NULL;
}
