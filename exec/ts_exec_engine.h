/* ts_exec_engine.h: the DiT engine made ready to serve a trace, the way
 * `tetriserve exec` and validate's GPU device both do it: every request of
 * the engine's model, the engine opened on the GPUs, the communicators of
 * every aligned GPU set created (warm_comms), and warm-up steps of every
 * resolution of the trace at every degree and batch size the profile has,
 * on every aligned block of that degree (first kernel launches, cuBLASLt and cuDNN
 * plans, communicators), none of it on a run's clock. */
#ifndef TS_EXEC_ENGINE_H
#define TS_EXEC_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "driver/run.h"
#include "ts_dit.h"

struct ts_exec_engine_opts {
	const char *model;   /* flux-dev or sd3-medium: the trace's requests' model */
	const char *weights; /* a diffusers checkpoint folder, NULL: the preset's synthetic weights */
	int gpus;
	uint64_t seed;       /* of the synthetic weights */
	int warmup_steps;    /* per resolution, degree and block; 0: none */
	bool warm_comms;
	bool quiet;          /* else the times of each stage go to stderr */
};

/* Checks the trace's models, opens the engine into *e and warms it up as
 * above. On failure *e may hold an engine to close (ts_dit_engine_close). */
int ts_exec_engine_prepare(struct ts_dit_engine **e, const struct ts_exec_engine_opts *o,
			   const struct ts_run_inputs *in, struct ts_error *err);

#endif
