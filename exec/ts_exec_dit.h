/* ts_exec_dit.h: the executor's device layer over the DiT step engine
 * (ts_dit.h): each trace request is one engine request of batch 1; a
 * batched launch steps its requests together (ts_dit_batch_step). */
#ifndef TS_EXEC_DIT_H
#define TS_EXEC_DIT_H

#include "ts_exec_backend.h"

/* Device ops whose dev pointer is a struct ts_dit_engine *: open =
 * ts_dit_request_open (height x width, steps and seed of the trace
 * request), move = ts_dit_request_move, step = ts_dit_request_step,
 * step_batch = ts_dit_batch_step (a batch of trace requests: one engine
 * request each, stepped together), close = ts_dit_request_close, reserve =
 * ts_dit_request_move of a fresh request (memory and noise on every GPU of
 * the set), warm_group = ts_dit_engine_warm_group, abort =
 * ts_dit_engine_abort. */
extern const struct ts_exec_device_ops ts_exec_dit_ops;

#endif
