/* rssp.c: resolution-specific static SP (RSSP): each resolution its own
 * degree, one strictly ordered queue (baseline_queue.h). */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/baseline_queue.h"
#include "sched/baselines.h"

#define RSSP_MAX_ENTRIES 32

struct rssp_opts {
	char *map;
	int order;
	int late;
};

static const struct ts_policy_option rssp_options[] = {
	{ .key = "map", .kind = TS_OPT_TEXT, .offset = offsetof(struct rssp_opts, map),
	  .def = "256/1+512/1+1024/2+2048/8", .positional = true,
	  .help = "degree per resolution: S/k (square side S) or HxW/k items joined by '+' "
		  "(today's S=k items joined by ',' also read)" },
	{ .key = "order", .kind = TS_OPT_CHOICE, .offset = offsetof(struct rssp_opts, order),
	  .choices = ts_bq_order_names, .def = "fcfs",
	  .help = "queue order: arrival (fcfs) or earliest deadline first (edf; ties by arrival)" },
	{ .key = "late", .kind = TS_OPT_CHOICE, .offset = offsetof(struct rssp_opts, late),
	  .choices = ts_bq_late_names, .def = "serve",
	  .help = "a request that cannot make its deadline when it is about to start: serve it, "
		  "defer it (one step at a time when nobody waits) or drop it" },
	{ 0 },
};

static const struct ts_policy_flag rssp_flags[] = {
	{ "rssp-map", "map=", true, "rssp: resolution to degree map (see rssp's map option)" },
	{ 0 },
};

struct rssp_entry {
	int32_t h, w;
	int degree;
};

struct rssp {
	struct rssp_opts o;
	int *degree;          /* per class */
	struct ts_bq q;
	char *desc;           /* JSON of the options and the degree of every class */
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

/* Parses one "S/k" or "HxW/k" item (or "S=k", "HxW=k") at *p, advancing
 * *p past it. */
static bool rssp_read_entry(const char **p, struct rssp_entry *e)
{
	if (!rssp_read_int(p, &e->h))
		return false;
	e->w = e->h;
	if (**p == 'x' && (++*p, !rssp_read_int(p, &e->w)))
		return false;
	return (**p == '/' || **p == '=') && (++*p, rssp_read_int(p, &e->degree));
}

/* Checks entry i against the entries before it. */
static int rssp_check_entry(const char *map, const struct rssp_entry *e, int i, const char *item,
			    struct ts_error *err)
{
	if (ts_deg_index(e[i].degree) < 0)
		return ts_err_set(err, TS_EINVAL,
				  "rssp map '%s': entry at '%s' needs a power-of-two degree", map, item);
	for (int j = 0; j < i; j++)
		if (e[j].h == e[i].h && e[j].w == e[i].w)
			return ts_err_set(err, TS_EINVAL, "rssp map '%s': %dx%d appears twice", map,
					  e[i].h, e[i].w);
	return 0;
}

/* Parses items joined by '+' (or ','), no separator at either end. */
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
					  "rssp map '%s': cannot parse entry at '%s' (expected S/k or HxW/k, numbers 1..65536)",
					  map, item);
		int rc = rssp_check_entry(map, e, (*n)++, item, err);
		if (rc)
			return rc;
		if ((*p == ',' || *p == '+') && p[1])
			p++;
		else if (*p)
			return ts_err_set(err, TS_EINVAL, "rssp map '%s': unexpected '%s'", map, p);
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

/* The description: the options and the degree each class got. */
static char *rssp_describe_alloc(const struct rssp *p, const struct ts_classes *cs)
{
	json_t *degrees = json_object();
	for (int32_t c = 0; degrees && c < cs->n; c++) {
		char name[32];
		snprintf(name, sizeof(name), "%dx%d", cs->cls[c].height, cs->cls[c].width);
		json_object_set_new(degrees, name, json_integer(p->degree[c]));
	}
	return ts_policy_describe_json(rssp_options, &p->o, json_pack("{s:o}", "degrees", degrees));
}

/* Each class's degree by the map, checked against the profile. */
static int rssp_set_degrees(struct rssp *p, const struct rssp_entry *e, int n,
			    const struct ts_policy_env *env, struct ts_error *err)
{
	for (int32_t c = 0; c < env->cls->n; c++) {
		const struct ts_class *cl = &env->cls->cls[c];
		p->degree[c] = rssp_degree_for(e, n, cl->height, cl->width, env->gpus);
		int rc = ts_classes_require(env->cls, c, p->degree[c], err);
		if (rc)
			return ts_err_prefix(err, "its map '%s' puts %dx%d on SP %d, so give the map "
					     "degrees the profile has (--rssp-map or :map=, e.g. "
					     "256/1+512/1+1024/2+2048/4) or measure that cell",
					     p->o.map, cl->height, cl->width, p->degree[c]);
	}
	return 0;
}

static int rssp_init(void **self, const char *params, const struct ts_policy_env *env,
		     struct ts_error *err)
{
	struct rssp_entry e[RSSP_MAX_ENTRIES];
	int n, rc;
	struct rssp *p = calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	rc = ts_spec_parse_options("rssp", rssp_options, params, &p->o, err);
	if (rc)
		goto out_free_p;
	rc = rssp_parse_map(p->o.map, e, &n, err);
	if (rc)
		goto out_free_opts;
	p->degree = calloc((size_t)env->cls->n + 1, sizeof(*p->degree));
	if (!p->degree) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out_free_opts;
	}
	rc = rssp_set_degrees(p, e, n, env, err);
	if (!rc)
		rc = ts_bq_init(&p->q, p->o.order, p->o.late, env->trace->n, err);
	if (!rc && !(p->desc = rssp_describe_alloc(p, env->cls)))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	if (rc)
		goto out_free_degree;
	*self = p;
	return 0;

out_free_degree:
	ts_bq_free(&p->q);
	free(p->degree);
out_free_opts:
	ts_spec_options_free(rssp_options, &p->o);
out_free_p:
	free(p);
	return rc;
}

static void rssp_on_arrival(void *self, const struct ts_sched_view *v, int32_t r)
{
	ts_bq_arrive(&((struct rssp *)self)->q, v, r);
}

static void rssp_on_launch_end(void *self, const struct ts_sched_view *v, int32_t r)
{
	ts_bq_launch_end(&((struct rssp *)self)->q, v, r);
}

static int rssp_degree(const void *self, const struct ts_sched_view *v, int32_t r)
{
	return ((const struct rssp *)self)->degree[v->req[r].cls];
}

static int rssp_plan(void *self, const struct ts_sched_view *v, struct ts_plan *out,
		     struct ts_error *err)
{
	struct rssp *p = self;
	return ts_bq_plan(&p->q, v, rssp_degree, p, out, err);
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
	ts_bq_free(&p->q);
	ts_spec_options_free(rssp_options, &p->o);
	free(p->desc);
	free(p->degree);
	free(p);
}

const struct ts_policy_ops ts_policy_rssp = {
	.name = "rssp",
	.summary = "resolution-specific static degree (RSSP), strict FCFS",
	.options = rssp_options,
	.flags = rssp_flags,
	.init = rssp_init,
	.on_arrival = rssp_on_arrival,
	.on_launch_end = rssp_on_launch_end,
	.plan = rssp_plan,
	.describe = rssp_describe,
	.close = rssp_close,
};
