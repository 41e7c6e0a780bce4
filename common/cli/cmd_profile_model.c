/* cmd_profile_model.c: `tetriserve profile model` (cmd_profile_model.h):
 * --fit P.csv --out M.json, --predict M.json --out P2.csv, --validate P.csv
 * --hold RULE. */
#include "cli/cmd_profile_model.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "core/ts_strbuf.h"
#include "io/profile.h"
#include "model/bench.h"
#include "model/model_json.h"
#include "model/profile_write.h"
#include "model/step_fit.h"
#include "model/step_loo.h"
#include "model/step_predict.h"

#define CMD "tetriserve profile model"
#define MAX_A2A 8

enum mode { MODE_NONE, MODE_FIT, MODE_PREDICT, MODE_VALIDATE };

struct a2a_given {
	int sp;
	double lat_us, busbw_gbps;
};

struct pm_args {
	enum mode mode;
	const char *input, *out, *bench;
	struct ts_step_fit_opts fit;
	struct ts_step_grid grid;
	struct ts_hold hold;
	const char *hold_text;
	bool hold_given, res_given, sp_given;
	struct a2a_given a2a[MAX_A2A];
	int na2a;
	int argc;
	char **argv;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " CMD " --fit P.csv [--bench B.csv] --out M.json\n"
		"       " CMD " --predict M.json --res R1,R2,.. --sp K1,K2,.. [--batch B1,..] --out P2.csv\n"
		"       " CMD " --validate P.csv --hold sp=K|res=N|res=HxW|batch [--bench B.csv]\n"
		"The step-time model of a DiT step (docs/STEP_MODEL.md): GEMMs, attention, Ulysses\n"
		"all-to-alls, element-wise work and a fixed overhead, its rates fitted on a measured\n"
		"profile. No GPU needed.\n\n"
		"  --fit P.csv          fit on the measured rows of P.csv; writes the model to --out\n"
		"  --bench B.csv        component benchmarks (gemm, attention, alltoall rows) in the fit\n"
		"  --model NAME         the profile's model to fit (default: its only one)\n"
		"  --gpu-type NAME      the profile's GPU (default: its only one)\n"
		"  --host add|max       fixed overhead added to the GPU time (default) or overlapped\n"
		"                       with it (a host-bound runtime such as eager PyTorch)\n"
		"  --peak-tflops X, --hbm-gbps X, --link-gbps X\n"
		"                       the GPU's peaks (default: datasheet of a known GPU)\n"
		"  --predict M.json     write a profile: M's measured cells and predicted ones\n"
		"  --res R1,R2,..       resolutions: N (NxN) or HxW, multiples of 16\n"
		"  --sp K1,K2,..        SP degrees, powers of two dividing the model's heads\n"
		"  --batch B1,..        batch sizes 1, 2, 4, 8 (default 1)\n"
		"  --batch-res-max N    batches > 1 only for images of at most N x N pixels\n"
		"  --a2a K:LAT_US:BUSBW_GBPS\n"
		"                       all-to-all figures of degree K (what-if; repeatable); a degree\n"
		"                       without measured or given figures takes the largest fitted one's\n"
		"  --force              --predict: beyond the measured range (tokens x4, degree x2,\n"
		"                       batch x2); --fit, --validate: keep a non-physical fit (a rate\n"
		"                       pinned at zero or at the device's peak), with a warning\n"
		"  --validate P.csv     leave-one-out: fit without the --hold cells, predict them, and\n"
		"                       compare with --interpolate's estimates\n"
		"  --hold RULE          sp=K, res=N, res=HxW or batch (every batch > 1)\n"
		"  --out FILE           the model (--fit) or the profile (--predict)\n");
}

/* ---- option values ---- */

static int parse_res_list(const char *text, struct ts_step_grid *g, struct ts_error *err)
{
	char list[1024];
	snprintf(list, sizeof(list), "%s", text); /* argv stays whole for the provenance line */
	g->nres = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int h = 0, w = 0;
		char tail;
		int n = sscanf(tok, "%dx%d%c", &h, &w, &tail);
		if (n == 1 && !strchr(tok, 'x'))
			w = h, n = 2;
		if (n != 2 || h <= 0 || w <= 0 || h % 16 || w % 16 || h > 65536 || w > 65536 ||
		    g->nres == TS_STEP_GRID_MAX)
			return ts_err_set(err, TS_EINVAL,
					  "--res '%s': N or HxW, positive multiples of 16 up to 65536, "
					  "at most %d of them", tok, TS_STEP_GRID_MAX);
		g->height[g->nres] = h, g->width[g->nres++] = w;
	}
	return g->nres ? 0 : ts_err_set(err, TS_EINVAL, "--res: empty list");
}

/* A list of powers of two in 1..max into out (at most cap). */
static int parse_pow2_list(const char *text, const char *opt, int max, int *out, int cap, int *n,
			   struct ts_error *err)
{
	char list[256];
	snprintf(list, sizeof(list), "%s", text);
	*n = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long long v;
		if (ts_cli_parse_int(tok, 1, max, &v, opt, err) || ts_deg_index((int)v) < 0 ||
		    *n == cap)
			return ts_err_set(err, TS_EINVAL, "%s '%s': powers of two in 1..%d, at most %d",
					  opt, tok, max, cap);
		out[(*n)++] = (int)v;
	}
	return *n ? 0 : ts_err_set(err, TS_EINVAL, "%s: empty list", opt);
}

static int parse_a2a(const char *text, struct pm_args *a, struct ts_error *err)
{
	struct a2a_given g;
	char tail;
	if (a->na2a == MAX_A2A ||
	    sscanf(text, "%d:%lf:%lf%c", &g.sp, &g.lat_us, &g.busbw_gbps, &tail) != 3 ||
	    g.sp < 2 || ts_deg_index(g.sp) < 0 || !(g.lat_us >= 0) || !(g.busbw_gbps > 0) ||
	    !isfinite(g.lat_us) || !isfinite(g.busbw_gbps))
		return ts_err_set(err, TS_EINVAL,
				  "--a2a '%s': K:LAT_US:BUSBW_GBPS with K a power of two in 2..%d, "
				  "latency >= 0, bandwidth > 0 (at most %d)", text, TS_MAX_GPUS, MAX_A2A);
	a->a2a[a->na2a++] = g;
	return 0;
}

static int parse_host(const char *text, struct pm_args *a, struct ts_error *err)
{
	a->fit.host_max = !strcmp(text, "max");
	if (a->fit.host_max || !strcmp(text, "add"))
		return 0;
	return ts_err_set(err, TS_EINVAL, "--host '%s': must be add or max", text);
}

static int set_mode(struct pm_args *a, enum mode m, const char *input, struct ts_error *err)
{
	if (a->mode != MODE_NONE)
		return ts_err_set(err, TS_EINVAL, "give one of --fit, --predict, --validate");
	a->mode = m;
	a->input = input;
	return 0;
}

/* ---- parsing ---- */

enum {
	OPT_FIT = 256, OPT_PREDICT, OPT_VALIDATE, OPT_BENCH, OPT_MODEL, OPT_GPU, OPT_HOST,
	OPT_PEAK, OPT_HBM, OPT_LINK, OPT_RES, OPT_SP, OPT_BATCH, OPT_A2A, OPT_FORCE, OPT_HOLD,
	OPT_OUT, OPT_HELP, OPT_BATCH_RES_MAX,
};

static const struct option long_opts[] = {
	{ "fit", required_argument, NULL, OPT_FIT },
	{ "predict", required_argument, NULL, OPT_PREDICT },
	{ "validate", required_argument, NULL, OPT_VALIDATE },
	{ "bench", required_argument, NULL, OPT_BENCH },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "gpu-type", required_argument, NULL, OPT_GPU },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "peak-tflops", required_argument, NULL, OPT_PEAK },
	{ "hbm-gbps", required_argument, NULL, OPT_HBM },
	{ "link-gbps", required_argument, NULL, OPT_LINK },
	{ "res", required_argument, NULL, OPT_RES },
	{ "sp", required_argument, NULL, OPT_SP },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "a2a", required_argument, NULL, OPT_A2A },
	{ "batch-res-max", required_argument, NULL, OPT_BATCH_RES_MAX },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Applies one option's value (not --help). */
static int apply_option(int opt, char *val, struct pm_args *a, struct ts_error *err)
{
	struct ts_device_spec *g = &a->fit.given;
	switch (opt) {
	case OPT_FIT: return set_mode(a, MODE_FIT, val, err);
	case OPT_PREDICT: return set_mode(a, MODE_PREDICT, val, err);
	case OPT_VALIDATE: return set_mode(a, MODE_VALIDATE, val, err);
	case OPT_BENCH: a->bench = val; return 0;
	case OPT_MODEL: a->fit.model = val; return 0;
	case OPT_GPU: a->fit.gpu = val; return 0;
	case OPT_HOST: return parse_host(val, a, err);
	case OPT_PEAK: return ts_cli_parse_double(val, 1e-3, 1e6, &g->peak_tflops, "--peak-tflops", err);
	case OPT_HBM: return ts_cli_parse_double(val, 1e-3, 1e7, &g->hbm_gbps, "--hbm-gbps", err);
	case OPT_LINK: return ts_cli_parse_double(val, 1e-3, 1e7, &g->link_gbps, "--link-gbps", err);
	case OPT_RES: a->res_given = true; return parse_res_list(val, &a->grid, err);
	case OPT_SP:
		a->sp_given = true;
		return parse_pow2_list(val, "--sp", TS_MAX_GPUS, a->grid.sp, TS_NDEG, &a->grid.nsp, err);
	case OPT_BATCH:
		return parse_pow2_list(val, "--batch", TS_MAX_BATCH, a->grid.batch, TS_NBATCH,
				       &a->grid.nbatch, err);
	case OPT_A2A: return parse_a2a(val, a, err);
	case OPT_BATCH_RES_MAX: {
		long long v;
		int rc = ts_cli_parse_int(val, 16, 65536, &v, "--batch-res-max", err);
		a->grid.batch_res_max = (int)v;
		return rc;
	}
	case OPT_FORCE: a->grid.force = a->fit.keep_pinned = true; return 0;
	case OPT_HOLD:
		a->hold_given = true, a->hold_text = val;
		return ts_hold_parse(val, &a->hold, err);
	default: a->out = val; return 0; /* OPT_OUT */
	}
}

/* What each mode requires, and options that belong to another mode. */
static int check_args(const struct pm_args *a, struct ts_error *err)
{
	bool predict_opts = a->res_given || a->sp_given || a->grid.nbatch || a->na2a ||
			    a->grid.batch_res_max;
	if (a->mode == MODE_NONE)
		return ts_err_set(err, TS_EINVAL, "give one of --fit, --predict, --validate (see --help)");
	if (a->mode != MODE_VALIDATE && !a->out)
		return ts_err_set(err, TS_EINVAL, "--out is required with --fit and --predict");
	if (a->mode == MODE_PREDICT && (!a->res_given || !a->sp_given))
		return ts_err_set(err, TS_EINVAL, "--predict needs --res and --sp");
	if (a->mode != MODE_PREDICT && predict_opts)
		return ts_err_set(err, TS_EINVAL, "--res, --sp, --batch, --batch-res-max and --a2a go with --predict");
	if (a->mode == MODE_PREDICT && (a->bench || a->fit.model || a->fit.gpu))
		return ts_err_set(err, TS_EINVAL, "--bench, --model and --gpu-type go with --fit or --validate");
	if ((a->mode == MODE_VALIDATE) != a->hold_given)
		return ts_err_set(err, TS_EINVAL, "--hold goes with --validate, which needs it");
	return 0;
}

/* Returns 0 to go on, 2 for bad usage, -1 after --help. */
static int parse_args(int argc, char **argv, struct pm_args *a)
{
	memset(a, 0, sizeof(*a));
	a->argc = argc, a->argv = argv;
	struct ts_error err = { 0 };
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			return -1;
		}
		if (opt == '?')
			return ts_cli_bad_option(CMD, argv);
		if (apply_option(opt, optarg, a, &err))
			break;
	}
	if (!err.code && optind < argc)
		ts_err_set(&err, TS_EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!err.code)
		check_args(a, &err);
	if (!err.code)
		return 0;
	fprintf(stderr, CMD ": %s\n", err.msg);
	return 2;
}

/* ---- --fit ---- */

static void print_params(FILE *f, const char *prefix, const struct ts_step_model *m)
{
	static const char *const units[TS_SP_COUNT] = { "TFLOP/s", "TFLOP/s", "tokens", "GB/s", "ms" };
	fprintf(f, "%s%s on %s, host %s; device peaks %.0f TFLOP/s, HBM %.0f GB/s, link %.0f GB/s (%s)\n",
		prefix, m->model, m->gpu, m->host_max ? "max" : "add", m->dev.peak_tflops,
		m->dev.hbm_gbps, m->dev.link_gbps, m->dev.source);
	for (int i = 0; i < TS_SP_COUNT; i++)
		fprintf(f, "%s%-12s %10.4g %-8s %s\n", prefix, ts_step_param_name(i), m->p[i].value,
			units[i], m->p[i].source);
	for (int d = 1; d < TS_NDEG; d++)
		if (m->a2a[d].set)
			fprintf(f, "%sa2a sp %-5d lat %.4g us, busbw %.4g GB/s  %s\n", prefix, 1 << d,
				m->a2a[d].lat_us, m->a2a[d].busbw_gbps, m->a2a[d].source);
	fprintf(f, "%sfit: %d cells of %s%s%s, |relative error| median %.2f%%, max %.2f%%\n",
		prefix, m->fit_cells, m->profile, m->fit_bench_rows ? " and bench rows of " : "",
		m->fit_bench_rows ? m->bench : "", 100 * m->fit_median_err, 100 * m->fit_max_err);
	if (m->warning[0])
		fprintf(f, "%sWARNING (kept with --force): %s\n", prefix, m->warning);
}

/* Loads the profile (and bench) of --fit or --validate. */
static int load_inputs(const struct pm_args *a, struct ts_profile *p, struct ts_bench *b,
		       struct ts_error *err)
{
	memset(b, 0, sizeof(*b));
	int rc = ts_profile_load(p, a->input, err);
	if (!rc && a->bench)
		rc = ts_bench_load(b, a->bench, err);
	return rc;
}

static int run_fit(struct pm_args *a, struct ts_error *err)
{
	struct ts_profile p;
	struct ts_bench b;
	struct ts_step_model m = { 0 };
	int rc = load_inputs(a, &p, &b, err);
	a->fit.bench = a->bench ? &b : NULL;
	if (!rc)
		rc = ts_step_fit(&p, &a->fit, &m, err);
	if (!rc)
		rc = ts_step_model_save(&m, a->out, err);
	if (!rc) {
		print_params(stdout, "", &m);
		printf("wrote %s\n", a->out);
	}
	ts_step_model_free(&m);
	ts_bench_free(&b);
	ts_profile_free(&p);
	return rc;
}

/* ---- --predict ---- */

/* Puts the --a2a figures into the model, marked as given. */
static void apply_given_a2a(const struct pm_args *a, struct ts_step_model *m)
{
	for (int i = 0; i < a->na2a; i++) {
		struct ts_a2a_value *v = &m->a2a[ts_deg_index(a->a2a[i].sp)];
		*v = (struct ts_a2a_value){ true, false, a->a2a[i].lat_us, a->a2a[i].busbw_gbps, "" };
		snprintf(v->source, sizeof(v->source), "given: --a2a %d:%g:%g", a->a2a[i].sp,
			 a->a2a[i].lat_us, a->a2a[i].busbw_gbps);
	}
}

/* The output's comment block: what it is, the command, the model. */
static void header_comments(const struct pm_args *a, const struct ts_step_model *m, size_t measured,
			    size_t modelled, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	ts_strbuf_printf(&sb, "%s step-latency profile on %s: %zu cells measured (copied from %s), "
			 "%zu cells MODELLED by the step-time model (source column; docs/STEP_MODEL.md)\n",
			 m->model, m->gpu, measured, m->profile, modelled);
	ts_strbuf_printf(&sb, "command: tetriserve profile");
	for (int i = 0; i < a->argc; i++)
		ts_strbuf_printf(&sb, " %s", a->argv[i]);
	ts_strbuf_printf(&sb, "\nmodel file: %s\n", a->input);
	char params[4096];
	FILE *f = fmemopen(params, sizeof(params), "w");
	if (f) {
		print_params(f, "", m);
		fclose(f);
		params[sizeof(params) - 1] = '\0';
		ts_strbuf_printf(&sb, "%s", params);
	}
}

static int write_profile(const struct pm_args *a, const struct ts_step_model *m,
			 const struct ts_profile_row *rows, size_t n, struct ts_error *err)
{
	size_t modelled = 0;
	for (size_t i = 0; i < n; i++)
		modelled += rows[i].modelled;
	char comments[8192];
	header_comments(a, m, n - modelled, modelled, comments, sizeof(comments));
	struct ts_cli_out out;
	int rc = ts_cli_out_open(&out, a->out, err);
	if (rc)
		return rc;
	rc = ts_profile_write(out.f, a->out, comments, rows, n, err);
	if (!rc)
		rc = ts_cli_out_close(&out, true, err);
	else
		ts_cli_out_close(&out, false, NULL);
	if (!rc)
		printf("wrote %s: %zu measured cells, %zu modelled\n", a->out, n - modelled, modelled);
	return rc;
}

static int run_predict(struct pm_args *a, struct ts_error *err)
{
	struct ts_step_model m;
	struct ts_profile_row *rows = NULL;
	size_t n = 0;
	int rc = ts_step_model_load(&m, a->input, err);
	if (rc)
		return rc;
	apply_given_a2a(a, &m);
	rc = ts_step_model_profile(&m, &a->grid, &rows, &n, err);
	if (!rc)
		rc = write_profile(a, &m, rows, n, err);
	free(rows);
	ts_step_model_free(&m);
	return rc;
}

/* ---- --validate ---- */

static void print_estimate(double est, double meas)
{
	if (est < 0)
		printf(" %10s %8s", "-", "-");
	else
		printf(" %10.3f %+7.2f%%", est, 100 * (est / meas - 1));
}

static void print_loo(const struct pm_args *a, const struct ts_loo_result *r)
{
	print_params(stdout, "", &r->fitted);
	printf("held out (--hold %s): %zu cells\n", a->hold_text, r->n);
	printf("%6s %6s %3s %5s %10s %10s %8s %10s %8s\n", "height", "width", "sp", "batch",
	       "measured", "model", "error", "interp", "error");
	for (size_t i = 0; i < r->n; i++) {
		const struct ts_profile_row *c = &r->cells[i].row;
		printf("%6d %6d %3d %5d %10.3f", c->height, c->width, c->sp, c->batch, c->step_ms);
		print_estimate(r->cells[i].model_ms, c->step_ms);
		print_estimate(r->cells[i].interp_ms, c->step_ms);
		printf("\n");
	}
	printf("model: median %.2f%%, max %.2f%% (%zu cells)", 100 * r->model_median,
	       100 * r->model_max, r->n);
	if (r->interp_n)
		printf("; --interpolate: median %.2f%%, max %.2f%% (%zu of %zu cells)\n",
		       100 * r->interp_median, 100 * r->interp_max, r->interp_n, r->n);
	else
		printf("; --interpolate: no estimate (0 of %zu cells)\n", r->n);
}

static int run_validate(struct pm_args *a, struct ts_error *err)
{
	struct ts_profile p;
	struct ts_bench b;
	struct ts_loo_result r = { 0 };
	int rc = load_inputs(a, &p, &b, err);
	a->fit.bench = a->bench ? &b : NULL;
	if (!rc)
		rc = ts_step_loo(&p, &a->fit, &a->hold, &r, err);
	if (!rc)
		print_loo(a, &r);
	ts_loo_result_free(&r);
	ts_bench_free(&b);
	ts_profile_free(&p);
	return rc;
}

int ts_cmd_profile_model(int argc, char **argv)
{
	struct pm_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct ts_error err = { 0 };
	if (a.mode == MODE_FIT)
		rc = run_fit(&a, &err);
	else if (a.mode == MODE_PREDICT)
		rc = run_predict(&a, &err);
	else
		rc = run_validate(&a, &err);
	if (!rc)
		return 0;
	fprintf(stderr, CMD ": %s\n", err.msg);
	return 1;
}
