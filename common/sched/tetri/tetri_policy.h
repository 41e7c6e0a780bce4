/* tetri_policy.h: the TetriServe round-based scheduler as a policy
 * (spec "tetriserve[:round_steps=G][:round_ms=X][:placement=off]...", its
 * options in tetri_options.c).
 * The algorithm, its choices and tie-breaks: docs/SCHEDULER.md. */
#ifndef TS_TETRI_POLICY_H
#define TS_TETRI_POLICY_H

#include "core/ts_types.h"
#include "sched/policy.h"

/* The ops table (name "tetriserve"). */
extern const struct ts_policy_ops ts_policy_tetriserve;

/* Most non-late requests one round considers for packing (earliest
 * deadlines first); the rest wait for a later round. */
#define TS_TETRI_WINDOW 1024

/* The reference step time for the round length: the lower median, over the
 * classes, of each class's step time at its smallest profiled degree <=
 * gpus (degree 1 in a complete profile). -1 when no class has a cell. */
ts_ns ts_tetri_reference_step(const struct ts_classes *cs, int gpus);

#endif
