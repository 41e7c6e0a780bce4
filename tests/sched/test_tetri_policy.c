/* test_tetri_policy.c: the "tetriserve" policy, called directly (hand-built
 * situations) and end to end on the simulator (the paper-figure scenario,
 * invariants on random traces for every ablation combination, random step
 * tables and node sizes). */
#include <stdio.h>
#include <string.h>

#include "core/gpuset.h"
#include "driver/driver.h"
#include "sched/tetri/tetri_policy.h"
#include "sim_backend.h"
#include "sim_run.h"
#include "test_util.h"
#include "tetri_fixture.h"
#include "tetri_world.h"

/* A late request never takes a GPU from one that can still make it: one
 * GPU, a late 256^2 request first in line, a feasible one after it. */
static void test_late_yields(void)
{
	struct world w;

	world_begin(&w, false);
	tf_add(&w.t, 0, 0, 50, 1.0);   /* 50 x 30 ms > 1.0 s: late at once */
	tf_add(&w.t, 0, 0, 50, 1.6);   /* 1.5 s on one GPU: can make it */
	TS_CHECK(world_start(&w, 1, 0, NULL, NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && w.plan.launch[0].req[0] == 1 && w.plan.launch[0].gpus == 1);
	TS_CHECK(w.plan.round && w.plan.wake_at == 5 * 55 * TS_NS_PER_MS);
	/* mid-round, the feasible request running: the late one may use what is idle */
	w.st[1].steps_inflight = 9;
	w.v.busy = 1;
	TS_CHECK(world_plan(&w, 10 * TS_NS_PER_MS) == 0);
	TS_CHECK(w.plan.n == 0 && !w.plan.round && w.plan.wake_at == 275 * TS_NS_PER_MS);
	world_end(&w);

	/* two GPUs: the late request gets at most one, only after the other */
	world_begin(&w, false);
	tf_add(&w.t, 0, 0, 50, 1.0);
	tf_add(&w.t, 0, 2, 50, 6.0);   /* 1024^2: needs SP 2 for most steps */
	TS_CHECK(world_start(&w, 2, 0, NULL, NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && w.plan.launch[0].req[0] == 1 &&
		 ts_gpus_count(w.plan.launch[0].gpus) == 2);
	world_end(&w);
}

/* Work conservation and elastic scale-up: a lone 1024^2 request with time to
 * spare runs on 1 GPU by its plan, then grows onto the idle rest. */
static void test_elastic(void)
{
	struct world w;

	world_begin(&w, false);
	tf_add(&w.t, 0, 2, 50, 30.0);
	TS_CHECK(world_start(&w, 8, 0, "solo=off", NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && w.plan.launch[0].gpus == 0xFF);
	/* q steps back to back: as many 38 ms steps as fit a 275 ms round */
	TS_CHECK(w.plan.launch[0].nsteps == 7);
	world_end(&w);

	world_begin(&w, false);
	tf_add(&w.t, 0, 2, 50, 30.0);
	TS_CHECK(world_start(&w, 8, 0, "elastic=off", NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && ts_gpus_count(w.plan.launch[0].gpus) == 1);
	TS_CHECK(w.plan.launch[0].nsteps == 1);   /* one 190 ms step fits */
	world_end(&w);
}

/* Placement preservation: a request that ran on GPUs 4-7 stays there. */
static void test_placement(void)
{
	for (int keep = 0; keep < 2; keep++) {
		struct world w;
		world_begin(&w, false);
		/* 40 steps left of 1024^2 with 2.4 s: the plan is 40 steps at SP 4 */
		tf_add(&w.t, 0, 2, 50, 2.95);
		TS_CHECK(world_start(&w, 8, 0, keep ? "elastic=off" : "elastic=off:placement=off", NULL) == 0);
		w.st[0].steps_done = 10;
		w.st[0].gpus = 0xF0;
		w.st[0].start = 0;
		TS_CHECK(world_plan(&w, ts_ns_from_s(0.55)) == 0);
		TS_CHECK(w.plan.n == 1);
		TS_CHECK_MSG(w.plan.launch[0].gpus == (keep ? 0xF0ULL : 0x0FULL), "keep %d: gpus %#llx",
			     keep, (unsigned long long)w.plan.launch[0].gpus);
		world_end(&w);
	}
}

/* Selective batching of identical small requests on a single GPU. */
static void test_batching(void)
{
	for (int on = 0; on < 2; on++) {
		struct world w;
		world_begin(&w, true);
		for (int i = 0; i < 4; i++)
			tf_add(&w.t, 0, 0, 10, 3.0);
		TS_CHECK(world_start(&w, 1, 0, on ? NULL : "batching=off", NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0);
		TS_CHECK(w.plan.n == 1);
		if (on) {
			/* batch of 4: 84 ms a step, 3 fit the round */
			TS_CHECK(w.plan.launch[0].nreq == 4 && w.plan.launch[0].nsteps == 3);
			TS_CHECK(w.plan.launch[0].req[0] == 0 && w.plan.launch[0].req[3] == 3);
		} else {
			TS_CHECK(w.plan.launch[0].nreq == 1 && w.plan.launch[0].nsteps == 9);
		}
		world_end(&w);
	}
	/* no batching when it would cost a survivor its deadline */
	struct world w;
	world_begin(&w, true);
	tf_add(&w.t, 0, 0, 10, 0.32);   /* needs its own GPU: 10 x 30 ms */
	tf_add(&w.t, 0, 0, 10, 3.0);
	TS_CHECK(world_start(&w, 1, 0, NULL, NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && w.plan.launch[0].nreq == 1 && w.plan.launch[0].req[0] == 0);
	world_end(&w);
}

/* busy_boundary: a boundary that finds every GPU busy starts the round at
 * once (start: the GPU that frees next is filled, no packing or batching),
 * or waits for that launch end (wait: it is the boundary and batches). */
static void test_busy_boundary(void)
{
	ts_ns tau = 275 * TS_NS_PER_MS, end = tau + 30 * TS_NS_PER_MS;

	for (int wait = 0; wait < 2; wait++) {
		struct world w;
		world_begin(&w, true);
		for (int i = 0; i < 4; i++) /* request 0 at 0, the others while it runs */
			tf_add(&w.t, i ? 0.1 : 0, 0, 10, 3.0);
		TS_CHECK(world_start(&w, 1, 0, wait ? "busy_boundary=wait:solo=off" : "solo=off", NULL) == 0);
		TS_CHECK(world_plan(&w, 0) == 0 && w.plan.round && w.plan.n == 1);
		/* request 0 runs one step across the boundary, the others wait */
		w.v.busy = 1;
		w.st[0] = (struct ts_req_state){ .steps_inflight = 1, .gpus = 1, .start = 0, .finish = -1,
						 .inflight_end = end, .dropped = -1 };
		w.v.now = ts_ns_from_s(0.1);
		for (int32_t i = 1; i < 4; i++)
			ts_policy_tetriserve.on_arrival(w.pol, &w.v, i);
		TS_CHECK(world_plan(&w, tau) == 0 && w.plan.n == 0);
		TS_CHECK(wait ? !w.plan.round && w.plan.wake_at == -1
			      : w.plan.round && w.plan.wake_at == 2 * tau);
		w.v.busy = 0;
		w.st[0].steps_done = 1;
		w.st[0].steps_inflight = 0;
		w.st[0].inflight_end = -1;
		ts_policy_tetriserve.on_launch_end(w.pol, &w.v, 0);
		TS_CHECK(world_plan(&w, end) == 0 && w.plan.n == 1);
		TS_CHECK(wait ? w.plan.round && w.plan.launch[0].nreq == 4
			      : !w.plan.round && w.plan.launch[0].nreq == 1);
		world_end(&w);
	}
}

/* The queue empties on the last launch end; a due boundary waits for a
 * launch about to end; the next arrival starts a fresh round (solo launches
 * off: the last request is alone). */
static void test_rounds(void)
{
	struct world w;
	ts_ns tau = 275 * TS_NS_PER_MS;

	world_begin(&w, false);
	tf_add(&w.t, 0, 2, 50, 30.0);
	tf_add(&w.t, 0, 0, 10, 30.0);
	tf_add(&w.t, 5.0, 0, 10, 30.0);
	TS_CHECK(world_start(&w, 8, 0, "solo=off", NULL) == 0);
	TS_CHECK(world_plan(&w, 0) == 0 && w.plan.round && w.plan.wake_at == tau);
	/* both run; request 0 is expected to end just after the boundary */
	w.v.busy = 0xFF;
	w.st[0] = (struct ts_req_state){ .steps_done = 0, .steps_inflight = 7, .gpus = 0xFE,
					 .start = 0, .finish = -1, .inflight_end = tau + TS_NS_PER_MS, .dropped = -1 };
	w.st[1] = (struct ts_req_state){ .steps_done = 10, .gpus = 1, .start = 0, .finish = tau - 1,
					 .inflight_end = -1, .dropped = -1 };
	ts_policy_tetriserve.on_launch_end(w.pol, &w.v, 1);
	TS_CHECK(world_plan(&w, tau) == 0 && !w.plan.round && w.plan.wake_at == -1 && w.plan.n == 0);
	/* it ends later than tau/20 after the boundary: the round goes ahead */
	w.st[0].inflight_end = tau + tau / 10;
	w.v.busy = 0xFE;
	TS_CHECK(world_plan(&w, tau) == 0 && w.plan.round && w.plan.wake_at == 2 * tau);
	/* request 0 finishes: nothing active, no timer */
	w.v.busy = 0;
	w.st[0] = (struct ts_req_state){ .steps_done = 50, .gpus = 0xFF, .start = 0, .finish = ts_ns_from_s(2),
					 .inflight_end = -1, .dropped = -1 };
	ts_policy_tetriserve.on_launch_end(w.pol, &w.v, 0);
	TS_CHECK(world_plan(&w, ts_ns_from_s(2)) == 0 && w.plan.wake_at == -1 && w.plan.n == 0);
	/* an arrival at 5 s opens a round at 5 s */
	w.v.now = ts_ns_from_s(5);
	ts_policy_tetriserve.on_arrival(w.pol, &w.v, 2);
	TS_CHECK(world_plan(&w, ts_ns_from_s(5)) == 0 && w.plan.round && w.plan.n == 1);
	TS_CHECK(w.plan.wake_at == ts_ns_from_s(5) + tau);
	world_end(&w);
}

static void test_reference_step(void)
{
	struct ts_classes cs;

	tf_classes(&cs, false);
	/* degree-1 steps 30, 55, 190, 950: lower median 55 */
	TS_CHECK(ts_tetri_reference_step(&cs, 8) == 55 * TS_NS_PER_MS);
	/* without 1-GPU cells for 256^2 and 512^2 their 2-GPU steps count: 22, 35, 190, 950 */
	cs.cls[0].step[0][0] = cs.cls[1].step[0][0] = -1;
	TS_CHECK(ts_tetri_reference_step(&cs, 8) == 35 * TS_NS_PER_MS);
	/* on one GPU only the two other classes qualify: 190, 950 -> 190 */
	TS_CHECK(ts_tetri_reference_step(&cs, 1) == 190 * TS_NS_PER_MS);
	cs.n = 0;
	TS_CHECK(ts_tetri_reference_step(&cs, 8) == -1);
	free(cs.cls);
}

static void test_init_and_describe(void)
{
	struct ts_error err = { 0 };
	struct world w;
	const char *d;

	world_begin(&w, false);
	tf_add(&w.t, 0, 3, 50, 5.0);
	TS_CHECK(world_start(&w, 0, 0, NULL, &err) == TS_EINVAL);
	TS_CHECK(strstr(err.msg, "0 GPUs") != NULL);
	TS_CHECK(world_start(&w, 8, 0, "round_steps=0", &err) == TS_EINVAL);
	TS_CHECK(strstr(err.msg, "round_steps") != NULL);
	TS_CHECK(world_start(&w, 8, 0, "steps=3", &err) == TS_EINVAL);
	TS_CHECK(strstr(err.msg, "unknown option 'steps=3'") != NULL);
	TS_CHECK(world_start(&w, 8, 0, "round_ms=", &err) == TS_EINVAL);
	/* 2048^2 without cells at degree <= 2 */
	for (int d = 0; d < TS_NDEG; d++)
		if (d < 2)
			w.cs.cls[3].step[0][d] = -1;
	TS_CHECK(world_start(&w, 2, 0, NULL, &err) == TS_ENOTFOUND);
	TS_CHECK(strstr(err.msg, "2048x2048") && strstr(err.msg, "<= 2"));
	/* with 8 GPUs it runs at 4 and 8 only */
	TS_CHECK(world_start(&w, 8, 0, "round_steps=10", &err) == 0);
	d = ts_policy_tetriserve.describe(w.pol);
	TS_CHECK_MSG(strstr(d, "\"tau_ms\":550.0,") && strstr(d, "\"round_steps\":10,") &&
		     strstr(d, "\"round_ms\":0.0,") && strstr(d, "\"elastic\":\"on\""), "%s", d);
	TS_CHECK(world_plan(&w, 0) == 0);
	TS_CHECK(w.plan.n == 1 && ts_gpus_count(w.plan.launch[0].gpus) >= 4);
	ts_policy_tetriserve.close(w.pol);
	/* both keys: the explicit length wins */
	w.pol = NULL;
	TS_CHECK(world_start(&w, 8, 0, "round_steps=7,round_ms=100", &err) == 0);
	d = ts_policy_tetriserve.describe(w.pol);
	TS_CHECK_MSG(strstr(d, "\"round_ms\":100.0,") && strstr(d, "\"tau_ms\":100.0,"), "%s", d);
	ts_policy_tetriserve.close(w.pol);
	TS_CHECK(world_start(&w, 8, 0, "round_steps=7:", &err) == TS_EINVAL);
	TS_CHECK(world_start(&w, 8, 0, "round_steps=7", &err) == 0);
	d = ts_policy_tetriserve.describe(w.pol);
	TS_CHECK_MSG(strstr(d, "\"tau_ms\":385.0,"), "%s", d);
	ts_policy_tetriserve.close(w.pol);
	TS_CHECK(world_start(&w, 8, 0, "round_steps=7x", &err) == TS_EINVAL);
	w.pol = NULL;
	TS_CHECK(world_start(&w, 8, 0, "placement=off:round_ms=123", &err) == 0);
	d = ts_policy_tetriserve.describe(w.pol);
	TS_CHECK_MSG(strstr(d, "\"tau_ms\":123.0,") && strstr(d, "\"placement\":\"off\""), "%s", d);
	ts_policy_tetriserve.close(w.pol);
	/* 2.01 ms is 2009999.99.. ns in binary: truncated to 2009999, as --round-ms always was */
	TS_CHECK(world_start(&w, 8, 0, "round_ms=2.01", &err) == 0);
	d = ts_policy_tetriserve.describe(w.pol);
	TS_CHECK_MSG(strstr(d, "\"tau_ms\":2.0099990000000001,"), "%s", d);
	world_end(&w);
}

/* ---- end to end on the simulator ---- */

/* Runs policy `spec` on the simulator; returns the driver's code, *met
 * the requests on time. */
static int sim_run(const char *spec, int gpus, const struct ts_trace *t, const struct ts_classes *cs,
		   struct ts_run_result *res, struct fx_sink *sink, size_t *met, struct ts_error *err)
{
	int rc = ts_test_sim_run(spec, gpus, t, cs, NULL, sink ? &fx_sink_ops : NULL, sink, res, err);
	*met = 0;
	for (size_t i = 0; rc == 0 && i < res->n; i++)
		*met += res->st[i].finish >= 0 && res->st[i].finish <= t->req[i].deadline;
	return rc;
}

/* The paper's motivating picture on 8 GPUs: a 2048^2 request whose deadline
 * needs SP 8 for most steps, and four 256^2 requests with 2 s each. Every
 * fixed degree misses a deadline; step-level switching meets all five. */
static void test_figure_scenario(void)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct ts_error err = { 0 };
	struct ts_run_result res;
	struct fx_sink sink = { 0 };
	size_t met;
	uint64_t widths = 0;

	tf_classes(&cs, false);
	tf_add(&t, 0, 3, 50, 9.0);
	for (int i = 0; i < 4; i++)
		tf_add(&t, 0, 0, 50, 2.0);
	for (int k = 1; k <= 8; k *= 2) {
		char spec[32];
		snprintf(spec, sizeof(spec), "fixed-sp:%d", k);
		int rc = sim_run(spec, 8, &t, &cs, &res, NULL, &met, &err);
		TS_CHECK_MSG(rc == 0 && met < t.n, "%s: rc %d (%s), met %zu of %zu", spec, rc, err.msg, met, t.n);
		ts_run_result_free(&res);
	}
	TS_CHECK(sim_run("tetriserve", 8, &t, &cs, &res, &sink, &met, &err) == 0);
	TS_CHECK_MSG(met == t.n, "tetriserve met %zu of %zu", met, t.n);
	for (size_t i = 0; i < sink.n; i++)
		if (sink.seg[i].request_id == 0 && sink.seg[i].kind == TS_SEG_STEPS)
			widths |= 1ULL << ts_gpus_count(sink.seg[i].gpus);
	TS_CHECK_MSG(ts_gpus_count(widths) >= 2, "2048^2 ran at widths mask %#llx", (unsigned long long)widths);
	ts_run_result_free(&res);
	free(sink.seg);
	free(t.req);
	free(cs.cls);
}

/* Every request runs exactly its steps, for every combination of the
 * ablation switches, node sizes and batch rows; runs are deterministic. The
 * last trace (small images only, overload, 2 GPUs) makes batching happen. */
static void test_invariants(void)
{
	static const struct {
		int gpus, classes, steps;
		double rate, scale;
		bool batch;
	} tr[4] = {
		{ 8, 4, 0, 12, 1.0, true },
		{ 6, 4, 0, 22, 1.25, false },
		{ 4, 4, 50, 32, 1.5, true },
		{ 2, 2, 0, 400, 1.5, true },
	};

	for (int k = 0; k < 4; k++) {
		struct ts_classes cs;
		struct ts_trace t;
		tf_classes(&cs, tr[k].batch);
		tf_random_trace(&t, 150, tr[k].rate, tr[k].scale, tr[k].steps, tr[k].classes, 7 + k);
		for (int sw = 0; sw < 8; sw++) {
			char spec[96];
			snprintf(spec, sizeof(spec), "tetriserve:placement=%s:elastic=%s:batching=%s",
				 sw & 1 ? "off" : "on", sw & 2 ? "off" : "on", sw & 4 ? "off" : "on");
			struct ts_error err = { 0 };
			struct ts_run_result res, again;
			struct fx_sink sink = { 0 };
			size_t met, met2, batched = 0;
			int rc = sim_run(spec, tr[k].gpus, &t, &cs, &res, &sink, &met, &err);
			TS_CHECK_MSG(rc == 0, "trace %d switches %d: %s", k, sw, err.msg);
			int32_t *ran = calloc(t.n, sizeof(*ran));
			for (size_t i = 0; i < sink.n; i++) {
				if (sink.seg[i].kind != TS_SEG_STEPS)
					continue;
				ran[sink.seg[i].request_id] += sink.seg[i].nsteps;
				batched += sink.seg[i].batch > 1;
			}
			for (size_t i = 0; rc == 0 && i < t.n; i++) {
				TS_CHECK(res.st[i].steps_done == t.req[i].steps && res.st[i].finish >= 0);
				TS_CHECK_MSG(ran[i] == t.req[i].steps, "request %zu ran %d of %d steps", i,
					     ran[i], t.req[i].steps);
			}
			if ((sw & 4) || !tr[k].batch)
				TS_CHECK(batched == 0);
			else if (k == 3)
				TS_CHECK_MSG(batched > 0, "switches %d: no batch formed", sw);
			TS_CHECK(sim_run(spec, tr[k].gpus, &t, &cs, &again, NULL, &met2, &err) == 0);
			TS_CHECK(met == met2 && again.makespan == res.makespan &&
				 again.launches == res.launches);
			printf("trace %d gpus %d placement %d elastic %d batching %d: SAR %.3f, %lld launches, %lld moves, %zu batched\n",
			       k, tr[k].gpus, !(sw & 1), !(sw & 2), !(sw & 4), (double)met / (double)t.n,
			       (long long)res.launches, (long long)res.moves, batched);
			free(ran);
			free(sink.seg);
			ts_run_result_free(&res);
			ts_run_result_free(&again);
		}
		free(t.req);
		free(cs.cls);
	}
}

/* Random step tables (holes, odd shapes, batch rows), node sizes, deadlines
 * and switches: every run completes with every request's exact steps, or
 * init refuses a class the node cannot run. */
static void test_random_profiles(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	int runs = 0;

	gsl_rng_set(rng, 99);
	for (int it = 0; it < 300; it++) {
		struct ts_classes cs;
		struct ts_trace t = { 0 };
		int gpus = 1 + (int)gsl_rng_uniform_int(rng, 16);
		tf_classes(&cs, false);
		for (int c = 0; c < cs.n; c++)
			for (int b = 0; b < TS_NBATCH; b++)
				for (int d = 0; d < 5; d++)
					cs.cls[c].step[b][d] = gsl_rng_uniform(rng) < (b ? 0.4 : 0.8)
						? (ts_ns)((5 + gsl_rng_uniform(rng) * 400) * (1 + b) * TS_NS_PER_MS) : -1;
		double now = 0;
		for (int i = 0; i < 40; i++) {
			now += gsl_rng_uniform(rng) * 2.0;
			tf_add(&t, now, (int)gsl_rng_uniform_int(rng, 4), 1 + (int)gsl_rng_uniform_int(rng, 60),
			       0.2 + gsl_rng_uniform(rng) * 8);
		}
		char spec[128];
		snprintf(spec, sizeof(spec), "tetriserve:placement=%s:elastic=%s:batching=%s:round_steps=%d",
			 gsl_rng_uniform(rng) < 0.5 ? "off" : "on", gsl_rng_uniform(rng) < 0.5 ? "off" : "on",
			 gsl_rng_uniform(rng) < 0.5 ? "off" : "on", 1 + (int)gsl_rng_uniform_int(rng, 10));
		struct ts_error err = { 0 };
		struct ts_run_result res;
		size_t met;
		int rc = sim_run(spec, gpus, &t, &cs, &res, NULL, &met, &err);
		if (rc == TS_ENOTFOUND) {
			TS_CHECK(strstr(err.msg, "at any SP degree") != NULL);
		} else {
			TS_CHECK_MSG(rc == 0, "run %d (%d GPUs): %s", it, gpus, err.msg);
			for (size_t i = 0; rc == 0 && i < t.n; i++)
				TS_CHECK(res.st[i].steps_done == t.req[i].steps && res.st[i].finish >= 0);
			runs += rc == 0;
			ts_run_result_free(&res);
		}
		free(t.req);
		free(cs.cls);
	}
	TS_CHECK(runs > 150);
	gsl_rng_free(rng);
}

int main(void)
{
	test_late_yields();
	test_elastic();
	test_placement();
	test_batching();
	test_busy_boundary();
	test_rounds();
	test_reference_step();
	test_init_and_describe();
	test_figure_scenario();
	test_invariants();
	test_random_profiles();
	return ts_test_result("tetri_policy");
}
