/* summary.c: run summaries (see summary.h). */
#include "report/summary.h"

#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double ts_percentile_sorted(const double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	return gsl_stats_quantile_from_sorted_data(v, 1, n, p / 100.0);
}

static struct ts_res_summary *res_slot(struct ts_summary *s, int32_t h, int32_t w)
{
	for (int i = 0; i < s->nres; i++)
		if (s->res[i].height == h && s->res[i].width == w)
			return &s->res[i];
	if (s->nres == TS_SUMMARY_MAX_RES)
		return NULL;
	s->res[s->nres] = (struct ts_res_summary){ .height = h, .width = w };
	return &s->res[s->nres++];
}

static int cmp_res(const void *a, const void *b)
{
	const struct ts_res_summary *x = a, *y = b;
	int64_t px = (int64_t)x->height * x->width, py = (int64_t)y->height * y->width;
	if (px != py)
		return (px > py) - (px < py);
	return (x->height > y->height) - (x->height < y->height);
}

int ts_summary_compute(struct ts_summary *s, const struct ts_trace *t,
		       const struct ts_run_result *res, int gpus, struct ts_error *err)
{
	memset(s, 0, sizeof(*s));
	double *lat = malloc((t->n ? t->n : 1) * sizeof(*lat));
	if (!lat)
		return ts_err_set(err, TS_ENOMEM, "out of memory for %zu latencies", t->n);
	double lat_sum = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct ts_request *q = &t->req[i];
		const struct ts_req_state *st = &res->st[i];
		struct ts_res_summary *rs = res_slot(s, q->height, q->width);
		bool met = st->finish >= 0 && st->finish <= q->deadline;
		bool dropped = st->dropped >= 0;
		s->requests++;
		s->met += met;
		s->dropped += dropped;
		if (rs) {
			rs->requests++;
			rs->met += met;
			rs->dropped += dropped;
		}
		if (st->finish >= 0) {
			lat[s->finished++] = ts_ns_to_s(st->finish - q->arrival);
			lat_sum += lat[s->finished - 1];
		}
	}
	qsort(lat, (size_t)s->finished, sizeof(*lat), cmp_double);
	s->lat_p50_s = ts_percentile_sorted(lat, (size_t)s->finished, 50);
	s->lat_p95_s = ts_percentile_sorted(lat, (size_t)s->finished, 95);
	s->lat_p99_s = ts_percentile_sorted(lat, (size_t)s->finished, 99);
	s->lat_mean_s = s->finished ? lat_sum / (double)s->finished : NAN;
	free(lat);
	s->sar = s->requests ? (double)s->met / (double)s->requests : NAN;
	qsort(s->res, (size_t)s->nres, sizeof(s->res[0]), cmp_res);
	for (int i = 0; i < s->nres; i++)
		s->res[i].sar = (double)s->res[i].met / (double)s->res[i].requests;
	s->makespan_s = ts_ns_to_s(res->makespan);
	s->gpu_util = res->makespan > 0 ? (double)res->busy_gpu_ns / ((double)gpus * (double)res->makespan) : 0;
	s->launches = res->launches;
	s->moves = res->moves;
	s->rounds = res->rounds;
	s->window_misses = res->window_misses;
	s->first_miss = res->first_miss;
	return 0;
}

/* JSON null for a NaN (no finished request), else the number. */
static json_t *num_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *by_resolution_json(const struct ts_summary *s)
{
	json_t *obj = json_object();
	for (int i = 0; obj && i < s->nres; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%dx%d", s->res[i].height, s->res[i].width);
		json_object_set_new(obj, name, json_pack("{s:I, s:I, s:I, s:o}", "requests",
							 (json_int_t)s->res[i].requests, "met",
							 (json_int_t)s->res[i].met, "dropped",
							 (json_int_t)s->res[i].dropped, "sar",
							 num_or_null(s->res[i].sar)));
	}
	return obj;
}

/* The first window miss as JSON, null when there was none. */
static json_t *window_miss_json(const struct ts_summary *s)
{
	const struct ts_window_miss *m = &s->first_miss;
	if (s->window_misses == 0)
		return json_null();
	return json_pack("{s:I, s:i, s:i, s:I, s:f, s:f, s:f, s:f}", "request", (json_int_t)m->request_id,
			 "first_step", m->first_step, "steps", m->nsteps, "gpus", (json_int_t)m->gpus,
			 "start_s", ts_ns_to_s(m->start), "issued_s", ts_ns_to_s(m->issued), "observed_ms",
			 (double)m->observed / 1e6, "modelled_ms", (double)m->modelled / 1e6);
}

json_t *ts_summary_to_json(const struct ts_summary *s, const char *policy)
{
	return json_pack("{s:s?, s:I, s:I, s:I, s:I, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:o, s:o, s:I, s:I, s:I, s:I, "
			 "s:I, s:o}",
			 "policy", policy, "requests", (json_int_t)s->requests, "finished",
			 (json_int_t)s->finished, "met", (json_int_t)s->met, "dropped",
			 (json_int_t)s->dropped, "sar", num_or_null(s->sar),
			 "sar_by_resolution", by_resolution_json(s), "latency_s", "p50",
			 num_or_null(s->lat_p50_s), "p95", num_or_null(s->lat_p95_s), "p99",
			 num_or_null(s->lat_p99_s), "mean", num_or_null(s->lat_mean_s),
			 "gpu_utilisation", num_or_null(s->gpu_util), "makespan_s",
			 num_or_null(s->makespan_s), "launches", (json_int_t)s->launches,
			 "latent_moves", (json_int_t)s->moves, "rounds", (json_int_t)s->rounds,
			 "modelled_cells", (json_int_t)s->modelled_cells, "window_misses",
			 (json_int_t)s->window_misses, "first_window_miss", window_miss_json(s));
}

/* A number member of JSON object o, NaN when absent or not a number. */
static double member_number(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

bool ts_summary_window_misses(const char *summary_json, int64_t *n, struct ts_window_miss *first)
{
	json_t *o = summary_json ? json_loads(summary_json, 0, NULL) : NULL;
	const json_t *count = json_object_get(o, "window_misses");
	const json_t *m = json_object_get(o, "first_window_miss");
	*n = json_is_integer(count) ? json_integer_value(count) : 0;
	double issued = member_number(m, "issued_s"), observed = member_number(m, "observed_ms");
	double modelled = member_number(m, "modelled_ms");
	bool ok = *n > 0 && json_is_object(m) && issued >= 0 && observed >= 0 && modelled > 0;
	if (ok)
		*first = (struct ts_window_miss){
			.request_id = json_integer_value(json_object_get(m, "request")),
			.first_step = (int32_t)json_integer_value(json_object_get(m, "first_step")),
			.nsteps = (int32_t)json_integer_value(json_object_get(m, "steps")),
			.gpus = (uint64_t)json_integer_value(json_object_get(m, "gpus")),
			.start = llround(member_number(m, "start_s") * 1e9), .issued = llround(issued * 1e9),
			.observed = llround(observed * 1e6), .modelled = llround(modelled * 1e6) };
	json_decref(o);
	return ok;
}

char *ts_json_text(json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	return text;
}

void ts_summary_print_header(FILE *f, const struct ts_summary *s, int policy_width)
{
	fprintf(f, "%-*s %6s %6s %6s %6s", policy_width, "policy", "reqs", "met", "drop", "SAR");
	for (int i = 0; i < s->nres; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%dx%d", s->res[i].height, s->res[i].width);
		fprintf(f, " %9s", name);
	}
	fprintf(f, " %8s %8s %8s %6s\n", "p50 s", "p95 s", "p99 s", "util");
}

void ts_summary_print_row(FILE *f, const struct ts_summary *s, const char *policy, int policy_width)
{
	fprintf(f, "%-*s %6lld %6lld %6lld %6.3f", policy_width, policy, (long long)s->requests,
		(long long)s->met, (long long)s->dropped, s->sar);
	for (int i = 0; i < s->nres; i++)
		fprintf(f, " %9.3f", s->res[i].sar);
	fprintf(f, " %8.3f %8.3f %8.3f %5.1f%%\n", s->lat_p50_s, s->lat_p95_s, s->lat_p99_s,
		100.0 * s->gpu_util);
}
