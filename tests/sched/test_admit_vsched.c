/* test_admit_vsched.c: the admit policy's virtual schedule: the block tree,
 * hand-worked plans (least GPU time, grow-into, forced width, placement
 * preference, no cell) and properties of plans on random availabilities. */
#include <gsl/gsl_rng.h>

#include "core/gpuset.h"
#include "sched/admit/admit_vsched.h"
#include "test_util.h"

#define MS(x) ((ts_ns)((x) * TS_NS_PER_MS))

/* Step times (ms at SP 1, 2, 4, 8) shaped like the fixture's classes. */
static const ts_ns t256[TS_NDEG] = { MS(30), MS(22), MS(19), MS(18), -1, -1, -1 };
static const ts_ns t2048[TS_NDEG] = { MS(950), MS(500), MS(265), MS(145), -1, -1, -1 };
static const ts_ns none[TS_NDEG] = { -1, -1, -1, -1, -1, -1, -1 };

static void test_blocks(void)
{
	struct ts_admit_blocks b;

	ts_admit_blocks_init(&b, 8);
	TS_CHECK(b.n == 15 && b.nlevel == 4);
	TS_CHECK(b.mask[b.off[1] + 2] == 0x30 && b.mask[b.off[3]] == 0xFF);
	TS_CHECK(b.parent[4] == b.off[1] + 2 && b.parent[b.off[2] + 1] == b.off[3]);
	TS_CHECK(b.parent[b.off[3]] == -1);
	/* a node of 6: 6 + 3 + 1 blocks; [4-5] has no parent inside the node */
	ts_admit_blocks_init(&b, 6);
	TS_CHECK(b.n == 10 && b.nlevel == 3 && b.mask[b.off[2]] == 0x0F);
	TS_CHECK(b.parent[b.off[1] + 2] == -1 && b.parent[b.off[1] + 1] == b.off[2]);
	ts_admit_blocks_init(&b, 1);
	TS_CHECK(b.n == 1 && b.parent[0] == -1);
}

static struct ts_admit_job job(const ts_ns *step, int32_t left, double deadline_ms)
{
	return (struct ts_admit_job){ .step = step, .left = left, .ready = 0,
				      .deadline = MS(deadline_ms), .grow = true };
}

/* 4 idle GPUs, 256^2, 10 steps: 1 GPU is the least GPU time (300 ms); with
 * a 250 ms deadline only 2 GPUs or more make it, and 2 cost least; forced
 * to width 4, [0-3]; the GPU it last ran on wins a tie. */
static void test_least_gpu_time(void)
{
	struct ts_admit_blocks b;
	ts_ns avail[4] = { 0, 0, 0, 0 };
	struct ts_admit_plan p;
	struct ts_admit_job j = job(t256, 10, 1000);

	ts_admit_blocks_init(&b, 4);
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p));
	TS_CHECK(p.n == 1 && p.block == 0x1 && p.finish == MS(300) && p.gpu_ns == MS(300));
	j.deadline = MS(250);
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p));
	TS_CHECK(p.block == 0x3 && p.finish == MS(220) && p.gpu_ns == MS(440));
	j.width = 4;
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p) && p.block == 0xF && p.finish == MS(190));
	j = job(t256, 10, 1000);
	j.prev = 0x4;
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p) && p.block == 0x4);
	/* ready later than the GPUs: starts when ready */
	j.ready = MS(100);
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p) && p.ph[0].start == MS(100) &&
		 p.finish == MS(400));
	ts_admit_commit(avail, &p);
	TS_CHECK(avail[2] == MS(400) && avail[0] == 0 && avail[1] == 0 && avail[3] == 0);
}

/* 2048^2, 10 steps, GPU 0 busy until 1000 ms, deadline 3200 ms: on all 4
 * GPUs from 1000 it ends at 3650; 2 GPUs alone take 5000. Growing makes
 * it: 2 steps on [2-3] (the widest block free at 0) until 1000, then 8 on
 * [0-3]: 1000 + 8 x 265 = 3120, GPU time 2 x 2 x 500 + 8 x 4 x 265. */
static void test_grow_into(void)
{
	struct ts_admit_blocks b;
	ts_ns avail[4] = { MS(1000), 0, 0, 0 };
	struct ts_admit_plan p;
	struct ts_admit_job j = job(t2048, 10, 3200);

	ts_admit_blocks_init(&b, 4);
	TS_CHECK(ts_admit_best_plan(&b, avail, &j, &p));
	TS_CHECK_MSG(p.n == 2 && p.ph[0].gpus == 0xC && p.ph[0].steps == 2 && p.ph[0].start == 0 &&
		     p.ph[1].gpus == 0xF && p.ph[1].steps == 8 && p.ph[1].start == MS(1000),
		     "%d phases, first on %llx x%d", p.n, (unsigned long long)p.ph[0].gpus, p.ph[0].steps);
	TS_CHECK(p.finish == MS(3120) && p.gpu_ns == MS(2000 + 8480) && p.block == 0xF);
	/* without growing no plan makes it; the earliest-finishing one is kept */
	j.grow = false;
	TS_CHECK(!ts_admit_best_plan(&b, avail, &j, &p));
	TS_CHECK(p.n == 1 && p.block == 0xF && p.finish == MS(3650));
	/* a class with no cell on the node */
	j = job(none, 10, 3200);
	TS_CHECK(!ts_admit_best_plan(&b, avail, &j, &p) && p.n == 0);
}

/* Checks the shape of plan p of job j on avail: phases in time order on
 * nested growing blocks, each free at its start, all steps, the finish. */
static int plan_bad(const struct ts_admit_blocks *b, const ts_ns *avail,
		    const struct ts_admit_job *j, const struct ts_admit_plan *p)
{
	int32_t steps = 0;
	ts_ns t = j->ready;
	int64_t gpu = 0;

	for (int32_t h = 0; h < p->n; h++) {
		const struct ts_admit_phase *x = &p->ph[h];
		if (x->start < t || !ts_gpus_is_aligned_block(x->gpus) || x->steps < 1 ||
		    (h > 0 && (p->ph[h - 1].gpus & ~x->gpus)) ||
		    x->t_step != j->step[ts_deg_index(ts_gpus_count(x->gpus))])
			return 1;
		for (uint64_t m = x->gpus; m; m &= m - 1)
			if (avail[ts_gpus_first(m)] > x->start)
				return 2;
		steps += x->steps;
		t = x->start + x->steps * x->t_step;
		gpu += x->steps * x->t_step * ts_gpus_count(x->gpus);
	}
	(void)b;
	return steps != j->left ? 3 : t != p->finish ? 4 : gpu != p->gpu_ns ? 5 : 0;
}

/* Random availabilities on 1..16 GPUs: plans are well formed, and no
 * single-block plan that meets the deadline costs less GPU time. */
static void test_random(void)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct ts_admit_blocks b;
	int bad = 0, feasible = 0;

	gsl_rng_set(rng, 5);
	for (int it = 0; it < 20000; it++) {
		int gpus = 1 + (int)gsl_rng_uniform_int(rng, 16);
		ts_ns step[TS_NDEG], avail[16];
		for (int d = 0; d < TS_NDEG; d++)
			step[d] = gsl_rng_uniform(rng) < 0.8 ? MS(5 + gsl_rng_uniform_int(rng, 300)) : -1;
		for (int g = 0; g < gpus; g++)
			avail[g] = gsl_rng_uniform(rng) < 0.4 ? 0 : MS(gsl_rng_uniform_int(rng, 3000));
		struct ts_admit_job j = { .step = step, .left = 1 + (int32_t)gsl_rng_uniform_int(rng, 50),
					  .ready = MS(gsl_rng_uniform_int(rng, 500)),
					  .deadline = MS(gsl_rng_uniform_int(rng, 12000)),
					  .grow = gsl_rng_uniform(rng) < 0.7 };
		struct ts_admit_plan p;
		ts_admit_blocks_init(&b, gpus);
		bool ok = ts_admit_best_plan(&b, avail, &j, &p);
		if (p.n == 0)
			continue;
		int why = plan_bad(&b, avail, &j, &p);
		if (why && bad++ < 5)
			fprintf(stderr, "iteration %d: plan malformed (%d)\n", it, why);
		bad += ok != (p.finish <= j.deadline);
		feasible += ok;
		for (int32_t i = 0; i < b.n; i++) {
			ts_ns t = step[b.level[i]], start = j.ready;
			if (t <= 0)
				continue;
			for (uint64_t m = b.mask[i]; m; m &= m - 1)
				start = avail[ts_gpus_first(m)] > start ? avail[ts_gpus_first(m)] : start;
			ts_ns fin = start + j.left * t;
			int64_t cost = (int64_t)j.left * t * ts_gpus_count(b.mask[i]);
			if (fin <= j.deadline && (!ok || p.gpu_ns > cost) && bad++ < 5)
				fprintf(stderr, "iteration %d: block %llx costs %lld < %lld\n", it,
					(unsigned long long)b.mask[i], (long long)cost, (long long)p.gpu_ns);
		}
	}
	TS_CHECK_MSG(bad == 0, "%d bad plans", bad);
	TS_CHECK(feasible > 2000);
	gsl_rng_free(rng);
}

int main(void)
{
	test_blocks();
	test_least_gpu_time();
	test_grow_into();
	test_random();
	return ts_test_result("admit_vsched");
}
