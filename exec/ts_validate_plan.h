/* ts_validate_plan.h: how much of a trace a validation runs within its
 * time budget. Each candidate is simulated (the simulator's makespan is
 * what a hardware run of it lasts, when the profile holds) for every
 * policy; the plan keeps the whole trace when it fits, else the longest
 * prefix that fits, else compresses arrivals (time scale / 2, / 4, / 8),
 * else caps the steps of each request (/ 2, / 4, / 8); each choice is
 * stated in the report (ts_validate_plan_text). No CUDA: tested on the CPU. */
#ifndef TS_VALIDATE_PLAN_H
#define TS_VALIDATE_PLAN_H

#include <stddef.h>

#include "driver/run.h"

#define TS_VALIDATE_MAX_POLICIES 32

/* What the plan must fit and what each run costs beyond its makespan. */
struct ts_validate_budget {
	double seconds;          /* for all runs of the executor (setup and measurement already taken off) */
	double per_run_s;        /* each run's fixed cost (backend start, preallocation) */
	long long min_requests;  /* the shortest prefix worth validating */
};

struct ts_validate_plan {
	struct ts_run_config cfg;       /* the base configuration with the chosen max_requests, time_scale, max_steps */
	size_t trace_requests;          /* requests of the trace (after the base's own max_requests) */
	size_t requests;                /* requests the plan runs */
	int trace_max_steps;            /* the most steps of a request in the trace */
	double full_s;                  /* estimated seconds of the whole (base) trace */
	double est_s;                   /* estimated seconds of the plan: sum of est_run_s */
	double est_run_s[TS_VALIDATE_MAX_POLICIES]; /* per policy: simulated makespan + per_run_s */
	int npolicies;
	double budget_s;
	bool cut, scaled, capped;       /* fewer requests, faster arrivals, fewer steps than the base */
};

/* Plans the runs of policies spec[0..n) (n <= TS_VALIDATE_MAX_POLICIES)
 * over base (trace, profile, gpus, ...) within b, simulating each candidate
 * on a fresh backend of sim (no store). TS_ERANGE with a message naming the
 * smallest candidate and its estimate when even min_requests requests at
 * the fastest arrivals and fewest steps do not fit; errors of loading the
 * inputs and of the policies otherwise. */
int ts_validate_plan_make(const struct ts_run_config *base, const char *const *spec, int n,
			  const struct ts_backend_factory *sim, const struct ts_validate_budget *b,
			  struct ts_validate_plan *out, struct ts_error *err);

/* The plan in words, for the report: which requests of which trace, at
 * what time scale and step cap, why (the whole trace's estimate against
 * the budget), and the estimate per policy. */
void ts_validate_plan_text(const struct ts_validate_plan *p, const char *const *spec, char *buf,
			   size_t len);

#endif
