/* ts_exec_backend.h: the executor backend of the driver loop (the
 * struct ts_backend_ops of exec/). A launch is handed to the worker thread of
 * its lowest GPU, which runs the steps through a device layer and posts the
 * completion to a queue; wait() sleeps on that queue. The device layer is a
 * small ops table so the bookkeeping runs without a GPU in the tests: the
 * real one wraps the DiT engine (ts_exec_dit.h), the tests' one sleeps. */
#ifndef TS_EXEC_BACKEND_H
#define TS_EXEC_BACKEND_H

#include <signal.h>

#include "driver/backend.h"
#include "driver/run.h"
#include "driver/timing.h"
#include "io/trace.h"

/* What the backend asks of a device. Each request handle is used by one
 * worker at a time (the driver never runs a request twice at once), and
 * concurrent calls always name disjoint GPU sets. */
struct ts_exec_device_ops {
	/* Creates the state of request q (noise latent and conditioning from
	 * q->seed); device memory may be taken lazily. */
	int (*open)(void *dev, const struct ts_request *q, void **handle, struct ts_error *err);
	/* Moves the latent of handle to the GPUs of `gpus` before a step there. */
	int (*move)(void *dev, void *handle, uint64_t gpus, struct ts_error *err);
	/* Runs the next denoising step on `gpus`; returns when it is done. */
	int (*step)(void *dev, void *handle, uint64_t gpus, struct ts_error *err);
	/* Runs the next step of n (2..TS_MAX_BATCH) requests of one resolution,
	 * each at its own step index, together as one batch on `gpus`, whose
	 * latents may have lived on other sets (moved first as by move); may be
	 * NULL: batched launches are then refused. */
	int (*step_batch)(void *dev, void *const *handles, int n, uint64_t gpus, struct ts_error *err);
	/* Frees the request's state; only called while no step runs anywhere. */
	void (*close)(void *dev, void *handle);
	/* Takes the device memory of request handle (opened, never stepped) on
	 * the GPUs of `gpus` now, with its initial latent there, so that its
	 * first launch there allocates and fills nothing; called once per GPU,
	 * and only before the first step; may be NULL. */
	int (*reserve)(void *dev, void *handle, uint64_t gpus, struct ts_error *err);
	/* Creates (and caches) the communicator of GPU set gpus now; may be NULL. */
	int (*warm_group)(void *dev, uint64_t gpus, struct ts_error *err);
	/* Makes blocked collectives return (ncclCommAbort); may be NULL. */
	void (*abort)(void *dev);
};

struct ts_exec_config {
	const struct ts_exec_device_ops *dev;
	void *dev_self;
	const struct ts_trace *trace;   /* the run's requests (not copied: must outlive the backend) */
	int gpus;                       /* GPUs of the node, 1..64: one worker thread each */
	volatile sig_atomic_t *stop;    /* when set, wait() returns TS_EINTR; may be NULL */
	bool keep_finished;             /* keep finished requests' handles until close (tests read latents) */
	bool prealloc;                  /* open every request and reserve its memory on every GPU at create (implies keep_finished) */
	struct ts_move_model move;      /* the modelled latent moves the driver plans with (zeros: free) */
	ts_ns abort_after;              /* close(): abort collectives when workers are still busy this long; 0 = 10 s */
};

/* Creates the backend and starts its worker threads. With prealloc, first
 * opens every request of the trace and reserves its device memory on every
 * GPU (dev->reserve, when the device has it); a failure names the request.
 * The clock starts after that: now() is monotonic wall time since then.
 * Returns TS_EINVAL for a bad GPU count or a device without
 * open/step/move/close, TS_ENOMEM when a thread cannot start. */
int ts_exec_create(void **self, const struct ts_exec_config *cfg, struct ts_error *err);

/* The ops table. launch() runs a batch (nreq > 1: the policy's selective
 * batching) through the device's step_batch, each step of all members at
 * once, and refuses it with TS_EINVAL when the device has none; the
 * members' latents move first where they live elsewhere (one move segment
 * for the launch). close() stops the workers after their current step,
 * aborting collectives when they do not return (abort_after), then closes
 * every request handle. */
extern const struct ts_backend_ops ts_exec_backend;

/* The device handle of request index r, or NULL when it never ran or was
 * closed. With keep_finished it stays valid until close(). Call only while no
 * launch of r is in flight. */
void *ts_exec_request_handle(void *self, int32_t r);

/* Creates the communicator of every aligned power-of-two set of 2..gpus GPUs
 * through dev->warm_group (a no-op without it). *ms receives the total wall
 * time, *groups the number of sets. */
int ts_exec_warm_comms(const struct ts_exec_device_ops *dev, void *dev_self, int gpus, double *ms,
		       int *groups, struct ts_error *err);

/* The executor as the run module's backend factory (name "exec"): each
 * run gets a fresh backend (its clock starts then) over ctx's device, with
 * the default move model (timing.h). Its options in the run's options:
 * warmup_steps, warm_comms, prealloc, and the move model as move_cost,
 * move_us and move_gbps (the keys the simulator reads back). */
struct ts_exec_factory_ctx {
	const struct ts_exec_device_ops *dev;
	void *dev_self;
	int warmup_steps;   /* what the command did before the runs, recorded with each */
	bool warm_comms;
	const char *weights; /* the checkpoint folder the engine loaded, NULL: synthetic */
	bool prealloc;      /* see ts_exec_config */
	double prealloc_ms; /* set by each create: the wall time preallocation took */
};
struct ts_backend_factory ts_exec_factory(struct ts_exec_factory_ctx *ctx);

#endif
