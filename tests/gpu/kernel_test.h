/* kernel_test.h: what the kernel tests share: tolerances, the random
 * stream, the error record and DEV(), which fails the check and returns
 * from the test when a device call fails. */
#ifndef TS_KERNEL_TEST_H
#define TS_KERNEL_TEST_H

#include "gpu_test.h"

#define MMA_TOL 1e-2

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static struct ts_error err;

#define DEV(call)                                                               \
	do {                                                                    \
		int rc_ = (call);                                               \
		TS_CHECK_MSG(rc_ == 0, "%s", err.msg);                          \
		if (rc_)                                                        \
			return;                                                 \
	} while (0)

#endif
