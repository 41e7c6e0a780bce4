/* bench_sim: simulates a generated trace of many requests (default
 * 1,000,000) on 8 GPUs with fixed-sp:1 and prints wall time, peak memory and
 * simulated requests per second. Usage: bench_sim [requests] [profile.csv].
 * Run with `meson test --benchmark -C build` or directly. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "driver/driver.h"
#include "io/classes.h"
#include "io/profile.h"
#include "io/tracegen.h"
#include "sched/policy.h"
#include "sim_backend.h"

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

static int fail(const struct ts_error *err)
{
	fprintf(stderr, "bench_sim: %s\n", err->msg);
	return 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	const char *profile_path = argc > 2 ? argv[2] : TS_DATADIR "/traces/profiles/flux-dev_H200_engine.csv";
	struct ts_error err = { 0 };
	struct ts_tracegen_opts go;
	ts_tracegen_defaults(&go);
	go.count = n;
	go.rate_per_min = 12;

	double t0 = wall_s();
	struct ts_trace t;
	if (ts_tracegen(&t, &go, &err))
		return fail(&err);
	double t_gen = wall_s() - t0;

	struct ts_profile p;
	struct ts_classes cs;
	struct ts_classes_opts co = { .max_degree = 8 };
	if (ts_profile_load(&p, profile_path, &err) || ts_classes_build(&cs, &t, &p, &co, &err))
		return fail(&err);

	struct ts_policy_env env = { .gpus = 8, .trace = &t, .cls = &cs };
	struct ts_policy pol;
	void *sim;
	struct ts_sim_opts so;
	ts_sim_opts_defaults(&so);
	if (ts_policy_build("fixed-sp:1", &env, &pol, &err) || ts_sim_create(&sim, &so, &cs, &err))
		return fail(&err);
	struct ts_driver_config cfg = { .trace = &t, .cls = &cs, .gpus = 8, .policy = pol,
					.backend = { &ts_sim_backend, sim } };
	struct ts_run_result res;
	double t1 = wall_s();
	if (ts_driver_run(&cfg, &res, &err))
		return fail(&err);
	double t_sim = wall_s() - t1;
	printf("bench_sim: %ld requests, 8 GPUs, fixed-sp:1, %lld launches\n", n, (long long)res.launches);
	printf("  generate trace   %8.3f s\n", t_gen);
	printf("  simulate         %8.3f s  (%.2f M requests/s)\n", t_sim, (double)n / t_sim / 1e6);
	printf("  peak memory      %8.1f MiB\n", peak_rss_mib());
	ts_run_result_free(&res);
	ts_sim_backend.close(sim);
	ts_policy_close(&pol);
	ts_classes_free(&cs);
	ts_profile_free(&p);
	ts_trace_free(&t);
	return 0;
}
