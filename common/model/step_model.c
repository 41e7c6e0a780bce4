/* step_model.c: the step time of a counted work (step_model.h). */
#include "model/step_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const param_names[TS_SP_COUNT] = {
	[TS_SP_GEMM_TFLOPS] = "gemm_tflops",
	[TS_SP_ATTN_TFLOPS] = "attn_tflops",
	[TS_SP_ATTN_S_HALF] = "attn_s_half",
	[TS_SP_MEM_GBPS] = "mem_gbps",
	[TS_SP_OVERHEAD_MS] = "overhead_ms",
};

const char *ts_step_param_name(int i)
{
	return i >= 0 && i < TS_SP_COUNT ? param_names[i] : "?";
}

/* Seconds of the GEMMs: each shape at the slower of its compute and its
 * memory traffic (a roofline). */
static double gemm_seconds(const struct ts_step_work *w, double flops_per_s, double bytes_per_s)
{
	double s = 0;
	for (int i = 0; i < w->ngemm; i++)
		s += fmax(ts_gemm_flops(&w->gemm[i]) / flops_per_s,
			  ts_gemm_bytes(&w->gemm[i]) / bytes_per_s);
	return s;
}

int ts_step_model_predict(const struct ts_step_model *m, const struct ts_step_work *w,
			  double *ms, struct ts_step_parts *parts, struct ts_error *err)
{
	struct ts_step_parts q = { 0 };
	double mem = m->p[TS_SP_MEM_GBPS].value * 1e9;
	double attn_rate = m->p[TS_SP_ATTN_TFLOPS].value * 1e12 * w->attn_seq /
			   (w->attn_seq + m->p[TS_SP_ATTN_S_HALF].value);
	q.gemm = 1e3 * gemm_seconds(w, m->p[TS_SP_GEMM_TFLOPS].value * 1e12, mem);
	q.attn = 1e3 * w->attn_flops / attn_rate;
	q.elem = 1e3 * w->elem_bytes / mem;
	if (w->sp > 1) {
		int d = ts_deg_index(w->sp);
		if (d < 0 || d >= TS_NDEG || !m->a2a[d].set)
			return ts_err_set(err, TS_ENOTFOUND,
					  "model %s on %s has no all-to-all figures for sp %d",
					  m->model, m->gpu, w->sp);
		const struct ts_a2a_value *a = &m->a2a[d];
		q.a2a = w->a2a_calls * a->lat_us * 1e-3 +
			1e3 * w->a2a_bytes * (w->sp - 1) / w->sp / (a->busbw_gbps * 1e9);
	}
	q.gpu = q.gemm + q.attn + q.elem + q.a2a;
	q.overhead = m->p[TS_SP_OVERHEAD_MS].value;
	*ms = m->host_max ? fmax(q.overhead, q.gpu) : q.overhead + q.gpu;
	if (parts)
		*parts = q;
	return 0;
}

int ts_step_model_assume_a2a(struct ts_step_model *m, int sp, struct ts_error *err)
{
	int d = ts_deg_index(sp);
	if (d < 0 || d >= TS_NDEG)
		return ts_err_set(err, TS_EINVAL, "sp %d is not a power of two in 1..%d", sp,
				  1 << (TS_NDEG - 1));
	if (d == 0 || m->a2a[d].set)
		return 0;
	int from = d - 1;
	while (from > 0 && !m->a2a[from].set)
		from--;
	if (from == 0)
		return ts_err_set(err, TS_ENOTFOUND,
				  "model %s on %s was fitted without SP > 1 cells: sp %d needs "
				  "all-to-all figures (--a2a %d:LAT_US:BUSBW_GBPS)",
				  m->model, m->gpu, sp, sp);
	m->a2a[d] = m->a2a[from];
	m->a2a[d].assumed = true;
	snprintf(m->a2a[d].source, sizeof(m->a2a[d].source),
		 "assumed: as sp %d (bus bandwidth and per-call latency unchanged with group size)",
		 1 << from);
	return 0;
}

void ts_step_model_free(struct ts_step_model *m)
{
	free(m->cells);
	memset(m, 0, sizeof(*m));
}
