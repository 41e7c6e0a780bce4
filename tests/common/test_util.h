/* test_util.h: minimal checks for the test programs. A failed check prints
 * file:line and the expression and the test keeps going; main returns
 * ts_test_result(). */
#ifndef TS_TEST_UTIL_H
#define TS_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

static int ts_test_failures;
static int ts_test_checks;

#define TS_CHECK(cond)                                                          \
	do {                                                                    \
		ts_test_checks++;                                               \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                               \
			ts_test_failures++;                                     \
		}                                                               \
	} while (0)

#define TS_CHECK_MSG(cond, ...)                                                 \
	do {                                                                    \
		ts_test_checks++;                                               \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,  \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			ts_test_failures++;                                     \
		}                                                               \
	} while (0)

#define TS_CHECK_NEAR(a, b, tol)                                                \
	TS_CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g (tol %g)", \
		     (double)(a), (double)(b), (double)(tol))

/* Prints the check count and returns the process exit status. */
static inline int ts_test_result(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, ts_test_checks, ts_test_failures);
	return ts_test_failures ? 1 : 0;
}

#endif
