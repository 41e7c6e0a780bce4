/* sim_run.h: one policy run on the simulator, for tests linked with the
 * simulator (test_sim_dep): the policy built from its spec, the simulated
 * backend created, the driver run with the test's sink, both closed; and a
 * sink that keeps every segment. */
#ifndef TS_TEST_SIM_RUN_H
#define TS_TEST_SIM_RUN_H

#include <stdlib.h>
#include <string.h>

#include "driver/driver.h"
#include "sim_backend.h"

/* A sink that keeps every segment in memory. */
struct fx_sink {
	struct ts_segment *seg;
	size_t n, cap;
	size_t done;
	size_t rounds;
};

static inline int fx_sink_segment(void *self, const struct ts_segment *s, struct ts_error *err)
{
	(void)err;
	struct fx_sink *k = self;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		k->seg = realloc(k->seg, k->cap * sizeof(*k->seg));
	}
	k->seg[k->n++] = *s;
	return 0;
}

static inline int fx_sink_done(void *self, const struct ts_request *r, const struct ts_req_state *st,
			       struct ts_error *err)
{
	(void)r, (void)st, (void)err;
	((struct fx_sink *)self)->done++;
	return 0;
}

static inline int fx_sink_round(void *self, const struct ts_round_rec *rr, struct ts_error *err)
{
	(void)rr, (void)err;
	((struct fx_sink *)self)->rounds++;
	return 0;
}

static const struct ts_sink_ops fx_sink_ops = {
	.segment = fx_sink_segment, .request_done = fx_sink_done, .round = fx_sink_round,
};

/* Runs policy `spec` (its options in the spec) on `gpus` simulated GPUs
 * with options so (NULL: the defaults) and sink ops/self (ops may be NULL);
 * fills *res. Returns the driver's code (policy init failures included). */
static inline int ts_test_sim_run(const char *spec, int gpus, const struct ts_trace *t,
				  const struct ts_classes *cs, const struct ts_sim_opts *so,
				  const struct ts_sink_ops *sink, void *sink_self, struct ts_run_result *res,
				  struct ts_error *err)
{
	memset(res, 0, sizeof(*res));
	struct ts_policy_env env = { .gpus = gpus, .trace = t, .cls = cs };
	struct ts_policy pol;
	struct ts_backend sim = { .ops = &ts_sim_backend };
	int rc = ts_policy_build(spec, &env, &pol, err);
	if (rc)
		return rc;
	struct ts_sim_opts def;
	ts_sim_opts_defaults(&def);
	rc = ts_sim_create(&sim.self, so ? so : &def, cs, err);
	if (!rc) {
		struct ts_driver_config cfg = { .trace = t, .cls = cs, .gpus = gpus, .policy = pol,
						.backend = sim, .sink = sink, .sink_self = sink_self };
		rc = ts_driver_run(&cfg, res, err);
		ts_sim_backend.close(sim.self);
	}
	ts_policy_close(&pol);
	return rc;
}

#endif
