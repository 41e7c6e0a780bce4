/* test_step_model: the step-time model (common/model): the fit recovers
 * known parameters from a synthetic profile that the model generated; a
 * predicted step never gets faster as tokens grow at the same SP and batch;
 * measured cells come out of a predicted profile unchanged; the model file
 * round-trips; bad input (too small a profile, a non-physical fit, a cell
 * beyond the extrapolation limits, a degree that does not divide the heads)
 * gets its error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/bench.h"
#include "model/model_json.h"
#include "model/step_fit.h"
#include "model/step_predict.h"
#include "test_util.h"

static const int res[] = { 256, 512, 1024, 2048 };

/* The known parameters of the synthetic profile (S_half and M at the fit's
 * assumed values, which it does not fit without bench rows). */
static void truth(struct ts_step_model *m)
{
	struct ts_error err = { 0 };
	memset(m, 0, sizeof(*m));
	snprintf(m->model, sizeof(m->model), "flux-dev");
	snprintf(m->gpu, sizeof(m->gpu), "H200");
	TS_CHECK(ts_dit_config_lookup("flux-dev", &m->cfg, &err) == 0);
	TS_CHECK(ts_device_spec_lookup("H200", NULL, &m->dev, &err) == 0);
	m->p[TS_SP_GEMM_TFLOPS].value = 600;
	m->p[TS_SP_ATTN_TFLOPS].value = 500;
	m->p[TS_SP_ATTN_S_HALF].value = TS_STEP_DEFAULT_S_HALF;
	m->p[TS_SP_MEM_GBPS].value = TS_STEP_DEFAULT_MEM_SHARE * m->dev.hbm_gbps;
	m->p[TS_SP_OVERHEAD_MS].value = 2.5;
	m->a2a[1] = (struct ts_a2a_value){ true, false, 30, 200, "truth" };
	m->a2a[2] = (struct ts_a2a_value){ true, false, 45, 300, "truth" };
}

static void add_row(struct ts_profile *p, const struct ts_step_model *m, int r, int sp, int b)
{
	struct ts_error err = { 0 };
	struct ts_step_work w;
	struct ts_profile_row *row = &p->rows[p->n];
	memset(row, 0, sizeof(*row));
	snprintf(row->model, sizeof(row->model), "flux-dev");
	snprintf(row->gpu, sizeof(row->gpu), "H200");
	row->height = row->width = r, row->sp = sp, row->batch = b;
	row->p50_ms = row->p99_ms = NAN;
	row->line = (int)p->n + 2;
	TS_CHECK(ts_step_work_of(&m->cfg, r, r, sp, b, &w, &err) == 0);
	TS_CHECK(ts_step_model_predict(m, &w, &row->step_ms, NULL, &err) == 0);
	p->n++;
}

/* The engine profile's grid: 4 sizes x SP 1, 2, 4; batch 2 and 4 at 256^2
 * and 512^2 for SP 1, 2. */
static void synthetic_profile(struct ts_profile *p, const struct ts_step_model *m)
{
	memset(p, 0, sizeof(*p));
	p->rows = calloc(32, sizeof(*p->rows));
	p->path = strdup("synthetic.csv");
	for (int i = 0; i < 4; i++)
		for (int sp = 1; sp <= 4; sp *= 2)
			add_row(p, m, res[i], sp, 1);
	for (int b = 2; b <= 4; b *= 2)
		for (int i = 0; i < 2; i++)
			for (int sp = 1; sp <= 2; sp *= 2)
				add_row(p, m, res[i], sp, b);
}

static void check_near_rel(double got, double want, double tol, const char *what)
{
	TS_CHECK_MSG(fabs(got / want - 1) <= tol, "%s: fitted %g, true %g", what, got, want);
}

static void test_recovers_parameters(void)
{
	struct ts_step_model t, m;
	struct ts_profile p;
	struct ts_error err = { 0 };
	struct ts_step_fit_opts o = { 0 };
	truth(&t);
	synthetic_profile(&p, &t);
	TS_CHECK_MSG(ts_step_fit(&p, &o, &m, &err) == 0, "%s", err.msg);
	check_near_rel(m.p[TS_SP_GEMM_TFLOPS].value, 600, 0.01, "gemm_tflops");
	check_near_rel(m.p[TS_SP_ATTN_TFLOPS].value, 500, 0.01, "attn_tflops");
	check_near_rel(m.p[TS_SP_OVERHEAD_MS].value, 2.5, 0.02, "overhead_ms");
	check_near_rel(m.a2a[1].lat_us, 30, 0.02, "lat sp 2");
	check_near_rel(m.a2a[1].busbw_gbps, 200, 0.02, "busbw sp 2");
	check_near_rel(m.a2a[2].lat_us, 45, 0.02, "lat sp 4");
	check_near_rel(m.a2a[2].busbw_gbps, 300, 0.02, "busbw sp 4");
	TS_CHECK(m.fit_max_err < 1e-4 && m.fit_cells == 20);
	TS_CHECK(strstr(m.p[TS_SP_GEMM_TFLOPS].source, "fit: synthetic.csv") != NULL);
	TS_CHECK(strstr(m.p[TS_SP_MEM_GBPS].source, "assumed") != NULL);
	ts_step_model_free(&m);
	ts_profile_free(&p);
}

/* Every square size 256..4096 in steps of 16, SP 1..8, batch 1 and 4. */
static void test_monotone_in_tokens(void)
{
	struct ts_step_model m;
	struct ts_error err = { 0 };
	truth(&m);
	int bad = 0;
	for (int sp = 1; sp <= 8; sp *= 2)
		for (int b = 1; b <= 4; b *= 4) {
			double last = 0, ms = 0;
			for (int r = 256; r <= 4096; r += 16) {
				TS_CHECK(ts_step_model_cell(&m, r, r, sp, b, &ms, &err) == 0);
				bad += ms < last;
				last = ms;
			}
		}
	TS_CHECK_MSG(bad == 0, "%d sizes predicted faster than a smaller one", bad);
}

static const struct ts_profile_row *find(const struct ts_profile_row *rows, size_t n,
					 const struct ts_profile_row *want)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].height == want->height && rows[i].width == want->width &&
		    rows[i].sp == want->sp && rows[i].batch == want->batch)
			return &rows[i];
	return NULL;
}

/* Fits the bundled engine profile, saves and reloads the model, predicts a
 * grid over the measured one: measured cells identical, new ones modelled. */
static void test_measured_unchanged(const char *profile)
{
	struct ts_profile p;
	struct ts_step_model m, back;
	struct ts_error err = { 0 };
	struct ts_step_fit_opts o = { 0 };
	char path[] = "/tmp/test_step_model_XXXXXX";
	int fd = mkstemp(path);
	TS_CHECK_MSG(ts_profile_load(&p, profile, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(ts_step_fit(&p, &o, &m, &err) == 0, "%s", err.msg);
	TS_CHECK(fd >= 0 && ts_step_model_save(&m, path, &err) == 0);
	TS_CHECK_MSG(ts_step_model_load(&back, path, &err) == 0, "%s", err.msg);
	for (int i = 0; i < TS_SP_COUNT; i++)
		TS_CHECK(back.p[i].value == m.p[i].value && !strcmp(back.p[i].source, m.p[i].source));
	TS_CHECK(back.a2a[2].busbw_gbps == m.a2a[2].busbw_gbps && back.ncells == p.n);
	struct ts_step_grid g = { .height = { 256, 768, 2048 }, .width = { 256, 768, 2048 },
				  .nres = 3, .sp = { 1, 4, 8 }, .nsp = 3 };
	struct ts_profile_row *rows = NULL;
	size_t n = 0, modelled = 0;
	TS_CHECK_MSG(ts_step_model_profile(&back, &g, &rows, &n, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < p.n; i++) {
		const struct ts_profile_row *r = find(rows, n, &p.rows[i]);
		TS_CHECK(r && !r->modelled && r->step_ms == p.rows[i].step_ms &&
			 r->cv == p.rows[i].cv && r->p99_ms == p.rows[i].p99_ms &&
			 r->samples == p.rows[i].samples);
	}
	for (size_t i = 0; i < n; i++)
		modelled += rows[i].modelled;
	TS_CHECK_MSG(n == p.n + 5 && modelled == 5, "%zu rows, %zu modelled", n, modelled);
	TS_CHECK(strstr(back.a2a[3].source, "assumed: as sp 4") != NULL);
	free(rows);
	ts_step_model_free(&back);
	ts_step_model_free(&m);
	ts_profile_free(&p);
	remove(path);
}

/* A profile of n cells of the truth model, times scaled by `scale`. */
static void small_profile(struct ts_profile *p, int n, double scale)
{
	struct ts_step_model t;
	truth(&t);
	synthetic_profile(p, &t);
	p->n = (size_t)n;
	for (int i = 0; i < n; i++)
		p->rows[i].step_ms *= scale;
}

static void test_errors(void)
{
	struct ts_profile p;
	struct ts_step_model m;
	struct ts_error err = { 0 };
	struct ts_step_fit_opts o = { 0 };
	small_profile(&p, 3, 1.0); /* 256^2 at SP 1, 2, 4: one cell per degree */
	TS_CHECK(ts_step_fit(&p, &o, &m, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "synthetic.csv: too small to fit") != NULL, "%s", err.msg);
	ts_profile_free(&p);
	small_profile(&p, 12, 0.05); /* 20x faster than physical rates allow */
	TS_CHECK(ts_step_fit(&p, &o, &m, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "non-physical fit") && strstr(err.msg, "worst cell line"),
		     "%s", err.msg);
	o.keep_pinned = true;
	TS_CHECK(ts_step_fit(&p, &o, &m, &err) == 0 && strstr(m.warning, "non-physical"));
	ts_step_model_free(&m);
	ts_profile_free(&p);
	small_profile(&p, 12, 1.0);
	o.keep_pinned = false;
	TS_CHECK(ts_step_fit(&p, &o, &m, &err) == 0);
	TS_CHECK(ts_step_model_check_range(&m, 8192, 8192, 1, 1, false, &err) == TS_ERANGE);
	TS_CHECK_MSG(strstr(err.msg, "--force") != NULL, "%s", err.msg);
	TS_CHECK(ts_step_model_check_range(&m, 8192, 8192, 1, 1, true, &err) == 0);
	TS_CHECK(ts_step_model_check_range(&m, 1024, 1024, 8, 1, false, &err) == 0);
	TS_CHECK(ts_step_model_check_range(&m, 1024, 1024, 16, 1, false, &err) == TS_ERANGE);
	double ms;
	TS_CHECK(ts_step_model_cell(&m, 1024, 1024, 16, 1, &ms, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "does not divide its 24 heads") != NULL, "%s", err.msg);
	ts_step_model_free(&m);
	ts_profile_free(&p);
}

/* Bench rows generated by the truth model (gemm, attention, alltoall at SP
 * 8, which the profile lacks): the fit frees S_half and M and takes SP 8's
 * all-to-all from the bench, marked measured. */
static void test_bench(void)
{
	struct ts_step_model t, m;
	struct ts_profile p;
	struct ts_bench b;
	struct ts_error err = { 0 };
	char path[] = "/tmp/test_bench_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	truth(&t);
	t.a2a[3] = (struct ts_a2a_value){ true, false, 60, 350, "truth" };
	synthetic_profile(&p, &t);
	if (!f)
		return;
	fprintf(f, "# synthetic\nkind,ms,m,n,k,seq,heads,head_dim,sp,bytes\n");
	for (double m1 = 1; m1 <= 16384; m1 *= 8) { /* memory-bound at m = 1, 8 */
		struct ts_gemm_shape g = { m1, 9216, 3072, 1 };
		double ms = 1e3 * fmax(ts_gemm_flops(&g) / 600e12, ts_gemm_bytes(&g) / (0.85 * 4800e9));
		fprintf(f, "gemm,%.17g,%g,9216,3072,,,,,\n", ms, m1);
	}
	for (double s = 768; s <= 20000; s *= 2)
		fprintf(f, "attention,%.17g,,,,%g,24,128,,\n",
			1e3 * 4 * s * s * 128 * 24 / (500e12 * s / (s + 1000)), s);
	for (double by = 1e6; by <= 1e8; by *= 10)
		fprintf(f, "alltoall,%.17g,,,,,,,8,%g\n", 60e-3 + 1e3 * by * 7 / 8 / 350e9, by);
	fclose(f);
	struct ts_step_fit_opts o = { .bench = &b };
	TS_CHECK_MSG(ts_bench_load(&b, path, &err) == 0, "%s", err.msg);
	TS_CHECK_MSG(ts_step_fit(&p, &o, &m, &err) == 0, "%s", err.msg);
	check_near_rel(m.p[TS_SP_MEM_GBPS].value, 0.85 * 4800, 0.02, "mem_gbps from bench");
	check_near_rel(m.p[TS_SP_ATTN_S_HALF].value, 1000, 0.02, "attn_s_half from bench");
	check_near_rel(m.a2a[3].lat_us, 60, 0.02, "lat sp 8 from bench");
	check_near_rel(m.a2a[3].busbw_gbps, 350, 0.02, "busbw sp 8 from bench");
	TS_CHECK(strstr(m.a2a[3].source, "measured: alltoall rows") != NULL && m.fit_bench_rows == 13);
	ts_step_model_free(&m);
	ts_bench_free(&b);
	ts_profile_free(&p);
	remove(path);
}

int main(int argc, char **argv)
{
	test_bench();
	test_recovers_parameters();
	test_monotone_in_tokens();
	if (argc > 1)
		test_measured_unchanged(argv[1]);
	test_errors();
	return ts_test_result("test_step_model");
}
