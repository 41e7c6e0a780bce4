/* plan_bench.h: what the plan-latency benchmarks (bench_tetri_plan.c,
 * bench_admit_plan.c) share: the classes and the queue they plan for, and
 * the table of median and p99 plan times over GPU counts and queue sizes. */
#ifndef PLAN_BENCH_H
#define PLAN_BENCH_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/trace.h"
#include "sched/policy.h"

/* The fixture's classes (with its batch rows when `batch`) extended to SP
 * 16..64, each doubling 10% faster. */
void pb_classes(struct ts_classes *cs, bool batch);

/* r requests queued at time 0 with some progress and mixed slack: some can
 * still make their deadline at 1 GPU, some need more, some are late. */
void pb_queue(struct ts_trace *t, struct ts_req_state *st, int r, gsl_rng *rng);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t pb_now_ns(void);

/* Sorts the n timings ns and sets the median and p99, in microseconds. */
void pb_summarise(int64_t *ns, int n, double *med_us, double *p99_us);

/* Times `iters` plan calls of `gpus` GPUs and `queued` requests into med
 * and p99 (us); nonzero when the policy failed (it printed why). */
typedef int (*pb_bench_fn)(void *ctx, int gpus, int queued, int iters, double *med, double *p99);

/* Runs fn over 4, 8 and 64 GPUs and 10, 100 and 1000 queued requests
 * (iters_large calls at 1000 queued, iters_small below), prints one row
 * each and the target line; returns the exit status: 0 when the median at
 * 8 GPUs and 100 queued is at most 100 us, else 1. */
int pb_run_table(pb_bench_fn fn, void *ctx, int iters_small, int iters_large);

#endif
