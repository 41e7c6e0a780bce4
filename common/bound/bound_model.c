/* bound_model.c: builds the MILP of one component (docs/BOUND.md, "The
 * model"). Time in the model is in milliseconds (doubles); every capacity
 * right-hand side gets EPS_MS of slack so that rounding in the conversion
 * can only loosen the model, never cut off a real schedule. */
#include "bound/bound_model.h"

#include <stdlib.h>
#include <string.h>

#include "sched/policy.h"

#define EPS_MS 1e-6 /* 1 ns */

/* ---- the builder ----------------------------------------------------------- */

/* Working state of one build. x[] holds, per request i, a block of
 * TS_BMODES x win(i) column indices (-1: none) starting at xoff[i]; w[] per
 * local class, TS_BMODES x nint. */
struct build {
	struct ts_bmodel *m;
	const struct ts_request *reqs;
	const struct ts_classes *cs;
	const int32_t *req;
	int nreq, gpus;
	bool no_cuts, integer_steps;
	int *t0, *t1;        /* per request: its intervals t0..t1-1 */
	int *xoff;           /* per request: offset of its block in x */
	int *x;
	int *ncol;           /* per request x mode: its step-count column, -1 */
	int *lcls;           /* per request: local class index */
	int nlcls;
	int *gcls;           /* per local class: global class index */
	int *w;              /* per local class x mode x interval: batch column, -1 */
	int *active;         /* per local class x interval: requests of it in their window */
	int *pool;           /* per local class x interval: possible batch members (arrived) */
	int64_t *ext_steps;  /* per local class: steps of those outside (partner budget) */
	int *q;              /* per local class x mode x interval: partners column, -1 */
	size_t ntrace;
};

static int cmp_ns(const void *a, const void *b)
{
	ts_ns x = *(const ts_ns *)a, y = *(const ts_ns *)b;
	return (x > y) - (x < y);
}

/* Interval boundaries: every arrival and deadline, sorted and unique, then
 * gaps longer than slot_ns cut into equal pieces. */
static int build_points(struct build *b, ts_ns slot_ns)
{
	int n = 2 * b->nreq;
	ts_ns *p = malloc((size_t)n * sizeof(*p));
	if (!p)
		return TS_ENOMEM;
	for (int i = 0; i < b->nreq; i++) {
		p[2 * i] = b->reqs[b->req[i]].arrival;
		p[2 * i + 1] = b->reqs[b->req[i]].deadline;
	}
	qsort(p, (size_t)n, sizeof(*p), cmp_ns);
	int u = 0;
	for (int i = 0; i < n; i++)
		if (!u || p[i] != p[u - 1])
			p[u++] = p[i];
	int64_t total = u;
	for (int i = 0; slot_ns > 0 && i + 1 < u; i++)
		total += (p[i + 1] - p[i] - 1) / slot_ns;
	ts_ns *q = malloc((size_t)total * sizeof(*q));
	if (!q) {
		free(p);
		return TS_ENOMEM;
	}
	int k = 0;
	for (int i = 0; i < u; i++) {
		q[k++] = p[i];
		if (slot_ns <= 0 || i + 1 == u)
			continue;
		int64_t pieces = (p[i + 1] - p[i] - 1) / slot_ns + 1;
		for (int64_t j = 1; j < pieces; j++)
			q[k++] = p[i] + (p[i + 1] - p[i]) * j / pieces;
	}
	free(p);
	b->m->tpt = q;
	b->m->nint = k - 1;
	return 0;
}

/* Index of time v among the boundaries (present by construction). */
static int point_index(const struct ts_bmodel *m, ts_ns v)
{
	int lo = 0, hi = m->nint;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (m->tpt[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static double len_ms(const struct ts_bmodel *m, int t)
{
	return (double)(m->tpt[t + 1] - m->tpt[t]) / 1e6;
}

/* Step time of mode mo for global class c in ms, or -1 when the mode is not
 * usable on `gpus` GPUs. */
static double mode_ms(const struct build *b, int c, int mo)
{
	int k = 1 << (mo % TS_NDEG), bs = 1 << (mo / TS_NDEG);
	if (k > b->gpus)
		return -1;
	ts_ns t = ts_class_step(b->cs, c, k, bs);
	return t > 0 ? (double)t / 1e6 : -1;
}

/* Requests outside the component that may join its batches as partners
 * (they then miss their deadline): per local class and interval those
 * arrived before the interval ends join the pool; their steps the budget. */
static int count_outside(struct build *b)
{
	int ni = b->m->nint;
	size_t size = b->ntrace; /* a caller may pass only the component (ntrace 0) */
	for (int i = 0; i < b->nreq; i++)
		if ((size_t)b->req[i] >= size)
			size = (size_t)b->req[i] + 1;
	bool *member = calloc(size ? size : 1, sizeof(bool));
	if (!member)
		return TS_ENOMEM;
	for (int i = 0; i < b->nreq; i++)
		member[b->req[i]] = true;
	for (size_t j = 0; j < b->ntrace; j++) {
		const struct ts_request *r = &b->reqs[j];
		int l = 0;
		while (l < b->nlcls && b->gcls[l] != r->cls)
			l++;
		if (member[j] || l == b->nlcls || r->arrival >= b->m->tpt[ni])
			continue;
		b->ext_steps[l] += r->steps;
		for (int t = 0; t < ni; t++)
			b->pool[l * ni + t] += r->arrival < b->m->tpt[t + 1];
	}
	free(member);
	return 0;
}

/* Local classes, windows, per-class activity per interval. */
static int build_index(struct build *b)
{
	int n = b->nreq, ni = b->m->nint;
	b->t0 = malloc((size_t)n * sizeof(int));
	b->t1 = malloc((size_t)n * sizeof(int));
	b->lcls = malloc((size_t)n * sizeof(int));
	b->gcls = malloc((size_t)n * sizeof(int));
	if (!b->t0 || !b->t1 || !b->lcls || !b->gcls)
		return TS_ENOMEM;
	for (int i = 0; i < n; i++) {
		const struct ts_request *r = &b->reqs[b->req[i]];
		b->t0[i] = point_index(b->m, r->arrival);
		b->t1[i] = point_index(b->m, r->deadline);
		int l = 0;
		while (l < b->nlcls && b->gcls[l] != r->cls)
			l++;
		if (l == b->nlcls)
			b->gcls[b->nlcls++] = r->cls;
		b->lcls[i] = l;
	}
	size_t cells = (size_t)b->nlcls * (size_t)ni;
	b->active = calloc(cells ? cells : 1, sizeof(int));
	b->pool = calloc(cells ? cells : 1, sizeof(int));
	b->ext_steps = calloc((size_t)b->nlcls, sizeof(int64_t));
	if (!b->active || !b->pool || !b->ext_steps)
		return TS_ENOMEM;
	for (int i = 0; i < n; i++) {
		for (int t = b->t0[i]; t < b->t1[i]; t++)
			b->active[b->lcls[i] * ni + t]++;
		for (int t = b->t0[i]; t < ni; t++)
			b->pool[b->lcls[i] * ni + t]++;
	}
	return count_outside(b);
}

/* True when request i may run mode mo in interval t: the mode has a cell,
 * and for a batch of bs, at least bs requests of its class are there. */
static bool mode_ok(const struct build *b, int i, int mo, int t)
{
	int bs = 1 << (mo / TS_NDEG);
	if (mode_ms(b, b->reqs[b->req[i]].cls, mo) < 0)
		return false;
	return bs == 1 || b->pool[b->lcls[i] * b->m->nint + t] >= bs;
}

static int *xat(const struct build *b, int i, int mo, int t)
{
	int win = b->t1[i] - b->t0[i];
	return &b->x[b->xoff[i] + mo * win + (t - b->t0[i])];
}

/* Counts the x columns and checks the size limit before anything big is
 * allocated; then allocates x[] and ncol[]. */
static int size_check(struct build *b, int64_t max_cols, struct ts_error *err)
{
	int64_t cols = 0, cells = 0;
	b->xoff = malloc((size_t)b->nreq * sizeof(int));
	if (!b->xoff)
		return ts_err_set(err, TS_ENOMEM, "out of memory building the bound model");
	for (int i = 0; i < b->nreq; i++) {
		b->xoff[i] = (int)cells;
		cells += (int64_t)TS_BMODES * (b->t1[i] - b->t0[i]);
		for (int mo = 0; mo < TS_BMODES; mo++)
			for (int t = b->t0[i]; t < b->t1[i]; t++)
				cols += mode_ok(b, i, mo, t);
	}
	int64_t qcells = (int64_t)TS_BMODES * b->m->nint * b->nlcls;
	if (cols > max_cols || cells > INT32_MAX / 2 || qcells > INT32_MAX / 2)
		return ts_err_set(err, TS_ERANGE,
				  "instance too large: a component of %d requests in %d intervals needs %lld "
				  "columns (limit %lld): use a shorter trace or raise the limit",
				  b->nreq, b->m->nint, (long long)cols, (long long)max_cols);
	b->x = malloc((size_t)(cells ? cells : 1) * sizeof(int));
	b->ncol = malloc((size_t)b->nreq * TS_BMODES * sizeof(int));
	b->w = malloc((size_t)b->nlcls * TS_BMODES * (size_t)b->m->nint * sizeof(int));
	b->q = malloc((size_t)(qcells ? qcells : 1) * sizeof(int));
	if (!b->x || !b->ncol || !b->w || !b->q)
		return ts_err_set(err, TS_ENOMEM, "out of memory building the bound model");
	memset(b->q, 0xff, (size_t)qcells * sizeof(int));
	memset(b->x, 0xff, (size_t)cells * sizeof(int));
	memset(b->ncol, 0xff, (size_t)b->nreq * TS_BMODES * sizeof(int));
	memset(b->w, 0xff, (size_t)b->nlcls * TS_BMODES * (size_t)b->m->nint * sizeof(int));
	return 0;
}

/* Columns z_i, x_{i,m,t} and n_{i,m} of every request, with rows
 * (1) sum_m n_{i,m} = S_i z_i and (2) sum_t x_{i,m,t} = T_m n_{i,m}. */
static int add_request_cols(struct build *b, int i)
{
	struct ts_bmodel *m = b->m;
	const struct ts_request *r = &b->reqs[b->req[i]];
	int z = ts_bmodel_add_col(m, 0, 1, 1, TS_BCOL_BIN, i, -1);
	int steps = ts_bmodel_add_row(m, TS_BROW_EQ, 0);
	if (z < 0 || steps < 0 || ts_bmodel_add_coef(m, steps, z, -(double)r->steps))
		return TS_ENOMEM;
	m->zcol[i] = z;
	for (int mo = 0; mo < TS_BMODES; mo++) {
		double tm = mode_ms(b, r->cls, mo);
		if (tm < 0)
			continue;
		int row = -1;
		for (int t = b->t0[i]; t < b->t1[i]; t++) {
			if (!mode_ok(b, i, mo, t))
				continue;
			if (row < 0 && (row = ts_bmodel_add_row(m, TS_BROW_EQ, 0)) < 0)
				return TS_ENOMEM;
			int j = ts_bmodel_add_col(m, 0, len_ms(m, t) + EPS_MS, 0, TS_BCOL_CONT, i, t);
			if (j < 0 || ts_bmodel_add_coef(m, row, j, 1))
				return TS_ENOMEM;
			*xat(b, i, mo, t) = j;
		}
		if (row < 0)
			continue;
		int n = ts_bmodel_add_col(m, 0, r->steps, 0, b->integer_steps ? TS_BCOL_INT : TS_BCOL_CONT, i, -1);
		if (n < 0 || ts_bmodel_add_coef(m, row, n, -tm) || ts_bmodel_add_coef(m, steps, n, 1))
			return TS_ENOMEM;
		b->ncol[i * TS_BMODES + mo] = n;
	}
	return 0;
}

static int *qat(const struct build *b, int l, int mo, int t)
{
	return &b->q[((size_t)l * TS_BMODES + (size_t)mo) * (size_t)b->m->nint + (size_t)t];
}

/* (3) a request runs at most once at a time: sum_m x_{i,m,t} <= L_t. */
static int add_exclusive_rows(struct build *b, int i)
{
	for (int t = b->t0[i]; t < b->t1[i]; t++) {
		int row = ts_bmodel_add_row(b->m, TS_BROW_LE, len_ms(b->m, t) + EPS_MS);
		if (row < 0)
			return TS_ENOMEM;
		for (int mo = 0; mo < TS_BMODES; mo++) {
			int j = *xat(b, i, mo, t);
			if (j >= 0 && ts_bmodel_add_coef(b->m, row, j, 1))
				return TS_ENOMEM;
		}
	}
	return 0;
}

/* A column of coefficient 1 in the batch balance row `row`, at most cap
 * times the batch column w. */
static int add_member(struct build *b, int row, int col, int w, double cap)
{
	int le = ts_bmodel_add_row(b->m, TS_BROW_LE, 0);
	if (le < 0 || ts_bmodel_add_coef(b->m, row, col, 1) || ts_bmodel_add_coef(b->m, le, col, 1) || ts_bmodel_add_coef(b->m, le, w, -cap))
		return TS_ENOMEM;
	return 0;
}

/* (5) batches of class l, batch mode mo, interval t: w = time such batches
 * run; each holds bs requests, at least one meeting its deadline:
 * sum_i x_{i,mo,t} + q_{l,mo,t} = bs w, every x_{i,mo,t} <= w (a request is
 * in one batch at a time) and the partners q <= (bs - 1) w. */
static int add_batch(struct build *b, int l, int mo, int t)
{
	struct ts_bmodel *m = b->m;
	int bs = 1 << (mo / TS_NDEG), k = 1 << (mo % TS_NDEG);
	int pool = b->pool[l * m->nint + t];
	double conc = b->gpus / k < pool / bs ? b->gpus / k : pool / bs;
	int w = ts_bmodel_add_col(m, 0, conc * len_ms(m, t) + EPS_MS, 0, TS_BCOL_CONT, -1, t);
	int q = ts_bmodel_add_col(m, 0, (bs - 1) * conc * len_ms(m, t) + EPS_MS, 0, TS_BCOL_CONT, -1, t);
	int row = ts_bmodel_add_row(m, TS_BROW_EQ, 0);
	if (w < 0 || q < 0 || row < 0 || ts_bmodel_add_coef(m, row, w, -bs) || add_member(b, row, q, w, bs - 1))
		return TS_ENOMEM;
	b->w[(l * TS_BMODES + mo) * m->nint + t] = w;
	*qat(b, l, mo, t) = q;
	for (int i = 0; i < b->nreq; i++) {
		if (b->lcls[i] != l || t < b->t0[i] || t >= b->t1[i] || *xat(b, i, mo, t) < 0)
			continue;
		if (add_member(b, row, *xat(b, i, mo, t), w, 1))
			return TS_ENOMEM;
	}
	return 0;
}

/* Batch columns wherever a member is in its window and enough requests of
 * its class have arrived to fill a batch. */
static int add_batch_rows(struct build *b)
{
	for (int l = 0; l < b->nlcls; l++)
		for (int mo = TS_NDEG; mo < TS_BMODES; mo++) {
			int bs = 1 << (mo / TS_NDEG);
			if (mode_ms(b, b->gcls[l], mo) < 0)
				continue;
			for (int t = 0; t < b->m->nint; t++) {
				int at = l * b->m->nint + t;
				if (b->active[at] >= 1 && b->pool[at] >= bs && add_batch(b, l, mo, t))
					return TS_ENOMEM;
			}
		}
	return 0;
}

/* Partners of class l (requests of the class that arrived and do not meet
 * their deadline: members with z = 0 and requests outside the component):
 * (5a) at most pool of them at a time, each in one batch:
 * sum_m q_{l,m,t} <= pool(l,t) L_t, and (5b) no more steps than they have:
 * sum_{m,t} q_{l,m,t} / T_m + sum_{i of l} S_i z_i <= outside steps +
 * sum_{i of l} S_i. */
static int add_partner_rows(struct build *b, int l)
{
	int budget = -1;
	double steps = (double)b->ext_steps[l];
	for (int t = 0; t < b->m->nint; t++) {
		int row = -1, pool = b->pool[l * b->m->nint + t];
		for (int mo = TS_NDEG; mo < TS_BMODES; mo++) {
			int qj = *qat(b, l, mo, t);
			if (qj < 0)
				continue;
			if (row < 0 && (row = ts_bmodel_add_row(b->m, TS_BROW_LE, pool * len_ms(b->m, t) + EPS_MS)) < 0)
				return TS_ENOMEM;
			if (budget < 0 && (budget = ts_bmodel_add_row(b->m, TS_BROW_LE, 0)) < 0)
				return TS_ENOMEM;
			if (ts_bmodel_add_coef(b->m, row, qj, 1) || ts_bmodel_add_coef(b->m, budget, qj, 1 / mode_ms(b, b->gcls[l], mo)))
				return TS_ENOMEM;
		}
	}
	for (int i = 0; budget >= 0 && i < b->nreq; i++) {
		if (b->lcls[i] != l)
			continue;
		int steps_i = b->reqs[b->req[i]].steps;
		steps += steps_i;
		if (ts_bmodel_add_coef(b->m, budget, b->m->zcol[i], steps_i))
			return TS_ENOMEM;
	}
	if (budget >= 0)
		b->m->rhs[budget] = steps;
	return 0;
}

/* Adds to row the GPU use of interval t in units of s GPUs: solo x at
 * degree k >= min_k with coefficient k/s, batch w likewise. With min_k = 1
 * and s = 1 this is the GPU-time of the interval. Returns the number of
 * terms added, or TS_ENOMEM. */
static int add_gpu_terms(struct build *b, int row, int t, int min_k, int s)
{
	int terms = 0;
	for (int mo = 0; mo < TS_BMODES; mo++) {
		int k = 1 << (mo % TS_NDEG);
		if (k < min_k)
			continue;
		for (int i = 0; mo < TS_NDEG && i < b->nreq; i++) {
			if (t < b->t0[i] || t >= b->t1[i] || *xat(b, i, mo, t) < 0)
				continue;
			if (row >= 0 && ts_bmodel_add_coef(b->m, row, *xat(b, i, mo, t), (double)k / s))
				return TS_ENOMEM;
			terms++;
		}
		for (int l = 0; mo >= TS_NDEG && l < b->nlcls; l++) {
			int w = b->w[(l * TS_BMODES + mo) * b->m->nint + t];
			if (w < 0)
				continue;
			if (row >= 0 && ts_bmodel_add_coef(b->m, row, w, (double)k / s))
				return TS_ENOMEM;
			terms++;
		}
	}
	return terms;
}

/* (4) capacity: GPU-time used in interval t <= N L_t. */
static int add_capacity_rows(struct build *b)
{
	for (int t = 0; t < b->m->nint; t++) {
		int row = ts_bmodel_add_row(b->m, TS_BROW_LE, b->gpus * len_ms(b->m, t) + EPS_MS);
		if (row < 0 || add_gpu_terms(b, row, t, 1, 1) < 0)
			return TS_ENOMEM;
	}
	return 0;
}

/* (6) block cut for interval t, block size s, request i (i < 0: none):
 * delta * (time i runs at degrees < s) + sum over runs at degree >= s of
 * (k/s) x <= floor(N/s) L_t. */
static int add_block_cut(struct build *b, int t, int s, int i, int delta)
{
	int row = ts_bmodel_add_row(b->m, TS_BROW_LE, (double)(b->gpus / s) * len_ms(b->m, t) + EPS_MS);
	if (row < 0 || add_gpu_terms(b, row, t, s, s) < 0)
		return TS_ENOMEM;
	for (int mo = 0; i >= 0 && mo < TS_BMODES; mo++) {
		int j = *xat(b, i, mo, t);
		if (j >= 0 && (1 << (mo % TS_NDEG)) < s && ts_bmodel_add_coef(b->m, row, j, delta))
			return TS_ENOMEM;
	}
	return 0;
}

/* True when request i has a column at a degree below s in interval t. */
static bool runs_below(const struct build *b, int i, int t, int s)
{
	if (t < b->t0[i] || t >= b->t1[i])
		return false;
	for (int mo = 0; mo < TS_BMODES; mo++)
		if ((1 << (mo % TS_NDEG)) < s && *xat(b, i, mo, t) >= 0)
			return true;
	return false;
}

/* Block cuts of every interval and block size 2..N (docs/BOUND.md, (6)):
 * while a request runs on fewer than s GPUs, at most floor((N-1)/s) blocks
 * of s GPUs remain for runs at degree >= s. */
static int add_cut_rows(struct build *b)
{
	for (int t = 0; t < b->m->nint; t++)
		for (int s = 2; s <= b->gpus; s *= 2) {
			if (add_gpu_terms(b, -1, t, s, s) == 0)
				continue;
			int delta = b->gpus / s - (b->gpus - 1) / s;
			if (!delta) {
				if (add_block_cut(b, t, s, -1, 0))
					return TS_ENOMEM;
				continue;
			}
			for (int i = 0; i < b->nreq; i++)
				if (runs_below(b, i, t, s) && add_block_cut(b, t, s, i, delta))
					return TS_ENOMEM;
		}
	return 0;
}

static void build_free(struct build *b)
{
	free(b->t0);
	free(b->t1);
	free(b->xoff);
	free(b->x);
	free(b->ncol);
	free(b->lcls);
	free(b->gcls);
	free(b->w);
	free(b->active);
	free(b->pool);
	free(b->ext_steps);
	free(b->q);
}

/* The rows and columns in the order of docs/BOUND.md. */
static int build_rows(struct build *b)
{
	for (int i = 0; i < b->nreq; i++)
		if (add_request_cols(b, i))
			return TS_ENOMEM;
	if (add_batch_rows(b))
		return TS_ENOMEM;
	for (int i = 0; i < b->nreq; i++)
		if (add_exclusive_rows(b, i))
			return TS_ENOMEM;
	for (int l = 0; l < b->nlcls; l++)
		if (add_partner_rows(b, l))
			return TS_ENOMEM;
	if (add_capacity_rows(b))
		return TS_ENOMEM;
	return b->no_cuts ? 0 : add_cut_rows(b);
}

int ts_bmodel_build(struct ts_bmodel *m, const struct ts_request *reqs, const struct ts_classes *cs,
		    const int32_t *req, int nreq, const struct ts_bmodel_opts *o, struct ts_error *err)
{
	memset(m, 0, sizeof(*m));
	struct build b = { .m = m, .reqs = reqs, .cs = cs, .req = req, .nreq = nreq, .gpus = o->gpus,
			   .no_cuts = o->no_cuts, .integer_steps = o->integer_steps, .ntrace = o->ntrace };
	m->nreq = nreq;
	m->req = req;
	m->zcol = malloc((size_t)(nreq ? nreq : 1) * sizeof(int));
	int rc = !m->zcol ? TS_ENOMEM : build_points(&b, o->slot_ns);
	if (!rc)
		rc = build_index(&b);
	if (rc) {
		ts_err_set(err, rc, "out of memory building the bound model");
		goto out;
	}
	rc = size_check(&b, o->max_cols, err);
	if (!rc && (rc = build_rows(&b)))
		ts_err_set(err, rc, "out of memory building the bound model");
out:
	build_free(&b);
	if (rc)
		ts_bmodel_free(m);
	return rc;
}
