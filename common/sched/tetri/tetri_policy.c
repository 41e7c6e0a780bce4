/* tetri_policy.c: the TetriServe round-based scheduler (policy "tetriserve").
 *
 * Each call works on the requests that are arrived, unfinished and idle:
 *   at a round boundary: plan (GPU-time-minimal) -> options -> packing DP ->
 *     placement -> work-conserving fill -> batching -> elastic scale-up ->
 *     late requests -> their scale-up;
 *   between boundaries: the same without the DP and batching, on idle GPUs
 *     only, with launches that end by the next boundary (a non-late request
 *     whose next step does not fit may run that one step across it).
 * This file: the queue, the round clock, the pipeline and construction; the
 * launch-building stages are in tetri_launch.c. Pure: no clock, no I/O, no
 * allocation after init. */
#include "sched/tetri/tetri_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/tetri/tetri_place.h"
#include "sched/tetri/tetri_state.h"

/* Step time of class c at its smallest degree <= gpus, -1 without one. */
static ts_ns smallest_degree_step(const struct ts_class *k, int gpus)
{
	for (int d = 0; d < TS_NDEG && (1 << d) <= gpus; d++)
		if (k->step[0][d] > 0)
			return k->step[0][d];
	return -1;
}

ts_ns ts_tetri_reference_step(const struct ts_classes *cs, int gpus)
{
	int32_t n = 0;

	for (int32_t c = 0; c < cs->n; c++)
		n += smallest_degree_step(&cs->cls[c], gpus) > 0;
	/* the lower median by counting: classes are few, and init allocates
	 * nothing for it */
	for (int32_t c = 0; c < cs->n; c++) {
		ts_ns t = smallest_degree_step(&cs->cls[c], gpus);
		int32_t less = 0, leq = 0;
		if (t <= 0)
			continue;
		for (int32_t o = 0; o < cs->n; o++) {
			ts_ns u = smallest_degree_step(&cs->cls[o], gpus);
			less += u > 0 && u < t;
			leq += u > 0 && u <= t;
		}
		if (less <= (n - 1) / 2 && (n - 1) / 2 < leq)
			return t;
	}
	return -1;
}

/* ---- queue ---- */

static void tetri_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct tetri *tp = self;

	(void)v;
	if (r < 0 || (size_t)r >= tp->nreq || tp->pos[r] >= 0)
		return;
	tp->pos[r] = tp->nactive;
	tp->active[tp->nactive++] = r;
}

static void tetri_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct tetri *tp = self;
	int32_t i, last;

	if (r < 0 || (size_t)r >= tp->nreq || tp->pos[r] < 0 || v->st[r].finish < 0)
		return;
	i = tp->pos[r];
	last = tp->active[--tp->nactive];
	tp->active[i] = last;
	tp->pos[last] = i;
	tp->pos[r] = -1;
}

/* ---- candidates ---- */

/* Candidate order: non-late first, then deadline, then index (total). */
static bool key_before(const struct tetri_key *x, const struct tetri_key *y)
{
	if (x->late != y->late)
		return x->late < y->late;
	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return x->r < y->r;
}

/* Bottom-up merge sort of a[0..n) through the preallocated tmp[0..n):
 * qsort() may call malloc() for large arrays, and plan must not allocate. */
static void sort_keys(struct tetri_key *a, struct tetri_key *tmp, int32_t n)
{
	struct tetri_key *src = a, *dst = tmp, *swap;

	for (int32_t w = 1; w < n; w *= 2) {
		for (int32_t lo = 0; lo < n; lo += 2 * w) {
			int32_t mid = lo + w < n ? lo + w : n;
			int32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			int32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = key_before(&src[j], &src[i]) ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

/* Sorts the idle requests and fills tp->cand: up to TS_TETRI_WINDOW non-late
 * ones, then up to one late one per GPU. */
static void collect(struct tetri *tp, const struct ts_sched_view *v, const struct ts_tetri_frame *f)
{
	int32_t nk = 0;

	for (int32_t i = 0; i < tp->nactive; i++) {
		int32_t r = tp->active[i];
		const struct ts_request *q = &v->req[r];
		int32_t left = q->steps - v->st[r].steps_done;
		if (v->st[r].steps_inflight > 0 || v->st[r].finish >= 0 || left <= 0)
			continue;
		tp->keys[nk++] = (struct tetri_key){
			.deadline = q->deadline, .r = r,
			.late = f->now + (int64_t)left * tp->degs[q->cls].tmin > q->deadline,
		};
	}
	sort_keys(tp->keys, tp->keys_tmp, nk);
	tp->ncand = tp->nontl = 0;
	for (int32_t k = 0; k < nk; k++) {
		const struct ts_request *q = &v->req[tp->keys[k].r];
		struct tetri_cand *c;
		if (!tp->keys[k].late && tp->nontl >= TS_TETRI_WINDOW)
			continue;
		if (tp->keys[k].late && tp->ncand - tp->nontl >= tp->gpus)
			break;
		c = &tp->cand[tp->ncand++];
		c->r = tp->keys[k].r;
		c->left = q->steps - v->st[c->r].steps_done;
		c->late = tp->keys[k].late;
		c->started = false;
		c->planned = false;
		tp->nontl += !c->late;
	}
}

/* At a due boundary: is a launch of the last round about to end (within
 * 5% of a round, e.g. delayed by a latent move)? Then the round waits for
 * it instead of planning without its GPUs. */
static bool round_draining(const struct tetri *tp, const struct ts_sched_view *v)
{
	ts_ns slack = tp->tau / 20;

	for (int32_t i = 0; i < tp->nactive; i++) {
		const struct ts_req_state *s = &v->st[tp->active[i]];
		if (s->steps_inflight > 0 && s->inflight_end >= 0 && s->inflight_end <= v->now + slack)
			return true;
	}
	return false;
}

/* Decides whether this call is a round boundary, a fill between
 * boundaries, or must wait; fills *f. Returns false when nothing may start. */
static bool frame_for_call(struct tetri *tp, const struct ts_sched_view *v, struct ts_plan *out,
			   struct ts_tetri_frame *f)
{
	if (tp->in_round && v->now < tp->round_end) {
		*f = (struct ts_tetri_frame){ .now = v->now, .end = tp->round_end };
		out->wake_at = tp->round_end;
		return true;
	}
	if (tp->in_round && round_draining(tp, v))
		return false;   /* the launch end calls plan again */
	tp->in_round = true;
	tp->round_end = v->now + tp->tau;
	*f = (struct ts_tetri_frame){ .now = v->now, .end = tp->round_end, .boundary = true };
	out->wake_at = tp->round_end;
	out->round = true;
	return true;
}

static int tetri_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		      struct ts_error *err)
{
	struct tetri *tp = self;
	struct ts_tetri_frame f;
	uint64_t idle;

	out->wake_at = -1;
	if (tp->nactive == 0) {
		tp->in_round = false;  /* the next arrival starts a fresh round */
		return 0;
	}
	if (!frame_for_call(tp, v, out, &f))
		return 0;
	idle = tp->all & ~v->busy;
	if (idle == 0)
		return 0;
	tp->njob = 0;
	collect(tp, v, &f);
	if (f.boundary)
		ts_tetri_pack_round(tp, v, &f, &idle);
	ts_tetri_fill_waiting(tp, v, &f, &idle);
	if (f.boundary && !tp->no_batching)
		ts_tetri_batch_waiting(tp, v, &f);
	/* late requests only get what the others leave idle */
	if (!tp->no_elastic)
		ts_tetri_scale_up(tp, &f, &idle, false);
	ts_tetri_fill_late(tp, v, &f, &idle);
	if (!tp->no_elastic)
		ts_tetri_scale_up(tp, &f, &idle, true);
	return ts_tetri_emit(tp, out, err);
}

/* ---- construction ---- */

/* Applies one "key=value" parameter (value [val, end)) to the knobs. */
static int set_param(const char *key, size_t klen, const char *val, const char *end,
		     int *round_steps, ts_ns *round_ns, struct ts_error *err)
{
	int vlen = (int)(end - val);
	char *stop;

	if (klen == 11 && strncmp(key, "round_steps", klen) == 0) {
		long g = strtol(val, &stop, 10);
		if (stop != end || vlen == 0 || g < 1 || g > 100000)
			return ts_err_set(err, TS_EINVAL,
					  "tetriserve: round_steps '%.*s': expected an integer 1..100000",
					  vlen, val);
		*round_steps = (int)g;
		return 0;
	}
	if (klen == 8 && strncmp(key, "round_ms", klen) == 0) {
		double ms = strtod(val, &stop);
		if (stop != end || vlen == 0 || !(ms > 0 && ms < 1e9))
			return ts_err_set(err, TS_EINVAL,
					  "tetriserve: round_ms '%.*s': expected a positive number", vlen, val);
		*round_ns = ts_ns_from_s(ms / 1e3);
		return 0;
	}
	return ts_err_set(err, TS_EINVAL,
			  "tetriserve: unknown parameter '%.*s' (known: round_steps, round_ms)",
			  (int)klen, key);
}

/* Parses "round_steps=G,round_ms=X" (either, any order) into the knobs. */
static int parse_params(const char *params, int *round_steps, ts_ns *round_ns,
			struct ts_error *err)
{
	for (const char *p = params; p && *p;) {
		const char *end = strchr(p, ',');
		const char *eq = strchr(p, '=');
		int rc;
		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end)
			return ts_err_set(err, TS_EINVAL, "tetriserve: parameter '%.*s': expected key=value",
					  (int)(end - p), p);
		rc = set_param(p, (size_t)(eq - p), eq + 1, end, round_steps, round_ns, err);
		if (rc < 0)
			return rc;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int check_env(const struct ts_policy_env *env, struct ts_error *err)
{
	if (env->gpus < 1 || env->gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "tetriserve: %d GPUs (supported: 1..%d)", env->gpus,
				  TS_MAX_GPUS);
	if (!env->trace || !env->cls)
		return ts_err_set(err, TS_EINVAL, "tetriserve: no trace or no step-time classes");
	if (env->round_steps < 0 || env->round_ns < 0)
		return ts_err_set(err, TS_EINVAL, "tetriserve: negative round length (round_steps %d, round_ns %lld)",
				  env->round_steps, (long long)env->round_ns);
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

static int alloc_scratch(struct tetri *tp, struct ts_error *err)
{
	size_t n = tp->nreq + 1;

	tp->active = calloc(n, sizeof(*tp->active));
	tp->pos = malloc(n * sizeof(*tp->pos));
	tp->keys = calloc(n, sizeof(*tp->keys));
	tp->keys_tmp = calloc(n, sizeof(*tp->keys_tmp));
	tp->cand = calloc(TS_TETRI_WINDOW + TS_MAX_GPUS, sizeof(*tp->cand));
	tp->items = calloc(TS_TETRI_WINDOW, sizeof(*tp->items));
	tp->pick = calloc(TS_TETRI_WINDOW, sizeof(*tp->pick));
	if (!tp->active || !tp->pos || !tp->keys || !tp->keys_tmp || !tp->cand || !tp->items ||
	    !tp->pick)
		return ts_err_set(err, TS_ENOMEM, "tetriserve: queue for %zu requests", tp->nreq);
	for (size_t i = 0; i < n; i++)
		tp->pos[i] = -1;
	return ts_tetri_pack_init(&tp->pack, TS_TETRI_WINDOW, tp->gpus, err);
}

/* Round length: explicit round_ns, else G steps of the reference request. */
static void set_round(struct tetri *tp, int round_steps, ts_ns round_ns)
{
	tp->round_steps = round_steps > 0 ? round_steps : TS_TETRI_DEFAULT_ROUND_STEPS;
	if (round_ns > 0) {
		tp->tau = round_ns;
		return;
	}
	tp->ref_step = ts_tetri_reference_step(tp->cs, tp->gpus);
	/* an empty trace has no classes: any round length does */
	tp->tau = tp->ref_step > 0 ? tp->round_steps * tp->ref_step : TS_NS_PER_S;
}

static void set_desc(struct tetri *tp)
{
	snprintf(tp->desc, sizeof(tp->desc),
		 "{\"policy\":\"tetriserve\",\"round_ms\":%.6g,\"round_steps\":%d,"
		 "\"ref_step_ms\":%.6g,\"placement\":%s,\"elastic\":%s,\"batching\":%s,"
		 "\"window\":%d}",
		 (double)tp->tau / 1e6, tp->ref_step > 0 ? tp->round_steps : 0,
		 (double)tp->ref_step / 1e6, tp->no_placement ? "false" : "true",
		 tp->no_elastic ? "false" : "true", tp->no_batching ? "false" : "true",
		 TS_TETRI_WINDOW);
}

static void tetri_close(void *self);

static int tetri_init(void **self, const char *params, const struct ts_policy_env *env,
		      struct ts_error *err)
{
	struct tetri *tp;
	int round_steps, rc;
	ts_ns round_ns;

	*self = NULL;
	rc = check_env(env, err);
	if (rc < 0)
		return rc;
	round_steps = env->round_steps;
	round_ns = env->round_ns;
	rc = parse_params(params, &round_steps, &round_ns, err);
	if (rc < 0)
		return rc;
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return ts_err_set(err, TS_ENOMEM, "tetriserve: policy state");
	tp->gpus = env->gpus;
	tp->all = ts_tetri_block(0, env->gpus);
	tp->cs = env->cls;
	tp->nreq = env->trace->n;
	tp->no_placement = env->no_placement;
	tp->no_elastic = env->no_elastic;
	tp->no_batching = env->no_batching;
	rc = build_degs(tp, err);
	if (rc < 0)
		goto out_close;
	rc = alloc_scratch(tp, err);
	if (rc < 0)
		goto out_close;
	set_round(tp, round_steps, round_ns);
	set_desc(tp);
	*self = tp;
	return 0;

out_close:
	tetri_close(tp);
	return rc;
}

static const char *tetri_describe(void *self)
{
	return ((struct tetri *)self)->desc;
}

static void tetri_close(void *self)
{
	struct tetri *tp = self;

	if (!tp)
		return;
	ts_tetri_pack_free(&tp->pack);
	free(tp->pick);
	free(tp->items);
	free(tp->cand);
	free(tp->keys_tmp);
	free(tp->keys);
	free(tp->pos);
	free(tp->active);
	free(tp->degs);
	free(tp);
}

const struct ts_policy_ops ts_policy_tetriserve = {
	.name = "tetriserve",
	.init = tetri_init,
	.on_arrival = tetri_on_arrival,
	.on_launch_end = tetri_on_launch_end,
	.plan = tetri_plan,
	.describe = tetri_describe,
	.close = tetri_close,
};
