/* test_diffusers.c: our step computes what diffusers computes. Each
 * argument is a folder made by experiments/diffusers_check/make_cases.py: a
 * diffusers transformer checkpoint (FLUX or SD3) and case.safetensors with
 * fixed inputs and diffusers' outputs for them, in bf16 and in fp32. The
 * engine opens the folder (--weights), runs one step on those inputs at SP
 * 1 (and SP 2 where two GPUs exist and the heads divide), with the default
 * attention and (tiny folders) with our own kernel, and its model output
 * (the velocity, ts_dit_request_output) is compared with diffusers'.
 *
 * Tolerance. bf16 keeps 8 significant bits: each rounding is off by up to
 * u = 2^-8 relative. Both our step and diffusers' bf16 forward round the
 * same quantities (every linear layer's output, norms, attention) at
 * comparable places, so their distances from the fp32 forward of the same
 * weights and inputs, the exact model up to fp32 rounding, are of one size;
 * that size depends on depth and conditioning, so it is measured, not
 * guessed: e_ref = |y_bf16 - y_fp32| / |y_fp32| (diffusers' own error).
 * Ours must satisfy
 *   |y - y_fp32| / |y_fp32|  <=  2 e_ref + u           (relative L2)
 *   max |y - y_fp32|         <=  8 (2 e_ref + u) rms(y_fp32)
 * The factor 2 allows for rounding at other places (we keep fused norms,
 * residuals and RoPE in fp32, diffusers rounds each op), + u for our final
 * bf16 rounding of the output tokens, and 8 rms for the largest of up to
 * 10^7 roughly normal errors (under 6 standard deviations). A wrong weight
 * mapping or formula moves the output by tens of percent, far outside.
 * The latent after the step must be latent + (sigma' - sigma) * output.
 *
 * Exits 77 without a GPU. Usage: test_diffusers [--full] DIR... (meson
 * passes the tiny folders of tests/data); --full, for full-size folders,
 * runs the default attention only and skips the checks of the request API
 * (each engine open of a large checkpoint costs its load). */
#include <stdbool.h>
#include <string.h>

#include "core/clock.h"
#include "gpu_test.h"
#include "io/safetensors.h"
#include "ts_attention.h"
#include "ts_dit.h"

static struct ts_error err;

/* A case: inputs, diffusers' outputs and their shapes. */
struct dcase {
	int batch, channels, lh, lw, text_tokens, text_dim, pooled_dim;
	float *latent, *text, *pooled, *out_bf16, *out_fp32;
	float sigma[2], guidance;
};

/* Tensor `name` of s as floats (malloc'ed) with its shape into dims[];
 * NULL (and a failed check) when missing or not of ndim dimensions. */
static float *load(struct ts_st_set *s, const char *name, int ndim, int64_t *dims)
{
	const struct ts_st_tensor *t = ts_st_set_find(s, name);
	TS_CHECK_MSG(t && t->ndim == ndim, "case: tensor %s missing or not %d-D", name, ndim);
	if (!t || t->ndim != ndim)
		return NULL;
	float *v = malloc((size_t)t->nelem * sizeof(float) + 1);
	if (!v || ts_st_read_f32(t, 0, t->nelem, v, &err)) {
		TS_CHECK_MSG(0, "case: %s", err.msg);
		free(v);
		return NULL;
	}
	memcpy(dims, t->shape, (size_t)ndim * sizeof(*dims));
	return v;
}

static void case_free(struct dcase *c)
{
	free(c->latent), free(c->text), free(c->pooled), free(c->out_bf16), free(c->out_fp32);
}

/* DIR/case.safetensors into c; 0 when every tensor is there. */
static int case_load(const char *dir, struct dcase *c)
{
	char path[4096];
	struct ts_st_set *s = NULL;
	int64_t ld[4], td[3], pd[2], sd[1], gd[1], o1[4], o2[4];
	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/case.safetensors", dir);
	if (ts_st_set_open_file(&s, path, &err)) {
		TS_CHECK_MSG(0, "%s", err.msg);
		return -1;
	}
	c->latent = load(s, "latent", 4, ld);
	c->text = load(s, "text", 3, td);
	c->pooled = load(s, "pooled", 2, pd);
	float *sig = load(s, "sigma", 1, sd), *g = load(s, "guidance", 1, gd);
	c->out_bf16 = load(s, "out_bf16", 4, o1);
	c->out_fp32 = load(s, "out_fp32", 4, o2);
	ts_st_set_close(s);
	int ok = c->latent && c->text && c->pooled && sig && g && c->out_bf16 && c->out_fp32 &&
		 sd[0] == 2 && !memcmp(ld, o1, sizeof(ld)) && !memcmp(ld, o2, sizeof(ld));
	if (ok) {
		c->batch = (int)ld[0], c->channels = (int)ld[1], c->lh = (int)ld[2], c->lw = (int)ld[3];
		c->text_tokens = (int)td[1], c->text_dim = (int)td[2], c->pooled_dim = (int)pd[1];
		c->sigma[0] = sig[0], c->sigma[1] = sig[1], c->guidance = g[0];
	}
	free(sig), free(g);
	TS_CHECK_MSG(ok, "%s: case tensors of inconsistent shapes", path);
	return ok ? 0 : -1;
}

/* The distances of y from the reference. */
struct dist {
	double rel, max_abs;
};

static struct dist distance(const float *y, const float *ref, int64_t n, double *rms)
{
	double num = 0, den = 0, mx = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = (double)y[i] - ref[i];
		if (!isfinite(y[i]))
			d = INFINITY;
		num += d * d;
		den += (double)ref[i] * ref[i];
		mx = fabs(d) > mx ? fabs(d) : mx;
	}
	*rms = sqrt(den / (double)n);
	struct dist r = {den > 0 ? sqrt(num / den) : INFINITY, mx};
	return r;
}

/* Checks and prints the output y of one run against the case. */
static void judge(const char *dir, const char *what, const struct dcase *c, const float *y,
		  int64_t n)
{
	const double u = 1.0 / 256.0;
	double rms = 0, rms2 = 0;
	struct dist ref = distance(c->out_bf16, c->out_fp32, n, &rms);
	struct dist ours = distance(y, c->out_fp32, n, &rms);
	struct dist vs_bf16 = distance(y, c->out_bf16, n, &rms2);
	double bound = 2.0 * ref.rel + u;
	bool ok = ours.rel <= bound && ours.max_abs <= 8.0 * bound * rms;
	printf("%s %s: ours vs diffusers fp32: rel L2 %.3e, max abs %.3e | diffusers bf16 vs fp32: rel L2 %.3e, max abs %.3e | ours vs diffusers bf16: rel L2 %.3e | bound rel %.3e, max abs %.3e (rms %.3e): %s\n",
	       dir, what, ours.rel, ours.max_abs, ref.rel, ref.max_abs, vs_bf16.rel, bound,
	       8.0 * bound * rms, rms, ok ? "PASS" : "FAIL");
	fflush(stdout);
	TS_CHECK_MSG(ours.rel <= bound, "%s %s: relative L2 error %.3e above %.3e", dir, what,
		     ours.rel, bound);
	TS_CHECK_MSG(ours.max_abs <= 8.0 * bound * rms, "%s %s: max abs error %.3e above %.3e", dir,
		     what, ours.max_abs, 8.0 * bound * rms);
}

/* The model's shapes are the case's. */
static bool shapes_match(const char *dir, const struct ts_dit_config *m, const struct dcase *c)
{
	bool ok = m->latent_channels == c->channels && m->text_dim == c->text_dim &&
		  m->pooled_dim == c->pooled_dim && m->text_tokens == c->text_tokens;
	TS_CHECK_MSG(ok, "%s: model (%d channels, text %d x %d, pooled %d) and case (%d, %d x %d, %d) differ",
		     dir, m->latent_channels, m->text_tokens, m->text_dim, m->pooled_dim, c->channels,
		     c->text_tokens, c->text_dim, c->pooled_dim);
	return ok;
}

/* The latent after the step is the input latent moved by the output. */
static void check_update(const char *dir, const struct dcase *c, const float *y, const float *x,
			 int64_t n)
{
	double dt = (double)c->sigma[1] - c->sigma[0], worst = 0;
	for (int64_t i = 0; i < n; i++) {
		double want = c->latent[i] + (float)dt * y[i], d = fabs(x[i] - want);
		worst = d > worst ? d : worst;
	}
	TS_CHECK_MSG(worst <= 1e-5, "%s: latent after the step is off the Euler update by %.3e", dir,
		     worst);
}

/* One step of the case on GPUs 0..sp-1 of engine e: output into y, latent
 * after the step into x. */
static int run_case(struct ts_dit_engine *e, const struct dcase *c, int sp, float *y, float *x)
{
	struct ts_dit_request *r = NULL;
	const struct ts_dit_config *m = ts_dit_engine_config(e);
	struct ts_dit_inputs in = {c->latent, c->text, c->pooled};
	int rc = ts_dit_request_open(e, &r, c->lh * m->vae_scale, c->lw * m->vae_scale, c->batch, 1,
				     1, &err);
	if (!rc)
		rc = ts_dit_request_set_inputs(r, &in, &err);
	if (!rc)
		rc = ts_dit_request_set_schedule(r, c->sigma, c->guidance, &err);
	if (!rc)
		rc = ts_dit_request_step(e, r, (1ULL << sp) - 1, &err);
	if (!rc)
		rc = ts_dit_request_output(e, r, y, &err);
	if (!rc)
		rc = ts_dit_request_latent(r, x, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	ts_dit_request_close(r);
	return rc;
}

/* Opens DIR on sp GPUs with attention kernel `kern`; NULL on failure. */
static struct ts_dit_engine *open_engine(const char *dir, int sp, int kern, int text_tokens)
{
	struct ts_dit_engine *e = NULL;
	struct ts_dit_engine_opts o = {NULL, dir, sp, 0, text_tokens};
	int64_t t0 = ts_clock_ns();
	int rc = ts_dit_engine_open_opts(&e, &o, &err);
	if (!rc)
		rc = ts_dit_engine_set_attention(e, kern, &err);
	TS_CHECK_MSG(rc == 0, "%s: %s", dir, err.msg);
	if (rc) {
		ts_dit_engine_close(e);
		return NULL;
	}
	printf("%s: %s opened on %d GPU(s) in %.1f s, %lld parameters\n", dir,
	       ts_dit_engine_config(e)->name, sp, (double)(ts_clock_ns() - t0) / 1e9,
	       (long long)ts_dit_param_count(ts_dit_engine_config(e)));
	return e;
}

/* The case of one folder at every SP degree and attention kernel asked for. */
static void check_folder(const char *dir, bool own_kernel)
{
	struct dcase c;
	if (case_load(dir, &c))
		return;
	int64_t n = (int64_t)c.batch * c.channels * c.lh * c.lw;
	float *y = malloc((size_t)n * sizeof(float)), *x = malloc((size_t)n * sizeof(float));
	int own = ts_attention_has_wgmma() ? TS_ATTN_WGMMA : TS_ATTN_MMA_32;
	for (int sp = 1; sp <= 2 && sp <= gt_gpus(); sp++) {
		for (int k = 0; k < (own_kernel ? 2 : 1); k++) {
			struct ts_dit_engine *e = open_engine(dir, sp, k ? own : TS_ATTN_AUTO, c.text_tokens);
			if (!e)
				continue;
			if (ts_dit_engine_config(e)->heads % sp) {
				printf("%s: sp %d skipped (heads)\n", dir, sp);
			} else if (shapes_match(dir, ts_dit_engine_config(e), &c) &&
				   run_case(e, &c, sp, y, x) == 0) {
				char what[64];
				snprintf(what, sizeof(what), "sp=%d attention=%s", sp, k ? "own" : "auto");
				judge(dir, what, &c, y, n);
				check_update(dir, &c, y, x, n);
			}
			ts_dit_engine_close(e);
		}
	}
	if (gt_gpus() < 2)
		printf("%s: sp 2 skipped (1 GPU)\n", dir);
	free(y), free(x);
	case_free(&c);
}

/* The request API around the inputs and the output refuses what it
 * cannot do, and a folder that is not a checkpoint fails naming it. */
static void check_api(const char *dir)
{
	struct ts_dit_engine *e = NULL;
	struct ts_dit_request *a = NULL, *b = NULL;
	struct ts_dit_engine_opts bad = {NULL, "no/such/folder", 1, 0, 0};
	TS_CHECK(ts_dit_engine_open_opts(&e, &bad, &err) == TS_ENOTFOUND);
	TS_CHECK_MSG(strstr(err.msg, "no/such/folder") != NULL, "should name the folder: %s", err.msg);
	e = open_engine(dir, 1, TS_ATTN_AUTO, 0);
	if (!e)
		return;
	int px = ts_dit_engine_config(e)->vae_scale * ts_dit_engine_config(e)->patch;
	float v[1], sig[2] = {0.5f, NAN};
	if (!ts_dit_request_open(e, &a, 4 * px, 4 * px, 1, 1, 1, &err) &&
	    !ts_dit_request_open(e, &b, 4 * px, 4 * px, 1, 1, 2, &err)) {
		TS_CHECK(ts_dit_request_output(e, a, v, &err) == TS_EINVAL);
		TS_CHECK(ts_dit_request_set_schedule(a, sig, 1.0f, &err) == TS_EINVAL);
		TS_CHECK(ts_dit_request_step(e, a, 1, &err) == 0);
		struct ts_dit_inputs in = {NULL, NULL, NULL};
		TS_CHECK(ts_dit_request_set_inputs(a, &in, &err) == TS_EINVAL);
		TS_CHECK(ts_dit_request_step(e, b, 1, &err) == 0);
		TS_CHECK(ts_dit_request_output(e, a, v, &err) == TS_EINVAL);
		TS_CHECK_MSG(strstr(err.msg, "another request") != NULL, "%s", err.msg);
	}
	ts_dit_request_close(a);
	ts_dit_request_close(b);
	ts_dit_engine_close(e);
}

int main(int argc, char **argv)
{
	bool full = argc > 1 && !strcmp(argv[1], "--full");
	int first = full ? 2 : 1;
	if (first >= argc) {
		fprintf(stderr, "usage: test_diffusers [--full] DIR...\n");
		return 2;
	}
	if (gt_gpus() < 1) {
		printf("test_diffusers: no GPU, skipped\n");
		return TS_SKIP;
	}
	if (!full)
		check_api(argv[first]);
	for (int i = first; i < argc; i++)
		check_folder(argv[i], !full);
	return ts_test_result("test_diffusers");
}
