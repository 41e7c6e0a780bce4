/* bound_model.h: the MILP of one component of requests (docs/BOUND.md) in a
 * solver-neutral sparse form, its builder, and the solver interface that a
 * backend (bound_glpk.c, or bound_nosolver.c) implements. Internal to
 * common/bound and its tests. */
#ifndef TS_BOUND_MODEL_H
#define TS_BOUND_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

/* Column kinds. */
enum { TS_BCOL_CONT = 0, TS_BCOL_INT = 1, TS_BCOL_BIN = 2 };
/* Row kinds: sum <= rhs, sum == rhs. */
enum { TS_BROW_LE = 0, TS_BROW_EQ = 1 };

/* Modes of a request: (degree index d, batch index bi), m = bi * TS_NDEG + d. */
#define TS_BMODES (TS_NBATCH * TS_NDEG)

/* A maximisation MILP: columns with bounds, kind and objective; rows of
 * triplets. Every column also names the component request and interval it
 * belongs to (-1 when none), so a solution can be read back. */
struct ts_bmodel {
	int ncols, colcap;
	double *lb, *ub, *obj;
	char *kind;
	int *col_req, *col_int;
	int nrows, rowcap;
	char *rtype;
	double *rhs;
	int nnz, nnzcap;
	int *ri, *ci;
	double *v;
	/* what the columns mean */
	int nreq;            /* requests of the component */
	const int32_t *req;  /* their trace indices (not owned) */
	int *zcol;           /* per request: its "meets" column */
	int nint;            /* intervals */
	ts_ns *tpt;          /* nint + 1 interval boundaries (owned) */
};

/* What shapes a component's model. */
struct ts_bmodel_opts {
	int gpus;           /* GPUs of the node, 1..64 */
	ts_ns slot_ns;      /* also cut intervals to at most this; 0: event intervals only */
	bool no_cuts;       /* leave out the block cuts (6) */
	bool integer_steps; /* step counts n_{i,m} integer (tighter, slower); else continuous */
	int64_t max_cols;   /* TS_ERANGE above this many columns */
	size_t ntrace;      /* requests in the whole trace (reqs[0..ntrace)), 0: only the
			       component; the others can join batches as partners that
			       miss their deadline */
};

/* Builds the model of the requests req[0..nreq) (indices into reqs, arrival
 * order, each able to meet its deadline alone) under o: intervals from their
 * arrivals and deadlines (docs/BOUND.md); the other requests of reqs (o->ntrace
 * in all) only as batch partners. *m is initialised by the call.
 * Returns TS_ERANGE when the model would exceed o->max_cols columns,
 * TS_ENOMEM. On error *m holds nothing to free. */
int ts_bmodel_build(struct ts_bmodel *m, const struct ts_request *reqs, const struct ts_classes *cs,
		    const int32_t *req, int nreq, const struct ts_bmodel_opts *o, struct ts_error *err);

/* Frees what *m owns; safe on a zeroed struct. */
void ts_bmodel_free(struct ts_bmodel *m);

/* Appends a column (bounds, objective coefficient, TS_BCOL_* kind, the
 * component request and interval it belongs to or -1); returns its index,
 * or TS_ENOMEM (negative). */
int ts_bmodel_add_col(struct ts_bmodel *m, double lb, double ub, double obj, char kind, int req, int iv);

/* Appends an empty row of TS_BROW_* type with right-hand side rhs; returns
 * its index, or TS_ENOMEM (negative). */
int ts_bmodel_add_row(struct ts_bmodel *m, char type, double rhs);

/* Adds coefficient v of column j to row i; 0 or TS_ENOMEM. */
int ts_bmodel_add_coef(struct ts_bmodel *m, int i, int j, double v);

/* Number of integer (and binary) columns of m. */
int ts_bmodel_nints(const struct ts_bmodel *m);

/* The solver's answer for one model. */
struct ts_bsol {
	bool has_incumbent; /* x holds a feasible integer solution */
	bool optimal;       /* proven optimal (or, lp_only, the LP optimum) */
	bool infeasible;    /* no solution at all (only when a caller fixed columns' bounds) */
	double obj;         /* objective of x (0 without incumbent) */
	double bound;       /* proven upper bound on the objective */
	double *x;          /* ncols values (owned; free()) */
	double seconds;
};

/* Solves m (maximisation) within time_limit_s (<= 0: none); lp_only solves
 * the LP relaxation only (x then may be fractional, has_incumbent false).
 * mps_path, when not NULL, receives the model in free MPS first.
 * Returns 0 (also on a time limit: s->optimal false), TS_ENOTFOUND without
 * a solver, TS_EDEVICE when the solver fails, TS_EIO, TS_ENOMEM. */
int ts_bsolver_solve(const struct ts_bmodel *m, double time_limit_s, bool lp_only,
		     const char *mps_path, struct ts_bsol *s, struct ts_error *err);

/* Name and version of the linked solver into buf; false when none. */
bool ts_bsolver_name(char *buf, size_t size);

#endif
