/* test_tetri_noalloc.c: the tetriserve plan call allocates no memory, at
 * round boundaries and between them; nor does the admit policy's. This program replaces malloc, calloc
 * and realloc with counting wrappers around glibc's own (__libc_*), so even
 * a buffer freed within the call (as glibc's qsort uses for large arrays)
 * is seen. */
#include <stdio.h>
#include <string.h>

#include "sched/admit/admit_policy.h"
#include "sched/tetri/tetri_policy.h"
#include "test_util.h"
#include "tetri_fixture.h"

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer owns malloc: counting wrappers cannot be interposed. */
int main(void)
{
	puts("tetri_noalloc: skipped under AddressSanitizer");
	return 77;
}
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t m, size_t n);
extern void *__libc_realloc(void *p, size_t n);

static long alloc_calls;

void *malloc(size_t n)
{
	alloc_calls++;
	return __libc_malloc(n);
}

void *calloc(size_t m, size_t n)
{
	alloc_calls++;
	return __libc_calloc(m, n);
}

void *realloc(void *p, size_t n)
{
	alloc_calls++;
	return __libc_realloc(p, n);
}

/* admit on the same queue: calls as time passes (drops included) into
 * driver buffers large enough for them. */
static void test_admit(const struct ts_trace *t, const struct ts_classes *cs, struct ts_req_state *st)
{
	struct ts_error err = { 0 };
	struct ts_plan plan = { .launch = malloc(64 * sizeof(struct ts_launch)), .cap = 64,
				.drop = malloc(t->n * sizeof(int32_t)), .capdrop = (int32_t)t->n };
	struct ts_policy_env env = { .gpus = 8, .trace = t, .cls = cs };
	struct ts_sched_view v = { .gpus = 8, .req = t->req, .st = st, .cls = cs, .nreq = t->n };
	void *pol = NULL;
	long before;

	TS_CHECK(ts_policy_admit.init(&pol, NULL, &env, &err) == 0);
	for (int32_t i = 0; i < (int32_t)t->n; i++)
		ts_policy_admit.on_arrival(pol, &v, i);
	before = alloc_calls;
	for (int k = 0; k < 40; k++) {
		v.now = k * 100 * TS_NS_PER_MS;
		plan.n = plan.ndrop = 0;
		TS_CHECK(ts_policy_admit.plan(pol, &v, &plan, &err) == 0 && plan.n > 0);
	}
	TS_CHECK_MSG(alloc_calls == before, "admit: %ld allocations in 40 plan calls", alloc_calls - before);
	ts_policy_admit.close(pol);
	free(plan.launch);
	free(plan.drop);
}

int main(void)
{
	struct ts_classes cs;
	struct ts_trace t = { 0 };
	struct ts_error err = { 0 };
	struct ts_plan plan = { 0 };
	struct ts_req_state *st;
	void *pol = NULL;
	long before;

	tf_classes(&cs, true);
	/* 600 queued requests of every class with mixed slack; some are late */
	for (int i = 0; i < 600; i++)
		tf_add(&t, 0, i % 4, 50, 1.0 + (i % 13) * 0.5);
	st = calloc(t.n, sizeof(*st));
	for (size_t i = 0; i < t.n; i++)
		st[i] = (struct ts_req_state){ .start = -1, .finish = -1, .inflight_end = -1, .dropped = -1 };
	struct ts_policy_env env = { .gpus = 8, .trace = &t, .cls = &cs };
	struct ts_sched_view v = { .gpus = 8, .req = t.req, .st = st, .cls = &cs, .nreq = t.n };
	TS_CHECK(ts_policy_tetriserve.init(&pol, NULL, &env, &err) == 0);
	for (int32_t i = 0; i < (int32_t)t.n; i++)
		ts_policy_tetriserve.on_arrival(pol, &v, i);
	/* the first call may grow the driver-owned plan buffer; later ones reuse it */
	TS_CHECK(ts_policy_tetriserve.plan(pol, &v, &plan, &err) == 0 && plan.n > 0);
	before = alloc_calls;
	for (int k = 1; k <= 40; k++) {
		/* a boundary, then a call between boundaries */
		v.now = k % 2 ? (k + 1) / 2 * 300 * TS_NS_PER_MS : v.now + 10;
		plan.n = 0;
		plan.round = false;
		TS_CHECK(ts_policy_tetriserve.plan(pol, &v, &plan, &err) == 0 && plan.round == (k % 2));
	}
	TS_CHECK_MSG(alloc_calls == before, "%ld allocations in 40 plan calls", alloc_calls - before);
	ts_policy_tetriserve.close(pol);
	test_admit(&t, &cs, st);
	free(plan.launch);
	free(st);
	free(t.req);
	free(cs.cls);
	return ts_test_result("tetri_noalloc");
}
#endif
