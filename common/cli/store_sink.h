/* store_sink.h: the driver's result sink writing into the SQLite store. */
#ifndef TS_STORE_SINK_H
#define TS_STORE_SINK_H

#include "driver/backend.h"
#include "store/store.h"

/* Sink ops whose self pointer is a struct ts_store *. */
extern const struct ts_sink_ops ts_store_sink;

/* Writes a row with NULL finish for every request of the run that did not
 * finish (so request_results lists the whole trace). */
int ts_store_unfinished(struct ts_store *s, const struct ts_trace *t, const struct ts_req_state *st,
			struct ts_error *err);

#endif
