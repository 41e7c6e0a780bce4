/* bound_sparse.c: the solver-neutral sparse form of a model (columns,
 * rows, coefficient triplets) that bound_model.c fills (bound_model.h). */
#include <stdlib.h>
#include <string.h>

#include "bound/bound_model.h"

/* New capacity for `need` elements: doubling from 256. */
static int new_cap(int cap, int need)
{
	int nc = cap ? cap : 256;
	while (nc < need)
		nc *= 2;
	return nc;
}

/* Reallocates *p to nc elements of elem bytes; TS_ENOMEM on failure (the
 * old block stays valid). */
static int resize(void **p, int nc, size_t elem)
{
	void *q = realloc(*p, (size_t)nc * elem);
	if (!q)
		return TS_ENOMEM;
	*p = q;
	return 0;
}

int ts_bmodel_add_col(struct ts_bmodel *m, double lb, double ub, double obj, char kind, int req, int iv)
{
	if (m->ncols == m->colcap) {
		int nc = new_cap(m->colcap, m->ncols + 1);
		if (resize((void **)&m->lb, nc, sizeof(double)) || resize((void **)&m->ub, nc, sizeof(double)) ||
		    resize((void **)&m->obj, nc, sizeof(double)) || resize((void **)&m->kind, nc, 1) ||
		    resize((void **)&m->col_req, nc, sizeof(int)) || resize((void **)&m->col_int, nc, sizeof(int)))
			return TS_ENOMEM;
		m->colcap = nc;
	}
	int j = m->ncols++;
	m->lb[j] = lb;
	m->ub[j] = ub;
	m->obj[j] = obj;
	m->kind[j] = kind;
	m->col_req[j] = req;
	m->col_int[j] = iv;
	return j;
}

int ts_bmodel_add_row(struct ts_bmodel *m, char type, double rhs)
{
	if (m->nrows == m->rowcap) {
		int nc = new_cap(m->rowcap, m->nrows + 1);
		if (resize((void **)&m->rtype, nc, 1) || resize((void **)&m->rhs, nc, sizeof(double)))
			return TS_ENOMEM;
		m->rowcap = nc;
	}
	m->rtype[m->nrows] = type;
	m->rhs[m->nrows] = rhs;
	return m->nrows++;
}

int ts_bmodel_add_coef(struct ts_bmodel *m, int i, int j, double v)
{
	if (m->nnz == m->nnzcap) {
		int nc = new_cap(m->nnzcap, m->nnz + 1);
		if (resize((void **)&m->ri, nc, sizeof(int)) || resize((void **)&m->ci, nc, sizeof(int)) ||
		    resize((void **)&m->v, nc, sizeof(double)))
			return TS_ENOMEM;
		m->nnzcap = nc;
	}
	m->ri[m->nnz] = i;
	m->ci[m->nnz] = j;
	m->v[m->nnz] = v;
	m->nnz++;
	return 0;
}

void ts_bmodel_free(struct ts_bmodel *m)
{
	free(m->lb);
	free(m->ub);
	free(m->obj);
	free(m->kind);
	free(m->col_req);
	free(m->col_int);
	free(m->rtype);
	free(m->rhs);
	free(m->ri);
	free(m->ci);
	free(m->v);
	free(m->zcol);
	free(m->tpt);
	memset(m, 0, sizeof(*m));
}

int ts_bmodel_nints(const struct ts_bmodel *m)
{
	int n = 0;
	for (int j = 0; j < m->ncols; j++)
		n += m->kind[j] != TS_BCOL_CONT;
	return n;
}
