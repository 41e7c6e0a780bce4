/* clock.c: the host's monotonic clock (see clock.h). */
#include "core/clock.h"

#include <time.h>

int64_t ts_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
