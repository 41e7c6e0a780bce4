/* sim_run.h: one simulation as a library call — load a trace and profile,
 * run a policy on the simulated cluster, summarise, store. Shared by
 * `tetriserve sim` and `tetriserve regress`. */
#ifndef TS_SIM_RUN_H
#define TS_SIM_RUN_H

#include <signal.h>
#include <stdio.h>

#include "driver/driver.h"
#include "io/profile.h"
#include "io/trace.h"
#include "report/summary.h"
#include "sim_backend.h"
#include "store/store.h"

struct ts_sim_config {
	const char *trace, *profile;  /* file paths */
	const char *model, *gpu_type; /* see ts_classes_opts; NULL = the profile's only one */
	const char *label;            /* free text stored in the run's options (experiment point key); may be NULL */
	int gpus;
	double slo_scale;             /* multiplies every request's SLO */
	uint64_t seed;
	bool interpolate;
	struct ts_sim_opts sim;
	struct ts_policy_env env;     /* policy knobs; gpus/trace/cls are filled in by the run */
};

/* The inputs of a configuration, loaded once and shared by its policies. */
struct ts_sim_inputs {
	struct ts_trace trace;
	struct ts_profile profile;
	struct ts_classes cls;
};

/* The outcome of one policy of a sim or exec command. */
struct ts_policy_result {
	const char *spec;       /* policy spec as given */
	struct ts_summary sum;
	int64_t run_id;         /* in the results store; 0 without one */
};

/* Prints the summaries as JSON: one object for one policy, an array for
 * several (the --json output of sim and exec). */
void ts_policy_results_json(FILE *f, const struct ts_policy_result *pr, int n);

/* Prints the SLO-attainment table, one row per policy (n >= 1). */
void ts_policy_results_table(FILE *f, const struct ts_policy_result *pr, int n);

/* Defaults of `tetriserve sim` for the given trace and profile paths. */
void ts_sim_config_defaults(struct ts_sim_config *c, const char *trace, const char *profile);

/* Loads trace and profile, applies the SLO scale, builds the step tables.
 * Errors name the file and line (see ts_trace_load, ts_profile_load). */
int ts_sim_inputs_load(struct ts_sim_inputs *in, const struct ts_sim_config *c, struct ts_error *err);

/* Frees what ts_sim_inputs_load() made; safe on a zeroed struct. */
void ts_sim_inputs_free(struct ts_sim_inputs *in);

/* Builds policy `spec` for the inputs with c's knobs (GPU count, trace and
 * step tables filled in); *ops and *self receive it (close with
 * (*ops)->close). Errors name the spec. */
int ts_sim_build_policy(const char *spec, const struct ts_sim_config *c, const struct ts_sim_inputs *in,
			const struct ts_policy_ops **ops, void **self, struct ts_error *err);

/* Ends a stored run: rows with NULL finish for unfinished requests, the
 * summary JSON, completed = 1. */
int ts_sim_store_run_end(struct ts_store *store, const char *spec, const struct ts_sim_inputs *in,
			 const struct ts_run_result *res, const struct ts_summary *sum,
			 struct ts_error *err);

/* Builds and frees policy `spec` once: fails early on a bad spec or a
 * missing profile cell, before any run starts. */
int ts_sim_check_policy(const char *spec, const struct ts_sim_config *c,
			const struct ts_sim_inputs *in, struct ts_error *err);

/* Runs policy `spec` over the inputs; fills *sum. With a store, the run is
 * written there (marked completed at the end) and *run_id receives its id
 * (run_id may be NULL). stop may be NULL; when it becomes set the run ends
 * with TS_EINTR and stays incomplete in the store. */
int ts_sim_run_policy(const char *spec, const struct ts_sim_config *c, const struct ts_sim_inputs *in,
		      struct ts_store *store, volatile sig_atomic_t *stop, struct ts_summary *sum,
		      int64_t *run_id, struct ts_error *err);

#endif
