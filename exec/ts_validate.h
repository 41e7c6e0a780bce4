/* ts_validate.h: `tetriserve validate` in one command: on a GPU machine,
 * optionally profile the cells the trace needs (--measure), plan how much
 * of the trace fits --max-minutes (ts_validate_plan.h), serve it on the
 * executor under each policy, simulate the same configuration with the
 * same profile, time scale and seed, store every run in one results file,
 * and print the comparison of each pair (cli/cmd_validate.h) and a
 * markdown table. The two-run form (--db --sim --exec) compares stored
 * runs. The flow has no CUDA: the device it runs on is a parameter, the
 * GPUs (ts_validate_gpu.c, in builds with CUDA) or a dry run whose steps
 * sleep their profile time (--dry-run, every build). */
#ifndef TS_VALIDATE_H
#define TS_VALIDATE_H

#include <stdio.h>

#include "cli/command.h"
#include "cli/policy_args.h"
#include "driver/run.h"
#include "ts_exec_backend.h"

/* The options of the one-command form. */
struct ts_validate_opts {
	const char *trace, *profile, *db;
	const char *profile_out;   /* where --measure writes the profile (default: the db's path + ".profile.csv") */
	const char *markdown;      /* append the results table there; NULL: stdout only */
	const char *label;         /* names the case in the table and in each run's label */
	const char *model;         /* the engine's model (default flux-dev) */
	struct ts_run_config cfg;  /* gpus, slo_scale, seed, time_scale, max_requests, max_steps */
	bool measure, dry_run, quiet;
	double max_minutes;        /* the whole command's budget */
	long long min_requests;    /* the shortest prefix worth validating */
	int warmup_steps;          /* per resolution and degree before the runs (the GPU device) */
	struct ts_policy_list policies;
};

/* What --measure asks of the device: the cells of the resolutions
 * res[0..nres) (square) at SP 1, 2, 4, ... up to gpus, batch 1 (a device
 * that batches adds the batch cells it can run). */
struct ts_validate_measure {
	const char *model, *out, *db;
	int gpus;
	int res[16], nres;
};

/* The device the executor's runs go to. */
struct ts_validate_device {
	const char *what;  /* for the report */
	/* Measures the cells of m into the profile CSV m->out and a run of
	 * backend "profile" in m->db; NULL when the device cannot measure. */
	int (*measure)(const struct ts_validate_measure *m, struct ts_error *err);
	/* Estimated seconds of open() for the inputs (engine, warm-up). */
	double (*setup_s)(const struct ts_validate_opts *o, const struct ts_run_inputs *in);
	double per_request_s;  /* estimated preallocation cost of a request, per GPU */
	/* Makes the device ready for runs over `in`: fills x->dev and x->dev_self. */
	int (*open)(const struct ts_validate_opts *o, const struct ts_run_inputs *in,
		    struct ts_exec_factory_ctx *x, struct ts_error *err);
	void (*on_failure)(struct ts_exec_factory_ctx *x); /* may be NULL */
	void (*close)(struct ts_exec_factory_ctx *x);
	/* runs batched launches; when false, policies that batch run with
	 * batching=off on both sides and the report says so */
	bool batches;
};

/* The dry-run device: steps sleep their profile time (ts_exec_sleep.h). */
extern const struct ts_validate_device ts_validate_dry_run;

/* `tetriserve validate` with argv[0] == "validate": the two-run form when
 * --sim or --exec is given, else the one-command form on `gpu` (NULL in a
 * build without CUDA: only --dry-run runs, and the message says how to get
 * a build with the executor). Returns the exit status: 0, 1 on error or an
 * interrupted run, 2 on bad usage. */
int ts_validate_main(int argc, char **argv, const struct ts_validate_device *gpu);

/* Runs the one-command form: measure (when o->measure), plan, serve every
 * policy on dev's executor, simulate each configuration on sim, store all
 * runs in o->db, print the plan and the comparisons to f. Returns 0 when
 * every comparison was printed (targets met or not), else an error (a
 * run cut by the budget is TS_EINTR after the rest was reported). */
int ts_validate_flow(struct ts_validate_opts *o, const struct ts_validate_device *dev,
		     const struct ts_backend_entry *sim, FILE *f, struct ts_error *err);

#endif
