/* ts_profile_cmd.c: `tetriserve profile`, the step-latency profiler of the
 * CUDA engine. For every cell: a fresh request, `warmup` untimed steps, then
 * `iters` steps each timed on the host clock from launch to the end of the
 * step on every GPU of the group (what the scheduler waits for). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ts_error.h"
#include "ts_device.h"
#include "ts_dit.h"
#include "ts_profile_cmd.h"

#define TS_PROF_MAXLIST 16

struct ts_prof_opts {
	const char *model, *out;
	int res[TS_PROF_MAXLIST], nres;
	int sp[TS_PROF_MAXLIST], nsp;
	int batch[TS_PROF_MAXLIST], nbatch;
	int gpus, warmup, iters;
	unsigned long long seed;
};

struct ts_prof_stats {
	double mean, p50, p99, cv;
	int n;
};

static void ts_prof_usage(FILE *f)
{
	fprintf(f, "usage: tetriserve profile --model M --res 256,512,1024,2048 --sp 1,2,4 --gpus N\n"
		   "         [--batch 1,2,4] --out F.csv [--warmup 2] [--iters 10] [--seed S]\n"
		   "  measures mean/p50/p99/CV step time of the CUDA DiT engine per cell\n"
		   "  and writes a profile CSV (traces/README.md)\n");
}

/* Parses "a,b,c" of positive integers into out[]. */
static int ts_parse_list(const char *arg, const char *opt, int *out, int *n, struct ts_error *err)
{
	const char *s = arg;
	*n = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > 1 << 16 || (*end && *end != ','))
			return ts_err_set(err, TS_EINVAL, "%s: '%s' is not a list of positive integers", opt, arg);
		if (*n == TS_PROF_MAXLIST)
			return ts_err_set(err, TS_EINVAL, "%s: more than %d values", opt, TS_PROF_MAXLIST);
		out[(*n)++] = (int)v;
		s = *end ? end + 1 : end;
	}
	if (!*n)
		return ts_err_set(err, TS_EINVAL, "%s: empty list", opt);
	return 0;
}

static int ts_parse_int(const char *s, const char *opt, int lo, int *out, struct ts_error *err)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > 1 << 20)
		return ts_err_set(err, TS_EINVAL, "%s: '%s' is not an integer >= %d", opt, s, lo);
	*out = (int)v;
	return 0;
}

static int ts_parse_seed(const char *s, unsigned long long *out, struct ts_error *err)
{
	char *end;
	*out = strtoull(s, &end, 10);
	if (end == s || *end || *s == '-')
		return ts_err_set(err, TS_EINVAL, "--seed: '%s' is not a non-negative integer", s);
	return 0;
}

static int ts_prof_parse(int argc, char **argv, struct ts_prof_opts *o, struct ts_error *err)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'}, {"res", required_argument, NULL, 'r'},
		{"sp", required_argument, NULL, 's'},    {"gpus", required_argument, NULL, 'g'},
		{"batch", required_argument, NULL, 'b'}, {"out", required_argument, NULL, 'o'},
		{"db", required_argument, NULL, 'd'},    {"warmup", required_argument, NULL, 'w'},
		{"iters", required_argument, NULL, 'i'}, {"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	int c, rc = 0;
	memset(o, 0, sizeof(*o));
	o->batch[0] = 1;
	o->nbatch = 1;
	o->warmup = 2;
	o->iters = 10;
	o->seed = 1234;
	optind = 0; /* glibc: full re-initialisation, so the command can run twice */
	while (!rc && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'r': rc = ts_parse_list(optarg, "--res", o->res, &o->nres, err); break;
		case 's': rc = ts_parse_list(optarg, "--sp", o->sp, &o->nsp, err); break;
		case 'b': rc = ts_parse_list(optarg, "--batch", o->batch, &o->nbatch, err); break;
		case 'g': rc = ts_parse_int(optarg, "--gpus", 1, &o->gpus, err); break;
		case 'w': rc = ts_parse_int(optarg, "--warmup", 0, &o->warmup, err); break;
		case 'i': rc = ts_parse_int(optarg, "--iters", 1, &o->iters, err); break;
		case 'o': o->out = optarg; break;
		case 'S': rc = ts_parse_seed(optarg, &o->seed, err); break;
		case 'd':
			rc = ts_err_set(err, TS_EINVAL, "--db: profiles are not stored in the results database yet (common/store/store.h has no profile table); use --out");
			break;
		case 'h': ts_prof_usage(stdout); exit(0);
		default: rc = ts_err_set(err, TS_EINVAL, "unknown option (see --help)");
		}
	}
	if (!rc && (!o->model || !o->out || !o->nres || !o->nsp || !o->gpus))
		rc = ts_err_set(err, TS_EINVAL, "--model, --res, --sp, --gpus and --out are required");
	return rc;
}

static int ts_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Mean, nearest-rank percentiles and coefficient of variation (sorts v). */
static struct ts_prof_stats ts_prof_stats(double *v, int n)
{
	struct ts_prof_stats s = {0, 0, 0, 0, n};
	double sum = 0, sq = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.mean = sum / n;
	for (int i = 0; i < n; i++)
		sq += (v[i] - s.mean) * (v[i] - s.mean);
	s.cv = n > 1 ? sqrt(sq / (n - 1)) / s.mean : 0.0;
	qsort(v, (size_t)n, sizeof(*v), ts_cmp_double);
	s.p50 = v[(int)ceil(0.50 * n) - 1];
	s.p99 = v[(int)ceil(0.99 * n) - 1];
	return s;
}

static double ts_prof_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Short GPU name for the profile's gpu column, matching the PyTorch
 * reference (experiments/pytorch_ref/dit_ref.py). */
static void ts_prof_gpu_name(const char *full, char *out, size_t len)
{
	if (strstr(full, "H100"))
		snprintf(out, len, "%s", strstr(full, "PCIe") ? "H100-PCIe-80GB" :
					 strstr(full, "NVL") ? "H100-NVL-94GB" : "H100-SXM-80GB");
	else if (strstr(full, "H200"))
		snprintf(out, len, "H200");
	else {
		const char *p = strncmp(full, "NVIDIA ", 7) ? full : full + 7;
		snprintf(out, len, "%.40s", p);
		for (char *q = out; *q; q++)
			if (*q == ' ')
				*q = '-';
	}
}

/* Runs one cell: warm-up then timed steps of a fresh request. */
static int ts_prof_cell(struct ts_dit_engine *e, const struct ts_prof_opts *o, int res, int sp,
			int batch, struct ts_prof_stats *st, struct ts_error *err)
{
	struct ts_dit_request *r = NULL;
	uint64_t mask = (sp >= 64) ? ~0ULL : (1ULL << sp) - 1;
	double *ms = calloc((size_t)o->iters, sizeof(*ms));
	int rc = ms ? 0 : ts_err_set(err, TS_ENOMEM, "profile: out of memory");
	if (rc)
		return rc;
	rc = ts_dit_request_open(e, &r, res, res, batch, o->warmup + o->iters, o->seed, err);
	for (int i = 0; !rc && i < o->warmup; i++)
		rc = ts_dit_request_step(e, r, mask, err);
	for (int i = 0; !rc && i < o->iters; i++) {
		double t0 = ts_prof_now_ms();
		rc = ts_dit_request_step(e, r, mask, err);
		ms[i] = ts_prof_now_ms() - t0;
	}
	if (!rc)
		*st = ts_prof_stats(ms, o->iters);
	ts_dit_request_close(r);
	free(ms);
	return rc;
}

static void ts_prof_header(FILE *f, const struct ts_prof_opts *o, const char *gpu_full,
			   int argc, char **argv)
{
	char when[32];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "# %s step-latency profile: tetriserve exec/ engine (cuBLASLt GEMMs, own flash attention, NCCL Ulysses SP)\n",
		o->model);
	fprintf(f, "# measured %s on %d x %s; synthetic seeded bf16 weights, real shapes\n", when,
		o->gpus, gpu_full);
	fprintf(f, "# step_ms: mean host wall time of a step (launch to completion on every GPU of the group)\n");
	fprintf(f, "# over `samples` steps after %d warm-up steps; p50/p99 nearest rank; cv = std/mean\n",
		o->warmup);
	fprintf(f, "# command: tetriserve");
	for (int i = 0; i < argc; i++)
		fprintf(f, " %s", argv[i]);
	fprintf(f, "\nmodel,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch\n");
}

static int ts_prof_run(const struct ts_prof_opts *o, FILE *f, int argc, char **argv,
		       struct ts_error *err)
{
	struct ts_dit_engine *e = NULL;
	char full[128], gpu[48];
	int rc = ts_dev_name(0, full, sizeof(full), err);
	if (rc)
		return rc;
	ts_prof_gpu_name(full, gpu, sizeof(gpu));
	rc = ts_dit_engine_open(&e, o->model, o->gpus, o->seed, err);
	if (rc)
		return rc;
	ts_prof_header(f, o, full, argc, argv);
	for (int b = 0; !rc && b < o->nbatch; b++) {
		for (int i = 0; !rc && i < o->nres; i++) {
			for (int s = 0; !rc && s < o->nsp; s++) {
				struct ts_prof_stats st;
				int64_t mem_now, mem_peak;
				if (o->sp[s] > o->gpus) {
					fprintf(stderr, "profile: sp %d skipped (%d GPUs)\n", o->sp[s], o->gpus);
					continue;
				}
				rc = ts_prof_cell(e, o, o->res[i], o->sp[s], o->batch[b], &st, err);
				if (rc) {
					ts_err_prefix(err, "cell %dx%d sp %d batch %d", o->res[i], o->res[i],
						      o->sp[s], o->batch[b]);
					break;
				}
				fprintf(f, "%s,%s,%d,%d,%d,%.3f,%.3f,%.3f,%.5f,%d,%d\n", o->model, gpu,
					o->res[i], o->res[i], o->sp[s], st.mean, st.p50, st.p99, st.cv,
					st.n, o->batch[b]);
				fflush(f);
				rc = ts_dit_engine_memory(e, 0, &mem_now, &mem_peak, err);
				printf("%s %dx%d sp=%d batch=%d: %.2f ms (p50 %.2f, p99 %.2f, cv %.4f), GPU0 peak %.2f GiB\n",
				       o->model, o->res[i], o->res[i], o->sp[s], o->batch[b], st.mean, st.p50,
				       st.p99, st.cv, (double)mem_peak / (1 << 30));
				fflush(stdout);
			}
		}
	}
	ts_dit_engine_close(e);
	return rc;
}

int ts_cmd_profile(int argc, char **argv)
{
	struct ts_prof_opts o;
	struct ts_error err = {0, ""};
	int ngpu = 0;
	if (ts_prof_parse(argc, argv, &o, &err)) {
		fprintf(stderr, "tetriserve profile: %s\n", err.msg);
		ts_prof_usage(stderr);
		return 2;
	}
	ts_dev_count(&ngpu);
	if (o.gpus > ngpu) {
		fprintf(stderr, "tetriserve profile: --gpus %d but %d CUDA devices present\n", o.gpus, ngpu);
		return 1;
	}
	FILE *f = fopen(o.out, "w");
	if (!f) {
		fprintf(stderr, "tetriserve profile: cannot write %s\n", o.out);
		return 1;
	}
	int rc = ts_prof_run(&o, f, argc, argv, &err);
	if (fclose(f) && !rc)
		rc = ts_err_set(&err, TS_EIO, "closing %s failed", o.out);
	if (rc) {
		fprintf(stderr, "tetriserve profile: %s\n", err.msg);
		return 1;
	}
	return 0;
}
