/* bound.c: the upper bound of a whole trace (see bound.h, docs/BOUND.md):
 * requests that cannot make it even alone are out; the rest fall into
 * components of overlapping windows [arrival, deadline), which share no
 * instant and so are solved apart; a lone request is decided by its fastest
 * time, larger components by the MILP of bound_model.c. */
#include "bound/bound.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bound/bound_model.h"
#include "sched/policy.h"

#define DEFAULT_MAX_COLS 2000000

void ts_bound_opts_defaults(struct ts_bound_opts *o)
{
	*o = (struct ts_bound_opts){ .time_limit_s = 300 };
}

bool ts_bound_have_solver(char *name, size_t size)
{
	return ts_bsolver_name(name, size);
}

const char *ts_bound_status_name(int status)
{
	switch (status) {
	case TS_BOUND_OPTIMAL: return "optimal";
	case TS_BOUND_TIME_LIMIT: return "time-limit";
	case TS_BOUND_LP: return "lp";
	}
	return "?";
}

void ts_bound_result_free(struct ts_bound_result *r)
{
	free(r->meets);
	free(r->start);
	free(r->finish);
	memset(r, 0, sizeof(*r));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Shortest time of all of request r's steps on `gpus` GPUs: solo only, or
 * over every mode (a batch needs partners, so only a lower bound);
 * INT64_MAX when no mode has a cell. */
static ts_ns fastest(const struct ts_classes *cs, const struct ts_request *r, int gpus, bool solo)
{
	ts_ns best = INT64_MAX;
	for (int b = 1; b <= (solo ? 1 : TS_MAX_BATCH); b *= 2)
		for (int k = 1; k <= gpus; k *= 2) {
			ts_ns t = ts_class_step(cs, r->cls, k, b);
			if (t > 0 && t < best)
				best = t;
		}
	return best == INT64_MAX ? best : best * r->steps;
}

/* True when request r could meet its deadline if it were alone (with every
 * mode, batches included: a necessary condition in any schedule). */
static bool candidate(const struct ts_classes *cs, const struct ts_request *r, int gpus)
{
	if (r->cls < 0)
		return false;
	ts_ns f = fastest(cs, r, gpus, false);
	return f != INT64_MAX && f <= r->deadline - r->arrival;
}

/* State of one solve across components. */
struct run {
	const struct ts_trace *t;
	const struct ts_classes *cs;
	int gpus;
	const struct ts_bound_opts *o;
	struct ts_bound_result *r;
	double deadline;  /* wall clock of the time limit; 0: none */
	int milp_left;    /* components of two or more requests not solved yet */
	bool counting;    /* first walk: only count them */
	bool all_optimal;
	struct crec *open;   /* components the time limit left unproven */
	int nopen;
	int32_t *members;    /* their requests */
	int nmembers;
	bool retrying;       /* second tries: no MPS files, no size statistics */
};

/* True when another request of i's class arrives before i's deadline: a
 * possible batch partner (which then misses its own deadline, or has none). */
static bool has_partner(const struct run *u, int32_t i)
{
	const struct ts_request *q = &u->t->req[i];
	for (size_t j = 0; j < u->t->n && u->t->req[j].arrival < q->deadline; j++)
		if ((int32_t)j != i && u->t->req[j].cls == q->cls)
			return true;
	return false;
}

/* A component of one request: it meets its deadline iff its fastest time
 * fits (solo, or any mode when it may have a batch partner); it then runs
 * from arrival to arrival + that time. */
static void solve_single(struct run *u, int32_t i)
{
	const struct ts_request *q = &u->t->req[i];
	ts_ns f = fastest(u->cs, q, u->gpus, true);
	if (f == INT64_MAX || f > q->deadline - q->arrival)
		f = has_partner(u, i) ? fastest(u->cs, q, u->gpus, false) : INT64_MAX;
	if (f == INT64_MAX || f > q->deadline - q->arrival)
		return;
	u->r->meets[i] = true;
	u->r->start[i] = q->arrival;
	u->r->finish[i] = q->arrival + f;
	u->r->met++;
	u->r->bound++;
}

/* Reads which requests the solution meets, and the first and last instant
 * it runs each (clamped to the request's window). */
static void read_solution(struct run *u, const struct ts_bmodel *m, const double *x)
{
	for (int k = 0; k < m->nreq; k++) {
		if (x[m->zcol[k]] < 0.5)
			continue;
		int32_t i = m->req[k];
		const struct ts_request *q = &u->t->req[i];
		int first = -1, last = -1;
		for (int j = 0; j < m->ncols; j++)
			if (m->col_req[j] == k && m->col_int[j] >= 0 && x[j] > 1e-9) {
				if (first < 0 || m->col_int[j] < first)
					first = m->col_int[j];
				if (m->col_int[j] > last)
					last = m->col_int[j];
			}
		u->r->meets[i] = true;
		u->r->met++;
		u->r->start[i] = first < 0 ? q->arrival : m->tpt[first];
		u->r->finish[i] = last < 0 ? q->arrival : m->tpt[last + 1];
		if (u->r->start[i] < q->arrival)
			u->r->start[i] = q->arrival;
		if (u->r->finish[i] > q->deadline)
			u->r->finish[i] = q->deadline;
	}
}

static void note_size(struct ts_bound_result *r, const struct ts_bmodel *m)
{
	int ints = ts_bmodel_nints(m);
	if (m->ncols > r->cols) {
		r->cols = m->ncols;
		r->rows = m->nrows;
		r->ints = ints;
	}
	r->total_cols += m->ncols;
}

/* A component left unproven by the time limit, for a second try. */
struct crec {
	int off, n;       /* its requests: u->members[off .. off + n) */
	int64_t bound, met;
};

/* Builds the component's MILP and solves it in `seconds` (0: no limit);
 * *bound and *met receive its bound and the met count of the solution
 * found, which is read into the result when better than *met was
 * (the component's old marks are cleared first). Returns 0 and sets
 * *optimal, or an error. */
static int solve_model(struct run *u, const int32_t *req, int n, double seconds, int64_t *bound,
		       int64_t *met, bool *optimal, struct ts_error *err)
{
	struct ts_bmodel m;
	struct ts_bmodel_opts mo = { .gpus = u->gpus, .slot_ns = u->o->slot_ns, .no_cuts = u->o->no_cuts,
				     .integer_steps = u->o->integer_steps, .ntrace = u->t->n,
				     .max_cols = u->o->max_cols > 0 ? u->o->max_cols : DEFAULT_MAX_COLS };
	int rc = ts_bmodel_build(&m, u->t->req, u->cs, req, n, &mo, err);
	if (rc)
		return rc;
	if (!u->retrying)
		note_size(u->r, &m);
	char mps[4096];
	bool write = u->o->mps_prefix && !u->retrying;
	if (write)
		snprintf(mps, sizeof(mps), "%s-%d.mps", u->o->mps_prefix, u->r->milp_components);
	struct ts_bsol s;
	rc = ts_bsolver_solve(&m, seconds, u->o->lp_only, write ? mps : NULL, &s, err);
	if (!rc) {
		int64_t b = (int64_t)floor(s.bound + 1e-6);
		*bound = b < n ? b : n;
		*optimal = s.optimal;
		if (s.has_incumbent && llround(s.obj) > *met) {
			for (int k = 0; k < n; k++) {
				u->r->met -= u->r->meets[req[k]];
				u->r->meets[req[k]] = false;
				u->r->start[req[k]] = u->r->finish[req[k]] = -1;
			}
			read_solution(u, &m, s.x);
			*met = llround(s.obj);
		}
	}
	free(s.x);
	ts_bmodel_free(&m);
	return rc;
}

/* Seconds for the next of `left` solves: a fair share of the time left
 * (what a solve does not use goes to the later ones); 0 without a limit. */
static double share(const struct run *u, int left)
{
	if (u->deadline <= 0)
		return 0;
	double sec = (u->deadline - now_s()) / (left > 0 ? left : 1);
	return sec < 1e-3 ? 1e-3 : sec;
}

/* A component of two or more requests: solved in its share of the time;
 * left for a second try when not proven. */
static int solve_component(struct run *u, const int32_t *req, int n, struct ts_error *err)
{
	int64_t bound = n, met = 0;
	bool optimal = false;
	int rc = solve_model(u, req, n, share(u, u->milp_left), &bound, &met, &optimal, err);
	u->r->milp_components++;
	u->milp_left--;
	if (rc)
		return rc;
	u->r->bound += bound;
	if (optimal || u->o->lp_only)
		return 0;
	memcpy(&u->members[u->nmembers], req, (size_t)n * sizeof(*req));
	u->open[u->nopen++] = (struct crec){ .off = u->nmembers, .n = n, .bound = bound, .met = met };
	u->nmembers += n;
	return 0;
}

/* Second tries: each unproven component again, in a fair share of the
 * time the first pass left; the lower bound and the better solution win. */
static int retry_open(struct run *u, struct ts_error *err)
{
	u->retrying = true;
	for (int k = 0; k < u->nopen && u->deadline > now_s() + 0.1; k++) {
		struct crec *c = &u->open[k];
		int64_t bound = c->n, met = c->met;
		bool optimal = false;
		int rc = solve_model(u, &u->members[c->off], c->n, share(u, u->nopen - k), &bound, &met,
				     &optimal, err);
		if (rc)
			return rc;
		if (bound < c->bound) {
			u->r->bound -= c->bound - bound;
			c->bound = bound;
		}
		c->met = met;
	}
	for (int k = 0; k < u->nopen; k++)
		u->all_optimal &= u->open[k].met == u->open[k].bound;
	return 0;
}

/* Solves (or, while u->counting, counts) one component. */
static int visit(struct run *u, const int32_t *comp, int n, struct ts_error *err)
{
	if (u->counting) {
		u->milp_left += n > 1;
		return 0;
	}
	u->r->components++;
	if (n > 1)
		return solve_component(u, comp, n, err);
	solve_single(u, comp[0]);
	return 0;
}

/* Walks the candidates in arrival order, cutting components where the next
 * arrival is at or after every deadline so far. */
static int solve_all(struct run *u, int32_t *comp, struct ts_error *err)
{
	const struct ts_trace *t = u->t;
	int n = 0;
	ts_ns maxd = 0;
	for (size_t i = 0; i <= t->n; i++) {
		bool cand = i < t->n && candidate(u->cs, &t->req[i], u->gpus);
		if (i < t->n && !cand)
			continue;
		if (n > 0 && (i == t->n || t->req[i].arrival >= maxd)) {
			int rc = visit(u, comp, n, err);
			if (rc)
				return rc;
			n = 0;
		}
		if (i == t->n)
			break;
		u->r->candidates += !u->counting;
		if (n == 0 || t->req[i].deadline > maxd)
			maxd = t->req[i].deadline;
		comp[n++] = (int32_t)i;
	}
	return 0;
}

/* Allocates the per-request arrays of *r. */
static int result_init(struct ts_bound_result *r, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	size_t k = n ? n : 1;
	r->meets = calloc(k, sizeof(bool));
	r->start = malloc(k * sizeof(ts_ns));
	r->finish = malloc(k * sizeof(ts_ns));
	if (!r->meets || !r->start || !r->finish) {
		ts_bound_result_free(r);
		return TS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		r->start[i] = r->finish[i] = -1;
	return 0;
}

int ts_bound_solve(const struct ts_trace *t, const struct ts_classes *cs, int gpus,
		   const struct ts_bound_opts *o, struct ts_bound_result *r, struct ts_error *err)
{
	double t0 = now_s();
	struct ts_bound_opts dflt;
	if (!o) {
		ts_bound_opts_defaults(&dflt);
		o = &dflt;
	}
	memset(r, 0, sizeof(*r));
	if (!t || !cs || gpus < 1 || gpus > TS_MAX_GPUS)
		return ts_err_set(err, TS_EINVAL, "bound: need a trace, its classes and 1..%d GPUs", TS_MAX_GPUS);
	char name[64];
	if (!ts_bsolver_name(name, sizeof(name))) {
		struct ts_bsol s;
		return ts_bsolver_solve(NULL, 0, false, NULL, &s, err); /* says how to get one */
	}
	if (result_init(r, t->n))
		return ts_err_set(err, TS_ENOMEM, "out of memory for the bound result");
	snprintf(r->solver, sizeof(r->solver), "%s", name);
	size_t k = t->n ? t->n : 1;
	int32_t *comp = malloc(k * sizeof(int32_t));
	struct run u = { .t = t, .cs = cs, .gpus = gpus, .o = o, .r = r, .all_optimal = true,
			 .deadline = o->time_limit_s > 0 ? t0 + o->time_limit_s : 0,
			 .open = malloc(k * sizeof(struct crec)), .members = malloc(k * sizeof(int32_t)) };
	int rc = comp && u.open && u.members ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
	for (int pass = 0; !rc && pass < 2; pass++) {
		u.counting = pass == 0;
		rc = solve_all(&u, comp, err);
	}
	if (!rc)
		rc = retry_open(&u, err);
	free(comp);
	free(u.open);
	free(u.members);
	if (rc) {
		ts_bound_result_free(r);
		return rc;
	}
	r->status = o->lp_only ? TS_BOUND_LP : u.all_optimal ? TS_BOUND_OPTIMAL : TS_BOUND_TIME_LIMIT;
	r->gap = r->bound > r->met ? (double)(r->bound - r->met) / (double)r->bound : 0;
	r->solve_s = now_s() - t0;
	return (int)r->bound;
}
