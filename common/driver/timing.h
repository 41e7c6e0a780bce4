/* timing.h: the driver's model of time, shared by every backend. A launch
 * is modelled to take its steps at the profile's step time plus, when a
 * latent must reach GPUs that lack it, a latent move; the simulator takes
 * exactly that (without --noise), and the driver decides on it: a launch
 * whose observed duration lies within a window around its modelled one
 * counts as having taken the modelled time (docs/SCHEDULER.md, "Model
 * time"). So a policy's decisions depend on the sequence of events, not on
 * a few milliseconds of host overhead or step-time jitter. */
#ifndef TS_TIMING_H
#define TS_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ts_types.h"
#include "sched/policy.h"

/* The cost of moving a request's latent to GPUs that lack it. */
struct ts_move_model {
	bool on;          /* charge moves at all; default true */
	ts_ns fixed_ns;   /* fixed cost of a move (launch and sync); default 30 us */
	double gbps;      /* bandwidth, GB/s; default 50 */
};

/* Fills the defaults: moves cost 30 us + bytes / 50 GB/s. */
void ts_move_model_defaults(struct ts_move_model *m);

/* Cost of moving the bf16 latent of an h x w image ((h/8)(w/8) x 16
 * values) under m; 0 when m->on is false. */
ts_ns ts_move_ns(const struct ts_move_model *m, int32_t height, int32_t width);

/* The modelled move of launch l: ts_move_ns of its resolution when one of
 * its requests last ran on a GPU set that does not cover l->gpus (a subset
 * of the GPUs holding a latent already has it), else 0. v->st[] is the
 * state before the launch. */
ts_ns ts_launch_move_ns(const struct ts_move_model *m, const struct ts_launch *l,
			const struct ts_sched_view *v);

/* The window: an observed duration within max(abs_ns, rel x modelled) of
 * the modelled one counts as equal to it. */
#define TS_WINDOW_ABS_NS (2 * TS_NS_PER_MS)
#define TS_WINDOW_REL 0.05

struct ts_window {
	ts_ns abs_ns;   /* default TS_WINDOW_ABS_NS */
	double rel;     /* default TS_WINDOW_REL */
};

/* The half-width of the window around a modelled duration. */
ts_ns ts_window_ns(const struct ts_window *w, ts_ns modelled);

/* Whether `observed` counts as the modelled duration under w. */
bool ts_window_holds(const struct ts_window *w, ts_ns modelled, ts_ns observed);

#endif
