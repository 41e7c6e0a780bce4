/* rssp.c: resolution-specific static SP (RSSP), strict FCFS. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ts_strbuf.h"
#include "sched/baselines.h"
#include "sched/queue.h"

#define RSSP_DEFAULT_MAP "256=1,512=1,1024=2,2048=8"
#define RSSP_MAX_ENTRIES 32

struct rssp_entry {
	int32_t h, w;
	int degree;
};

struct rssp {
	int gpus;
	int *degree;          /* per class */
	struct ts_fifo fifo;
	int oom;
	char *desc;           /* JSON of the map and the degree of every class */
};

/* Reads a whole number in 1..65536 at *p, advancing *p past it. */
static bool rssp_read_int(const char **p, int *out)
{
	char *end;
	long v = strtol(*p, &end, 10);
	if (end == *p || v < 1 || v > 65536)
		return false;
	*p = end;
	*out = (int)v;
	return true;
}

/* Parses one "S=k" or "HxW=k" item at *p, advancing *p past it. */
static bool rssp_read_entry(const char **p, struct rssp_entry *e)
{
	if (!rssp_read_int(p, &e->h))
		return false;
	e->w = e->h;
	if (**p == 'x' && (++*p, !rssp_read_int(p, &e->w)))
		return false;
	return **p == '=' && (++*p, rssp_read_int(p, &e->degree));
}

/* Parses "S=k" or "HxW=k" items separated by commas. */
static int rssp_parse_map(const char *map, struct rssp_entry *e, int *n, struct ts_error *err)
{
	*n = 0;
	const char *p = map;
	while (*p) {
		const char *item = p;
		if (*n == RSSP_MAX_ENTRIES)
			return ts_err_set(err, TS_EINVAL, "rssp map '%s': more than %d entries", map,
					  RSSP_MAX_ENTRIES);
		if (!rssp_read_entry(&p, &e[*n]))
			return ts_err_set(err, TS_EINVAL,
					  "rssp map '%s': cannot parse entry at '%s' (expected S=k or HxW=k, numbers 1..65536)",
					  map, item);
		if (ts_deg_index(e[*n].degree) < 0)
			return ts_err_set(err, TS_EINVAL,
					  "rssp map '%s': entry at '%s' needs a power-of-two degree", map, item);
		(*n)++;
		if (*p == ',')
			p++;
		else if (*p)
			return ts_err_set(err, TS_EINVAL, "rssp map '%s': unexpected '%c'", map, *p);
	}
	if (*n == 0)
		return ts_err_set(err, TS_EINVAL, "rssp map is empty");
	return 0;
}

/* Degree for a resolution: the exact entry, else the entry nearest in
 * log(token count); capped at the largest power of two <= gpus. */
static int rssp_degree_for(const struct rssp_entry *e, int n, int32_t h, int32_t w, int gpus)
{
	int best = 0;
	double best_dist = INFINITY;
	for (int i = 0; i < n; i++) {
		double dist = fabs(log((double)e[i].h * e[i].w) - log((double)h * w));
		if (dist < best_dist) {
			best_dist = dist;
			best = i;
		}
	}
	int k = e[best].degree;
	while (k > gpus)
		k >>= 1;
	return k;
}

static void rssp_write_desc(struct ts_strbuf *sb, const char *map, const struct ts_classes *cs,
			    const int *degree)
{
	ts_strbuf_printf(sb, "{\"map\":");
	ts_strbuf_json_str(sb, map);
	ts_strbuf_printf(sb, ",\"degrees\":{");
	for (int32_t c = 0; c < cs->n; c++)
		ts_strbuf_printf(sb, "%s\"%dx%d\":%d", c ? "," : "", cs->cls[c].height, cs->cls[c].width,
				 degree[c]);
	ts_strbuf_printf(sb, "}}");
}

/* The description, sized to fit however many classes there are (a cut
 * JSON text would be refused by the results store). NULL when out of memory. */
static char *rssp_describe_alloc(const char *map, const struct ts_classes *cs, const int *degree)
{
	char probe[1];
	struct ts_strbuf sb = ts_strbuf_init(probe, sizeof(probe));
	rssp_write_desc(&sb, map, cs, degree);
	char *buf = malloc(sb.len + 1);
	if (!buf)
		return NULL;
	sb = ts_strbuf_init(buf, sb.len + 1);
	rssp_write_desc(&sb, map, cs, degree);
	return buf;
}

static int rssp_init(void **self, const char *params, const struct ts_policy_env *env,
		     struct ts_error *err)
{
	const char *map = params && *params ? params : env->rssp_map ? env->rssp_map : RSSP_DEFAULT_MAP;
	struct rssp_entry e[RSSP_MAX_ENTRIES];
	int n, rc = rssp_parse_map(map, e, &n, err);
	if (rc)
		return rc;
	struct rssp *p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	p->gpus = env->gpus;
	p->degree = calloc((size_t)env->cls->n + 1, sizeof(*p->degree));
	if (!p->degree) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out_free_p;
	}
	for (int32_t c = 0; c < env->cls->n; c++) {
		const struct ts_class *cl = &env->cls->cls[c];
		p->degree[c] = rssp_degree_for(e, n, cl->height, cl->width, env->gpus);
		rc = ts_classes_require(env->cls, c, p->degree[c], err);
		if (rc)
			goto out_free_degree;
	}
	p->desc = rssp_describe_alloc(map, env->cls, p->degree);
	if (!p->desc) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out_free_degree;
	}
	*self = p;
	return 0;

out_free_degree:
	free(p->degree);
out_free_p:
	free(p);
	return rc;
}

static void rssp_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	struct rssp *p = self;
	(void)v;
	if (ts_fifo_push(&p->fifo, r))
		p->oom = 1;
}

static int rssp_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		     struct ts_error *err)
{
	struct rssp *p = self;
	if (p->oom)
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing requests");
	uint64_t busy = v->busy;
	out->wake_at = -1;
	while (p->fifo.len) {
		int32_t r = ts_fifo_peek(&p->fifo);
		int k = p->degree[v->req[r].cls];
		uint64_t block = ts_free_aligned_block(busy, p->gpus, k);
		if (!block)
			break; /* strict FCFS: nobody overtakes the head */
		int rc = ts_plan_whole_request(out, v, ts_fifo_pop(&p->fifo), block, err);
		if (rc)
			return rc;
		busy |= block;
	}
	return 0;
}

static const char *rssp_describe(void *self)
{
	return ((struct rssp *)self)->desc;
}

static void rssp_close(void *self)
{
	struct rssp *p = self;
	if (!p)
		return;
	ts_fifo_free(&p->fifo);
	free(p->desc);
	free(p->degree);
	free(p);
}

const struct ts_policy_ops ts_policy_rssp = {
	.name = "rssp",
	.init = rssp_init,
	.on_arrival = rssp_on_arrival,
	.plan = rssp_plan,
	.describe = rssp_describe,
	.close = rssp_close,
};
