/* admit_policy.h: the admit policy (spec "admit[:evict=largest|newest]
 * [:late=drop|defer][:chunk_steps=G][:chunk_ms=X][:fill=off][:grow=off]").
 * Its rules, options and measurements: docs/SCHEDULER.md, docs/BEYOND.md. */
#ifndef TS_ADMIT_POLICY_H
#define TS_ADMIT_POLICY_H

#include "sched/policy.h"

/* The ops table (name "admit"). */
extern const struct ts_policy_ops ts_policy_admit;

#endif
