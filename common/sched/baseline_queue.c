/* baseline_queue.c: the baselines' queue (see baseline_queue.h). */
#include "sched/baseline_queue.h"

#include <stdlib.h>

#include "core/gpuset.h"
#include "sched/baselines.h"

const char *const ts_bq_order_names[] = { "fcfs", "edf", NULL };
const char *const ts_bq_late_names[] = { "serve", "defer", "drop", NULL };

int ts_bq_init(struct ts_bq *q, int order, int late, size_t nreq, struct ts_error *err)
{
	*q = (struct ts_bq){ .order = order, .late = late, .nreq = nreq };
	q->set_aside = calloc(nreq ? nreq : 1, sizeof(*q->set_aside));
	if (!q->set_aside)
		return ts_err_set(err, TS_ENOMEM, "out of memory for a queue of %zu requests", nreq);
	return 0;
}

void ts_bq_free(struct ts_bq *q)
{
	ts_heap_free(&q->wait);
	ts_heap_free(&q->aside);
	free(q->set_aside);
	*q = (struct ts_bq){ 0 };
}

/* Pushes r into h in the queue's order. */
static void push(struct ts_bq *q, struct ts_heap *h, const struct ts_sched_view *v, int32_t r)
{
	int64_t key = q->order == TS_BQ_EDF ? v->req[r].deadline : r;
	if (ts_heap_push_seq(h, key, (uint64_t)r, r))
		q->oom = true;
}

void ts_bq_arrive(struct ts_bq *q, const struct ts_sched_view *v, int32_t r)
{
	push(q, &q->wait, v, r);
}

void ts_bq_launch_end(struct ts_bq *q, const struct ts_sched_view *v, int32_t r)
{
	if (q->set_aside[r] && !ts_req_done(&v->st[r]))
		push(q, &q->aside, v, r);
}

/* The first request of h that is not done (those are taken out), -1 when
 * there is none. */
static int32_t head(struct ts_heap *h, const struct ts_sched_view *v)
{
	const struct ts_heap_node *top;
	struct ts_heap_node n;
	while ((top = ts_heap_peek(h)) && ts_req_done(&v->st[top->val]))
		ts_heap_pop(h, &n);
	return top ? (int32_t)top->val : -1;
}

/* Can request r still finish by its deadline if all its steps start now on k GPUs? */
static bool can_make_it(const struct ts_sched_view *v, int32_t r, int k)
{
	const struct ts_request *q = &v->req[r];
	ts_ns step = ts_class_step(v->cls, q->cls, k, 1);
	int64_t left = q->steps - v->st[r].steps_done;
	return step > 0 && v->now + left * step <= q->deadline;
}

static int launch(struct ts_plan *out, int32_t r, uint64_t gpus, int32_t nsteps, uint64_t *busy,
		  struct ts_error *err)
{
	struct ts_launch l = { .nreq = 1, .req = { r }, .gpus = gpus, .nsteps = nsteps };
	*busy |= gpus;
	return ts_plan_push(out, &l, err);
}

/* Takes the head r off the queue and starts it on `block`, or drops it, or
 * sets it aside, by the late option. */
static int admit_head(struct ts_bq *q, const struct ts_sched_view *v, int32_t r, int k,
		      uint64_t block, uint64_t *busy, struct ts_plan *out, struct ts_error *err)
{
	struct ts_heap_node n;
	ts_heap_pop(&q->wait, &n);
	if (q->late == TS_BQ_SERVE || can_make_it(v, r, k))
		return launch(out, r, block, v->req[r].steps - v->st[r].steps_done, busy, err);
	if (q->late == TS_BQ_DROP)
		return ts_plan_drop(out, r, err);
	q->set_aside[r] = true;
	push(q, &q->aside, v, r);
	return 0;
}

/* Set-aside requests, one step each, on what is free. */
static int run_set_aside(struct ts_bq *q, const struct ts_sched_view *v, ts_bq_degree_fn degree,
			 const void *policy, uint64_t *busy, struct ts_plan *out, struct ts_error *err)
{
	int32_t r;
	while ((r = head(&q->aside, v)) >= 0) {
		uint64_t block = ts_gpus_find_free_block(*busy, v->gpus, degree(policy, v, r));
		struct ts_heap_node n;
		if (!block)
			return 0;
		ts_heap_pop(&q->aside, &n);
		int rc = launch(out, r, block, 1, busy, err);
		if (rc)
			return rc;
	}
	return 0;
}

int ts_bq_plan(struct ts_bq *q, const struct ts_sched_view *v, ts_bq_degree_fn degree,
	       const void *policy, struct ts_plan *out, struct ts_error *err)
{
	uint64_t busy = v->busy;
	int32_t r;
	if (q->oom)
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing requests");
	out->wake_at = -1;
	while ((r = head(&q->wait, v)) >= 0) {
		int k = degree(policy, v, r);
		uint64_t block = ts_gpus_find_free_block(busy, v->gpus, k);
		if (!block)
			return 0; /* the head waits for its block; nobody overtakes it */
		int rc = admit_head(q, v, r, k, block, &busy, out, err);
		if (rc)
			return rc;
	}
	return run_set_aside(q, v, degree, policy, &busy, out, err);
}
