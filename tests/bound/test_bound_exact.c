/* test_bound_exact.c: the MILP bound (common/bound) on tiny instances.
 * - hand-worked cases with known optima (SP 2 needed; two requests
 *   competing for the node; batching letting two make it; the block cut);
 * - exhaustive search over real schedules (what the driver accepts: one
 *   step at a time on any free power-of-two number of GPUs, batches of
 *   identical requests, also with partners that miss their deadline,
 *   starts at events, which loses nothing) gives the
 *   true optimum, which the bound must never be below;
 * - exhaustive search in the same model (every subset of requests, each
 *   checked for feasibility by the model's LP with its "meets" columns
 *   fixed) gives the same optimum as the branch and bound.
 * Exit 77 (skip) in a build without a MILP solver. */
#include <stdio.h>
#include <stdlib.h>

#include "bound/bound_model.h"
#include "bound_fixture.h"
#include "sched/policy.h"
#include "test_util.h"

/* ---- exhaustive search over real schedules --------------------------------- */

struct bf_launch {
	ts_ns end;
	int k;
	unsigned members;
};

struct bf {
	const struct fx *f;
	int done[FX_MAXREQ];
	unsigned running;      /* requests in a launch now */
	struct bf_launch l[FX_MAXREQ];
	int nl;
	int best;
};

static ts_ns step_of(const struct fx *f, int i, int k, int b)
{
	return ts_class_step(&f->cs, f->req[i].cls, k, b);
}

/* Fastest step of request i alone (no partners needed): a lower bound on
 * each of its remaining steps is the fastest over every mode. */
static ts_ns min_step(const struct fx *f, int i)
{
	ts_ns best = INT64_MAX;
	for (int b = 1; b <= TS_MAX_BATCH; b *= 2)
		for (int k = 1; k <= f->gpus; k *= 2) {
			ts_ns s = step_of(f, i, k, b);
			if (s > 0 && s < best)
				best = s;
		}
	return best;
}

/* Request i can still meet its deadline when it starts a step at t. */
static bool alive(const struct bf *s, int i, ts_ns t)
{
	const struct fx *f = s->f;
	ts_ns m = min_step(f, i);
	return m != INT64_MAX && s->done[i] < f->req[i].steps &&
	       t + m * (f->req[i].steps - s->done[i]) <= f->req[i].deadline;
}

static void bf_time(struct bf *s, ts_ns t, int met);

/* After choosing the launches at t: jump to the next event (a launch end or
 * an arrival), complete what ends there, and search on. */
static void bf_advance(struct bf *s, ts_ns t, int met)
{
	const struct fx *f = s->f;
	ts_ns next = INT64_MAX;
	for (int j = 0; j < s->nl; j++)
		if (s->l[j].end < next)
			next = s->l[j].end;
	for (size_t i = 0; i < f->t.n; i++)
		if (f->req[i].arrival > t && f->req[i].arrival < next)
			next = f->req[i].arrival;
	if (next == INT64_MAX) {
		if (met > s->best)
			s->best = met;
		return;
	}
	struct bf saved = *s;
	int m = met;
	for (int j = 0; j < s->nl; j++) {
		if (s->l[j].end != next)
			continue;
		for (size_t i = 0; i < f->t.n; i++)
			if (s->l[j].members & (1u << i)) {
				s->done[i]++;
				s->running &= ~(1u << i);
				m += s->done[i] == f->req[i].steps && next <= f->req[i].deadline;
			}
		s->l[j] = s->l[--s->nl];
		j--;
	}
	bf_time(s, next, m);
	saved.best = s->best;
	*s = saved;
}

/* Chooses, for requests from index i on, whether each starts a step at t
 * (solo or batched with later requests of its class, at some degree),
 * with `free_gpus` GPUs free; decided[] marks requests already placed. */
static void bf_choose(struct bf *s, ts_ns t, int met, int i, int free_gpus, unsigned decided)
{
	const struct fx *f = s->f;
	if (i == (int)f->t.n) {
		bf_advance(s, t, met);
		return;
	}
	bf_choose(s, t, met, i + 1, free_gpus, decided); /* i does not start now */
	if ((decided | s->running) & (1u << i) || f->req[i].arrival > t || !alive(s, i, t))
		return;
	/* partners: any subset of idle arrived unfinished requests of the same
	 * class, later alive ones or late ones of any index (a batch's lead is
	 * its first alive member; late partners are allowed by the driver) */
	unsigned cand = 0;
	for (int j = 0; j < (int)f->t.n; j++)
		if (j != i && !((decided | s->running) & (1u << j)) && f->req[j].cls == f->req[i].cls &&
		    f->req[j].arrival <= t && s->done[j] < f->req[j].steps && (j > i || !alive(s, j, t)))
			cand |= 1u << j;
	for (unsigned sub = cand;; sub = (sub - 1) & cand) {
		int b = 1 + __builtin_popcount(sub);
		for (int k = 1; (b & (b - 1)) == 0 && k <= free_gpus; k *= 2) {
			ts_ns st = step_of(f, i, k, b);
			if (st <= 0)
				continue;
			unsigned mem = sub | (1u << i);
			s->l[s->nl++] = (struct bf_launch){ .end = t + st, .k = k, .members = mem };
			s->running |= mem;
			bf_choose(s, t, met, i + 1, free_gpus - k, decided | mem);
			s->running &= ~mem;
			s->nl--;
		}
		if (!sub)
			break;
	}
}

static void bf_time(struct bf *s, ts_ns t, int met)
{
	int hope = met; /* requests that may still finish in time */
	for (size_t i = 0; i < s->f->t.n; i++)
		hope += (s->running & (1u << i)) || alive(s, i, s->f->req[i].arrival > t ? s->f->req[i].arrival : t);
	if (hope <= s->best)
		return;
	int used = 0;
	for (int j = 0; j < s->nl; j++)
		used += s->l[j].k;
	bf_choose(s, t, met, 0, s->f->gpus - used, 0);
}

/* The true optimum: most requests any allowed schedule finishes in time. */
static int brute_real(const struct fx *f)
{
	struct bf s = { .f = f };
	bf_time(&s, 0, 0);
	return s.best;
}

/* ---- exhaustive search in the model ---------------------------------------- */

/* Feasibility of the model with z fixed to the subset `set` (bit i: request
 * i meets its deadline): the LP of the remaining columns. */
static bool model_feasible(const struct fx *f, unsigned set)
{
	int32_t idx[FX_MAXREQ];
	for (size_t i = 0; i < f->t.n; i++)
		idx[i] = (int32_t)i;
	struct ts_bmodel m;
	struct ts_error err = { 0 };
	struct ts_bmodel_opts o = { .gpus = f->gpus, .max_cols = 1000000, .ntrace = f->t.n };
	if (ts_bmodel_build(&m, f->req, &f->cs, idx, (int)f->t.n, &o, &err))
		return false;
	for (size_t i = 0; i < f->t.n; i++)
		m.lb[m.zcol[i]] = m.ub[m.zcol[i]] = (set >> i) & 1;
	struct ts_bsol s;
	int rc = ts_bsolver_solve(&m, 0, true, NULL, &s, &err);
	bool ok = !rc && !s.infeasible;
	free(s.x);
	ts_bmodel_free(&m);
	return ok;
}

static int brute_model(const struct fx *f)
{
	int best = 0;
	for (unsigned set = 0; set < (1u << f->t.n); set++)
		if (__builtin_popcount(set) > best && model_feasible(f, set))
			best = __builtin_popcount(set);
	return best;
}

/* ---- hand-worked cases -------------------------------------------------------- */

/* One request that makes it only at SP 2: 10 steps of 100 ms at SP 1 (1 s)
 * or 60 ms at SP 2 (0.6 s), SLO 0.7 s. */
static void test_needs_sp2(void)
{
	struct fx f;
	struct ts_bound_result r;
	for (int gpus = 1; gpus <= 2; gpus++) {
		fx_init(&f, 1, gpus);
		fx_cell(&f, 0, 1, 1, 100);
		fx_cell(&f, 0, 2, 1, 60);
		fx_req(&f, 0, 0, 700, 10);
		TS_CHECK(fx_bound(&f, NULL, &r) == gpus - 1);
		TS_CHECK(r.status == TS_BOUND_OPTIMAL && r.met == gpus - 1);
		TS_CHECK(brute_real(&f) == gpus - 1);
		if (gpus == 2)
			TS_CHECK(r.meets[0] && r.finish[0] <= f.req[0].deadline && r.start[0] == 0);
		ts_bound_result_free(&r);
	}
}

/* Two requests competing for a 2-GPU node: each needs SP 2 for 600 of its
 * 700 ms; with an SLO of 1.3 s both make it (one after the other at SP 2,
 * or side by side at SP 1). */
static void test_two_compete(void)
{
	struct fx f;
	struct ts_bound_result r;
	const double slo[2] = { 700, 1300 };
	for (int v = 0; v < 2; v++) {
		fx_init(&f, 1, 2);
		fx_cell(&f, 0, 1, 1, 100);
		fx_cell(&f, 0, 2, 1, 60);
		fx_req(&f, 0, 0, slo[v], 10);
		fx_req(&f, 0, 0, slo[v], 10);
		TS_CHECK_MSG(fx_bound(&f, NULL, &r) == v + 1, "slo %g: bound %lld", slo[v], (long long)r.bound);
		TS_CHECK(brute_real(&f) == v + 1);
		TS_CHECK(r.meets[0] + r.meets[1] == v + 1);
		ts_bound_result_free(&r);
	}
}

/* Batching lets two make it: one GPU, two identical requests of 10 steps,
 * 100 ms alone or 120 ms as a batch of 2, SLO 1.3 s: one after the other
 * the second ends at 2 s; as a batch both end at 1.2 s. */
static void test_batching(void)
{
	struct fx f;
	struct ts_bound_result r;
	for (int batch = 0; batch < 2; batch++) {
		fx_init(&f, 1, 1);
		fx_cell(&f, 0, 1, 1, 100);
		if (batch)
			fx_cell(&f, 0, 1, 2, 120);
		fx_req(&f, 0, 0, 1300, 10);
		fx_req(&f, 0, 0, 1300, 10);
		TS_CHECK(fx_bound(&f, NULL, &r) == 1 + batch);
		TS_CHECK(brute_real(&f) == 1 + batch);
		ts_bound_result_free(&r);
	}
	/* a lone request cannot batch with itself: batch step 30 ms would fit */
	fx_init(&f, 1, 1);
	fx_cell(&f, 0, 1, 1, 100);
	fx_cell(&f, 0, 1, 2, 30);
	fx_req(&f, 0, 0, 500, 10);
	TS_CHECK(fx_bound(&f, NULL, &r) == 0);
	ts_bound_result_free(&r);
}

/* A batch may take a partner that misses its deadline anyway: one GPU, a
 * batch-of-4 cell only (130 ms a step), three requests of 10 steps with an
 * SLO of 1.4 s: with a hopeless fourth request of their class as partner
 * all three make it (1.3 s), without it only one (1 s solo). */
static void test_late_partner(void)
{
	struct fx f;
	struct ts_bound_result r;
	for (int late = 0; late < 2; late++) {
		fx_init(&f, 1, 1);
		fx_cell(&f, 0, 1, 1, 100);
		fx_cell(&f, 0, 1, 4, 130);
		if (late)
			fx_req(&f, 0, 0, 50, 10);
		for (int i = 0; i < 3; i++)
			fx_req(&f, 0, 100, 1400, 10);
		TS_CHECK(brute_real(&f) == (late ? 3 : 1));
		TS_CHECK_MSG(fx_bound(&f, NULL, &r) == (late ? 3 : 1), "late %d: bound %lld", late,
			     (long long)r.bound);
		ts_bound_result_free(&r);
	}
}

/* The block cut: on 4 GPUs, A needs all 4 for half its window, B and C one
 * GPU each for the whole window. GPU-time alone (4*0.5 + 1 + 1 = 4) would
 * admit all three; no schedule does, and with the cut the bound is 2. */
static void test_block_cut(void)
{
	struct fx f;
	struct ts_bound_result r;
	fx_init(&f, 2, 4);
	fx_cell(&f, 0, 4, 1, 100);
	fx_cell(&f, 1, 1, 1, 100);
	fx_req(&f, 0, 0, 1000, 5);
	fx_req(&f, 1, 0, 1000, 10);
	fx_req(&f, 1, 0, 1000, 10);
	TS_CHECK(brute_real(&f) == 2);
	TS_CHECK(fx_bound(&f, NULL, &r) == 2);
	ts_bound_result_free(&r);
	struct ts_bound_opts o;
	ts_bound_opts_defaults(&o);
	o.no_cuts = true;
	TS_CHECK(fx_bound(&f, &o, &r) == 3);
	ts_bound_result_free(&r);
}

/* Cutting intervals into slots leaves the optimum unchanged, and the
 * integer-steps model is never above the default one. */
static void test_slots_and_integer_steps(void)
{
	struct fx f;
	struct ts_bound_result r;
	fx_init(&f, 2, 2);
	fx_cell(&f, 0, 1, 1, 90);
	fx_cell(&f, 0, 2, 1, 50);
	fx_cell(&f, 1, 1, 1, 40);
	fx_cell(&f, 1, 2, 1, 30);
	fx_req(&f, 0, 0, 500, 6);
	fx_req(&f, 1, 50, 300, 7);
	fx_req(&f, 0, 120, 450, 5);
	fx_req(&f, 1, 200, 280, 6);
	int plain = fx_bound(&f, NULL, &r);
	ts_bound_result_free(&r);
	struct ts_bound_opts o;
	ts_bound_opts_defaults(&o);
	o.slot_ns = 7 * TS_NS_PER_MS;
	TS_CHECK(fx_bound(&f, &o, &r) == plain);
	ts_bound_result_free(&r);
	o.slot_ns = 0;
	o.integer_steps = true;
	int integer = fx_bound(&f, &o, &r);
	TS_CHECK(integer >= 0 && integer <= plain && integer >= brute_real(&f));
	ts_bound_result_free(&r);
}

/* ---- random tiny instances ------------------------------------------------- */

static double urand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (double)((*seed >> 8) & 0xffff) / 65536.0;
}

/* A random instance: 1-2 classes, degrees up to 4 with holes, batch-2 and
 * batch-4 cells sometimes, 2-4 requests of 1-3 steps with SLOs between 1x and 3x their
 * fastest time, on 1-4 GPUs. */
static void random_instance(struct fx *f, unsigned *seed)
{
	int ncls = 1 + (urand(seed) < 0.5), gpus = 1 + (int)(urand(seed) * 4);
	fx_init(f, ncls, gpus);
	for (int c = 0; c < ncls; c++) {
		double t1 = 20 + 80 * urand(seed);
		fx_cell(f, c, 1, 1, t1);
		for (int k = 2; k <= 4; k *= 2)
			if (urand(seed) < 0.8)
				fx_cell(f, c, k, 1, t1 * (0.3 + 0.7 * urand(seed)));
		if (urand(seed) < 0.5)
			fx_cell(f, c, 1, 2, t1 * (1.0 + urand(seed)));
		if (urand(seed) < 0.3)
			fx_cell(f, c, 2, 2, t1 * (0.6 + urand(seed)));
		if (urand(seed) < 0.3)
			fx_cell(f, c, 1, 4, t1 * (1.5 + 2 * urand(seed)));
	}
	int n = 2 + (int)(urand(seed) * 3);
	double t = 0;
	for (int i = 0; i < n; i++) {
		int c = (int)(urand(seed) * ncls), steps = 1 + (int)(urand(seed) * 3);
		t += urand(seed) < 0.4 ? 0 : 60 * urand(seed);
		fx_req(f, c, t, 0, steps);
		ts_ns fastest = min_step(f, i) * steps;
		f->req[i].slo = (ts_ns)((double)fastest * (0.9 + 2.1 * urand(seed)));
		f->req[i].deadline = f->req[i].arrival + f->req[i].slo;
	}
}

static void test_random(int count)
{
	unsigned seed = 12345;
	int tight = 0;
	for (int it = 0; it < count; it++) {
		struct fx f;
		random_instance(&f, &seed);
		struct ts_bound_result r;
		int b = fx_bound(&f, NULL, &r);
		int real = brute_real(&f), model = brute_model(&f);
		TS_CHECK_MSG(b >= real, "instance %d: bound %d below the true optimum %d", it, b, real);
		TS_CHECK_MSG(b == model, "instance %d: branch and bound %d, exhaustive in the model %d", it, b,
			     model);
		TS_CHECK(r.status == TS_BOUND_OPTIMAL && r.met == b);
		int met = 0;
		for (size_t i = 0; i < f.t.n; i++)
			met += r.meets[i];
		TS_CHECK(met == r.met);
		tight += b == real;
		ts_bound_result_free(&r);
		struct ts_bound_opts o;
		ts_bound_opts_defaults(&o);
		o.integer_steps = true;
		int bi = fx_bound(&f, &o, &r);
		TS_CHECK_MSG(bi >= real && bi <= b, "instance %d: integer steps %d, true %d, default %d", it, bi,
			     real, b);
		ts_bound_result_free(&r);
		o.integer_steps = false;
		o.no_cuts = true;
		TS_CHECK(fx_bound(&f, &o, &r) >= b);
		ts_bound_result_free(&r);
	}
	printf("random instances: %d, bound equal to the true optimum in %d\n", count, tight);
}

int main(int argc, char **argv)
{
	if (!ts_bound_have_solver(NULL, 0)) {
		printf("no MILP solver in this build: skipped\n");
		return 77;
	}
	test_needs_sp2();
	test_two_compete();
	test_batching();
	test_late_partner();
	test_block_cut();
	test_slots_and_integer_steps();
	test_random(argc > 1 ? atoi(argv[1]) : 2000);
	return ts_test_result("test_bound_exact");
}
