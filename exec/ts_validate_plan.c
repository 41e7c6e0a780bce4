/* ts_validate_plan.c: the part of a trace a validation runs (see
 * ts_validate_plan.h). */
#include "ts_validate_plan.h"

#include <stdio.h>
#include <string.h>

/* Simulates every policy on configuration c; fills est_run_s and est_s. */
static int estimate(struct ts_validate_plan *p, const struct ts_run_config *c, const char *const *spec,
		    const struct ts_backend_factory *sim, const struct ts_validate_budget *b,
		    struct ts_error *err)
{
	struct ts_run_inputs in;
	int rc = ts_run_inputs_load(&in, c, err);
	p->est_s = 0;
	for (int i = 0; !rc && i < p->npolicies; i++) {
		struct ts_run_outcome out;
		rc = ts_run_policy(spec[i], c, &in, sim, NULL, NULL, &out, err);
		p->est_run_s[i] = rc ? 0 : out.sum.makespan_s + b->per_run_s;
		p->est_s += p->est_run_s[i];
	}
	ts_run_inputs_free(&in);
	return rc;
}

/* The size of the trace after the base's cut, and its most steps. */
static int trace_shape(const struct ts_run_config *base, struct ts_validate_plan *p, struct ts_error *err)
{
	struct ts_run_inputs in;
	int rc = ts_run_inputs_load(&in, base, err);
	if (rc)
		return rc;
	p->trace_requests = in.trace.n;
	for (size_t i = 0; i < in.trace.n; i++)
		if (in.trace.req[i].steps > p->trace_max_steps)
			p->trace_max_steps = in.trace.req[i].steps;
	ts_run_inputs_free(&in);
	return 0;
}

/* The longest prefix of at least lo requests of c that fits, into p (its
 * estimate filled); 0 when found, 1 when even lo does not fit (p holds lo's
 * estimate), < 0 on error. Assumes a longer prefix never runs shorter. */
static int longest_prefix(struct ts_validate_plan *p, struct ts_run_config c, size_t lo,
			  const char *const *spec, const struct ts_backend_factory *sim,
			  const struct ts_validate_budget *b, struct ts_error *err)
{
	size_t hi = p->trace_requests;
	c.max_requests = (long long)lo;
	int rc = estimate(p, &c, spec, sim, b, err);
	if (rc || p->est_s > b->seconds) {
		p->cfg = c;
		return rc ? rc : 1;
	}
	while (lo < hi) { /* lo fits; find the largest that does */
		size_t mid = lo + (hi - lo + 1) / 2;
		c.max_requests = (long long)mid;
		if ((rc = estimate(p, &c, spec, sim, b, err)))
			return rc;
		if (p->est_s <= b->seconds)
			lo = mid;
		else
			hi = mid - 1;
	}
	c.max_requests = (long long)lo;
	p->cfg = c;
	return estimate(p, &c, spec, sim, b, err);
}

/* The candidates after the whole trace, in order: prefixes at the base's
 * arrivals and steps, then at arrivals x1/2, x1/4, x1/8, then at x1/8 with
 * the steps capped at 1/2, 1/4, 1/8 of the trace's most. */
static struct ts_run_config candidate(const struct ts_run_config *base, int trace_max_steps, int k)
{
	struct ts_run_config c = *base;
	int halvings = k < 4 ? k : 3, cap = k < 4 ? 0 : k - 3;
	for (int i = 0; i < halvings; i++)
		c.time_scale /= 2;
	int most = base->max_steps > 0 && base->max_steps < trace_max_steps ? base->max_steps : trace_max_steps;
	if (cap)
		c.max_steps = most >> cap > 0 ? most >> cap : 1;
	return c;
}

#define PLAN_CANDIDATES 7

int ts_validate_plan_make(const struct ts_run_config *base, const char *const *spec, int n,
			  const struct ts_backend_factory *sim, const struct ts_validate_budget *b,
			  struct ts_validate_plan *out, struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	if (n < 1 || n > TS_VALIDATE_MAX_POLICIES)
		return ts_err_set(err, TS_EINVAL, "validate: %d policies (1..%d)", n, TS_VALIDATE_MAX_POLICIES);
	out->npolicies = n;
	out->budget_s = b->seconds;
	int rc = trace_shape(base, out, err);
	if (!rc)
		rc = estimate(out, base, spec, sim, b, err);
	out->full_s = out->est_s;
	out->cfg = *base;
	out->requests = out->trace_requests;
	if (rc || out->est_s <= b->seconds)
		return rc;
	size_t lo = b->min_requests > 0 && (size_t)b->min_requests < out->trace_requests
			    ? (size_t)b->min_requests : out->trace_requests;
	for (int k = 0; k < PLAN_CANDIDATES; k++) {
		struct ts_run_config c = candidate(base, out->trace_max_steps, k);
		rc = longest_prefix(out, c, lo, spec, sim, b, err);
		if (rc <= 0)
			break;
	}
	if (rc > 0)
		return ts_err_set(err, TS_ERANGE,
				  "validate: even the first %zu requests at time scale %g with at most %d steps "
				  "each take an estimated %.1f min to run, more than the %.1f min left: raise "
				  "--max-minutes or lower --min-requests", lo, out->cfg.time_scale,
				  out->cfg.max_steps, out->est_s / 60, b->seconds / 60);
	if (rc)
		return rc;
	out->requests = (size_t)out->cfg.max_requests;
	out->cut = out->requests < out->trace_requests;
	out->scaled = out->cfg.time_scale != base->time_scale;
	out->capped = out->cfg.max_steps != base->max_steps;
	return 0;
}

void ts_validate_plan_text(const struct ts_validate_plan *p, const char *const *spec, char *buf,
			   size_t len)
{
	size_t at = 0;
#define ADD(...) (at += at < len ? (size_t)snprintf(buf + at, len - at, __VA_ARGS__) : 0)
	if (p->cut || p->scaled || p->capped)
		ADD("plan: the whole trace (%zu requests) would take an estimated %.1f min, more than the "
		    "%.1f min left; so: ", p->trace_requests, p->full_s / 60, p->budget_s / 60);
	else
		ADD("plan: the whole trace (%zu requests), an estimated %.1f min of the %.1f min left; ",
		    p->trace_requests, p->full_s / 60, p->budget_s / 60);
	if (p->cut)
		ADD("the first %zu of %zu requests", p->requests, p->trace_requests);
	else
		ADD("all %zu requests", p->requests);
	if (p->scaled)
		ADD(", arrivals compressed to time scale %g (the load rises)", p->cfg.time_scale);
	if (p->capped)
		ADD(", at most %d steps per request (the trace has up to %d; SLOs unchanged)", p->cfg.max_steps,
		    p->trace_max_steps);
	ADD("; estimated %.1f min:", p->est_s / 60);
	for (int i = 0; i < p->npolicies; i++)
		ADD(" %s %.1f s%s", spec[i], p->est_run_s[i], i + 1 < p->npolicies ? "," : "");
#undef ADD
}
