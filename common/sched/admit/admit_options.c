/* admit_options.c: the admit policy's options (its spec's table),
 * construction and description. An option of admit is added here, in
 * struct admit_opts and in docs/SCHEDULER.md, nowhere else. */
#include <stddef.h>
#include <stdlib.h>

#include "core/gpuset.h"
#include "sched/admit/admit_policy.h"
#include "sched/admit/admit_state.h"
#include "sched/baselines.h"
#include "sched/tetri/tetri_policy.h"

static const char *const evict_names[] = { "largest", "newest", NULL };
static const char *const late_names[] = { "drop", "defer", NULL };

const struct ts_policy_option ts_admit_option_table[] = {
	{ .key = "evict", .kind = TS_OPT_CHOICE, .offset = offsetof(struct admit_opts, evict),
	  .choices = evict_names, .def = "largest",
	  .help = "a request that does not fit the virtual schedule evicts the admitted one with the most "
		  "remaining GPU time (largest, Moore-Hodgson) or the latest arrival (newest), if that one "
		  "ranks above it and its eviction makes room; else it is evicted itself" },
	{ .key = "late", .kind = TS_OPT_CHOICE, .offset = offsetof(struct admit_opts, late),
	  .choices = late_names, .def = "drop",
	  .help = "an evicted request: dropped, or deferred (one step at a time on GPUs nobody's plan needs)" },
	{ .key = "chunk_steps", .kind = TS_OPT_INT, .offset = offsetof(struct admit_opts, chunk_steps),
	  .min = 1, .max = 1000000, .def = "5",
	  .help = "a launch lasts about this many steps of the reference request (as tetriserve's round)" },
	{ .key = "chunk_ms", .kind = TS_OPT_REAL, .offset = offsetof(struct admit_opts, chunk_ms),
	  .min = 0, .max = 1e9, .def = "0",
	  .help = "launch length in milliseconds; > 0 overrides chunk_steps" },
	{ .key = "fill", .kind = TS_OPT_SWITCH, .offset = offsetof(struct admit_opts, fill), .def = "on",
	  .help = "idle GPUs run work ahead of plan and widen launches, ending before others need them" },
	{ .key = "grow", .kind = TS_OPT_SWITCH, .offset = offsetof(struct admit_opts, grow), .def = "on",
	  .help = "plans may start on part of their block and grow into it as it frees" },
	{ .key = "widen", .kind = TS_OPT_INT, .offset = offsetof(struct admit_opts, widen), .min = 0,
	  .max = 64, .def = "4",
	  .help = "a request that does not fit tries the last this many placed requests on other widths "
		  "before any eviction" },
	{ .key = "budget", .kind = TS_OPT_INT, .offset = offsetof(struct admit_opts, budget), .min = 0,
	  .max = 1000000, .def = "32",
	  .help = "placements one call may spend on trying repairs and evictions; when spent, a request "
		  "that does not fit is rejected outright (bounds the decision time)" },
	{ 0 },
};

static int check_env(const struct ts_policy_env *env, struct ts_error *err)
{
	if (env->gpus < 1 || env->gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "admit: %d GPUs (supported: 1..%d)", env->gpus,
				  TS_MAX_GPUS);
	if (!env->trace || !env->cls)
		return ts_err_set(err, TS_EINVAL, "admit: no trace or no step-time classes");
	return 0;
}

/* Per class: step times at the degrees <= gpus, the fastest, the cheapest
 * GPU time of a step; a class with no usable cell fails. */
static int build_tables(struct admit *a, struct ts_error *err)
{
	const struct ts_classes *cs = a->cs;

	for (int32_t c = 0; c < cs->n; c++) {
		const struct ts_class *k = &cs->cls[c];
		a->tmin[c] = -1;
		for (int32_t d = 0; d < TS_NDEG; d++) {
			ts_ns t = (1 << d) <= a->gpus ? ts_class_step(cs, c, 1 << d, 1) : -1;
			a->step[c][d] = t;
			if (t <= 0)
				continue;
			if (a->tmin[c] < 0 || t < a->tmin[c])
				a->tmin[c] = t;
			if (a->cmin[c] == 0 || (int64_t)t << d < a->cmin[c])
				a->cmin[c] = (int64_t)t << d;
		}
		if (a->tmin[c] < 0)
			return ts_err_set(err, TS_ENOTFOUND,
					  "admit: profile %s has no batch-1 step time for model %s %dx%d at any SP degree <= %d (add the cells or use --interpolate)",
					  cs->profile_path ? cs->profile_path : "(in memory)",
					  k->model >= 0 && k->model < cs->nmodels ? cs->models[k->model] : "?",
					  k->height, k->width, a->gpus);
	}
	return 0;
}

static int alloc_state(struct admit *a, struct ts_error *err)
{
	size_t n = a->nreq + 1, nc = (size_t)a->cs->n + 1;

	a->step = calloc(nc, sizeof(*a->step));
	a->tmin = calloc(nc, sizeof(*a->tmin));
	a->cmin = calloc(nc, sizeof(*a->cmin));
	a->active = calloc(n, sizeof(*a->active));
	a->pos = malloc(n * sizeof(*a->pos));
	a->evicted = calloc(n, sizeof(*a->evicted));
	a->keys = calloc(n, sizeof(*a->keys));
	a->keys_tmp = calloc(n, sizeof(*a->keys_tmp));
	a->deferred = calloc(n, sizeof(*a->deferred));
	a->pl = calloc(TS_ADMIT_WINDOW, sizeof(*a->pl));
	a->pl_tmp = calloc(TS_ADMIT_WINDOW + 1, sizeof(*a->pl_tmp));
	a->seq = calloc(TS_ADMIT_WINDOW + 1, sizeof(*a->seq));
	a->snap = calloc(TS_ADMIT_WINDOW + 1, sizeof(*a->snap));
	if (!a->step || !a->tmin || !a->cmin || !a->active || !a->pos || !a->evicted || !a->keys ||
	    !a->keys_tmp || !a->deferred || !a->pl || !a->pl_tmp || !a->seq || !a->snap)
		return ts_err_set(err, TS_ENOMEM, "admit: queue for %zu requests", a->nreq);
	for (size_t i = 0; i < n; i++)
		a->pos[i] = -1;
	return 0;
}

/* Launch length: chunk_ms when given, else chunk_steps reference steps. */
static void set_chunk(struct admit *a)
{
	if (a->o.chunk_ms > 0) {
		a->chunk = (ts_ns)(a->o.chunk_ms * (double)TS_NS_PER_MS);
		a->chunk = a->chunk < 1 ? 1 : a->chunk;
		return;
	}
	a->ref_step = ts_tetri_reference_step(a->cs, a->gpus);
	a->chunk = a->ref_step > 0 ? a->o.chunk_steps * a->ref_step : TS_NS_PER_S;
}

static int set_desc(struct admit *a, struct ts_error *err)
{
	json_t *derived = json_pack("{s:f, s:f, s:i}", "chunk_len_ms", (double)a->chunk / 1e6,
				    "ref_step_ms", (double)a->ref_step / 1e6, "window", TS_ADMIT_WINDOW);
	a->desc = ts_policy_describe_json(ts_admit_option_table, &a->o, derived);
	return a->desc ? 0 : ts_err_set(err, TS_ENOMEM, "admit: out of memory");
}

int ts_admit_init(void **self, const char *params, const struct ts_policy_env *env,
		  struct ts_error *err)
{
	struct admit *a;
	int rc;

	*self = NULL;
	if ((rc = check_env(env, err)) < 0)
		return rc;
	if (!(a = calloc(1, sizeof(*a))))
		return ts_err_set(err, TS_ENOMEM, "admit: policy state");
	rc = ts_spec_parse_options("admit", ts_admit_option_table, params, &a->o, err);
	if (rc < 0) {
		free(a);
		return rc;
	}
	a->gpus = env->gpus;
	a->all = ts_gpus_all(env->gpus);
	a->cs = env->cls;
	a->nreq = env->trace->n;
	ts_admit_blocks_init(&a->blocks, a->gpus);
	rc = alloc_state(a, err);
	if (!rc)
		rc = build_tables(a, err);
	if (!rc) {
		set_chunk(a);
		rc = set_desc(a, err);
	}
	if (rc < 0) {
		ts_admit_close(a);
		return rc;
	}
	*self = a;
	return 0;
}

const char *ts_admit_describe(void *self)
{
	return ((struct admit *)self)->desc;
}

void ts_admit_close(void *self)
{
	struct admit *a = self;

	if (!a)
		return;
	free(a->snap);
	free(a->pl_tmp);
	free(a->seq);
	free(a->pl);
	free(a->deferred);
	free(a->keys_tmp);
	free(a->keys);
	free(a->evicted);
	free(a->pos);
	free(a->active);
	free(a->cmin);
	free(a->tmin);
	free(a->step);
	free(a->desc);
	free(a);
}
