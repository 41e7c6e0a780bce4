/* baseline_queue.h: the queue the baselines (fixed-sp, rssp) serve, with
 * their options order=fcfs|edf and late=serve|defer|drop (docs/SCHEDULER.md):
 *  - order: arrivals wait in arrival order, or by deadline (ties: arrival);
 *  - late, applied when a request is about to start (head of the queue, its
 *    GPUs free) and cannot finish by its deadline even if started now:
 *    serve runs it anyway (today's FCFS servers); drop drops it; defer sets
 *    it aside: set-aside requests run only when no request waits in the
 *    queue, one step per launch, so a request that can still make it is
 *    never held up more than one step.
 * A request dropped or cancelled while it waits is skipped when it comes up. */
#ifndef TS_BASELINE_QUEUE_H
#define TS_BASELINE_QUEUE_H

#include "core/heap.h"
#include "sched/policy.h"

enum ts_bq_order { TS_BQ_FCFS, TS_BQ_EDF };
enum ts_bq_late { TS_BQ_SERVE, TS_BQ_DEFER, TS_BQ_DROP };

/* The choices of the order and late options, for option tables. */
extern const char *const ts_bq_order_names[];
extern const char *const ts_bq_late_names[];

struct ts_bq {
	int order, late;         /* enum ts_bq_order, enum ts_bq_late */
	struct ts_heap wait;     /* the queue: key arrival index or deadline, sequence the index */
	struct ts_heap aside;    /* set-aside requests, in the same order */
	bool *set_aside;         /* per request index */
	size_t nreq;
	bool oom;                /* a push failed; reported by the next ts_bq_plan */
};

/* Prepares an empty queue for a trace of nreq requests. TS_ENOMEM. */
int ts_bq_init(struct ts_bq *q, int order, int late, size_t nreq, struct ts_error *err);

/* Frees what q holds; safe on a zeroed struct. */
void ts_bq_free(struct ts_bq *q);

/* Request r arrived: it joins the queue. */
void ts_bq_arrive(struct ts_bq *q, const struct ts_sched_view *v, int32_t r);

/* A launch of request r ended: a set-aside request that is not done goes
 * back among the set-aside ones. */
void ts_bq_launch_end(struct ts_bq *q, const struct ts_sched_view *v, int32_t r);

/* The SP degree the policy gives request r. */
typedef int (*ts_bq_degree_fn)(const void *policy, const struct ts_sched_view *v, int32_t r);

/* Starts requests on free aligned blocks of their degree, strictly in queue
 * order (the head waits for its block and nobody overtakes it), applying
 * the late option to each head as it is about to start; then, when nobody
 * waits, set-aside requests one step each. Appends the launches and drops
 * to out. */
int ts_bq_plan(struct ts_bq *q, const struct ts_sched_view *v, ts_bq_degree_fn degree,
	       const void *policy, struct ts_plan *out, struct ts_error *err);

#endif
