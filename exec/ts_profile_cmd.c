/* ts_profile_cmd.c: `tetriserve profile`, the step-latency profiler of the
 * CUDA engine. For every cell: a fresh request, `warmup` untimed steps, then
 * `iters` steps each timed on the host clock from launch to the end of the
 * step on every GPU of the group (what the scheduler waits for). Cells go
 * to a profile CSV (--out) and/or a results store (--db) as one run with
 * backend "profile" (docs/SCHEMA.md). */
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ts_error.h"
#include "io/profile.h"
#include "model/dit_diffusers.h"
#include "store/store.h"
#include "ts_attention.h"
#include "ts_device.h"
#include "ts_dit.h"
#include "ts_profile_cmd.h"

#define TS_PROF_MAXLIST 16

struct ts_prof_opts {
	const char *model, *out, *db;
	const char *weights; /* --weights: a diffusers checkpoint folder, NULL: synthetic */
	int res[TS_PROF_MAXLIST], nres;
	int sp[TS_PROF_MAXLIST], nsp;
	int batch[TS_PROF_MAXLIST], nbatch;
	int gpus, warmup, iters;
	bool graphs; /* --graphs on: steps replay CUDA graphs (ts_dit_engine_set_graphs) */
	int attention; /* --attention: enum ts_attn_kernel (ts_dit_engine_set_attention) */
	unsigned long long seed;
};

struct ts_prof_stats {
	double mean, p50, p99, cv;
	int n;
};

/* Where the cells go: either may be NULL, not both. */
struct ts_prof_sinks {
	FILE *csv;            /* writes <out>.tmp, renamed to <out> when every cell is done */
	char tmp[4096];
	struct ts_store *store;
};

static void ts_prof_usage(FILE *f)
{
	fprintf(f, "usage: tetriserve profile --model M --res 256,512,1024,2048 --sp 1,2,4 --gpus N\n"
		   "         [--batch 1,2,4] [--out F.csv] [--db F.db] [--warmup 2] [--iters 10] [--seed S]\n"
		   "         [--graphs on|off (off)] [--attention auto|cudnn|wgmma|mma (auto)]\n"
		   "         [--weights DIR]\n"
		   "  measures mean/p50/p99/CV step time of the CUDA DiT engine per cell and\n"
		   "  writes a profile CSV (--out, traces/README.md) and/or a run of backend\n"
		   "  'profile' into a results store (--db, docs/SCHEMA.md); one is required.\n"
		   "  --graphs on replays each cell's step as a CUDA graph: its first warm-up\n"
		   "  step runs eagerly and the second is captured, so it needs --warmup >= 2\n"
		   "  --attention picks the attention kernel: auto takes cuDNN's fused SDPA where\n"
		   "  libcudnn.so.9 loads (not for several samples over several SP chunks), else\n"
		   "  the own wgmma kernel (H100/H200) or mma.sync one; the others force one\n"
		   "  --weights DIR loads a diffusers transformer folder (config.json and\n"
		   "  diffusion_pytorch_model*.safetensors; FluxTransformer2DModel or\n"
		   "  SD3Transformer2DModel): its shapes and weights replace the preset's synthetic\n"
		   "  ones; --model still names the model in the rows\n");
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

static int ts_parse_on_off(const char *s, const char *opt, bool *out, struct ts_error *err)
{
	if (strcmp(s, "on") && strcmp(s, "off"))
		return ts_err_set(err, TS_EINVAL, "%s: '%s' is not on or off", opt, s);
	*out = !strcmp(s, "on");
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

/* Checks every cell value before anything is measured or written, so a typo
 * never costs GPU time or a truncated file, and every row is one the
 * project's profile reader accepts. */
static int ts_prof_validate(const struct ts_prof_opts *o, struct ts_error *err)
{
	struct ts_dit_config cfg;
	int rc = o->weights ? ts_dit_config_from_diffusers(o->weights, &cfg, err) :
			      ts_dit_config_lookup(o->model, &cfg, err);
	if (rc)
		return rc;
	for (int i = 0; i < o->nres; i++)
		if (o->res[i] % 16)
			return ts_err_set(err, TS_EINVAL, "--res: %d is not a multiple of 16", o->res[i]);
	for (int i = 0; i < o->nsp; i++)
		if (o->sp[i] & (o->sp[i] - 1) || cfg.heads % o->sp[i])
			return ts_err_set(err, TS_EINVAL,
					  "--sp: %d is not a power of two dividing the %d heads of %s", o->sp[i],
					  cfg.heads, o->model);
	for (int i = 0; i < o->nbatch; i++)
		if (o->batch[i] & (o->batch[i] - 1) || o->batch[i] > 8)
			return ts_err_set(err, TS_EINVAL, "--batch: %d is not 1, 2, 4 or 8", o->batch[i]);
	return 0;
}

static const char *const ts_attn_names[] = {"auto", "mma16", "mma", "wgmma", "cudnn"};

/* --attention NAME: auto, cudnn, wgmma or mma (mma.sync, 32 rows per warp). */
static int ts_parse_attention(const char *arg, int *out, struct ts_error *err)
{
	for (int k = TS_ATTN_AUTO; k <= TS_ATTN_CUDNN; k++) {
		if (k != TS_ATTN_MMA_16 && !strcmp(arg, ts_attn_names[k])) {
			*out = k;
			return 0;
		}
	}
	return ts_err_set(err, TS_EINVAL, "--attention: '%s' is not auto, cudnn, wgmma or mma", arg);
}

static int ts_prof_parse(int argc, char **argv, struct ts_prof_opts *o, struct ts_error *err)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'}, {"res", required_argument, NULL, 'r'},
		{"sp", required_argument, NULL, 's'},    {"gpus", required_argument, NULL, 'g'},
		{"batch", required_argument, NULL, 'b'}, {"out", required_argument, NULL, 'o'},
		{"db", required_argument, NULL, 'd'},    {"warmup", required_argument, NULL, 'w'},
		{"iters", required_argument, NULL, 'i'}, {"seed", required_argument, NULL, 'S'},
		{"graphs", required_argument, NULL, 'G'}, {"attention", required_argument, NULL, 'A'},
		{"weights", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
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
		case 'd': o->db = optarg; break;
		case 'G': rc = ts_parse_on_off(optarg, "--graphs", &o->graphs, err); break;
		case 'A': rc = ts_parse_attention(optarg, &o->attention, err); break;
		case 'W': o->weights = optarg; break;
		case 'h': ts_prof_usage(stdout); exit(0);
		default: rc = ts_err_set(err, TS_EINVAL, "unknown option (see --help)");
		}
	}
	if (!rc && (!o->model || !o->nres || !o->nsp || !o->gpus))
		rc = ts_err_set(err, TS_EINVAL, "--model, --res, --sp and --gpus are required");
	if (!rc && !o->out && !o->db)
		rc = ts_err_set(err, TS_EINVAL, "--out F.csv or --db F.db (or both) is required");
	/* the first step runs eagerly and the second is captured: timing them
	 * would put capture and instantiation into the cell */
	if (!rc && o->graphs && o->warmup < 2)
		rc = ts_err_set(err, TS_EINVAL, "--graphs on needs --warmup 2 or more (got %d): "
				"the first two steps of a cell run eagerly and capture the graph",
				o->warmup);
	if (!rc)
		rc = ts_prof_validate(o, err);
	return rc;
}

static int ts_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Mean, coefficient of variation (sample standard deviation over the mean)
 * and nearest-rank percentiles: the p50/p99 columns are step times that
 * were measured, never interpolated between two (sorts v). */
static struct ts_prof_stats ts_prof_stats(double *v, int n)
{
	struct ts_prof_stats s = {0, 0, 0, 0, n};
	s.mean = gsl_stats_mean(v, 1, (size_t)n);
	s.cv = n > 1 ? gsl_stats_sd_m(v, 1, (size_t)n, s.mean) / s.mean : 0.0;
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
	const char *why = NULL;
	bool dnn = ts_attn_cudnn_available(&why);
	fprintf(f, "# %s step-latency profile: tetriserve exec/ engine (cuBLASLt GEMMs, fused attention, NCCL Ulysses SP)\n",
		o->model);
	if (o->attention != TS_ATTN_AUTO)
		fprintf(f, "# attention: %s (forced by --attention)\n", ts_attn_names[o->attention]);
	else if (dnn)
		fprintf(f, "# attention: auto (cuDNN fused SDPA; own kernel for several samples over several SP chunks)\n");
	else
		fprintf(f, "# attention: auto (own kernels; %s)\n", why);
	if (o->weights)
		fprintf(f, "# measured %s on %d x %s; weights of the diffusers checkpoint %s\n", when,
			o->gpus, gpu_full, o->weights);
	else
		fprintf(f, "# measured %s on %d x %s; synthetic seeded bf16 weights, real shapes\n",
			when, o->gpus, gpu_full);
	fprintf(f, "# step_ms: mean host wall time of a step (launch to completion on every GPU of the group)\n");
	fprintf(f, "# over `samples` steps after %d warm-up steps; p50/p99 nearest rank; cv = std/mean\n",
		o->warmup);
	fprintf(f, "# CUDA graphs: %s\n", o->graphs ? "on (steps replayed from a graph)" : "off");
	fprintf(f, "# command: tetriserve");
	for (int i = 0; i < argc; i++)
		fprintf(f, " %s", argv[i]);
	fprintf(f, "\nmodel,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch\n");
}

/* [v0, v1, ...] as a JSON array. */
static json_t *ts_prof_json_list(const int *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* The profiler's options as the JSON text of the run's `options` column
 * (the GPU count and seed have columns of their own); malloc'ed, NULL when
 * out of memory. */
static char *ts_prof_options_json(const struct ts_prof_opts *o, const char *gpu_full)
{
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:i, s:b, s:s, s:s?, s:s?}", "model", o->model,
			      "gpu_name", gpu_full, "res", ts_prof_json_list(o->res, o->nres), "sp",
			      ts_prof_json_list(o->sp, o->nsp), "batch", ts_prof_json_list(o->batch, o->nbatch),
			      "warmup", o->warmup, "iters", o->iters, "graphs", o->graphs, "attention",
			      ts_attn_names[o->attention], "out", o->out, "weights", o->weights);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

/* Begins the run of backend "profile" that will hold the cells. */
static int ts_prof_begin_run(struct ts_store *store, const struct ts_prof_opts *o,
			     const char *gpu_full, struct ts_error *err)
{
	char *options = ts_prof_options_json(o, gpu_full);
	if (!options)
		return ts_err_set(err, TS_ENOMEM, "out of memory for the run's options");
	const struct ts_run_info info = {
		.backend = "profile", .policy = "profile", .profile_name = o->out,
		.gpus = o->gpus, .seed = o->seed, .version = TS_VERSION, .options = options,
	};
	int rc = ts_store_run_begin(store, &info, NULL, err);
	free(options);
	return rc;
}

/* One measured cell as a profile row (the CSV's and the store's unit). */
static struct ts_profile_row ts_prof_row(const struct ts_prof_opts *o, const char *gpu, int res,
					 int sp, int batch, const struct ts_prof_stats *st)
{
	struct ts_profile_row row = {
		.height = res, .width = res, .sp = sp, .batch = batch, .step_ms = st->mean,
		.p50_ms = st->p50, .p99_ms = st->p99, .cv = st->cv, .samples = st->n,
	};
	snprintf(row.model, sizeof(row.model), "%s", o->model);
	snprintf(row.gpu, sizeof(row.gpu), "%s", gpu);
	return row;
}

/* Writes a cell to every sink and commits it, so that a failure or a kill
 * later keeps every cell measured so far. */
static int ts_prof_emit(const struct ts_prof_sinks *sinks, const struct ts_profile_row *r,
			double peak_gib, struct ts_error *err)
{
	if (sinks->csv) {
		fprintf(sinks->csv, "%s,%s,%d,%d,%d,%.3f,%.3f,%.3f,%.5f,%lld,%d\n", r->model, r->gpu,
			r->height, r->width, r->sp, r->step_ms, r->p50_ms, r->p99_ms, r->cv,
			(long long)r->samples, r->batch);
		fflush(sinks->csv);
	}
	if (!sinks->store)
		return 0;
	int rc = ts_store_profile_cell(sinks->store, r, peak_gib, err);
	return rc ? rc : ts_store_flush(sinks->store, err);
}

/* Measures one cell, prints it and writes it to the sinks. */
static int ts_prof_measure(struct ts_dit_engine *e, const struct ts_prof_opts *o,
			   const struct ts_prof_sinks *sinks, const char *gpu, int res, int sp,
			   int batch, struct ts_error *err)
{
	struct ts_prof_stats st;
	int64_t mem_now, mem_peak;
	int rc = ts_prof_cell(e, o, res, sp, batch, &st, err);
	if (!rc)
		rc = ts_dit_engine_memory(e, 0, &mem_now, &mem_peak, err);
	if (rc) {
		ts_err_prefix(err, "cell %dx%d sp %d batch %d", res, res, sp, batch);
		return rc;
	}
	double peak_gib = (double)mem_peak / (1 << 30);
	struct ts_profile_row row = ts_prof_row(o, gpu, res, sp, batch, &st);
	printf("%s %dx%d sp=%d batch=%d graphs=%s: %.2f ms (p50 %.2f, p99 %.2f, cv %.4f), GPU0 peak %.2f GiB\n",
	       o->model, res, res, sp, batch, o->graphs ? "on" : "off", st.mean, st.p50, st.p99, st.cv,
	       peak_gib);
	fflush(stdout);
	return ts_prof_emit(sinks, &row, peak_gib, err);
}

/* How often the cells' steps were captured and replayed, so that a --graphs
 * on profile shows that it measured graph replays. */
static void ts_prof_print_graph_stats(struct ts_dit_engine *e)
{
	struct ts_dit_graph_stats gs;
	ts_dit_engine_graph_stats(e, &gs);
	printf("CUDA graphs: %lld steps captured, %lld replayed, %lld capture failures (ran eagerly)\n",
	       (long long)gs.captures, (long long)gs.replays, (long long)gs.fallbacks);
}

/* Opens the engine, then measures every cell in batch, resolution, degree
 * order; the store's run is begun before the first cell and ended
 * (completed) only after the last. */
static int ts_prof_run(const struct ts_prof_opts *o, const struct ts_prof_sinks *sinks,
		       const char *gpu_full, const char *gpu, int argc, char **argv,
		       struct ts_error *err)
{
	struct ts_dit_engine *e = NULL;
	int cells = 0;
	struct ts_dit_engine_opts eo = {o->model, o->weights, o->gpus, o->seed, 0};
	int rc = ts_dit_engine_open_opts(&e, &eo, err);
	if (rc)
		return rc;
	ts_dit_engine_set_graphs(e, o->graphs);
	rc = ts_dit_engine_set_attention(e, o->attention, err);
	if (rc) {
		ts_dit_engine_close(e);
		return rc;
	}
	if (sinks->csv)
		ts_prof_header(sinks->csv, o, gpu_full, argc, argv);
	if (sinks->store)
		rc = ts_prof_begin_run(sinks->store, o, gpu_full, err);
	for (int b = 0; !rc && b < o->nbatch; b++) {
		for (int i = 0; !rc && i < o->nres; i++) {
			for (int s = 0; !rc && s < o->nsp; s++) {
				if (o->sp[s] > o->gpus) {
					fprintf(stderr, "profile: sp %d skipped (%d GPUs)\n", o->sp[s], o->gpus);
					continue;
				}
				rc = ts_prof_measure(e, o, sinks, gpu, o->res[i], o->sp[s], o->batch[b], err);
				cells += !rc;
			}
		}
	}
	if (o->graphs)
		ts_prof_print_graph_stats(e);
	ts_dit_engine_close(e);
	if (!rc && sinks->store) {
		char summary[64];
		snprintf(summary, sizeof(summary), "{\"cells\":%d}", cells);
		rc = ts_store_run_end(sinks->store, summary, err);
	}
	return rc;
}

/* Opens the store first (a bad --db fails before the CSV is truncated). */
static int ts_prof_open_sinks(const struct ts_prof_opts *o, struct ts_prof_sinks *sinks,
			      struct ts_error *err)
{
	if (o->db) {
		int rc = ts_store_open(&sinks->store, o->db, err);
		if (rc)
			return rc;
	}
	if (o->out) {
		snprintf(sinks->tmp, sizeof(sinks->tmp), "%s.tmp", o->out);
		sinks->csv = fopen(sinks->tmp, "w");
		if (!sinks->csv)
			return ts_err_set(err, TS_EIO, "cannot write %s: %s", sinks->tmp, strerror(errno));
	}
	return 0;
}

/* Closes both sinks; a run not ended stays incomplete with its committed
 * cells. The CSV replaces <out> only when every cell was measured; after a
 * failure <out> is untouched and the cells measured so far stay in
 * <out>.tmp. Returns rc, or TS_EIO when rc was 0 and the CSV failed. */
static int ts_prof_close_sinks(const struct ts_prof_opts *o, struct ts_prof_sinks *sinks, int rc,
			       struct ts_error *err)
{
	if (sinks->csv && fclose(sinks->csv) && !rc)
		rc = ts_err_set(err, TS_EIO, "closing %s failed", sinks->tmp);
	if (sinks->csv && !rc && rename(sinks->tmp, o->out))
		rc = ts_err_set(err, TS_EIO, "cannot rename %s to %s: %s", sinks->tmp, o->out, strerror(errno));
	else if (sinks->csv && rc)
		fprintf(stderr, "tetriserve profile: %s untouched; the cells measured so far are in %s\n",
			o->out, sinks->tmp);
	ts_store_close(sinks->store);
	return rc;
}

int ts_cmd_profile(int argc, char **argv)
{
	struct ts_prof_opts o;
	struct ts_prof_sinks sinks = {0};
	struct ts_error err = {0, ""};
	char gpu_full[128], gpu[48];
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
	int rc = ts_dev_name(0, gpu_full, sizeof(gpu_full), &err);
	if (!rc) {
		ts_prof_gpu_name(gpu_full, gpu, sizeof(gpu));
		rc = ts_prof_open_sinks(&o, &sinks, &err);
	}
	if (!rc)
		rc = ts_prof_run(&o, &sinks, gpu_full, gpu, argc, argv, &err);
	rc = ts_prof_close_sinks(&o, &sinks, rc, &err);
	if (rc) {
		fprintf(stderr, "tetriserve profile: %s\n", err.msg);
		return 1;
	}
	return 0;
}
