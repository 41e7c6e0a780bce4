/* ts_kernel_trace.c: a CUDA injection library (CUDA_INJECTION64_PATH) that
 * records every kernel a process runs through CUPTI's activity API and, at
 * exit, writes one line per kernel name: launches, total GPU time (ns) and
 * the name, tab-separated, to $TS_KTRACE_OUT (default stderr). No change to
 * the traced program; nothing else is recorded. Used by
 * experiments/bench_step/kernel_breakdown.py to split a step's time into
 * GEMMs, attention, communication and element-wise work. */
#include <cupti.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_BYTES (8u << 20)
#define MAX_NAMES 4096

struct kstat {
	char *name;
	uint64_t count, ns;
};

static struct kstat stats[MAX_NAMES];
static int nstats;
static int overflow; /* names beyond MAX_NAMES, counted in "(other)" */

/* The entry of `name`, added when new (linear: a step has a few dozen names). */
static struct kstat *entry(const char *name)
{
	for (int i = 0; i < nstats; i++)
		if (!strcmp(stats[i].name, name))
			return &stats[i];
	if (nstats == MAX_NAMES) {
		overflow = 1;
		return &stats[MAX_NAMES - 1];
	}
	stats[nstats].name = strdup(name ? name : "(unnamed)");
	return stats[nstats].name ? &stats[nstats++] : &stats[0];
}

static void CUPTIAPI buffer_requested(uint8_t **buf, size_t *size, size_t *max_records)
{
	*buf = aligned_alloc(8, BUF_BYTES);
	*size = *buf ? BUF_BYTES : 0;
	*max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buf, size_t size,
				      size_t valid)
{
	(void)ctx, (void)stream, (void)size;
	CUpti_Activity *rec = NULL;
	while (cuptiActivityGetNextRecord(buf, valid, &rec) == CUPTI_SUCCESS) {
		if (rec->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL && rec->kind != CUPTI_ACTIVITY_KIND_KERNEL)
			continue;
		const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)rec;
		struct kstat *s = entry(k->name);
		s->count++;
		s->ns += k->end - k->start;
	}
	free(buf);
}

static void report(void)
{
	cuptiActivityFlushAll(1);
	const char *path = getenv("TS_KTRACE_OUT");
	FILE *f = path ? fopen(path, "w") : stderr;
	if (!f)
		f = stderr;
	fprintf(f, "# launches\ttotal_ns\tkernel%s\n", overflow ? "\t(names past 4096 merged into the last)" : "");
	for (int i = 0; i < nstats; i++)
		fprintf(f, "%llu\t%llu\t%s\n", (unsigned long long)stats[i].count,
			(unsigned long long)stats[i].ns, stats[i].name);
	if (f != stderr)
		fclose(f);
}

/* Called by the CUDA driver when it loads this library (CUDA_INJECTION64_PATH). */
int InitializeInjection(void)
{
	if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
	    cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
		fprintf(stderr, "ts_kernel_trace: CUPTI did not start: no kernel trace\n");
		return 0;
	}
	atexit(report);
	return 1;
}
