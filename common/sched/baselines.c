/* baselines.c: helpers the baseline policies share (see baselines.h). */
#include "sched/baselines.h"

#include <stdlib.h>

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

char *ts_policy_describe_json(const struct ts_policy_option *table, const void *options,
			      json_t *extra)
{
	json_t *obj = ts_spec_options_json(table, options);
	char *text = NULL;
	if (obj && (!extra || json_object_update(obj, extra) == 0))
		text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(obj);
	json_decref(extra);
	return text;
}
