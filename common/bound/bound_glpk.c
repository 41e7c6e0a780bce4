/* bound_glpk.c: the solver backend on GLPK (glp_simplex for the root LP,
 * glp_intopt for branch and bound). Built when meson finds GLPK
 * (-Dmilp=auto|enabled). */
#include <glpk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bound/bound_model.h"

bool ts_bsolver_name(char *buf, size_t size)
{
	if (buf && size)
		snprintf(buf, size, "GLPK %s", glp_version());
	return true;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Loads the neutral model into a GLPK problem (indices are 1-based there). */
static glp_prob *load(const struct ts_bmodel *m)
{
	glp_prob *p = glp_create_prob();
	glp_set_obj_dir(p, GLP_MAX);
	if (m->nrows)
		glp_add_rows(p, m->nrows);
	if (m->ncols)
		glp_add_cols(p, m->ncols);
	for (int i = 0; i < m->nrows; i++)
		glp_set_row_bnds(p, i + 1, m->rtype[i] == TS_BROW_EQ ? GLP_FX : GLP_UP, m->rhs[i], m->rhs[i]);
	for (int j = 0; j < m->ncols; j++) {
		/* kind first: GLP_BV resets the bounds to [0, 1] */
		if (m->kind[j] != TS_BCOL_CONT)
			glp_set_col_kind(p, j + 1, m->kind[j] == TS_BCOL_BIN ? GLP_BV : GLP_IV);
		int type = m->lb[j] == m->ub[j] ? GLP_FX : GLP_DB;
		glp_set_col_bnds(p, j + 1, type, m->lb[j], m->ub[j]);
		glp_set_obj_coef(p, j + 1, m->obj[j]);
	}
	int *ia = malloc((size_t)(m->nnz + 1) * sizeof(int));
	int *ja = malloc((size_t)(m->nnz + 1) * sizeof(int));
	double *ar = malloc((size_t)(m->nnz + 1) * sizeof(double));
	if (!ia || !ja || !ar) {
		free(ia);
		free(ja);
		free(ar);
		glp_delete_prob(p);
		return NULL;
	}
	for (int k = 0; k < m->nnz; k++) {
		ia[k + 1] = m->ri[k] + 1;
		ja[k + 1] = m->ci[k] + 1;
		ar[k + 1] = m->v[k];
	}
	glp_load_matrix(p, m->nnz, ia, ja, ar);
	free(ia);
	free(ja);
	free(ar);
	return p;
}

/* Branch-and-bound callback: keeps the best bound of the open nodes, which
 * only decreases, so the last one seen stays valid when the time limit
 * stops the search. */
struct cb_state {
	double bound;
	bool have;
};

static void on_tree(glp_tree *tree, void *info)
{
	struct cb_state *cb = info;
	int reason = glp_ios_reason(tree);
	if (reason != GLP_ISELECT && reason != GLP_IBINGO && reason != GLP_IBRANCH)
		return;
	int node = glp_ios_best_node(tree);
	if (!node)
		return;
	double b = glp_ios_node_bound(tree, node);
	if (!cb->have || b < cb->bound) {
		cb->bound = b;
		cb->have = true;
	}
}

static int ms_left(double deadline)
{
	if (deadline <= 0)
		return 0x7fffffff;
	double left = (deadline - now_s()) * 1e3;
	return left < 1 ? 1 : left > 2e9 ? 0x7fffffff : (int)left;
}

/* Root LP by the simplex method; its optimum bounds the MILP. Returns 0
 * (s->bound set), 1 on the time limit, 2 when infeasible, or an error. */
static int solve_root(glp_prob *p, double deadline, struct ts_bsol *s, struct ts_error *err)
{
	glp_smcp sp;
	glp_init_smcp(&sp);
	sp.msg_lev = GLP_MSG_OFF;
	sp.presolve = GLP_OFF;
	sp.tm_lim = ms_left(deadline);
	int rc = glp_simplex(p, &sp);
	if (rc == GLP_ETMLIM)
		return 1;
	if (!rc && glp_get_status(p) == GLP_NOFEAS) {
		s->infeasible = true;
		s->bound = -1;
		return 2;
	}
	if (rc || glp_get_status(p) != GLP_OPT)
		return ts_err_set(err, TS_EDEVICE, "GLPK simplex failed on the bound model (code %d, status %d)",
				  rc, glp_get_status(p));
	s->bound = glp_get_obj_val(p);
	return 0;
}

/* Branch and bound from the root LP's basis. */
static int solve_mip(glp_prob *p, double deadline, struct ts_bsol *s, int ncols, struct ts_error *err)
{
	struct cb_state cb = { 0 };
	glp_iocp ip;
	glp_init_iocp(&ip);
	ip.msg_lev = GLP_MSG_OFF;
	ip.presolve = GLP_OFF;
	ip.tm_lim = ms_left(deadline);
	/* pseudo-cost branching, best-bound backtracking and the feasibility
	 * pump: the fastest of the combinations tried (docs/BOUND.md) */
	ip.br_tech = GLP_BR_PCH;
	ip.bt_tech = GLP_BT_BLB;
	ip.fp_heur = GLP_ON;
	ip.cb_func = on_tree;
	ip.cb_info = &cb;
	int rc = glp_intopt(p, &ip);
	if (rc && rc != GLP_ETMLIM)
		return ts_err_set(err, TS_EDEVICE, "GLPK branch and bound failed on the bound model (code %d)", rc);
	int st = glp_mip_status(p);
	s->optimal = rc == 0 && st == GLP_OPT;
	s->has_incumbent = st == GLP_OPT || st == GLP_FEAS;
	if (s->has_incumbent) {
		s->obj = glp_mip_obj_val(p);
		for (int j = 0; j < ncols; j++)
			s->x[j] = glp_mip_col_val(p, j + 1);
	}
	if (s->optimal)
		s->bound = s->obj;
	else if (cb.have && cb.bound < s->bound)
		s->bound = cb.bound;
	if (s->has_incumbent && s->obj > s->bound) /* every open node was below the incumbent */
		s->bound = s->obj;
	return 0;
}

int ts_bsolver_solve(const struct ts_bmodel *m, double time_limit_s, bool lp_only,
		     const char *mps_path, struct ts_bsol *s, struct ts_error *err)
{
	double t0 = now_s();
	memset(s, 0, sizeof(*s));
	s->x = calloc((size_t)(m->ncols ? m->ncols : 1), sizeof(double));
	glp_term_out(GLP_OFF);
	glp_prob *p = s->x ? load(m) : NULL;
	if (!p) {
		free(s->x);
		s->x = NULL;
		return ts_err_set(err, TS_ENOMEM, "out of memory loading the bound model into GLPK");
	}
	int rc = 0;
	if (mps_path && glp_write_mps(p, GLP_MPS_FILE, NULL, mps_path))
		rc = ts_err_set(err, TS_EIO, "cannot write the model to %s", mps_path);
	double deadline = time_limit_s > 0 ? t0 + time_limit_s : 0;
	s->bound = 0;
	for (int j = 0; j < m->ncols; j++) /* without a root LP: every z at 1 */
		s->bound += m->obj[j] > 0 ? m->obj[j] * m->ub[j] : 0;
	int root = rc ? rc : solve_root(p, deadline, s, err);
	if (root == 0 && lp_only) {
		s->optimal = true;
		for (int j = 0; j < m->ncols; j++)
			s->x[j] = glp_get_col_prim(p, j + 1);
	} else if (root == 0) {
		rc = solve_mip(p, deadline, s, m->ncols, err);
	} else if (root < 0) {
		rc = root;
	} else if (root == 2) {
		s->optimal = true;
	}
	glp_delete_prob(p);
	s->seconds = now_s() - t0;
	if (rc) {
		free(s->x);
		s->x = NULL;
	}
	return rc;
}
