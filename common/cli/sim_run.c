/* sim_run.c: one simulation as a library call (see sim_run.h). */
#include "cli/sim_run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/store_sink.h"
#include "core/ts_strbuf.h"
#include "driver/driver.h"

void ts_sim_config_defaults(struct ts_sim_config *c, const char *trace, const char *profile)
{
	*c = (struct ts_sim_config){ .trace = trace, .profile = profile, .gpus = 4, .slo_scale = 1.0,
				     .seed = 1 };
	ts_sim_opts_defaults(&c->sim);
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

int ts_sim_inputs_load(struct ts_sim_inputs *in, const struct ts_sim_config *c, struct ts_error *err)
{
	memset(in, 0, sizeof(*in));
	int rc = ts_trace_load(&in->trace, c->trace, err);
	if (rc)
		return rc;
	rc = apply_slo_scale(&in->trace, c->slo_scale, err);
	if (rc)
		return rc;
	rc = ts_profile_load(&in->profile, c->profile, err);
	if (rc)
		return rc;
	struct ts_classes_opts co = { .model = c->model, .gpu = c->gpu_type, .max_degree = c->gpus,
				      .interpolate = c->interpolate };
	return ts_classes_build(&in->cls, &in->trace, &in->profile, &co, err);
}

void ts_sim_inputs_free(struct ts_sim_inputs *in)
{
	ts_classes_free(&in->cls);
	ts_profile_free(&in->profile);
	ts_trace_free(&in->trace);
}

int ts_sim_build_policy(const char *spec, const struct ts_sim_config *c, const struct ts_sim_inputs *in,
			const struct ts_policy_ops **ops, void **self, struct ts_error *err)
{
	const char *params;
	*ops = ts_policy_find(spec, &params, err);
	if (!*ops)
		return TS_EINVAL;
	struct ts_policy_env env = c->env;
	env.gpus = c->gpus;
	env.trace = &in->trace;
	env.cls = &in->cls;
	int rc = (*ops)->init(self, params, &env, err);
	return rc ? ts_err_prefix(err, "policy %s", spec) : 0;
}

int ts_sim_check_policy(const char *spec, const struct ts_sim_config *c,
			const struct ts_sim_inputs *in, struct ts_error *err)
{
	const struct ts_policy_ops *ops;
	void *self;
	int rc = ts_sim_build_policy(spec, c, in, &ops, &self, err);
	if (!rc && ops->close)
		ops->close(self);
	return rc;
}

/* Every option that changes a simulation's result, so a stored run can be
 * replayed (tetriserve regress) from its runs row alone. */
static void options_json(const struct ts_sim_config *c, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	ts_strbuf_printf(&sb, "{\"slo_scale\":");
	ts_strbuf_json_num(&sb, c->slo_scale);
	ts_strbuf_printf(&sb, ",\"noise\":%s,\"move_cost\":%s,\"move_us\":",
			 c->sim.noise ? "true" : "false", c->sim.move_cost ? "true" : "false");
	ts_strbuf_json_num(&sb, (double)c->sim.move_fixed_ns / 1e3);
	ts_strbuf_printf(&sb, ",\"move_gbps\":");
	ts_strbuf_json_num(&sb, c->sim.move_gbps);
	ts_strbuf_printf(&sb, ",\"interpolate\":%s,\"round_steps\":%d,\"round_ms\":",
			 c->interpolate ? "true" : "false", c->env.round_steps);
	ts_strbuf_json_num(&sb, (double)c->env.round_ns / 1e6);
	ts_strbuf_printf(&sb, ",\"no_placement\":%s,\"no_elastic\":%s,\"no_batching\":%s,\"rssp_map\":",
			 c->env.no_placement ? "true" : "false", c->env.no_elastic ? "true" : "false",
			 c->env.no_batching ? "true" : "false");
	ts_strbuf_json_str(&sb, c->env.rssp_map);
	ts_strbuf_printf(&sb, ",\"model\":");
	ts_strbuf_json_str(&sb, c->model);
	ts_strbuf_printf(&sb, ",\"gpu_type\":");
	ts_strbuf_json_str(&sb, c->gpu_type);
	ts_strbuf_printf(&sb, ",\"label\":");
	ts_strbuf_json_str(&sb, c->label);
	ts_strbuf_printf(&sb, "}");
}

static int begin_stored_run(struct ts_store *store, const char *spec, const char *params_json,
			    const struct ts_sim_config *c, const struct ts_sim_inputs *in,
			    int64_t *run_id, struct ts_error *err)
{
	char opts[2048];
	options_json(c, opts, sizeof(opts));
	struct ts_run_info info = {
		.backend = "sim", .policy = spec, .policy_params = params_json,
		.trace_name = c->trace, .trace_hash = in->trace.hash,
		.profile_name = c->profile, .profile_hash = in->profile.hash, .gpus = c->gpus,
		.seed = c->seed, .version = TS_VERSION, .options = opts,
	};
	return ts_store_run_begin(store, &info, run_id, err);
}

int ts_sim_store_run_end(struct ts_store *store, const char *spec, const struct ts_sim_inputs *in,
			 const struct ts_run_result *res, const struct ts_summary *sum,
			 struct ts_error *err)
{
	int rc = ts_store_unfinished(store, &in->trace, res->st, err);
	if (rc)
		return rc;
	char json[8192];
	ts_summary_json(sum, spec, json, sizeof(json));
	return ts_store_run_end(store, json, err);
}

int ts_sim_run_policy(const char *spec, const struct ts_sim_config *c, const struct ts_sim_inputs *in,
		      struct ts_store *store, volatile sig_atomic_t *stop, struct ts_summary *sum,
		      int64_t *run_id, struct ts_error *err)
{
	const struct ts_policy_ops *ops;
	void *pol, *sim = NULL;
	int64_t id = 0;
	int rc = ts_sim_build_policy(spec, c, in, &ops, &pol, err);
	if (rc)
		return rc;
	rc = ts_sim_create(&sim, &c->sim, &in->cls, err);
	if (rc)
		goto out_close_policy;
	if (store) {
		rc = begin_stored_run(store, spec, ops->describe ? ops->describe(pol) : NULL, c, in, &id, err);
		if (rc)
			goto out_close_sim;
	}
	struct ts_driver_config cfg = {
		.trace = &in->trace, .cls = &in->cls, .gpus = c->gpus, .policy = ops,
		.policy_self = pol, .backend = &ts_sim_backend, .backend_self = sim,
		.sink = store ? &ts_store_sink : NULL, .sink_self = store, .stop = stop,
	};
	struct ts_run_result res;
	rc = ts_driver_run(&cfg, &res, err);
	if (!rc)
		rc = ts_summary_compute(sum, &in->trace, &res, c->gpus, err);
	if (!rc && store)
		rc = ts_sim_store_run_end(store, spec, in, &res, sum, err);
	ts_run_result_free(&res);
	if (run_id)
		*run_id = id;
out_close_sim:
	ts_sim_backend.close(sim);
out_close_policy:
	if (ops->close)
		ops->close(pol);
	return rc;
}

void ts_policy_results_json(FILE *f, const struct ts_policy_result *pr, int n)
{
	static char json[8192];
	fprintf(f, n > 1 ? "[" : "");
	for (int i = 0; i < n; i++) {
		ts_summary_json(&pr[i].sum, pr[i].spec, json, sizeof(json));
		fprintf(f, "%s%s", i ? "," : "", json);
	}
	fprintf(f, n > 1 ? "]\n" : "\n");
}

void ts_policy_results_table(FILE *f, const struct ts_policy_result *pr, int n)
{
	ts_summary_print_header(f, &pr[0].sum);
	for (int i = 0; i < n; i++)
		ts_summary_print_row(f, &pr[i].sum, pr[i].spec);
}
