/* cmd_trace.c: `tetriserve trace gen` writes a synthetic request trace
 * whose first line records the options that made it; `tetriserve trace
 * stats` checks a trace file and summarises it. */
#include "cli/cmd_trace.h"

#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "io/trace.h"
#include "io/tracegen.h"

struct gen_args {
	struct ts_tracegen_opts o;
	const char *out;   /* NULL: stdout */
	int nweights;      /* weights given with --weights, 0 if none */
	bool mix_given;    /* --mix appeared */
	bool count_given;  /* --count appeared */
};

static void trace_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve trace <sub-command>\n"
		"  gen [options]   generate a synthetic trace (tetriserve trace gen --help)\n"
		"  stats FILE      check a trace file and summarise it: rate, burstiness, mix, SLOs\n");
}

static void gen_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve trace gen [options]\n"
		"Generates a synthetic request trace (CSV, format in traces/README.md).\n\n"
		"  --rate R           mean arrival rate, requests per minute (default 12)\n"
		"  --arrivals A       poisson | gamma | onoff (default poisson)\n"
		"  --cv X             gamma: coefficient of variation of inter-arrivals (default 1)\n"
		"  --on-s S           onoff: mean ON period, seconds (default 60)\n"
		"  --off-s S          onoff: mean OFF period, seconds (default 60)\n"
		"  --mix M            uniform | skewed | weights (default uniform)\n"
		"  --alpha A          skewed: p_i ~ exp(A * tokens_i / max tokens) (default 1)\n"
		"  --weights W1,W2..  weights: one weight per resolution (implies --mix weights)\n"
		"  --res R1,R2,...    resolutions: N (NxN) or HxW, multiples of 16\n"
		"                     (default 256,512,1024,2048)\n"
		"  --steps N          denoising steps per request (default 50)\n"
		"  --slo-scale X      SLO = X * base(resolution) (default 1)\n"
		"  --count N          number of requests (default 100)\n"
		"  --duration S       instead of --count: arrivals in [0, S) seconds\n"
		"  --seed S           random seed 0..4294967295 (default 1; GSL's MT19937 takes 32 bits, and treats 0 as 4357); same options, same bytes\n"
		"  --model NAME       add a model column with this value\n"
		"  --out FILE         output file (default stdout)\n"
		"  --help             this text\n");
}

enum {
	OPT_RATE = 256, OPT_ARRIVALS, OPT_CV, OPT_ON, OPT_OFF, OPT_MIX, OPT_ALPHA, OPT_WEIGHTS,
	OPT_RES, OPT_STEPS, OPT_SLO, OPT_COUNT, OPT_DURATION, OPT_SEED, OPT_MODEL, OPT_OUT,
	OPT_HELP,
};

static const struct option gen_options[] = {
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "arrivals", required_argument, NULL, OPT_ARRIVALS },
	{ "cv", required_argument, NULL, OPT_CV },
	{ "on-s", required_argument, NULL, OPT_ON },
	{ "off-s", required_argument, NULL, OPT_OFF },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "alpha", required_argument, NULL, OPT_ALPHA },
	{ "weights", required_argument, NULL, OPT_WEIGHTS },
	{ "res", required_argument, NULL, OPT_RES },
	{ "steps", required_argument, NULL, OPT_STEPS },
	{ "slo-scale", required_argument, NULL, OPT_SLO },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char *const arrival_names[] = { "poisson", "gamma", "onoff" };
static const char *const mix_names[] = { "uniform", "skewed", "weights" };

/* Index of val in names[0..n-1], or TS_EINVAL naming the option. */
static int parse_choice(const char *val, const char *const *names, int n, const char *option,
			int *out, struct ts_error *err)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(val, names[i])) {
			*out = i;
			return 0;
		}
	return ts_err_set(err, TS_EINVAL, "%s: unknown value '%s'", option, val);
}

/* Parses one --res entry: "N" (square) or "HxW". */
static int parse_res_entry(const char *s, int32_t *h, int32_t *w, struct ts_error *err)
{
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10), b = a;
	if (end != s && *end == 'x') {
		const char *rest = end + 1;
		b = strtol(rest, &end, 10);
		if (end == rest)
			b = -1;
	}
	if (end == s || *end != '\0' || errno == ERANGE || a <= 0 || b <= 0 || a % 16 ||
	    b % 16 || a > 65536 || b > 65536)
		return ts_err_set(err, TS_EINVAL,
				  "--res: '%s' is not N or HxW with sides multiples of 16 up to 65536", s);
	*h = (int32_t)a;
	*w = (int32_t)b;
	return 0;
}

/* Splits a comma list (copied into buf) and hands each entry to the caller
 * through entries[]; returns the count or TS_EINVAL. */
static int split_list(const char *val, char *buf, size_t size, char **entries,
		      const char *option, struct ts_error *err)
{
	if (strlen(val) >= size)
		return ts_err_set(err, TS_EINVAL, "%s: list too long", option);
	strcpy(buf, val);
	if (!*buf)
		return ts_err_set(err, TS_EINVAL, "%s: empty list", option);
	int n = 0;
	/* every comma separates two entries, so "a,,b" has an empty one (refused) */
	for (char *tok = buf; tok; ) {
		char *comma = strchr(tok, ',');
		if (comma)
			*comma = '\0';
		if (!*tok)
			return ts_err_set(err, TS_EINVAL, "%s: empty entry in '%s'", option, val);
		if (n == TS_TRACEGEN_MAX_RES)
			return ts_err_set(err, TS_EINVAL, "%s: more than %d entries", option,
					  TS_TRACEGEN_MAX_RES);
		entries[n++] = tok;
		tok = comma ? comma + 1 : NULL;
	}
	return n;
}

static int parse_res(struct gen_args *a, const char *val, struct ts_error *err)
{
	char buf[1024], *entry[TS_TRACEGEN_MAX_RES];
	int n = split_list(val, buf, sizeof(buf), entry, "--res", err);
	for (int i = 0; i < n; i++)
		if (parse_res_entry(entry[i], &a->o.res_h[i], &a->o.res_w[i], err))
			return TS_EINVAL;
	if (n > 0)
		a->o.nres = n;
	return n < 0 ? n : 0;
}

static int parse_weights(struct gen_args *a, const char *val, struct ts_error *err)
{
	char buf[1024], *entry[TS_TRACEGEN_MAX_RES];
	int n = split_list(val, buf, sizeof(buf), entry, "--weights", err);
	for (int i = 0; i < n; i++)
		if (ts_cli_parse_double(entry[i], 0, 1e300, &a->o.weights[i], "--weights", err))
			return TS_EINVAL;
	if (n > 0)
		a->nweights = n;
	return n < 0 ? n : 0;
}

static int parse_count(struct gen_args *a, const char *val, struct ts_error *err)
{
	long long v;
	if (ts_cli_parse_int(val, 1, 100000000, &v, "--count", err))
		return TS_EINVAL;
	a->o.count = (long)v;
	a->count_given = true;
	return 0;
}

static int parse_seed(struct gen_args *a, const char *val, struct ts_error *err)
{
	long long v;
	if (ts_cli_parse_int(val, 0, UINT32_MAX, &v, "--seed", err))
		return TS_EINVAL;
	a->o.seed = (uint64_t)v;
	return 0;
}

static int parse_steps(struct gen_args *a, const char *val, struct ts_error *err)
{
	long long v;
	if (ts_cli_parse_int(val, 1, 1000000, &v, "--steps", err))
		return TS_EINVAL;
	a->o.steps = (int32_t)v;
	return 0;
}

static int set_gen_option(struct gen_args *a, int opt, const char *val, struct ts_error *err)
{
	struct ts_tracegen_opts *o = &a->o;
	int choice = 0, rc;
	switch (opt) {
	case OPT_RATE: return ts_cli_parse_double(val, 1e-9, 1e9, &o->rate_per_min, "--rate", err);
	case OPT_ARRIVALS:
		rc = parse_choice(val, arrival_names, 3, "--arrivals", &choice, err);
		o->arrivals = (enum ts_arrivals)choice;
		return rc;
	case OPT_CV: return ts_cli_parse_double(val, 1e-6, 1e3, &o->cv, "--cv", err);
	case OPT_ON: return ts_cli_parse_double(val, 1e-6, 1e9, &o->on_s, "--on-s", err);
	case OPT_OFF: return ts_cli_parse_double(val, 0, 1e9, &o->off_s, "--off-s", err);
	case OPT_MIX:
		rc = parse_choice(val, mix_names, 3, "--mix", &choice, err);
		o->mix = (enum ts_mix)choice;
		a->mix_given = true;
		return rc;
	case OPT_ALPHA: return ts_cli_parse_double(val, -700, 700, &o->alpha, "--alpha", err);
	case OPT_WEIGHTS: return parse_weights(a, val, err);
	case OPT_RES: return parse_res(a, val, err);
	case OPT_STEPS: return parse_steps(a, val, err);
	case OPT_SLO: return ts_cli_parse_double(val, 1e-6, 1e6, &o->slo_scale, "--slo-scale", err);
	case OPT_COUNT: return parse_count(a, val, err);
	case OPT_DURATION: return ts_cli_parse_double(val, 1e-9, 1e9, &o->duration_s, "--duration", err);
	case OPT_SEED: return parse_seed(a, val, err);
	case OPT_MODEL: o->model = val; return 0;
	case OPT_OUT: a->out = val; return 0;
	}
	return ts_err_set(err, TS_EINVAL, "unknown option");
}

/* Checks the options that depend on each other, once all are read. */
static int check_combination(struct gen_args *a, struct ts_error *err)
{
	if (a->count_given && a->o.duration_s > 0)
		return ts_err_set(err, TS_EINVAL, "--count and --duration exclude each other");
	if (a->o.duration_s > 0)
		a->o.count = 0;
	if (a->nweights && !a->mix_given)
		a->o.mix = TS_MIX_WEIGHTS;
	if (a->nweights && a->o.mix != TS_MIX_WEIGHTS)
		return ts_err_set(err, TS_EINVAL, "--weights: only used with --mix weights");
	if (a->o.mix == TS_MIX_WEIGHTS && a->nweights != a->o.nres)
		return ts_err_set(err, TS_EINVAL, "--weights: %d weights for %d resolutions (--res)",
				  a->nweights, a->o.nres);
	return 0;
}

/* Returns 0 to run, 1 when --help was printed, 2 on bad usage. */
static int parse_gen_args(struct gen_args *a, int argc, char **argv)
{
	struct ts_error err = { 0 };
	memset(a, 0, sizeof(*a));
	ts_tracegen_defaults(&a->o);
	optind = 0; /* glibc: full reset, so the command can run twice in one process */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", gen_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			gen_usage(stdout);
			return 1;
		}
		if (opt == '?') {
			return ts_cli_bad_option("tetriserve trace gen", argv);
		}
		if (set_gen_option(a, opt, optarg, &err)) {
			fprintf(stderr, "tetriserve trace gen: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tetriserve trace gen: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return 2;
	}
	if (check_combination(a, &err)) {
		fprintf(stderr, "tetriserve trace gen: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/* Prints v with the fewest significant digits that read back as v
 * (whole numbers without an exponent). */
static void print_exact(FILE *f, double v)
{
	char buf[64];
	if (v == floor(v) && fabs(v) < 1e15) {
		fprintf(f, "%.0f", v);
		return;
	}
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void print_res_list(FILE *f, const struct ts_tracegen_opts *o)
{
	for (int i = 0; i < o->nres; i++) {
		fputs(i ? "," : "", f);
		if (o->res_h[i] == o->res_w[i])
			fprintf(f, "%d", o->res_h[i]);
		else
			fprintf(f, "%dx%d", o->res_h[i], o->res_w[i]);
	}
}

static void print_arrival_options(FILE *f, const struct ts_tracegen_opts *o)
{
	fprintf(f, " --arrivals %s --rate ", arrival_names[o->arrivals]);
	print_exact(f, o->rate_per_min);
	if (o->arrivals == TS_ARR_GAMMA) {
		fputs(" --cv ", f);
		print_exact(f, o->cv);
	} else if (o->arrivals == TS_ARR_ONOFF) {
		fputs(" --on-s ", f);
		print_exact(f, o->on_s);
		fputs(" --off-s ", f);
		print_exact(f, o->off_s);
	}
}

static void print_mix_options(FILE *f, const struct ts_tracegen_opts *o)
{
	fprintf(f, " --mix %s", mix_names[o->mix]);
	if (o->mix == TS_MIX_SKEWED) {
		fputs(" --alpha ", f);
		print_exact(f, o->alpha);
	} else if (o->mix == TS_MIX_WEIGHTS) {
		fputs(" --weights ", f);
		for (int i = 0; i < o->nres; i++) {
			fputs(i ? "," : "", f);
			print_exact(f, o->weights[i]);
		}
	}
	fputs(" --res ", f);
	print_res_list(f, o);
}

/* The comment line that records every effective option: running it again
 * reproduces the file byte for byte. */
static void print_provenance(FILE *f, const struct ts_tracegen_opts *o)
{
	fputs("# tetriserve trace gen", f);
	print_arrival_options(f, o);
	print_mix_options(f, o);
	fprintf(f, " --steps %d --slo-scale ", o->steps);
	print_exact(f, o->slo_scale);
	if (o->count > 0) {
		fprintf(f, " --count %ld", o->count);
	} else {
		fputs(" --duration ", f);
		print_exact(f, o->duration_s);
	}
	fprintf(f, " --seed %llu", (unsigned long long)o->seed);
	if (o->model)
		fprintf(f, " --model %s", o->model);
	fputc('\n', f);
}

/* Writes the trace to a->out (ts_cli_out: a failure never removes a path
 * it did not create) or stdout; returns the exit status. */
static int write_output(const struct gen_args *a, const struct ts_trace *t)
{
	struct ts_error err = { 0 };
	struct ts_cli_out out = { .f = stdout };
	if (a->out && ts_cli_out_open(&out, a->out, &err)) {
		fprintf(stderr, "tetriserve trace gen: --out %s\n", err.msg);
		return 1;
	}
	print_provenance(out.f, &a->o);
	int rc = ts_trace_write(t, out.f, &err);
	if (a->out) {
		struct ts_error cerr = { 0 };
		int crc = ts_cli_out_close(&out, rc == 0, &cerr);
		if (!rc && crc) {
			rc = crc;
			err = cerr;
		}
	}
	if (!rc)
		return 0;
	fprintf(stderr, "tetriserve trace gen: %s: %s\n", a->out ? a->out : "stdout", err.msg);
	return 1;
}

static int cmd_trace_gen(int argc, char **argv)
{
	struct gen_args a;
	int rc = parse_gen_args(&a, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct ts_trace t;
	struct ts_error err = { 0 };
	rc = ts_tracegen(&t, &a.o, &err);
	if (rc) {
		fprintf(stderr, "tetriserve trace gen: %s\n", err.msg);
		return rc == TS_EINVAL ? 2 : 1;
	}
	rc = write_output(&a, &t);
	ts_trace_free(&t);
	return rc;
}

/* ---- trace stats ---- */

/* Requests of one resolution. */
struct res_summary {
	int32_t h, w;
	long n;
	int64_t steps;      /* sum over the requests */
	ts_ns slo_min, slo_max;
};

static int cmp_res_summary(const void *pa, const void *pb)
{
	const struct res_summary *a = pa, *b = pb;
	int64_t ta = (int64_t)a->h * a->w, tb = (int64_t)b->h * b->w;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a->h != b->h ? (a->h < b->h ? -1 : 1) : (a->w > b->w) - (a->w < b->w);
}

/* Sorts one entry per request by resolution and merges equal ones; returns
 * the number of distinct resolutions left in r[]. */
static size_t summarise_resolutions(const struct ts_trace *t, struct res_summary *r)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct ts_request *q = &t->req[i];
		r[i] = (struct res_summary){ q->height, q->width, 1, q->steps, q->slo, q->slo };
	}
	qsort(r, t->n, sizeof(*r), cmp_res_summary);
	size_t m = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct res_summary *last = m ? &r[m - 1] : NULL;
		if (last && cmp_res_summary(last, &r[i]) == 0) {
			last->n++;
			last->steps += r[i].steps;
			last->slo_min = r[i].slo_min < last->slo_min ? r[i].slo_min : last->slo_min;
			last->slo_max = r[i].slo_max > last->slo_max ? r[i].slo_max : last->slo_max;
		} else {
			r[m++] = r[i];
		}
	}
	return m;
}

static void print_arrivals(const struct ts_trace *t)
{
	printf("requests: %zu", t->n);
	if (t->n < 2 || t->req[t->n - 1].arrival == t->req[0].arrival) {
		printf("\n");
		return;
	}
	double first = ts_ns_to_s(t->req[0].arrival), last = ts_ns_to_s(t->req[t->n - 1].arrival);
	double mean = (last - first) / (double)(t->n - 1);
	double *gap = malloc((t->n - 1) * sizeof(*gap));
	if (!gap) {
		printf("\n");
		return;
	}
	for (size_t i = 1; i < t->n; i++)
		gap[i - 1] = ts_ns_to_s(t->req[i].arrival - t->req[i - 1].arrival);
	/* the spread of the gaps around their exact mean (population form) */
	double sd = gsl_stats_sd_with_fixed_mean(gap, 1, t->n - 1, mean);
	free(gap);
	printf(", arrivals %.3f .. %.3f s, %.3f per minute, inter-arrival CV %.3f\n", first,
	       last, 60.0 / mean, sd / mean);
}

static int print_resolutions(const struct ts_trace *t)
{
	struct res_summary *r = malloc((t->n ? t->n : 1) * sizeof(*r));
	if (!r)
		return 1;
	size_t m = summarise_resolutions(t, r);
	printf("%-12s %9s %7s %6s  %s\n", "resolution", "requests", "share", "steps",
	       "slo_s min .. max");
	for (size_t i = 0; i < m; i++) {
		char res[32];
		snprintf(res, sizeof(res), "%dx%d", r[i].h, r[i].w);
		printf("%-12s %9ld %6.2f%% %6.1f  %.3f .. %.3f\n", res, r[i].n,
		       100.0 * (double)r[i].n / (double)t->n, (double)r[i].steps / (double)r[i].n,
		       ts_ns_to_s(r[i].slo_min), ts_ns_to_s(r[i].slo_max));
	}
	free(r);
	return 0;
}

static int print_models(const struct ts_trace *t)
{
	if (t->nmodels == 0) {
		printf("models: no model column\n");
		return 0;
	}
	long *count = calloc((size_t)t->nmodels, sizeof(*count));
	if (!count)
		return 1;
	for (size_t i = 0; i < t->n; i++)
		count[t->req[i].model]++;
	printf("models:");
	for (int32_t m = 0; m < t->nmodels; m++)
		printf(" %s %ld%s", t->models[m], count[m], m + 1 < t->nmodels ? "," : "\n");
	free(count);
	return 0;
}

static int cmd_trace_stats(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		trace_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: tetriserve trace stats FILE\n");
		return 2;
	}
	struct ts_trace t;
	struct ts_error err = { 0 };
	if (ts_trace_load(&t, argv[1], &err)) {
		fprintf(stderr, "tetriserve trace stats: %s\n", err.msg);
		return 1;
	}
	printf("trace: %s (FNV-1a 64 %016llx)\n", t.path, (unsigned long long)t.hash);
	print_arrivals(&t);
	int rc = print_resolutions(&t) || print_models(&t);
	if (rc)
		fprintf(stderr, "tetriserve trace stats: out of memory\n");
	ts_trace_free(&t);
	return rc;
}

int ts_cmd_trace(int argc, char **argv)
{
	if (argc < 2) {
		trace_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		trace_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "gen"))
		return cmd_trace_gen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_trace_stats(argc - 1, argv + 1);
	fprintf(stderr, "tetriserve trace: unknown sub-command '%s' (see tetriserve trace --help)\n",
		argv[1]);
	return 2;
}
