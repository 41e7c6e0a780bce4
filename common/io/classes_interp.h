/* classes_interp.h: private to classes.c: --interpolate, the missing cells
 * of the step tables estimated from the measured resolutions. */
#ifndef TS_CLASSES_INTERP_H
#define TS_CLASSES_INTERP_H

#include <math.h>
#include <stdint.h>

#include "io/classes.h"

/* ms as whole nanoseconds. */
static inline ts_ns ts_ns_from_ms(double ms)
{
	return (ts_ns)llround(ms * (double)TS_NS_PER_MS);
}

/* Fills every missing (batch, degree) cell of every class by log-log
 * interpolation of step time against token count between the nearest
 * measured resolutions of the same model, degree and batch (rows p->rows[i]
 * with sel[i] == the model index; extrapolating from the two nearest
 * outside them), and marks it interpolated; a cell with fewer than two
 * measured resolutions stays missing. Work O(R log R + C log R) for R rows
 * and C classes. TS_ERANGE naming the cell for an estimate outside the step
 * times a profile row may hold; TS_ENOMEM. */
int ts_classes_interpolate(struct ts_classes *cs, const struct ts_profile *p, const int32_t *sel,
			   struct ts_error *err);

#endif
