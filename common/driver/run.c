/* run.c: one run as a library call, for every backend (see run.h). */
#include "driver/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ts_run_config_defaults(struct ts_run_config *c)
{
	*c = (struct ts_run_config){ .gpus = 4, .slo_scale = 1.0, .seed = 1, .time_scale = 1.0 };
}

static int apply_slo_scale(struct ts_trace *t, double scale, struct ts_error *err)
{
	if (scale == 1.0)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		double slo = (double)t->req[i].slo * scale;
		if (slo > TS_TRACE_MAX_S * 1e9)
			return ts_err_set(err, TS_ERANGE,
					  "--slo-scale %g gives request %lld an SLO beyond 1e9 s", scale,
					  (long long)t->req[i].id);
		t->req[i].slo = (ts_ns)llround(slo);
		t->req[i].deadline = t->req[i].arrival + t->req[i].slo;
	}
	return 0;
}

/* Keeps the first max_requests requests, multiplies arrivals by the time
 * scale (deadlines stay arrival + SLO, so only idle gaps shrink) and caps
 * the steps of each request at max_steps. */
static void shape_trace(struct ts_trace *t, const struct ts_run_config *c)
{
	if (c->max_requests > 0 && (size_t)c->max_requests < t->n)
		t->n = (size_t)c->max_requests;
	for (size_t i = 0; i < t->n && c->time_scale != 1.0; i++) {
		t->req[i].arrival = (ts_ns)llround((double)t->req[i].arrival * c->time_scale);
		t->req[i].deadline = t->req[i].arrival + t->req[i].slo;
	}
	for (size_t i = 0; i < t->n && c->max_steps > 0; i++)
		if (t->req[i].steps > c->max_steps)
			t->req[i].steps = c->max_steps;
}

int ts_run_inputs_load(struct ts_run_inputs *in, const struct ts_run_config *c, struct ts_error *err)
{
	memset(in, 0, sizeof(*in));
	if (!(c->time_scale > 0 && c->time_scale <= 1))
		return ts_err_set(err, TS_EINVAL, "time scale %g outside (0, 1]", c->time_scale);
	int rc = ts_trace_load(&in->trace, c->trace, err);
	if (!rc)
		rc = apply_slo_scale(&in->trace, c->slo_scale, err);
	if (!rc)
		rc = ts_profile_load(&in->profile, c->profile, err);
	if (rc)
		return rc;
	/* classes of the whole trace, then the prefix: a policy's derived
	 * parameters (tetriserve's round, rssp's degrees) do not depend on
	 * --max-requests, as in every stored run */
	struct ts_classes_opts co = { .model = c->model, .gpu = c->gpu_type, .max_degree = c->gpus,
				      .interpolate = c->interpolate };
	rc = ts_classes_build(&in->cls, &in->trace, &in->profile, &co, err);
	if (!rc)
		shape_trace(&in->trace, c);
	return rc;
}

void ts_run_inputs_free(struct ts_run_inputs *in)
{
	ts_classes_free(&in->cls);
	ts_profile_free(&in->profile);
	ts_trace_free(&in->trace);
}

static struct ts_policy_env policy_env(const struct ts_run_config *c, const struct ts_run_inputs *in)
{
	return (struct ts_policy_env){ .gpus = c->gpus, .trace = &in->trace, .cls = &in->cls };
}

int ts_run_check_policy(const char *spec, const struct ts_run_config *c,
			const struct ts_run_inputs *in, struct ts_error *err)
{
	struct ts_policy_env env = policy_env(c, in);
	struct ts_policy p;
	int rc = ts_policy_build(spec, &env, &p, err);
	ts_policy_close(&p);
	return rc;
}

json_t *ts_run_options_json(const struct ts_run_config *c)
{
	json_t *o = json_pack("{s:f, s:f, s:I, s:b, s:s?, s:s?, s:s?}", "slo_scale", c->slo_scale,
			      "time_scale", c->time_scale, "max_requests", (json_int_t)c->max_requests,
			      "interpolate", c->interpolate, "model", c->model, "gpu_type", c->gpu_type,
			      "label", c->label);
	if (o && c->max_steps > 0 && json_object_set_new(o, "max_steps", json_integer(c->max_steps))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void ts_run_config_from_json(struct ts_run_config *c, const json_t *options)
{
	const json_t *v;
	if (json_is_number(v = json_object_get(options, "slo_scale")))
		c->slo_scale = json_number_value(v);
	if (json_is_number(v = json_object_get(options, "time_scale")))
		c->time_scale = json_number_value(v);
	if (json_is_number(v = json_object_get(options, "max_requests")))
		c->max_requests = (long long)json_number_value(v);
	if (json_is_number(v = json_object_get(options, "max_steps")))
		c->max_steps = (int)json_number_value(v);
	if (json_is_boolean(v = json_object_get(options, "interpolate")))
		c->interpolate = json_is_true(v);
	if (json_is_string(v = json_object_get(options, "model")))
		c->model = json_string_value(v);
	if (json_is_string(v = json_object_get(options, "gpu_type")))
		c->gpu_type = json_string_value(v);
	if (json_is_string(v = json_object_get(options, "label")))
		c->label = json_string_value(v);
}

int ts_run_options_add(json_t *options, json_t *mine)
{
	int rc = mine && json_object_update(options, mine) == 0 ? 0 : TS_ENOMEM;
	json_decref(mine);
	return rc;
}

/* The runs.options text: the run's options, how many step-table cells came
 * from modelled profile rows, and the backend's options. */
static char *options_text(const struct ts_run_config *c, const struct ts_run_inputs *in,
			  const struct ts_backend_factory *bf)
{
	json_t *o = ts_run_options_json(c);
	if (o && json_object_set_new(o, "modelled_cells",
				     json_integer(ts_classes_modelled_cells(&in->cls)))) {
		json_decref(o);
		return NULL;
	}
	if (o && bf->describe && bf->describe(bf->ctx, o)) {
		json_decref(o);
		return NULL;
	}
	return ts_json_text(o);
}

/* A policy's describe() text, checked: a policy (a plug-in, say) whose
 * description is not a JSON object is an error naming it. */
static int policy_params(const struct ts_policy *p, const char **text, struct ts_error *err)
{
	*text = p->ops->describe ? p->ops->describe(p->self) : NULL;
	if (!*text)
		return 0;
	json_t *j = json_loads(*text, 0, NULL);
	bool ok = json_is_object(j);
	json_decref(j);
	return ok ? 0 : ts_err_set(err, TS_EPOLICY, "policy %s: describe() is not a JSON object: %.80s",
				   p->ops->name, *text);
}

static int begin_stored_run(struct ts_store *store, const char *spec, const struct ts_policy *pol,
			    const struct ts_run_config *c, const struct ts_run_inputs *in,
			    const struct ts_backend_factory *bf, int64_t *run_id, struct ts_error *err)
{
	const char *params;
	int rc = policy_params(pol, &params, err);
	if (rc)
		return rc;
	char *opts = options_text(c, in, bf);
	if (!opts)
		return ts_err_set(err, TS_ENOMEM, "out of memory for the run's options");
	struct ts_run_info info = {
		.backend = bf->name, .policy = spec, .policy_params = params,
		.trace_name = c->trace, .trace_hash = in->trace.hash,
		.profile_name = c->profile, .profile_hash = in->profile.hash, .gpus = c->gpus,
		.seed = c->seed, .version = TS_VERSION, .options = opts,
	};
	rc = ts_store_run_begin(store, &info, run_id, err);
	free(opts);
	return rc;
}

/* ---- the driver's sink: the store, then the watcher ---- */

struct run_sink {
	struct ts_store *store;             /* may be NULL */
	bool store_rounds;
	const struct ts_sink_ops *watch;    /* may be NULL */
	void *watch_self;
};

static int sink_segment(void *self, const struct ts_segment *s, struct ts_error *err)
{
	struct run_sink *k = self;
	int rc = k->store ? ts_store_segment(k->store, s, err) : 0;
	if (!rc && k->watch && k->watch->segment)
		rc = k->watch->segment(k->watch_self, s, err);
	return rc;
}

static int sink_request_done(void *self, const struct ts_request *r, const struct ts_req_state *st,
			     struct ts_error *err)
{
	struct run_sink *k = self;
	int rc = k->store ? ts_store_request(k->store, r, st->start, st->finish, st->dropped, err) : 0;
	if (!rc && k->watch && k->watch->request_done)
		rc = k->watch->request_done(k->watch_self, r, st, err);
	return rc;
}

static int sink_round(void *self, const struct ts_round_rec *rr, struct ts_error *err)
{
	struct run_sink *k = self;
	int rc = k->store && k->store_rounds ? ts_store_round(k->store, rr, err) : 0;
	if (!rc && k->watch && k->watch->round)
		rc = k->watch->round(k->watch_self, rr, err);
	return rc;
}

static const struct ts_sink_ops run_sink_ops = {
	.segment = sink_segment,
	.request_done = sink_request_done,
	.round = sink_round,
};

/* Without a taker of rounds (the driver then does not time plan calls). */
static const struct ts_sink_ops run_sink_ops_no_rounds = {
	.segment = sink_segment,
	.request_done = sink_request_done,
};

static const struct ts_sink_ops *run_sink_of(const struct run_sink *k)
{
	if (!k->store && !k->watch)
		return NULL;
	if ((k->store && k->store_rounds) || (k->watch && k->watch->round))
		return &run_sink_ops;
	return &run_sink_ops_no_rounds;
}

/* Rows (status unfinished) for the requests that neither finished nor were
 * dropped, the summary, completed = 1. */
static int end_stored_run(struct ts_store *store, const char *spec, const struct ts_run_inputs *in,
			  const struct ts_run_result *res, const struct ts_summary *sum,
			  struct ts_error *err)
{
	for (size_t i = 0; i < in->trace.n; i++) {
		if (ts_req_done(&res->st[i]))
			continue; /* written when it finished or was dropped */
		int rc = ts_store_request(store, &in->trace.req[i], res->st[i].start, -1, -1, err);
		if (rc)
			return rc;
	}
	char *json = ts_json_text(ts_summary_to_json(sum, spec));
	if (!json)
		return ts_err_set(err, TS_ENOMEM, "out of memory for the run's summary");
	int rc = ts_store_run_end(store, json, err);
	free(json);
	return rc;
}

/* Commits the rows of a failed or interrupted run; it stays incomplete. A
 * failure to commit is added to the message, never replaces it. */
static void keep_partial_run(struct ts_store *store, struct ts_error *err)
{
	struct ts_error ferr = { 0 };
	if (ts_store_flush(store, &ferr) && err)
		ts_err_prefix(err, "(also: keeping the rows so far failed: %s)", ferr.msg);
}

static int drive(const struct ts_run_config *c, const struct ts_run_inputs *in, struct ts_policy pol,
		 struct ts_backend be, struct ts_store *store, volatile sig_atomic_t *stop,
		 struct ts_run_outcome *out, struct ts_error *err)
{
	struct run_sink sink = { .store = store, .store_rounds = c->store_rounds, .watch = c->watch,
				 .watch_self = c->watch_self };
	struct ts_driver_config cfg = {
		.trace = &in->trace, .cls = &in->cls, .gpus = c->gpus, .policy = pol, .backend = be,
		.sink = run_sink_of(&sink), .sink_self = &sink, .stop = stop,
	};
	struct ts_run_result res;
	int rc = ts_driver_run(&cfg, &res, err);
	if (!rc)
		rc = ts_summary_compute(&out->sum, &in->trace, &res, c->gpus, err);
	out->sum.modelled_cells = ts_classes_modelled_cells(&in->cls);
	if (!rc && store)
		rc = end_stored_run(store, out->spec, in, &res, &out->sum, err);
	else if (store)
		keep_partial_run(store, err);
	ts_run_result_free(&res);
	return rc;
}

int ts_run_policy(const char *spec, const struct ts_run_config *c, const struct ts_run_inputs *in,
		  const struct ts_backend_factory *bf, struct ts_store *store,
		  volatile sig_atomic_t *stop, struct ts_run_outcome *out, struct ts_error *err)
{
	struct ts_policy_env env = policy_env(c, in);
	struct ts_policy pol;
	struct ts_backend be = { 0 };
	*out = (struct ts_run_outcome){ .spec = spec };
	int rc = ts_policy_build(spec, &env, &pol, err);
	if (rc)
		return rc;
	if (store)
		rc = begin_stored_run(store, spec, &pol, c, in, bf, &out->run_id, err);
	/* the backend's clock starts here, after the store's work */
	if (!rc && (rc = bf->create(bf->ctx, in, c->gpus, stop, &be, err)) && out->run_id)
		keep_partial_run(store, err);
	if (!rc)
		rc = drive(c, in, pol, be, store, stop, out, err);
	if (be.ops)
		be.ops->close(be.self);
	ts_policy_close(&pol);
	return rc;
}
