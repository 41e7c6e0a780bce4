/* The driver loop on the simulator: hand-computed schedules, invariants of
 * every policy on random traces, determinism, and the driver's rejection of
 * impossible decisions. */
#include "report/summary.h"
#include "sim_fixture.h"
#include "test_util.h"

static struct ts_sim_opts sim_defaults(void)
{
	struct ts_sim_opts so;
	ts_sim_opts_defaults(&so);
	return so;
}

/* One GPU, three requests of 30 ms steps: FCFS runs them in arrival order
 * back to back; EDF lets the tighter third one overtake the second. */
static void test_hand_fcfs_and_edf(void)
{
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_trace t = { 0 };
	fx_add(&t, 0, 0.00, 0, 10, 0.30); /* deadline 0.30 */
	fx_add(&t, 1, 0.01, 0, 5, 0.40);  /* deadline 0.41 */
	fx_add(&t, 2, 0.02, 0, 2, 0.35);  /* deadline 0.37 */
	struct ts_run_result res;
	struct fx_sink sink;
	struct ts_error err = { 0 };
	TS_CHECK(fx_run("fixed-sp:1", 1, &t, &cs, NULL, &res, &sink, &err) == 0);
	TS_CHECK(res.st[0].start == 0 && res.st[0].finish == ts_ns_from_s(0.30));
	TS_CHECK(res.st[1].start == ts_ns_from_s(0.30) && res.st[1].finish == ts_ns_from_s(0.45));
	TS_CHECK(res.st[2].start == ts_ns_from_s(0.45) && res.st[2].finish == ts_ns_from_s(0.51));
	struct ts_summary s;
	TS_CHECK(ts_summary_compute(&s, &t, &res, 1, &err) == 0);
	TS_CHECK(s.met == 1 && s.finished == 3);
	TS_CHECK_NEAR(s.gpu_util, 0.51 / 0.51, 1e-12);
	ts_run_result_free(&res);
	free(sink.seg);

	TS_CHECK(fx_run("edf-fixed:1", 1, &t, &cs, NULL, &res, &sink, &err) == 0);
	TS_CHECK(res.st[0].finish == ts_ns_from_s(0.30));
	TS_CHECK(res.st[2].start == ts_ns_from_s(0.30) && res.st[2].finish == ts_ns_from_s(0.36));
	TS_CHECK(res.st[1].start == ts_ns_from_s(0.36) && res.st[1].finish == ts_ns_from_s(0.51));
	TS_CHECK(ts_summary_compute(&s, &t, &res, 1, &err) == 0);
	TS_CHECK(s.met == 2);
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
	free(cs.cls);
}

/* A request alone finishes at arrival + steps x T(k) for its policy's degree. */
static void test_alone(void)
{
	static const struct {
		const char *spec;
		int gpus, cls, degree;
	} cases[] = {
		{ "fixed-sp:1", 4, 2, 1 }, { "fixed-sp:2", 4, 2, 2 }, { "fixed-sp:4", 4, 3, 4 },
		{ "edf-fixed:2", 8, 1, 2 }, { "rssp", 4, 3, 4 }, { "rssp", 8, 3, 8 },
		{ "rssp", 8, 0, 1 }, { "rssp:1024=4", 8, 2, 4 },
	};
	struct ts_classes cs;
	fx_classes(&cs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ts_trace t = { 0 };
		fx_add(&t, 0, 1.25, cases[i].cls, 50, 100);
		struct ts_run_result res;
		struct fx_sink sink;
		struct ts_error err = { 0 };
		TS_CHECK_MSG(fx_run(cases[i].spec, cases[i].gpus, &t, &cs, NULL, &res, &sink, &err) == 0,
			     "%s: %s", cases[i].spec, err.msg);
		ts_ns T = ts_class_step(&cs, cases[i].cls, cases[i].degree, 1);
		TS_CHECK_MSG(res.st[0].finish == ts_ns_from_s(1.25) + 50 * T, "%s on %d GPUs",
			     cases[i].spec, cases[i].gpus);
		ts_run_result_free(&res);
		free(sink.seg);
		free(t.req);
	}
	free(cs.cls);
}

static void test_invariants_random(void)
{
	static const char *specs[] = { "fixed-sp:1", "fixed-sp:2", "fixed-sp:4", "fixed-sp:8",
				       "edf-fixed:1", "edf-fixed:4", "rssp", "rssp:256=2,512=4,1024=8,2048=8" };
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_sim_opts so = sim_defaults();
	for (unsigned long seed = 1; seed <= 6; seed++) {
		struct ts_trace t;
		fx_random_trace(&t, 400, 6.0 + 4.0 * (double)seed, seed);
		for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
			struct ts_run_result res;
			struct fx_sink sink;
			struct ts_error err = { 0 };
			int rc = fx_run(specs[i], 8, &t, &cs, &so, &res, &sink, &err);
			TS_CHECK_MSG(rc == 0, "%s: %s", specs[i], err.msg);
			TS_CHECK_MSG(fx_check_no_double_booking(&sink, 8) == 0, "%s seed %lu", specs[i], seed);
			TS_CHECK_MSG(fx_check_requests(&t, &cs, &res, &sink, &so) == 0, "%s seed %lu",
				     specs[i], seed);
			TS_CHECK(sink.done == t.n);
			ts_run_result_free(&res);
			free(sink.seg);
		}
		free(t.req);
	}
	free(cs.cls);
}

static bool same_segments(const struct fx_sink *a, const struct fx_sink *b)
{
	return a->n == b->n && memcmp(a->seg, b->seg, a->n * sizeof(*a->seg)) == 0;
}

static void test_determinism(void)
{
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_trace t;
	fx_random_trace(&t, 300, 20, 7);
	struct ts_sim_opts so = sim_defaults();
	so.noise = true;
	struct ts_run_result r1, r2, r3;
	struct fx_sink s1, s2, s3;
	struct ts_error err = { 0 };
	TS_CHECK(fx_run("rssp", 8, &t, &cs, &so, &r1, &s1, &err) == 0);
	TS_CHECK(fx_run("rssp", 8, &t, &cs, &so, &r2, &s2, &err) == 0);
	so.seed = 2;
	TS_CHECK(fx_run("rssp", 8, &t, &cs, &so, &r3, &s3, &err) == 0);
	TS_CHECK(same_segments(&s1, &s2));
	TS_CHECK(!same_segments(&s1, &s3)); /* the noise seed matters */
	TS_CHECK(fx_check_no_double_booking(&s3, 8) == 0);
	TS_CHECK(fx_check_requests(&t, &cs, &r3, &s3, &so) == 0);
	ts_run_result_free(&r1);
	ts_run_result_free(&r2);
	ts_run_result_free(&r3);
	free(s1.seg);
	free(s2.seg);
	free(s3.seg);
	free(t.req);
	free(cs.cls);
}

/* Misbehaving policies, to prove the driver's checks: each is asked to break
 * one rule and the run must fail with TS_EPOLICY naming it. */
enum misbehaviour { DOUBLE_BOOK, EARLY, TOO_MANY_STEPS, ODD_WIDTH, IDLE_FOREVER };

static int bad_init(void **self, const char *params, const struct ts_policy_env *env,
		    struct ts_error *err)
{
	(void)env, (void)err;
	static enum misbehaviour m;
	m = (enum misbehaviour)atoi(params);
	*self = &m;
	return 0;
}

static int bad_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		    struct ts_error *err)
{
	enum misbehaviour m = *(enum misbehaviour *)self;
	struct ts_launch a = { .nreq = 1, .req = { 0 }, .gpus = 1, .nsteps = 1 };
	struct ts_launch b = a;
	out->wake_at = -1;
	switch (m) {
	case DOUBLE_BOOK:
		b.req[0] = 1;
		if (v->busy)
			return 0;
		ts_plan_push(out, &a, err);
		return ts_plan_push(out, &b, err);
	case EARLY:
		a.req[0] = 2;
		return ts_plan_push(out, &a, err);
	case TOO_MANY_STEPS:
		a.nsteps = 1000;
		return ts_plan_push(out, &a, err);
	case ODD_WIDTH:
		a.gpus = 7;
		return ts_plan_push(out, &a, err);
	case IDLE_FOREVER:
		return 0;
	}
	return 0;
}

static void bad_close(void *self)
{
	(void)self;
}

static const struct ts_policy_ops bad_policy = {
	.name = "bad", .init = bad_init, .plan = bad_plan, .close = bad_close,
};

static void test_driver_rejects(void)
{
	static const struct {
		enum misbehaviour m;
		const char *needle;
	} cases[] = {
		{ DOUBLE_BOOK, "busy" },       { EARLY, "before its arrival" },
		{ TOO_MANY_STEPS, "remain" },  { ODD_WIDTH, "power-of-two" },
		{ IDLE_FOREVER, "every GPU idle" },
	};
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_trace t = { 0 };
	fx_add(&t, 0, 0, 0, 10, 1);
	fx_add(&t, 1, 0, 0, 10, 1);
	fx_add(&t, 2, 5, 0, 10, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char params[8];
		snprintf(params, sizeof(params), "%d", cases[i].m);
		void *pol, *sim;
		struct ts_error err = { 0 };
		bad_policy.init(&pol, params, NULL, &err);
		struct ts_sim_opts so = sim_defaults();
		ts_sim_create(&sim, &so, &cs, &err);
		struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 4,
						.policy = { &bad_policy, pol },
						.backend = { &ts_sim_backend, sim } };
		struct ts_run_result res;
		int rc = ts_driver_run(&cfg, &res, &err);
		TS_CHECK_MSG(rc == TS_EPOLICY && strstr(err.msg, cases[i].needle), "case %d: rc %d '%s'",
			     cases[i].m, rc, err.msg);
		ts_run_result_free(&res);
		ts_sim_backend.close(sim);
	}
	free(t.req);
	free(cs.cls);
}

static void test_interrupt(void)
{
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_trace t;
	fx_random_trace(&t, 50, 12, 3);
	struct ts_error err = { 0 };
	struct ts_policy_env env = { .gpus = 2, .trace = &t, .cls = &cs };
	struct ts_policy pol;
	void *sim;
	TS_CHECK(ts_policy_build("fixed-sp:1", &env, &pol, &err) == 0);
	struct ts_sim_opts so = sim_defaults();
	ts_sim_create(&sim, &so, &cs, &err);
	volatile sig_atomic_t stop = 1;
	struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 2, .policy = pol,
					.backend = { &ts_sim_backend, sim }, .stop = &stop };
	struct ts_run_result res;
	TS_CHECK(ts_driver_run(&cfg, &res, &err) == TS_EINTR);
	ts_run_result_free(&res);
	ts_sim_backend.close(sim);
	ts_policy_close(&pol);
	free(t.req);
	free(cs.cls);
}

static void test_bad_specs(void)
{
	struct ts_classes cs;
	fx_classes(&cs);
	struct ts_trace t = { 0 };
	fx_add(&t, 0, 0, 0, 10, 1);
	static const char *specs[] = { "fixed-sp:3", "fixed-sp:16", "fixed-sp:", "edf-fixed:x",
				       "rssp:256", "rssp:256=3", "nonsense", "fixed-sp:-4294967294",
				       "rssp:256=4294967297", "rssp:256x=2", "rssp:256=1,256=2", "rssp:256=1,",
				       "rssp:256/1+", "fixed-sp:2:order=lifo", "fixed-sp:2:bogus=1",
				       "tetriserve:round_steps=0", "tetriserve:elastic=maybe" };
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct ts_run_result res;
		struct fx_sink sink;
		struct ts_error err = { 0 };
		TS_CHECK_MSG(fx_run(specs[i], 8, &t, &cs, NULL, &res, &sink, &err) == TS_EINVAL,
			     "%s accepted", specs[i]);
		TS_CHECK(err.msg[0] != '\0');
	}
	free(t.req);
	free(cs.cls);
}

int main(void)
{
	test_hand_fcfs_and_edf();
	test_alone();
	test_invariants_random();
	test_determinism();
	test_driver_rejects();
	test_interrupt();
	test_bad_specs();
	return ts_test_result("sim_driver");
}
