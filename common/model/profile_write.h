/* profile_write.h: writing a step-latency profile CSV (traces/README.md)
 * with the source column, so that a file read back by ts_profile_load()
 * gives the same rows. */
#ifndef TS_PROFILE_WRITE_H
#define TS_PROFILE_WRITE_H

#include <stddef.h>
#include <stdio.h>

#include "core/ts_error.h"
#include "io/profile.h"

/* Writes `comments` (each line prefixed with "# "; NULL: none), the header
 * model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch,source
 * and one line per row to f. Reals are printed in the fewest digits that
 * read back to the same double; NaN percentiles as empty fields; source is
 * "modelled" or "measured". Returns 0 or TS_EIO naming `name`. */
int ts_profile_write(FILE *f, const char *name, const char *comments,
		     const struct ts_profile_row *rows, size_t n, struct ts_error *err);

/* Prints x into buf in the fewest significant digits (1..17) that strtod
 * reads back to x exactly. */
void ts_format_shortest(char *buf, size_t size, double x);

#endif
