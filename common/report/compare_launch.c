/* compare_launch.c: the launches of two runs side by side (see compare.h):
 * where the schedules differ, which launches of run b (the hardware run)
 * ran outside the driver's window, and why a request differs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/gpuset.h"
#include "driver/timing.h"
#include "report/compare_internal.h"
#include "report/summary.h"

struct launch_reader {
	struct vec v;              /* of struct ts_cmp_launch */
	const struct vec *sizes;   /* request rows by id */
	bool has_move;             /* the segment just read was a move of: */
	int64_t move_req;
	int32_t move_first;
	ts_ns move;
};

static int push_launch(void *ctx, const struct ts_segment *s, struct ts_error *err)
{
	struct launch_reader *lr = ctx;
	if (s->kind == TS_SEG_MOVE) {
		lr->has_move = true;
		lr->move_req = s->request_id;
		lr->move_first = s->first_step;
		lr->move = s->end - s->start;
		return 0;
	}
	if (s->kind != TS_SEG_STEPS)
		return 0;
	struct ts_cmp_launch *l = vec_push(&lr->v);
	if (!l)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading segments");
	struct ts_request_row key = { .request_id = s->request_id };
	const struct ts_request_row *q = bsearch(&key, lr->sizes->a, lr->sizes->n, lr->sizes->size,
						 ts_cmp_row_by_id);
	bool moved = lr->has_move && lr->move_req == s->request_id && lr->move_first == s->first_step;
	*l = (struct ts_cmp_launch){ .req = s->request_id, .height = q ? q->height : 0,
				     .width = q ? q->width : 0, .gpus = s->gpus, .first = s->first_step,
				     .nsteps = s->nsteps, .batch = s->batch, .start = s->start,
				     .end = s->end, .move = moved ? lr->move : 0 };
	lr->has_move = false;
	return 0;
}

static bool same_launch(const struct ts_cmp_launch *a, const struct ts_cmp_launch *b)
{
	return a->gpus == b->gpus && a->first == b->first && a->nsteps == b->nsteps;
}

/* Notes request r's first differing launch pair (either may be NULL). */
static int note_difference(struct ts_comparison *c, struct vec *diffs, int64_t r,
			   const struct ts_cmp_launch *a, const struct ts_cmp_launch *b, struct ts_error *err)
{
	struct ts_cmp_divergence *d = &c->div;
	struct ts_cmp_reqdiff *rd = vec_push(diffs);
	if (!rd)
		return ts_err_set(err, TS_ENOMEM, "out of memory comparing launches");
	*rd = (struct ts_cmp_reqdiff){ .req = r, .has_a = a != NULL, .has_b = b != NULL };
	if (a)
		rd->a = *a;
	if (b)
		rd->b = *b;
	ts_ns t = a && (!b || a->start < b->start) ? a->start : b->start;
	d->nreq++;
	if (t >= d->t)
		return 0;
	d->t = t;
	d->req = r;
	d->has_a = rd->has_a;
	d->has_b = rd->has_b;
	d->a = rd->a;
	d->b = rd->b;
	return 0;
}

/* Walks both runs' launches request by request (both lists sorted by
 * request, then step) and keeps each request's first difference and the
 * earliest of all. */
static int find_divergence(const struct vec *va, const struct vec *vb, struct ts_comparison *c,
			   struct ts_error *err)
{
	const struct ts_cmp_launch *s = va->a, *e = vb->a;
	size_t i = 0, j = 0, ns = va->n, ne = vb->n;
	struct vec diffs = { .size = sizeof(struct ts_cmp_reqdiff) };
	int rc = 0;
	c->div = (struct ts_cmp_divergence){ .t = INT64_MAX };
	while (!rc && (i < ns || j < ne)) {
		int64_t r = i < ns && (j >= ne || s[i].req <= e[j].req) ? s[i].req : e[j].req;
		for (; i < ns && s[i].req == r && j < ne && e[j].req == r; i++, j++)
			if (!same_launch(&s[i], &e[j]))
				break;
		const struct ts_cmp_launch *a = i < ns && s[i].req == r ? &s[i] : NULL;
		const struct ts_cmp_launch *b = j < ne && e[j].req == r ? &e[j] : NULL;
		if (a || b)
			rc = note_difference(c, &diffs, r, a, b, err);
		while (i < ns && s[i].req == r)
			i++;
		while (j < ne && e[j].req == r)
			j++;
	}
	c->diff = diffs.a;
	c->ndiff = diffs.n;
	return rc;
}

/* The cell of launch l in c->cell, NULL when no run stepped there. */
static const struct ts_cmp_cell *cell_of(const struct ts_comparison *c, const struct ts_cmp_launch *l)
{
	for (size_t i = 0; i < c->ncell; i++) {
		const struct ts_cmp_cell *k = &c->cell[i];
		if (k->height == l->height && k->width == l->width && k->degree == ts_gpus_count(l->gpus) &&
		    k->batch == l->batch)
			return k;
	}
	return NULL;
}

/* The time before which a cause must have ended: run b's first differing
 * launch (or the divergence), INT64_MAX when the schedules are the same. */
static ts_ns divergence_time(const struct ts_comparison *c)
{
	return !c->div.nreq ? INT64_MAX : c->div.has_b ? c->div.b.start : c->div.t;
}

/* Run b's launches outside the window, and the last of them that ended
 * before run b's first differing launch started. */
static void find_offwindow(struct ts_comparison *c)
{
	const struct ts_window w = { .abs_ns = TS_WINDOW_ABS_NS, .rel = TS_WINDOW_REL };
	struct ts_move_model mm;
	ts_move_model_defaults(&mm);
	ts_ns before = divergence_time(c);
	for (size_t i = 0; i < c->nlaunch_b; i++) {
		const struct ts_cmp_launch *l = &c->launch_b[i];
		const struct ts_cmp_cell *k = cell_of(c, l);
		if (!k || isnan(k->a_ms))
			continue;
		ts_ns modelled = llround(k->a_ms * 1e6 * l->nsteps) +
				 (l->move ? ts_move_ns(&mm, l->height, l->width) : 0);
		ts_ns observed = l->end - l->start + l->move;
		if (ts_window_holds(&w, modelled, observed))
			continue;
		c->offwindow++;
		if (l->end <= before && (!c->has_cause || l->end > c->cause.l.end)) {
			c->has_cause = true;
			c->cause = (struct ts_cmp_offwindow){ .l = *l, .observed_ms = (double)observed / 1e6,
							      .modelled_ms = (double)modelled / 1e6 };
		}
	}
}

/* The cause recorded by the driver of run b (the first window miss of its
 * stored summary), when the launches' durations named none and it ended
 * (on run b's clock, by the earlier of its observed and modelled ends) by
 * the divergence: the driver times a launch from issuing it, so it also
 * sees one the executor started late (a loaded host), which the segments
 * do not show. Its count is c->driver_misses (0 in files written before the
 * driver recorded misses). */
static int read_driver_misses(struct ts_reader *r, int64_t b, struct ts_comparison *c, struct ts_error *err)
{
	struct ts_run_row row = { 0 };
	struct ts_window_miss m;
	int rc = ts_reader_run(r, b, &row, err);
	bool ok = !rc && ts_summary_window_misses(row.summary, &c->driver_misses, &m);
	ts_run_row_free(&row);
	if (!ok || c->has_cause)
		return rc;
	ts_ns earlier_end = m.issued + (m.observed < m.modelled ? m.observed : m.modelled);
	if (earlier_end > divergence_time(c))
		return rc;
	c->has_cause = true;
	c->cause = (struct ts_cmp_offwindow){
		.l = { .req = m.request_id, .gpus = m.gpus, .first = m.first_step, .nsteps = m.nsteps,
		       .start = m.issued, .end = m.issued + m.observed },
		.observed_ms = (double)m.observed / 1e6, .modelled_ms = (double)m.modelled / 1e6,
		.issued = true };
	return rc;
}

int ts_cmp_launches(struct ts_reader *r, int64_t a, int64_t b, const struct vec *sizes,
		    struct ts_comparison *c, struct ts_error *err)
{
	struct launch_reader la = { .v = { .size = sizeof(struct ts_cmp_launch) }, .sizes = sizes };
	struct launch_reader lb = la;
	int rc = ts_reader_each_segment(r, a, TS_SEG_BY_REQUEST, push_launch, &la, err);
	if (!rc)
		rc = ts_reader_each_segment(r, b, TS_SEG_BY_REQUEST, push_launch, &lb, err);
	if (!rc)
		rc = find_divergence(&la.v, &lb.v, c, err);
	free(la.v.a);
	c->launch_b = lb.v.a;
	c->nlaunch_b = lb.v.n;
	if (!rc) {
		find_offwindow(c);
		rc = read_driver_misses(r, b, c, err);
	}
	return rc;
}

void ts_compare_launch_text(const struct ts_cmp_launch *l, bool has, char *buf, size_t len)
{
	char gpus[200];
	if (!has) {
		snprintf(buf, len, "no launch");
		return;
	}
	ts_gpus_format(l->gpus, gpus, sizeof(gpus));
	snprintf(buf, len, "%d steps from step %d on GPUs %s at %.4f s", l->nsteps, l->first, gpus,
		 ts_ns_to_s(l->start));
}

static int by_req(const void *x, const void *y)
{
	int64_t a = ((const struct ts_cmp_reqdiff *)x)->req, b = ((const struct ts_cmp_reqdiff *)y)->req;
	return (a > b) - (a < b);
}

/* Run b's launch of request id with the most steps, NULL when none. */
static const struct ts_cmp_launch *longest_launch(const struct ts_comparison *c, int64_t id)
{
	const struct ts_cmp_launch *best = NULL;
	for (size_t i = 0; i < c->nlaunch_b; i++)
		if (c->launch_b[i].req == id && (!best || c->launch_b[i].nsteps > best->nsteps))
			best = &c->launch_b[i];
	return best;
}

void ts_compare_cause_text(const struct ts_comparison *c, const struct ts_cmp_request *p, char *buf,
			   size_t len)
{
	struct ts_cmp_reqdiff key = { .req = p->id };
	const struct ts_cmp_reqdiff *d = c->ndiff ? bsearch(&key, c->diff, c->ndiff, sizeof(key), by_req) : NULL;
	char a[300], b[300];
	if (d) {
		ts_compare_launch_text(&d->a, d->has_a, a, sizeof(a));
		ts_compare_launch_text(&d->b, d->has_b, b, sizeof(b));
		snprintf(buf, len, "schedule: sim %s; exec %s", a, b);
		return;
	}
	const struct ts_cmp_launch *l = longest_launch(c, p->id);
	const struct ts_cmp_cell *k = l ? cell_of(c, l) : NULL;
	if (fabs(p->dx) >= fabs(p->dq) && k && !isnan(k->a_ms)) {
		snprintf(buf, len, "execution: its steps took %.1f ms %s in the exec run; %dx%d at SP %d batch %d: "
			 "sim %.2f ms, exec %.2f ms a step (%+.1f%%)", 1e3 * fabs(p->dx),
			 p->dx <= 0 ? "longer" : "less", k->height, k->width,
			 k->degree, k->batch, k->a_ms, k->b_ms, 100 * (k->b_ms - k->a_ms) / k->a_ms);
		return;
	}
	snprintf(buf, len, "queueing: it started %.4f s %s in the exec run (the launches before it on its "
		 "GPUs ended %s)", fabs(p->dq), p->dq <= 0 ? "later" : "earlier", p->dq <= 0 ? "later" : "earlier");
}
