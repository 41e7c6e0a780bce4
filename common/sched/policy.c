/* policy.c: the policy registry and helpers shared by all policies. */
#include "sched/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ts_strbuf.h"
#include "sched/admit/admit_policy.h"
#include "sched/baselines.h"
#include "sched/plugin.h"

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

int ts_plan_drop(struct ts_plan *plan, int32_t r, struct ts_error *err)
{
	if (plan->ndrop == plan->capdrop) {
		int32_t cap = plan->capdrop ? plan->capdrop * 2 : 16;
		int32_t *p = realloc(plan->drop, (size_t)cap * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory growing a plan to %d drops", cap);
		plan->drop = p;
		plan->capdrop = cap;
	}
	plan->drop[plan->ndrop++] = r;
	return 0;
}

static const struct ts_policy_ops *const registry[] = {
	&ts_policy_fixed_sp,
	&ts_policy_rssp,
	&ts_policy_tetriserve,
	&ts_policy_admit,
};

/* Names kept for specs written before the policies took options. */
static const struct {
	const char *name;
	const struct ts_policy_ops *ops;
	const char *implied;  /* items placed before the spec's own */
} aliases[] = {
	{ "edf-fixed", &ts_policy_fixed_sp, "order=edf" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct ts_policy_ops *ts_policy_at(size_t i)
{
	return i < COUNT(registry) ? registry[i] : NULL;
}

static bool name_is(const char *name, const char *text, size_t len)
{
	return strlen(name) == len && !strncmp(name, text, len);
}

bool ts_policy_name_known(const char *text, size_t len)
{
	if (name_is(TS_PLUGIN_NAME, text, len))
		return true;
	for (size_t i = 0; i < COUNT(registry); i++)
		if (name_is(registry[i]->name, text, len))
			return true;
	for (size_t i = 0; i < COUNT(aliases); i++)
		if (name_is(aliases[i].name, text, len))
			return true;
	return false;
}

/* "implied:given", either may be missing; NULL when both are. */
static int join_items(const char *implied, const char *given, char **out, struct ts_error *err)
{
	*out = NULL;
	if (!implied && !given)
		return 0;
	size_t n = (implied ? strlen(implied) : 0) + (given ? strlen(given) : 0) + 2;
	*out = malloc(n);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(*out, n, "%s%s%s", implied ? implied : "", implied && given ? ":" : "",
		 given ? given : "");
	return 0;
}

static void known_names(char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	for (size_t i = 0; i < COUNT(registry); i++)
		ts_strbuf_printf(&sb, "%s%s", i ? ", " : "", registry[i]->name);
	for (size_t i = 0; i < COUNT(aliases); i++)
		ts_strbuf_printf(&sb, ", %s", aliases[i].name);
	ts_strbuf_printf(&sb, ", %s:PATH.so", TS_PLUGIN_NAME);
}

const struct ts_policy_ops *ts_policy_find(const char *spec, char **params, struct ts_error *err)
{
	size_t len = ts_spec_name_len(spec);
	const char *given = spec[len] == ':' ? spec + len + 1 : NULL;
	*params = NULL;
	if (ts_plugin_spec(spec))
		return ts_plugin_find(spec, params, err);
	for (size_t i = 0; i < COUNT(registry); i++)
		if (name_is(registry[i]->name, spec, len))
			return join_items(NULL, given, params, err) ? NULL : registry[i];
	for (size_t i = 0; i < COUNT(aliases); i++)
		if (name_is(aliases[i].name, spec, len))
			return join_items(aliases[i].implied, given, params, err) ? NULL : aliases[i].ops;
	char names[256];
	known_names(names, sizeof(names));
	ts_err_set(err, TS_EINVAL, "unknown policy '%.*s' (known: %s; docs/SCHEDULER.md)", (int)len,
		   spec, names);
	return NULL;
}

int ts_policy_build(const char *spec, const struct ts_policy_env *env, struct ts_policy *out,
		    struct ts_error *err)
{
	char *params;
	*out = (struct ts_policy){ 0 };
	const struct ts_policy_ops *ops = ts_policy_find(spec, &params, err);
	if (!ops)
		return err && err->code ? err->code : TS_EINVAL;
	int rc = ops->init(&out->self, params, env, err);
	free(params);
	if (rc)
		return ts_err_prefix(err, "policy %s", spec);
	out->ops = ops;
	return 0;
}

void ts_policy_close(struct ts_policy *p)
{
	if (p->ops && p->ops->close)
		p->ops->close(p->self);
	*p = (struct ts_policy){ 0 };
}
