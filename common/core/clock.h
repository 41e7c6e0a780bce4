/* clock.h: the one monotonic clock of the host (not of a run: the
 * simulator's time is virtual, the executor's is this clock minus its start). */
#ifndef TS_CLOCK_H
#define TS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t ts_clock_ns(void);

#endif
