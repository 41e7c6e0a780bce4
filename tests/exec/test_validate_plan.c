/* test_validate_plan.c: what a validation runs within its budget
 * (exec/ts_validate_plan.h), on traces/small.csv (20 requests over 270 s,
 * all four resolutions, 50 steps) and the test profile, 2 GPUs, two
 * policies: the whole trace when it fits; else the longest prefix that
 * fits (checked against a direct simulation of one request more); else
 * faster arrivals; else fewer steps; an error naming the estimate when
 * nothing fits; and the plan in words says each choice.
 * Usage: test_validate_plan TRACE PROFILE */
#include <string.h>

#include "sim_backend.h"
#include "test_util.h"
#include "ts_validate_plan.h"

static const char *const specs[] = { "fixed-sp:1", "tetriserve" };
static struct ts_sim_opts so;
static struct ts_backend_factory sim;
static struct ts_run_config base;

/* Sum over the policies of their simulated makespan + per_run_s on c. */
static double simulate(const struct ts_run_config *c, double per_run_s)
{
	struct ts_run_inputs in;
	struct ts_error err = { 0 };
	double s = 0;
	TS_CHECK_MSG(ts_run_inputs_load(&in, c, &err) == 0, "%s", err.msg);
	for (int i = 0; i < 2; i++) {
		struct ts_run_outcome out;
		TS_CHECK_MSG(ts_run_policy(specs[i], c, &in, &sim, NULL, NULL, &out, &err) == 0, "%s", err.msg);
		s += out.sum.makespan_s + per_run_s;
	}
	ts_run_inputs_free(&in);
	return s;
}

static int make(double seconds, long long min_requests, struct ts_validate_plan *p, struct ts_error *err)
{
	struct ts_validate_budget b = { .seconds = seconds, .per_run_s = 2.0, .min_requests = min_requests };
	return ts_validate_plan_make(&base, specs, 2, &sim, &b, p, err);
}

static void test_whole_trace(void)
{
	struct ts_validate_plan p;
	struct ts_error err = { 0 };
	char text[2048];
	TS_CHECK_MSG(make(1e6, 5, &p, &err) == 0, "%s", err.msg);
	TS_CHECK(p.requests == 20 && p.trace_requests == 20 && !p.cut && !p.scaled && !p.capped);
	TS_CHECK_NEAR(p.est_s, simulate(&base, 2.0), 1e-6);
	ts_validate_plan_text(&p, specs, text, sizeof(text));
	TS_CHECK_MSG(strstr(text, "plan: the whole trace (20 requests), an estimated") && strstr(text, "all 20 requests"),
		     "%s", text);
}

/* Half the whole trace's estimate: the longest prefix that fits. */
static void test_prefix(void)
{
	struct ts_validate_plan p;
	struct ts_error err = { 0 };
	char text[2048];
	double whole = simulate(&base, 2.0);
	TS_CHECK_MSG(make(whole / 2, 5, &p, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(p.cut && !p.scaled && !p.capped && p.requests >= 5 && p.requests < 20, "%zu requests",
		     p.requests);
	struct ts_run_config c = base;
	c.max_requests = (long long)p.requests;
	TS_CHECK(simulate(&c, 2.0) <= whole / 2);
	c.max_requests++;
	TS_CHECK_MSG(simulate(&c, 2.0) > whole / 2, "one request more fits too");
	ts_validate_plan_text(&p, specs, text, sizeof(text));
	char want[96];
	snprintf(want, sizeof(want), "the first %zu of 20 requests", p.requests);
	TS_CHECK_MSG(strstr(text, want) && strstr(text, "more than the") && !strstr(text, "time scale"),
		     "%s", text);
}

/* Too little for 10 requests as they arrive: arrivals compressed, then steps capped. */
static void test_scaled_then_capped(void)
{
	struct ts_validate_plan p;
	struct ts_error err = { 0 };
	char text[2048];
	struct ts_run_config c = base;
	c.max_requests = 10;
	double ten = simulate(&c, 2.0);
	TS_CHECK_MSG(make(ten * 0.9, 10, &p, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(p.scaled && !p.capped && p.requests >= 10 && p.cfg.time_scale < 1, "scale %g",
		     p.cfg.time_scale);
	ts_validate_plan_text(&p, specs, text, sizeof(text));
	TS_CHECK_MSG(strstr(text, "arrivals compressed to time scale") != NULL, "%s", text);
	c.time_scale = 0.125;
	double fastest = simulate(&c, 2.0);
	TS_CHECK_MSG(make(fastest * 0.9, 10, &p, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(p.scaled && p.capped && p.cfg.max_steps > 0 && p.cfg.max_steps < 50, "steps %d",
		     p.cfg.max_steps);
	ts_validate_plan_text(&p, specs, text, sizeof(text));
	TS_CHECK_MSG(strstr(text, "steps per request (the trace has up to 50") != NULL, "%s", text);
}

static void test_nothing_fits(void)
{
	struct ts_validate_plan p;
	struct ts_error err = { 0 };
	TS_CHECK(make(1.0, 10, &p, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "even the first 10 requests") && strstr(err.msg, "raise --max-minutes"),
		     "%s", err.msg);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_validate_plan TRACE PROFILE\n");
		return 2;
	}
	ts_sim_opts_defaults(&so);
	sim = ts_sim_factory(&so);
	ts_run_config_defaults(&base);
	base.trace = argv[1];
	base.profile = argv[2];
	base.gpus = 2;
	test_whole_trace();
	test_prefix();
	test_scaled_then_capped();
	test_nothing_fits();
	return ts_test_result("validate_plan");
}
