/* bench_tetri_sar.c: SLO attainment of the tetriserve policy on the
 * simulator with the fixture's step tables (tetri_fixture.h), against the
 * fixed-SP baselines, across its ablation rows and round lengths. The
 * figures quoted in docs/SCHEDULER.md come from this program.
 * Usage: bench_tetri_sar [traces per configuration, default 4]
 *        bench_tetri_sar TRACE.csv PROFILE.csv GPUS   (files instead) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/driver.h"
#include "io/classes.h"
#include "io/profile.h"
#include "io/tracegen.h"
#include "sched/tetri/tetri_policy.h"
#include "sim_backend.h"
#include "sim_run.h"
#include "tetri_fixture.h"

#define NREQ 300

/* SAR of one run of policy `spec` on `gpus` GPUs; -1 on error. */
static double sar(const char *spec, const struct ts_trace *t, const struct ts_classes *cs, int gpus)
{
	struct ts_error err = { 0 };
	struct ts_run_result res;
	size_t met = 0;
	int rc = ts_test_sim_run(spec, gpus, t, cs, NULL, NULL, NULL, &res, &err);
	for (size_t i = 0; !rc && i < res.n; i++)
		met += res.st[i].finish >= 0 && res.st[i].finish <= t->req[i].deadline;
	ts_run_result_free(&res);
	if (rc) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return (double)met / (double)t->n;
}

/* The cumulative ablation rows: schedule only, +placement, +elastic, full. */
static const char *const ablation_spec[4] = {
	"tetriserve:placement=off:elastic=off:batching=off",
	"tetriserve:elastic=off:batching=off",
	"tetriserve:batching=off",
	"tetriserve",
};

/* A trace from the project's generator (50 steps, Poisson), with each
 * request's class set to the fixture class of its resolution. */
static int make_trace(struct ts_trace *t, enum ts_mix mix, double rate, double scale, uint64_t seed)
{
	struct ts_tracegen_opts o;
	struct ts_error err = { 0 };

	ts_tracegen_defaults(&o);
	o.mix = mix;
	o.rate_per_min = rate;
	o.slo_scale = scale;
	o.count = NREQ;
	o.seed = seed;
	if (ts_tracegen(t, &o, &err)) {
		fprintf(stderr, "tracegen: %s\n", err.msg);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++)
		for (int c = 0; c < 4; c++)
			if (t->req[i].height == tf_side[c])
				t->req[i].cls = c;
	return 0;
}

/* Mean SAR over ntr traces of tetriserve and of fixed-sp:K. */
static int compare_fixed(const struct ts_classes *cs, enum ts_mix mix, double rate, double scale,
			 int ntr)
{
	double ts = 0, fx[4] = { 0 }, best = 0;
	int best_k = 0;

	for (int s = 0; s < ntr; s++) {
		struct ts_trace t;
		if (make_trace(&t, mix, rate, scale, 100 + (uint64_t)s))
			return -1;
		ts += sar("tetriserve", &t, cs, 8);
		for (int k = 0; k < 4; k++) {
			char spec[32];
			snprintf(spec, sizeof(spec), "fixed-sp:%d", 1 << k);
			fx[k] += sar(spec, &t, cs, 8);
		}
		ts_trace_free(&t);
	}
	for (int k = 0; k < 4; k++)
		if (fx[k] > best)
			best = fx[k], best_k = 1 << k;
	printf("%-7s %4.0f/min scale %.1f: tetriserve %.3f  best fixed (SP %d) %.3f\n",
	       mix == TS_MIX_SKEWED ? "skewed" : "uniform", rate, scale, ts / ntr, best_k, best / ntr);
	return 0;
}

/* The paper's cumulative ablation rows on Uniform traces. */
static int ablation(const struct ts_classes *cs, double scale, int ntr)
{
	static const char *row[4] = { "schedule only", "+placement", "+elastic", "+batching" };
	double sum[4] = { 0 };

	for (int s = 0; s < ntr; s++) {
		struct ts_trace t;
		if (make_trace(&t, TS_MIX_UNIFORM, 12, scale, 100 + (uint64_t)s))
			return -1;
		for (int i = 0; i < 4; i++) {
			sum[i] += sar(ablation_spec[i], &t, cs, 8);
		}
		ts_trace_free(&t);
	}
	printf("ablation uniform 12/min scale %.1f:", scale);
	for (int i = 0; i < 4; i++)
		printf("  %s %.3f", row[i], sum[i] / ntr);
	printf("\n");
	return 0;
}

/* SAR against the round length (Uniform, 12/min, scale 1.0). */
static int round_sweep(const struct ts_classes *cs, int ntr)
{
	static const double ms[5] = { 275, 500, 725, 950, 1500 };

	for (int i = 0; i < 5; i++) {
		char spec[64];
		snprintf(spec, sizeof(spec), "tetriserve:round_ms=%g", ms[i]);
		double sum = 0;
		for (int s = 0; s < ntr; s++) {
			struct ts_trace t;
			if (make_trace(&t, TS_MIX_UNIFORM, 12, 1.0, 100 + (uint64_t)s))
				return -1;
			sum += sar(spec, &t, cs, 8);
			ts_trace_free(&t);
		}
		printf("round %4.0f ms: SAR %.3f\n", ms[i], sum / ntr);
	}
	return 0;
}

/* One trace and profile from files: tetriserve, its ablation rows, the
 * fixed degrees and RSSP (2048^2 on min(8, GPUs)). */
static int from_files(const char *trace, const char *profile, int gpus)
{
	static const char *row[4] = { "schedule only", "+placement", "+elastic", "full" };
	struct ts_error err = { 0 };
	struct ts_profile p = { 0 };
	struct ts_trace t = { 0 };
	struct ts_classes cs = { 0 };
	struct ts_classes_opts o = { .max_degree = gpus };
	char spec[96];
	int rc;

	rc = ts_profile_load(&p, profile, &err);
	if (!rc)
		rc = ts_trace_load(&t, trace, &err);
	if (!rc)
		rc = ts_classes_build(&cs, &t, &p, &o, &err);
	if (rc) {
		fprintf(stderr, "%s\n", err.msg);
		goto out_free;
	}
	printf("%s, %s, %d GPUs:\n", trace, profile, gpus);
	for (int i = 0; i < 4; i++) {
		printf("  tetriserve %-14s %.3f\n", row[i], sar(ablation_spec[i], &t, &cs, gpus));
	}
	for (int k = 1; k <= gpus && k <= TS_MAX_GPUS; k *= 2) {
		snprintf(spec, sizeof(spec), "fixed-sp:%d", k);
		printf("  %-25s %.3f\n", spec, sar(spec, &t, &cs, gpus));
	}
	snprintf(spec, sizeof(spec), "rssp:256=1,512=1,1024=2,2048=%d", gpus < 8 ? gpus : 8);
	printf("  %-25s %.3f\n", spec, sar(spec, &t, &cs, gpus));
out_free:
	ts_classes_free(&cs);
	ts_trace_free(&t);
	ts_profile_free(&p);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const double rates[3] = { 6, 12, 18 }, scales[3] = { 1.0, 1.2, 1.5 };
	int ntr = argc > 1 ? atoi(argv[1]) : 4;
	struct ts_classes cs;
	int rc = 0;

	if (argc == 4 && atoi(argv[3]) >= 1 && atoi(argv[3]) <= TS_MAX_GPUS)
		return from_files(argv[1], argv[2], atoi(argv[3]));
	if (argc > 2 || ntr < 1) {
		fprintf(stderr, "usage: %s [traces per configuration >= 1]\n"
			"       %s TRACE.csv PROFILE.csv GPUS(1..64)\n", argv[0], argv[0]);
		return 2;
	}
	tf_classes(&cs, true);
	printf("8 GPUs, fixture step tables, %d traces x %d requests of 50 steps per row\n", ntr, NREQ);
	rc |= ablation(&cs, 1.0, ntr);
	rc |= ablation(&cs, 1.5, ntr);
	rc |= round_sweep(&cs, ntr);
	for (int m = 0; m < 2 && !rc; m++)
		for (int a = 0; a < 3 && !rc; a++)
			for (int b = 0; b < 3 && !rc; b++)
				rc |= compare_fixed(&cs, m ? TS_MIX_SKEWED : TS_MIX_UNIFORM, rates[a], scales[b], ntr);
	free(cs.cls);
	return rc ? 1 : 0;
}
