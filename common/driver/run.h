/* run.h: one run as a library call, the same for every backend: load the
 * inputs, build the policy, begin the stored run, drive it on a fresh
 * backend, summarise, end the stored run. `tetriserve sim`, `exec`,
 * `regress` and `validate` all go through it; a backend folder contributes
 * only a ts_backend_factory. */
#ifndef TS_RUN_H
#define TS_RUN_H

#include <jansson.h>
#include <signal.h>

#include "driver/driver.h"
#include "io/classes.h"
#include "io/profile.h"
#include "io/trace.h"
#include "report/summary.h"
#include "store/store.h"

/* What a run is made of, apart from the policy spec and the backend. */
struct ts_run_config {
	const char *trace, *profile;  /* file paths */
	const char *model, *gpu_type; /* see ts_classes_opts; NULL = the profile's only one */
	const char *label;            /* free text stored in the run's options (an experiment point key); may be NULL */
	int gpus;                     /* 1..64 */
	double slo_scale;             /* multiplies every request's SLO */
	bool interpolate;             /* estimate missing profile cells */
	uint64_t seed;                /* stored as the run's seed (the backend's random streams) */
	long long max_requests;       /* serve only the first M requests; 0 = all */
	double time_scale;            /* arrivals multiplied by this, 0 < x <= 1 (SLOs are not) */
	int max_steps;                /* run at most this many steps of each request; 0 = all */
	bool store_rounds;            /* a rounds row per round boundary in the store; else only
				       * their count (in the summary) */
	/* Told of every segment, finished or dropped request and round as the
	 * run goes, after the store (the progress line); not stored. NULL: none. */
	const struct ts_sink_ops *watch;
	void *watch_self;
};

/* Defaults: 4 GPUs, SLO scale 1, seed 1, whole trace, time scale 1. */
void ts_run_config_defaults(struct ts_run_config *c);

/* The inputs of a configuration, loaded once and shared by its policies. */
struct ts_run_inputs {
	struct ts_trace trace;
	struct ts_profile profile;
	struct ts_classes cls;
};

/* Loads trace and profile, applies the SLO scale, builds the step tables
 * (of the whole trace), keeps the first max_requests requests, applies the
 * time scale and the step cap (SLOs unchanged).
 * Errors name the file and line (see ts_trace_load, ts_profile_load). */
int ts_run_inputs_load(struct ts_run_inputs *in, const struct ts_run_config *c, struct ts_error *err);

/* Frees what ts_run_inputs_load() made; safe on a zeroed struct. */
void ts_run_inputs_free(struct ts_run_inputs *in);

/* How a backend folder makes the backend of one run. */
struct ts_backend_factory {
	const char *name;  /* stored as runs.backend: "sim", "exec" */
	/* Creates a fresh backend over the inputs (its clock starts now); a
	 * backend that blocks should return TS_EINTR soon after *stop is set
	 * (stop may be NULL). */
	int (*create)(void *ctx, const struct ts_run_inputs *in, int gpus, volatile sig_atomic_t *stop,
		      struct ts_backend *out, struct ts_error *err);
	/* Adds the backend's own options (those that change a result) to the
	 * run's options object; may be NULL. Returns 0 or TS_ENOMEM. */
	int (*describe)(void *ctx, json_t *options);
	void *ctx;
};

/* The outcome of one policy of a run command. */
struct ts_run_outcome {
	const char *spec;       /* policy spec as run */
	struct ts_summary sum;
	int64_t run_id;         /* in the results store; 0 without one */
};

/* Builds the policy of spec over the inputs (GPU count from c) and closes
 * it: fails early on a bad spec or a missing profile cell. */
int ts_run_check_policy(const char *spec, const struct ts_run_config *c,
			const struct ts_run_inputs *in, struct ts_error *err);

/* Runs policy `spec` over the inputs on a fresh backend of bf; fills
 * out->sum. With a store, the run is written there: options JSON (the
 * run's and the backend's), the policy's describe() as its parameters,
 * requests, segments and rounds, marked completed at the end; out->run_id
 * receives its id. When the run fails or stop becomes set (TS_EINTR), the
 * rows so far are committed and the run stays incomplete. */
int ts_run_policy(const char *spec, const struct ts_run_config *c, const struct ts_run_inputs *in,
		  const struct ts_backend_factory *bf, struct ts_store *store,
		  volatile sig_atomic_t *stop, struct ts_run_outcome *out, struct ts_error *err);

/* Adds the members of `mine` (a backend's options; its reference is taken)
 * to the run's options object: what a factory's describe() does. Returns
 * 0, or TS_ENOMEM (also when mine is NULL: json_pack failed). */
int ts_run_options_add(json_t *options, json_t *mine);

/* The options of a run as stored in runs.options (without the backend's):
 * slo_scale, time_scale, max_requests, max_steps, interpolate, model,
 * gpu_type, label. A new reference, NULL when out of memory. */
json_t *ts_run_options_json(const struct ts_run_config *c);

/* Reads those options back from a run's options object into *c (absent
 * members keep *c's values; model, gpu_type and label point into
 * `options`, valid while it lives). */
void ts_run_config_from_json(struct ts_run_config *c, const json_t *options);

#endif
