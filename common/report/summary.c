/* summary.c: run summaries (see summary.h). */
#include "report/summary.h"

#include "core/ts_strbuf.h"

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
	double pos = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)floor(pos);
	size_t hi = lo + 1 < n ? lo + 1 : lo;
	double frac = pos - (double)lo;
	return v[lo] + (v[hi] - v[lo]) * frac;
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
		s->requests++;
		s->met += met;
		if (rs) {
			rs->requests++;
			rs->met += met;
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
	return 0;
}

int ts_summary_json(const struct ts_summary *s, const char *policy, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	ts_strbuf_printf(&sb, "{\"policy\":");
	ts_strbuf_json_str(&sb, policy);
	ts_strbuf_printf(&sb, ",\"requests\":%lld,\"finished\":%lld,\"met\":%lld,\"sar\":",
			 (long long)s->requests, (long long)s->finished, (long long)s->met);
	ts_strbuf_json_num(&sb, s->sar);
	ts_strbuf_printf(&sb, ",\"sar_by_resolution\":{");
	for (int i = 0; i < s->nres; i++) {
		ts_strbuf_printf(&sb, "%s\"%dx%d\":{\"requests\":%lld,\"met\":%lld,\"sar\":", i ? "," : "",
				 s->res[i].height, s->res[i].width, (long long)s->res[i].requests,
				 (long long)s->res[i].met);
		ts_strbuf_json_num(&sb, s->res[i].sar);
		ts_strbuf_printf(&sb, "}");
	}
	ts_strbuf_printf(&sb, "},\"latency_s\":{\"p50\":");
	ts_strbuf_json_num(&sb, s->lat_p50_s);
	ts_strbuf_printf(&sb, ",\"p95\":");
	ts_strbuf_json_num(&sb, s->lat_p95_s);
	ts_strbuf_printf(&sb, ",\"p99\":");
	ts_strbuf_json_num(&sb, s->lat_p99_s);
	ts_strbuf_printf(&sb, ",\"mean\":");
	ts_strbuf_json_num(&sb, s->lat_mean_s);
	ts_strbuf_printf(&sb, "},\"gpu_utilisation\":");
	ts_strbuf_json_num(&sb, s->gpu_util);
	ts_strbuf_printf(&sb, ",\"makespan_s\":");
	ts_strbuf_json_num(&sb, s->makespan_s);
	ts_strbuf_printf(&sb, ",\"launches\":%lld,\"latent_moves\":%lld,\"rounds\":%lld}",
			 (long long)s->launches, (long long)s->moves, (long long)s->rounds);
	return (int)sb.len;
}

void ts_summary_print_header(FILE *f, const struct ts_summary *s)
{
	fprintf(f, "%-22s %6s %6s %6s", "policy", "reqs", "met", "SAR");
	for (int i = 0; i < s->nres; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%dx%d", s->res[i].height, s->res[i].width);
		fprintf(f, " %9s", name);
	}
	fprintf(f, " %8s %8s %8s %6s\n", "p50 s", "p95 s", "p99 s", "util");
}

void ts_summary_print_row(FILE *f, const struct ts_summary *s, const char *policy)
{
	fprintf(f, "%-22s %6lld %6lld %6.3f", policy, (long long)s->requests, (long long)s->met, s->sar);
	for (int i = 0; i < s->nres; i++)
		fprintf(f, " %9.3f", s->res[i].sar);
	fprintf(f, " %8.3f %8.3f %8.3f %5.1f%%\n", s->lat_p50_s, s->lat_p95_s, s->lat_p99_s,
		100.0 * s->gpu_util);
}
