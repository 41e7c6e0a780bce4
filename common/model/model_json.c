/* model_json.c: the step-time model file (model_json.h), via jansson. */
#include "model/model_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "tetriserve-step-model"
#define FORMAT_VERSION 1

/* ---- writing ---- */

static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *cells_json(const struct ts_step_model *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->ncells; i++) {
		const struct ts_profile_row *r = &m->cells[i];
		json_array_append_new(a, json_pack("{si si si si so so so sf sI si}", "height", r->height,
						   "width", r->width, "sp", r->sp, "batch", r->batch,
						   "step_ms", real_or_null(r->step_ms), "p50_ms",
						   real_or_null(r->p50_ms), "p99_ms", real_or_null(r->p99_ms),
						   "cv", r->cv, "samples", (json_int_t)r->samples, "line",
						   r->line));
	}
	return a;
}

static json_t *params_json(const struct ts_step_model *m)
{
	json_t *o = json_object();
	for (int i = 0; o && i < TS_SP_COUNT; i++)
		json_object_set_new(o, ts_step_param_name(i),
				    json_pack("{sf ss}", "value", m->p[i].value, "source", m->p[i].source));
	return o;
}

static json_t *a2a_json(const struct ts_step_model *m)
{
	json_t *a = json_array();
	for (int d = 1; a && d < TS_NDEG; d++)
		if (m->a2a[d].set)
			json_array_append_new(a, json_pack("{si sf sf ss}", "sp", 1 << d, "lat_us",
							   m->a2a[d].lat_us, "busbw_gbps",
							   m->a2a[d].busbw_gbps, "source", m->a2a[d].source));
	return a;
}

static json_t *model_json(const struct ts_step_model *m)
{
	const struct ts_dit_config *c = &m->cfg;
	char hash[17];
	snprintf(hash, sizeof(hash), "%016" PRIx64, m->profile_hash);
	return json_pack(
		"{ss si ss ss ss s{si si si si si si} s{sf sf sf ss} so so s{sI sI si si}"
		" s{ss ss ss si si sf sf ss} so}",
		"format", FORMAT_NAME, "version", FORMAT_VERSION, "model", m->model, "gpu", m->gpu,
		"host", m->host_max ? "max" : "add", "shape", "hidden", c->hidden, "heads", c->heads,
		"head_dim", c->head_dim, "double_blocks", c->double_blocks, "single_blocks",
		c->single_blocks, "text_tokens", c->text_tokens, "device", "peak_tflops",
		m->dev.peak_tflops, "hbm_gbps", m->dev.hbm_gbps, "link_gbps", m->dev.link_gbps,
		"source", m->dev.source, "params", params_json(m), "a2a", a2a_json(m), "range",
		"min_tokens", (json_int_t)m->range.min_tokens, "max_tokens",
		(json_int_t)m->range.max_tokens, "max_sp", m->range.max_sp, "max_batch",
		m->range.max_batch, "fit", "profile", m->profile, "profile_hash", hash, "bench",
		m->bench, "cells", m->fit_cells, "bench_rows", m->fit_bench_rows, "median_err",
		m->fit_median_err, "max_err", m->fit_max_err, "warning", m->warning, "cells",
		cells_json(m));
}

int ts_step_model_save(const struct ts_step_model *m, const char *path, struct ts_error *err)
{
	json_t *j = model_json(m);
	if (!j)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	int rc = json_dump_file(j, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	json_decref(j);
	return rc ? ts_err_set(err, TS_EIO, "%s: cannot write the model file", path) : 0;
}

/* ---- reading ---- */

static int bad(struct ts_error *err, const char *path, const char *what)
{
	return ts_err_set(err, TS_EPARSE, "%s: %s", path, what);
}

static double real_or_nan(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int load_params(struct ts_step_model *m, json_t *params, const char *path,
		       struct ts_error *err)
{
	for (int i = 0; i < TS_SP_COUNT; i++) {
		const char *src = NULL;
		double v = 0;
		json_t *p = json_object_get(params, ts_step_param_name(i));
		if (json_unpack(p, "{sF ss}", "value", &v, "source", &src) || !(v >= 0) ||
		    (v == 0 && i != TS_SP_OVERHEAD_MS))
			return ts_err_set(err, TS_EPARSE, "%s: key 'params.%s': needs a value > 0 and a source",
					  path, ts_step_param_name(i));
		m->p[i].value = v;
		snprintf(m->p[i].source, TS_STEP_SOURCE, "%s", src);
	}
	return 0;
}

static int load_a2a(struct ts_step_model *m, json_t *a2a, const char *path, struct ts_error *err)
{
	size_t i;
	json_t *e;
	json_array_foreach(a2a, i, e) {
		int sp = 0;
		double lat = 0, bw = 0;
		const char *src = NULL;
		int d = json_unpack(e, "{si sF sF ss}", "sp", &sp, "lat_us", &lat, "busbw_gbps", &bw,
				    "source", &src) ? -1 : ts_deg_index(sp);
		if (d < 1 || d >= TS_NDEG || !(lat >= 0) || !(bw > 0))
			return ts_err_set(err, TS_EPARSE,
					  "%s: key 'a2a[%zu]': needs sp (2..%d), lat_us >= 0, busbw_gbps > 0, source",
					  path, i, 1 << (TS_NDEG - 1));
		m->a2a[d] = (struct ts_a2a_value){ true, !strncmp(src, "assumed", 7), lat, bw, "" };
		snprintf(m->a2a[d].source, TS_STEP_SOURCE, "%s", src);
	}
	return 0;
}

static int load_cells(struct ts_step_model *m, json_t *cells, const char *path,
		      struct ts_error *err)
{
	m->cells = calloc(json_array_size(cells) + 1, sizeof(*m->cells));
	if (!m->cells)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	size_t i;
	json_t *e;
	json_array_foreach(cells, i, e) {
		struct ts_profile_row *r = &m->cells[i];
		json_t *p50 = NULL, *p99 = NULL;
		json_int_t samples = 0;
		if (json_unpack(e, "{si si si si sF so so sF sI si}", "height", &r->height, "width",
				&r->width, "sp", &r->sp, "batch", &r->batch, "step_ms", &r->step_ms,
				"p50_ms", &p50, "p99_ms", &p99, "cv", &r->cv, "samples", &samples,
				"line", &r->line) || !(r->step_ms > 0))
			return ts_err_set(err, TS_EPARSE, "%s: key 'cells[%zu]': malformed cell", path, i);
		r->p50_ms = real_or_nan(p50), r->p99_ms = real_or_nan(p99), r->samples = samples;
		snprintf(r->model, sizeof(r->model), "%s", m->model);
		snprintf(r->gpu, sizeof(r->gpu), "%s", m->gpu);
		m->ncells++;
	}
	return 0;
}

/* The top-level keys other than params, a2a and cells. */
static int load_head(struct ts_step_model *m, json_t *j, const char *path, struct ts_error *err)
{
	const char *format = "", *model = "", *gpu = "", *host = "", *dsrc = "", *prof = "",
		   *bench = "", *hash = "", *warning = "";
	int version = 0;
	json_int_t tmin = 0, tmax = 0;
	if (json_unpack(j, "{ss si ss ss ss s{sF sF sF ss} s{sI sI si si} s{ss ss ss si si sF sF ss}}",
			"format", &format, "version", &version, "model", &model, "gpu", &gpu, "host",
			&host, "device", "peak_tflops", &m->dev.peak_tflops, "hbm_gbps",
			&m->dev.hbm_gbps, "link_gbps", &m->dev.link_gbps, "source", &dsrc, "range",
			"min_tokens", &tmin, "max_tokens", &tmax, "max_sp", &m->range.max_sp,
			"max_batch", &m->range.max_batch, "fit", "profile", &prof, "profile_hash",
			&hash, "bench", &bench, "cells", &m->fit_cells, "bench_rows",
			&m->fit_bench_rows, "median_err", &m->fit_median_err, "max_err",
			&m->fit_max_err, "warning", &warning))
		return bad(err, path, "not a step-model file (a key of format, version, model, gpu, "
				      "host, device, range or fit is missing or of the wrong type)");
	if (strcmp(format, FORMAT_NAME) || version != FORMAT_VERSION)
		return ts_err_set(err, TS_EPARSE, "%s: key 'format': '%s' version %d, expected '%s' version %d",
				  path, format, version, FORMAT_NAME, FORMAT_VERSION);
	snprintf(m->model, sizeof(m->model), "%s", model);
	snprintf(m->gpu, sizeof(m->gpu), "%s", gpu);
	snprintf(m->dev.name, sizeof(m->dev.name), "%s", gpu);
	snprintf(m->dev.source, sizeof(m->dev.source), "%s", dsrc);
	snprintf(m->profile, sizeof(m->profile), "%s", prof);
	snprintf(m->bench, sizeof(m->bench), "%s", bench);
	snprintf(m->warning, sizeof(m->warning), "%s", warning);
	m->profile_hash = strtoull(hash, NULL, 16);
	m->range.min_tokens = tmin, m->range.max_tokens = tmax;
	m->host_max = !strcmp(host, "max");
	if (!m->host_max && strcmp(host, "add"))
		return ts_err_set(err, TS_EPARSE, "%s: key 'host': '%s': must be add or max", path, host);
	int rc = ts_dit_config_lookup(model, &m->cfg, err);
	return rc ? ts_err_prefix(err, "%s: key 'model'", path) : 0;
}

int ts_step_model_load(struct ts_step_model *m, const char *path, struct ts_error *err)
{
	memset(m, 0, sizeof(*m));
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		return ts_err_set(err, jerr.line < 0 ? TS_EIO : TS_EPARSE, "%s:%d: %s", path,
				  jerr.line, jerr.text);
	int rc = load_head(m, j, path, err);
	if (!rc)
		rc = load_params(m, json_object_get(j, "params"), path, err);
	if (!rc)
		rc = load_a2a(m, json_object_get(j, "a2a"), path, err);
	if (!rc)
		rc = load_cells(m, json_object_get(j, "cells"), path, err);
	json_decref(j);
	if (rc)
		ts_step_model_free(m);
	return rc;
}
