/* fuzz_spec.c: a --policy list (split into specs) and each spec built into
 * its policy (the spec grammar, every policy's option table, rssp maps),
 * described and closed; a spec that builds is planned once on an idle node.
 * Plug-in specs are skipped: they load a shared library by path. */
#include <stdlib.h>
#include <string.h>

#include "cli/policy_args.h"
#include "fuzz_input.h"
#include "sched/policy.h"

/* Two requests of two classes, 1..8 GPUs. */
static void fixture(struct ts_trace *t, struct ts_classes *cs, struct ts_request req[2],
		    struct ts_class cls[2])
{
	memset(cls, 0, 2 * sizeof(*cls));
	for (int c = 0; c < 2; c++) {
		cls[c].height = cls[c].width = 256 << (2 * c);
		cls[c].tokens = (int64_t)(cls[c].height / 16) * (cls[c].width / 16);
		for (int b = 0; b < TS_NBATCH; b++)
			for (int d = 0; d < TS_NDEG; d++)
				cls[c].step[b][d] = d < 4 ? (ts_ns)(20 + 100 * c) * TS_NS_PER_MS * (b + 1) >> d : -1;
	}
	for (int i = 0; i < 2; i++)
		req[i] = (struct ts_request){ .id = i, .arrival = 0, .slo = TS_NS_PER_S,
					      .deadline = TS_NS_PER_S, .height = cls[i].height,
					      .width = cls[i].width, .steps = 50, .cls = i };
	*t = (struct ts_trace){ .req = req, .n = 2, .cap = 2 };
	static char model[] = "m";
	static char *models[] = { model };
	*cs = (struct ts_classes){ .cls = cls, .n = 2, .models = models, .nmodels = 1,
				   .profile_path = "fuzz" };
}

/* Builds spec on `gpus` GPUs and, when it builds, plans once. */
static void try_spec(const char *spec, int gpus)
{
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_request req[2];
	struct ts_class cls[2];
	struct ts_policy pol;
	struct ts_error err = { 0 };
	struct ts_req_state st[2] = { { .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 },
				      { .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 } };
	struct ts_plan plan = { 0 };

	fixture(&t, &cs, req, cls);
	struct ts_policy_env env = { .gpus = gpus, .trace = &t, .cls = &cs };
	if (ts_policy_build(spec, &env, &pol, &err) != 0)
		return;
	struct ts_sched_view v = { .gpus = gpus, .req = req, .st = st, .cls = &cs, .nreq = 2 };
	if (pol.ops->describe && !pol.ops->describe(pol.self))
		abort();
	for (int32_t r = 0; r < 2 && pol.ops->on_arrival; r++)
		pol.ops->on_arrival(pol.self, &v, r);
	pol.ops->plan(pol.self, &v, &plan, &err);
	free(plan.launch);
	free(plan.drop);
	ts_policy_close(&pol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ts_policy_list l = { 0 };
	struct ts_error err = { 0 };
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!strstr(text, "plugin") && ts_policy_list_parse(text, &l, &err) == 0)
		for (int i = 0; i < l.n && i < 8; i++)
			try_spec(l.spec[i], 1 + (int)(size % 8));
	ts_policy_list_free(&l);
	free(text);
	return 0;
}
