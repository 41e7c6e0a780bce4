/* backend.h: the backend interface the driver loop runs on. Two backends
 * implement it: the discrete-event simulator (sim/) and the CUDA executor
 * (exec/). Modelled on SQLite's VFS: an ops table plus a private pointer. */
#ifndef TS_BACKEND_H
#define TS_BACKEND_H

#include "core/ts_error.h"
#include "core/ts_types.h"
#include "sched/policy.h"

/* The end of a launch, as reported by a backend. */
struct ts_completion {
	int32_t launch_id;   /* id given to launch() */
	int32_t nsteps;      /* steps run: the launch's, or fewer after cancel() */
	ts_ns start;         /* when the launch began (a latent move included) */
	ts_ns steps_start;   /* when its first step began; > start iff the latent moved */
	ts_ns end;           /* when its last step ended */
};

struct ts_backend_ops {
	const char *name;  /* "sim" or "exec" */
	/* Current time of the backend's clock (ns since the start of the run). */
	ts_ns (*now)(void *self);
	/* Starts launch l now, under id. v->st[] still holds the requests' state
	 * from before the launch (st[r].gpus = where each latent lives, 0 = none
	 * yet), so the backend can tell whether latents must move. */
	int (*launch)(void *self, int32_t id, const struct ts_launch *l,
		      const struct ts_sched_view *v, struct ts_error *err);
	/* Waits until the next completion, but not past `until` (INT64_MAX: no
	 * limit). Returns 1 with *c filled, 0 when the clock reached `until`
	 * with nothing completed (or nothing is in flight and until is finite),
	 * or a negative error code. */
	int (*wait)(void *self, ts_ns until, struct ts_completion *c, struct ts_error *err);
	/* Ends launch id (of one request) at its first step boundary at or after
	 * `at` (>= the launch's start): its completion then reports the steps
	 * run by then. A launch past that boundary already is left alone. May
	 * be NULL: a cancelled request then leaves when its launch ends. */
	int (*cancel)(void *self, int32_t id, ts_ns at, struct ts_error *err);
	/* The modelled latent move of launch l (timing.h: ts_launch_move_ns
	 * under the backend's move model), asked before launch() with the same
	 * arguments; the driver models the launch as this plus its steps at the
	 * profile's step time. May be NULL: moves are modelled as free. */
	ts_ns (*move_ns)(void *self, const struct ts_launch *l, const struct ts_sched_view *v);
	void (*close)(void *self);
};

/* A backend: its ops and its state, as one object (as SQLite passes a
 * file with its methods table). */
struct ts_backend {
	const struct ts_backend_ops *ops;
	void *self;
};

/* Where results go while a run proceeds. Any entry may be NULL. */
struct ts_sink_ops {
	int (*segment)(void *self, const struct ts_segment *s, struct ts_error *err);
	int (*request_done)(void *self, const struct ts_request *r, const struct ts_req_state *st,
			    struct ts_error *err);
	int (*round)(void *self, const struct ts_round_rec *rr, struct ts_error *err);
};

#endif
