/* ts_validate_flow.c: the one-command validation (see ts_validate.h):
 * measure, plan, serve, simulate, store, compare. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_validate.h"
#include "core/clock.h"
#include "store/store.h"
#include "ts_validate_internal.h"

static volatile sig_atomic_t stop_flag;

/* Ctrl-C or the budget's alarm: the run in progress ends at its next wait. */
static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double elapsed_s(const struct flow *fl)
{
	return (double)(ts_clock_ns() - fl->t0) / 1e9;
}

static void note(const struct flow *fl, const char *fmt, const char *what, double s)
{
	if (!fl->o->quiet) {
		fprintf(fl->f, fmt, what, s);
		fflush(fl->f);
	}
}

/* The square resolutions of the requests the base configuration runs. */
static int trace_resolutions(const struct flow *fl, struct ts_validate_measure *m, struct ts_error *err)
{
	struct ts_trace t;
	int rc = ts_trace_load(&t, fl->o->trace, err);
	size_t n = fl->o->cfg.max_requests > 0 && (size_t)fl->o->cfg.max_requests < t.n
			   ? (size_t)fl->o->cfg.max_requests : t.n;
	for (size_t i = 0; !rc && i < n; i++) {
		const struct ts_request *q = &t.req[i];
		bool seen = false;
		for (int k = 0; k < m->nres; k++)
			seen |= m->res[k] == q->height;
		if (q->height != q->width)
			rc = ts_err_set(err, TS_EINVAL, "%s: request %lld is %dx%d: --measure profiles square "
					"resolutions only; give --profile", fl->o->trace, (long long)q->id,
					q->height, q->width);
		else if (!seen && m->nres == 16)
			rc = ts_err_set(err, TS_EINVAL, "%s: more than 16 resolutions to measure", fl->o->trace);
		else if (!seen)
			m->res[m->nres++] = q->height;
	}
	if (!rc)
		ts_trace_free(&t);
	return rc;
}

/* --measure: profiles the trace's cells on the device into the profile
 * the rest of the flow uses. */
static int measure(struct flow *fl, struct ts_error *err)
{
	struct ts_validate_opts *o = fl->o;
	struct ts_validate_measure m = { .model = o->model, .db = o->db, .gpus = o->cfg.gpus };
	if (!fl->dev->measure)
		return ts_err_set(err, TS_EINVAL, "the %s cannot measure a profile: give --profile", fl->dev->what);
	snprintf(fl->profile_out, sizeof(fl->profile_out), "%s%s", o->profile_out ? o->profile_out : o->db,
		 o->profile_out ? "" : ".profile.csv");
	m.out = fl->profile_out;
	int rc = trace_resolutions(fl, &m, err);
	if (!rc)
		rc = fl->dev->measure(&m, err);
	if (rc)
		return ts_err_prefix(err, "measuring the profile");
	o->profile = fl->profile_out;
	note(fl, "profile: measured into %s (%.1f s)\n", fl->profile_out, elapsed_s(fl));
	return 0;
}

/* The plan: what fits the budget left after the device's setup. A device
 * that runs no batched launch gets batching=off in every spec (both sides
 * run the edited specs). */
static int plan(struct flow *fl, struct ts_error *err)
{
	struct ts_validate_opts *o = fl->o;
	struct ts_backend_factory simf;
	struct ts_run_inputs full;
	o->cfg.trace = o->trace;
	o->cfg.profile = o->profile;
	if (!fl->dev->batches && ts_policy_list_apply_named(&o->policies, "no-batching", NULL, err))
		return err->code;
	int rc = ts_run_inputs_load(&full, &o->cfg, err);
	if (rc)
		return rc;
	double setup = fl->dev->setup_s ? fl->dev->setup_s(o, &full) : 0;
	struct ts_validate_budget b = {
		.seconds = o->max_minutes * 60 - elapsed_s(fl) - setup,
		.per_run_s = 1.0 + fl->dev->per_request_s * (double)full.trace.n * o->cfg.gpus,
		.min_requests = o->min_requests,
	};
	ts_run_inputs_free(&full);
	if (b.seconds <= 0)
		return ts_err_set(err, TS_ERANGE, "--max-minutes %g leaves no time to run: %.0f s have passed and "
				  "the %s's setup is estimated at %.0f s", o->max_minutes, elapsed_s(fl),
				  fl->dev->what, setup);
	rc = fl->sim->make(NULL, o->cfg.seed, &simf, err);
	if (rc)
		return rc;
	rc = ts_validate_plan_make(&o->cfg, (const char *const *)o->policies.spec, o->policies.n, &simf, &b,
				   &fl->plan, err);
	if (fl->sim->release)
		fl->sim->release(&simf);
	if (rc)
		return rc;
	char text[2048];
	ts_validate_plan_text(&fl->plan, (const char *const *)o->policies.spec, text, sizeof(text));
	fprintf(fl->f, "%s (setup estimated %.0f s)\n", text, setup);
	return ts_run_inputs_load(&fl->in, &fl->plan.cfg, err);
}

/* Serves one policy; a stop by the budget or Ctrl-C marks the pair cut. */
static int serve(struct flow *fl, struct ts_store *store, struct pair *p, struct ts_error *err)
{
	double left = fl->o->max_minutes * 60 - elapsed_s(fl);
	struct ts_backend_factory xf = ts_exec_factory(&fl->x);
	struct ts_run_outcome out;
	if (left < 1)
		left = 1;
	alarm((unsigned)ceil(left));
	int64_t t0 = ts_clock_ns();
	int rc = ts_run_policy(p->spec, &fl->plan.cfg, &fl->in, &xf, store, &stop_flag, &out, err);
	alarm(0);
	p->exec_id = out.run_id;
	p->wall_s = (double)(ts_clock_ns() - t0) / 1e9;
	p->prealloc_ms = fl->x.prealloc_ms;
	p->cut = rc == TS_EINTR;
	if (!rc)
		note(fl, "exec %s: %.1f s\n", p->spec, p->wall_s);
	return rc;
}

/* Every policy on the device; stops at the first run the budget cut. */
static int serve_all(struct flow *fl, struct ts_store *store, struct ts_error *err)
{
	const struct ts_validate_device *dev = fl->dev;
	fl->x = (struct ts_exec_factory_ctx){ .warmup_steps = fl->o->warmup_steps, .warm_comms = true,
					      .prealloc = true };
	int64_t t0 = ts_clock_ns();
	int rc = dev->open(fl->o, &fl->in, &fl->x, err);
	if (rc)
		return ts_err_prefix(err, "opening the %s", dev->what);
	note(fl, "%s ready in %.1f s\n", dev->what, (double)(ts_clock_ns() - t0) / 1e9);
	signal(SIGINT, on_stop);
	signal(SIGALRM, on_stop);
	for (int i = 0; !rc && i < fl->o->policies.n; i++) {
		struct pair *p = &fl->pair[fl->npairs++];
		*p = (struct pair){ .spec = fl->o->policies.spec[i] };
		rc = serve(fl, store, p, err);
	}
	signal(SIGALRM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (rc && dev->on_failure)
		dev->on_failure(&fl->x);
	dev->close(&fl->x);
	return rc;
}

/* The simulator's run of the configuration of pair p's executor run. */
static int simulate(struct flow *fl, struct ts_store *store, struct pair *p, struct ts_error *err)
{
	struct ts_backend_factory xf = ts_exec_factory(&fl->x), simf;
	struct ts_run_outcome out;
	json_t *opts = ts_run_options_json(&fl->plan.cfg);
	int rc = opts && xf.describe(xf.ctx, opts) == 0 ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
	if (!rc)
		rc = fl->sim->make(opts, fl->plan.cfg.seed, &simf, err);
	json_decref(opts);
	if (rc)
		return rc;
	rc = ts_run_policy(p->spec, &fl->plan.cfg, &fl->in, &simf, store, NULL, &out, err);
	p->sim_id = out.run_id;
	if (fl->sim->release)
		fl->sim->release(&simf);
	return rc;
}

int ts_validate_flow(struct ts_validate_opts *o, const struct ts_validate_device *dev,
		     const struct ts_backend_entry *sim, FILE *f, struct ts_error *err)
{
	struct flow *fl = calloc(1, sizeof(*fl));
	struct ts_store *store = NULL;
	if (!fl)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	*fl = (struct flow){ .o = o, .dev = dev, .sim = sim, .f = f, .t0 = ts_clock_ns() };
	stop_flag = 0;
	int rc = o->measure ? measure(fl, err) : 0;
	if (!rc)
		rc = plan(fl, err);
	if (!rc)
		rc = ts_store_open(&store, o->db, err);
	int served = rc ? rc : serve_all(fl, store, err);
	struct ts_error serr = *err;
	rc = store ? 0 : rc; /* after a failed or cut run, what did run is still compared */
	for (int i = 0; !rc && i < fl->npairs; i++)
		if (fl->pair[i].exec_id && !fl->pair[i].cut && !(i == fl->npairs - 1 && served))
			rc = simulate(fl, store, &fl->pair[i], err);
	ts_store_close(store);
	if (!rc && store)
		rc = ts_validate_report_all(fl, err);
	if (!rc && served) {
		rc = served;
		*err = serr;
	}
	ts_run_inputs_free(&fl->in);
	free(fl);
	return rc;
}
