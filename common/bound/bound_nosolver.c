/* bound_nosolver.c: the solver backend of a build without a MILP solver
 * (-Dmilp=disabled, or GLPK not found): every solve says how to get one. */
#include <stdlib.h>
#include <string.h>

#include "bound/bound_model.h"

bool ts_bsolver_name(char *buf, size_t size)
{
	if (buf && size)
		buf[0] = '\0';
	return false;
}

int ts_bsolver_solve(const struct ts_bmodel *m, double time_limit_s, bool lp_only,
		     const char *mps_path, struct ts_bsol *s, struct ts_error *err)
{
	(void)m;
	(void)time_limit_s;
	(void)lp_only;
	(void)mps_path;
	memset(s, 0, sizeof(*s));
	return ts_err_set(err, TS_ENOTFOUND,
			  "this build has no MILP solver: install GLPK (apt-get install libglpk-dev) and "
			  "rebuild (meson setup --reconfigure BUILD -Dmilp=enabled; ninja -C BUILD)");
}
