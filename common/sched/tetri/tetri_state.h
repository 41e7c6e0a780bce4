/* tetri_state.h: private to the tetriserve policy: its state and the
 * stages that build one call's launches (tetri_launch.c) for the pipeline in
 * tetri_policy.c. Not for other modules. */
#ifndef TS_TETRI_STATE_H
#define TS_TETRI_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "sched/policy.h"
#include "sched/tetri/tetri_gpuplan.h"
#include "sched/tetri/tetri_queue.h"
#include "sched/tetri/tetri_round.h"

/* The options of a tetriserve spec (tetri_options.c has their table). */
struct tetri_opts {
	int round_steps;   /* round = this many steps of the reference request */
	double round_ms;   /* > 0: the round length itself, overriding round_steps */
	bool placement;    /* keep requests on their last GPUs where possible */
	bool elastic;      /* idle GPUs scale running launches up */
	bool batching;     /* selective batching of identical requests */
	int late;          /* enum tetri_late: what becomes of a request that cannot make it */
	int busy_boundary; /* enum tetri_busy_boundary: a due boundary while every GPU is busy */
	bool solo;         /* a request alone with nothing arriving before its end: one launch */
};

enum tetri_late { TETRI_LATE_SERVE, TETRI_LATE_DROP };
enum tetri_busy_boundary { TETRI_BOUNDARY_START, TETRI_BOUNDARY_WAIT };

/* An idle request considered by this call. */
struct tetri_cand {
	int32_t r;
	int32_t left;                /* steps remaining */
	bool late;                   /* misses its deadline even at the fastest degree */
	bool started;                /* has a launch in this call */
	bool planned;                /* plan computed (on first use) */
	struct ts_tetri_plan plan;   /* GPU-time-minimal plan (non-late only) */
};

/* A launch being built in this call. */
struct tetri_job {
	struct ts_launch l;
	int32_t cls;
	int32_t left;                /* fewest remaining steps among its requests */
	ts_ns t_step;                /* step time at its width and batch size */
	bool late;
};

struct tetri {
	int32_t gpus;
	uint64_t all;                /* mask of GPUs 0..gpus-1 */
	ts_ns tau;                   /* round length */
	ts_ns ref_step;              /* reference step time (0 with an explicit round) */
	struct tetri_opts o;
	const struct ts_classes *cs;
	struct ts_tetri_degs *degs;  /* per class, batch 1 */
	/* the queue: arrived, unfinished requests (they arrive in index order);
	 * the idle ones in heaps, so a call costs O(log n) per request it looks
	 * at, not O(n) (tetri_policy.c) */
	int8_t *queued;              /* queued[r]: arrived and not done */
	int32_t nactive;
	int32_t arrived;             /* requests arrived so far */
	size_t nreq;
	ts_ns *deadline;             /* deadline[r]: the key of ok and late */
	ts_ns *late_at;              /* late_at[r]: idle r is late once now passes it */
	struct tetri_iheap ok;       /* idle, not late when last looked at, by deadline */
	struct tetri_iheap turn;     /* the same requests by late_at */
	struct tetri_iheap late;     /* idle and late, by deadline */
	int32_t run_req[TS_MAX_GPUS]; /* request of the last launch on each GPU */
	int32_t *solo_deg;           /* per class: the degree of a solo launch, 0: none */
	ts_ns late_step_min;         /* least step time of a class at its smallest degree */
	/* round clock */
	bool in_round;
	ts_ns round_end;
	/* per-call scratch, allocated in init */
	struct tetri_cand *cand;
	int32_t ncand, nontl;        /* candidates; the first nontl are not late */
	struct ts_tetri_item *items;
	int32_t *pick;
	struct ts_tetri_pack pack;
	struct tetri_job job[TS_MAX_GPUS];
	int32_t njob;
	char *desc;
};

/* tetri_options.c: the option table and CLI flags of the spec, and the ops
 * table's init, describe and close. */
extern const struct ts_policy_option ts_tetri_option_table[];
extern const struct ts_policy_flag ts_tetri_flag_table[];
int ts_tetri_init(void **self, const char *params, const struct ts_policy_env *env,
		  struct ts_error *err);
const char *ts_tetri_describe(void *self);
void ts_tetri_close(void *self);

/* Round boundary: round options of the non-late candidates, Algorithm 1
 * over the idle GPUs, placement of the picked widths (a pick that finds no
 * block starts narrower). Clears the picked GPUs from *idle. */
void ts_tetri_pack_round(struct tetri *tp, const struct ts_sched_view *v,
			 const struct ts_tetri_frame *f, uint64_t *idle);

/* Work conservation: non-late candidates without a launch, in deadline
 * order, start on idle GPUs at their plan's widest segment that has a free
 * block, else at the widest degree that fits. */
void ts_tetri_fill_waiting(struct tetri *tp, const struct ts_sched_view *v,
			   const struct ts_tetri_frame *f, uint64_t *idle);

/* Selective batching: solo non-late launches take same-class waiting
 * candidates (batch 2, 4 or 8) where the profile has the cell, the batch is
 * cheaper than solo steps and every survivor keeps surviving. */
void ts_tetri_batch_waiting(struct tetri *tp, const struct ts_sched_view *v,
			    const struct ts_tetri_frame *f);

/* Late candidates, in deadline order, start on the smallest profiled degree
 * on what is still idle. */
void ts_tetri_fill_late(struct tetri *tp, const struct ts_sched_view *v,
			const struct ts_tetri_frame *f, uint64_t *idle);

/* Elastic scale-up of the launches of late (or of non-late) requests: while
 * GPUs are idle, the launch whose step time drops most over its remaining
 * steps doubles its width. */
void ts_tetri_scale_up(struct tetri *tp, const struct ts_tetri_frame *f, uint64_t *idle, bool late);

/* Appends this call's launches to out. Returns 0 or TS_ENOMEM. */
int ts_tetri_emit(const struct tetri *tp, struct ts_plan *out, struct ts_error *err);

#endif
