/* ts_exec_sleep.h: a device layer for the executor that runs no kernel:
 * each step sleeps for its profile step time at its degree, each latent
 * move for its modelled time. `tetriserve validate --dry-run` runs the
 * whole validation flow on it without a GPU: wall clock, worker threads
 * and host overhead are real, step times are the profile's. */
#ifndef TS_EXEC_SLEEP_H
#define TS_EXEC_SLEEP_H

#include "driver/timing.h"
#include "io/classes.h"
#include "ts_exec_backend.h"

/* The device: the step tables of the run and the move model. */
struct ts_exec_sleep {
	const struct ts_classes *cls;
	struct ts_move_model move;
};

/* Device ops whose dev pointer is a struct ts_exec_sleep *: open
 * allocates a small handle, step sleeps ts_class_step(class, degree, 1),
 * move sleeps ts_move_ns, close frees. */
extern const struct ts_exec_device_ops ts_exec_sleep_ops;

#endif
