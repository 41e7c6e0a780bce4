/* tetri_options.c: tetriserve's options (its spec's table and the CLI
 * flags that are shorthand for them), construction and description. An
 * option of tetriserve is added here, in struct tetri_opts and in
 * docs/SCHEDULER.md, nowhere else. */
#include <stddef.h>
#include <stdlib.h>

#include "core/gpuset.h"
#include "sched/baselines.h"
#include "sched/tetri/tetri_policy.h"
#include "sched/tetri/tetri_state.h"

static const char *const late_names[] = { "serve", "drop", NULL };
static const char *const boundary_names[] = { "start", "wait", NULL };

const struct ts_policy_option ts_tetri_option_table[] = {
	{ .key = "round_steps", .kind = TS_OPT_INT, .offset = offsetof(struct tetri_opts, round_steps),
	  .min = 1, .max = 1000000, .def = "5",
	  .help = "round length in steps of the reference request (the paper's G)" },
	{ .key = "round_ms", .kind = TS_OPT_REAL, .offset = offsetof(struct tetri_opts, round_ms),
	  .min = 0, .max = 1e9, .def = "0",
	  .help = "round length in milliseconds; > 0 overrides round_steps" },
	{ .key = "placement", .kind = TS_OPT_SWITCH, .offset = offsetof(struct tetri_opts, placement),
	  .def = "on", .help = "placement preservation: keep a request on its last GPUs where possible" },
	{ .key = "elastic", .kind = TS_OPT_SWITCH, .offset = offsetof(struct tetri_opts, elastic),
	  .def = "on", .help = "work-conserving elastic scale-up of running launches on idle GPUs" },
	{ .key = "batching", .kind = TS_OPT_SWITCH, .offset = offsetof(struct tetri_opts, batching),
	  .def = "on", .help = "selective batching of identical requests where no SLO suffers" },
	{ .key = "late", .kind = TS_OPT_CHOICE, .offset = offsetof(struct tetri_opts, late),
	  .choices = late_names, .def = "serve",
	  .help = "a request that cannot make its deadline even at its fastest degree: serve it "
		  "on GPUs nobody else needs (one at first, scaled up when idle), or drop it" },
	{ .key = "busy_boundary", .kind = TS_OPT_CHOICE, .offset = offsetof(struct tetri_opts, busy_boundary),
	  .choices = boundary_names, .def = "start",
	  .help = "a due round boundary while every GPU is busy: start the round at once (no "
		  "packing or batching until the next one), or wait for the first call with an idle GPU" },
	{ .key = "solo", .kind = TS_OPT_SWITCH, .offset = offsetof(struct tetri_opts, solo),
	  .def = "on",
	  .help = "a request alone on the node with nothing arriving before it ends runs its "
		  "remaining steps in one launch (the same steps on the same GPUs at the same "
		  "times as round by round, in one launch instead of one or two a round)" },
	{ 0 },
};

const struct ts_policy_flag ts_tetri_flag_table[] = {
	{ "round-steps", "round_steps=", true, "tetriserve: round length in steps (default 5)" },
	{ "round-ms", "round_ms=", true, "tetriserve: round length in milliseconds" },
	{ "no-placement", "placement=off", false, "tetriserve ablation: no placement preservation" },
	{ "no-elastic", "elastic=off", false, "tetriserve ablation: no elastic scale-up" },
	{ "no-batching", "batching=off", false, "tetriserve ablation: no selective batching" },
	{ 0 },
};

/* Step time of class c at its smallest degree <= gpus, -1 without one. */
static ts_ns smallest_degree_step(const struct ts_classes *cs, int32_t c, int gpus)
{
	for (int k = 1; k <= gpus && k <= TS_MAX_GPUS; k *= 2) {
		ts_ns t = ts_class_step(cs, c, k, 1);
		if (t > 0)
			return t;
	}
	return -1;
}

ts_ns ts_tetri_reference_step(const struct ts_classes *cs, int gpus)
{
	int32_t n = 0;

	for (int32_t c = 0; c < cs->n; c++)
		n += smallest_degree_step(cs, c, gpus) > 0;
	/* the lower median by counting: classes are few, and init allocates
	 * nothing for it */
	for (int32_t c = 0; c < cs->n; c++) {
		ts_ns t = smallest_degree_step(cs, c, gpus);
		int32_t less = 0, leq = 0;
		if (t <= 0)
			continue;
		for (int32_t o = 0; o < cs->n; o++) {
			ts_ns u = smallest_degree_step(cs, o, gpus);
			less += u > 0 && u < t;
			leq += u > 0 && u <= t;
		}
		if (less <= (n - 1) / 2 && (n - 1) / 2 < leq)
			return t;
	}
	return -1;
}

static int check_env(const struct ts_policy_env *env, struct ts_error *err)
{
	if (env->gpus < 1 || env->gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "tetriserve: %d GPUs (supported: 1..%d)", env->gpus,
				  TS_MAX_GPUS);
	if (!env->trace || !env->cls)
		return ts_err_set(err, TS_EINVAL, "tetriserve: no trace or no step-time classes");
	return 0;
}

/* Builds the per-class degree tables; a class with no usable cell fails. */
static int build_degs(struct tetri *tp, struct ts_error *err)
{
	const struct ts_classes *cs = tp->cs;

	tp->degs = calloc((size_t)cs->n + 1, sizeof(*tp->degs));
	if (!tp->degs)
		return ts_err_set(err, TS_ENOMEM, "tetriserve: degree tables for %d classes", cs->n);
	for (int32_t c = 0; c < cs->n; c++) {
		const struct ts_class *k = &cs->cls[c];
		if (ts_tetri_degs_build(&tp->degs[c], k->step[0], tp->gpus) > 0)
			continue;
		return ts_err_set(err, TS_ENOTFOUND,
				  "tetriserve: profile %s has no batch-1 step time for model %s %dx%d at any SP degree <= %d (add the cells or use --interpolate)",
				  cs->profile_path ? cs->profile_path : "(in memory)",
				  k->model >= 0 && k->model < cs->nmodels ? cs->models[k->model] : "?",
				  k->height, k->width, tp->gpus);
	}
	return 0;
}

/* The degree of a solo launch of class c (tetri_policy.c): the fastest
 * degree, when elastic scale-up on an idle node takes every degree a plan
 * may start at there (each doubling faster than the last); else 0. */
static int32_t solo_degree(const struct tetri *tp, int32_t c)
{
	const struct ts_tetri_degs *d = &tp->degs[c];

	if (!tp->o.elastic || d->np == 0)
		return 0;
	for (int32_t i = 0; i < d->np; i++) {
		int32_t k = d->deg[i];
		ts_ns t = d->t[i], t2;
		while (2 * k <= tp->gpus && (t2 = ts_class_step(tp->cs, c, 2 * k, 1)) > 0 && t2 < t) {
			k *= 2;
			t = t2;
		}
		if (k != d->deg[0])
			return 0;
	}
	return d->deg[0];
}

static int alloc_scratch(struct tetri *tp, struct ts_error *err)
{
	size_t n = tp->nreq + 1;

	tp->queued = calloc(n, sizeof(*tp->queued));
	tp->deadline = calloc(n, sizeof(*tp->deadline));
	tp->late_at = calloc(n, sizeof(*tp->late_at));
	tp->solo_deg = calloc((size_t)tp->cs->n + 1, sizeof(*tp->solo_deg));
	tp->cand = calloc(TS_TETRI_WINDOW + TS_MAX_GPUS, sizeof(*tp->cand));
	tp->items = calloc(TS_TETRI_WINDOW, sizeof(*tp->items));
	tp->pick = calloc(TS_TETRI_WINDOW, sizeof(*tp->pick));
	if (!tp->queued || !tp->deadline || !tp->late_at || !tp->solo_deg || !tp->cand ||
	    !tp->items || !tp->pick || tetri_iheap_init(&tp->ok, n, tp->deadline) ||
	    tetri_iheap_init(&tp->turn, n, tp->late_at) ||
	    tetri_iheap_init(&tp->late, n, tp->deadline))
		return ts_err_set(err, TS_ENOMEM, "tetriserve: queue for %zu requests", tp->nreq);
	tp->late_step_min = INT64_MAX;
	for (int32_t c = 0; c < tp->cs->n; c++) {
		tp->solo_deg[c] = solo_degree(tp, c);
		if (tp->degs[c].all_t[0] < tp->late_step_min)
			tp->late_step_min = tp->degs[c].all_t[0];
	}
	return ts_tetri_pack_init(&tp->pack, TS_TETRI_WINDOW, tp->gpus, err);
}

/* Round length: round_ms when given, else round_steps steps of the
 * reference request. */
static void set_round(struct tetri *tp)
{
	if (tp->o.round_ms > 0) {
		/* truncated to whole ns, as --round-ms always was: stored runs replay */
		tp->tau = (ts_ns)(tp->o.round_ms * (double)TS_NS_PER_MS);
		if (tp->tau < 1)
			tp->tau = 1;
		return;
	}
	tp->ref_step = ts_tetri_reference_step(tp->cs, tp->gpus);
	/* an empty trace has no classes: any round length does */
	tp->tau = tp->ref_step > 0 ? tp->o.round_steps * tp->ref_step : TS_NS_PER_S;
}

static int set_desc(struct tetri *tp, struct ts_error *err)
{
	json_t *derived = json_pack("{s:f, s:f, s:i}", "tau_ms", (double)tp->tau / 1e6, "ref_step_ms",
				    (double)tp->ref_step / 1e6, "window", TS_TETRI_WINDOW);
	tp->desc = ts_policy_describe_json(ts_tetri_option_table, &tp->o, derived);
	return tp->desc ? 0 : ts_err_set(err, TS_ENOMEM, "tetriserve: out of memory");
}

int ts_tetri_init(void **self, const char *params, const struct ts_policy_env *env,
		  struct ts_error *err)
{
	struct tetri *tp;
	int rc;

	*self = NULL;
	rc = check_env(env, err);
	if (rc < 0)
		return rc;
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return ts_err_set(err, TS_ENOMEM, "tetriserve: policy state");
	rc = ts_spec_parse_options("tetriserve", ts_tetri_option_table, params, &tp->o, err);
	if (rc < 0) {
		free(tp);
		return rc;
	}
	tp->gpus = env->gpus;
	tp->all = ts_gpus_all(env->gpus);
	tp->cs = env->cls;
	tp->nreq = env->trace->n;
	rc = build_degs(tp, err);
	if (!rc)
		rc = alloc_scratch(tp, err);
	if (!rc) {
		set_round(tp);
		rc = set_desc(tp, err);
	}
	if (rc < 0) {
		ts_tetri_close(tp);
		return rc;
	}
	*self = tp;
	return 0;
}

const char *ts_tetri_describe(void *self)
{
	return ((struct tetri *)self)->desc;
}

void ts_tetri_close(void *self)
{
	struct tetri *tp = self;

	if (!tp)
		return;
	ts_tetri_pack_free(&tp->pack);
	free(tp->pick);
	free(tp->items);
	free(tp->cand);
	tetri_iheap_free(&tp->late);
	tetri_iheap_free(&tp->turn);
	tetri_iheap_free(&tp->ok);
	free(tp->solo_deg);
	free(tp->late_at);
	free(tp->deadline);
	free(tp->queued);
	free(tp->degs);
	free(tp->desc);
	free(tp);
}
