/* profile_write.c: the profile CSV writer (profile_write.h). */
#include "model/profile_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ts_format_shortest(char *buf, size_t size, double x)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, size, "%.*g", p, x);
		if (strtod(buf, NULL) == x)
			return;
	}
}

static void write_comments(FILE *f, const char *comments)
{
	while (comments && *comments) {
		const char *nl = strchr(comments, '\n');
		int len = nl ? (int)(nl - comments) : (int)strlen(comments);
		fprintf(f, "# %.*s\n", len, comments);
		comments += len + (nl ? 1 : 0);
	}
}

static void write_row(FILE *f, const struct ts_profile_row *r)
{
	char step[32], p50[32] = "", p99[32] = "", cv[32];
	ts_format_shortest(step, sizeof(step), r->step_ms);
	if (isfinite(r->p50_ms))
		ts_format_shortest(p50, sizeof(p50), r->p50_ms);
	if (isfinite(r->p99_ms))
		ts_format_shortest(p99, sizeof(p99), r->p99_ms);
	ts_format_shortest(cv, sizeof(cv), r->cv);
	fprintf(f, "%s,%s,%d,%d,%d,%s,%s,%s,%s,%lld,%d,%s\n", r->model, r->gpu, r->height, r->width,
		r->sp, step, p50, p99, cv, (long long)r->samples, r->batch,
		r->modelled ? "modelled" : "measured");
}

int ts_profile_write(FILE *f, const char *name, const char *comments,
		     const struct ts_profile_row *rows, size_t n, struct ts_error *err)
{
	write_comments(f, comments);
	fprintf(f, "model,gpu,height,width,sp,step_ms,p50_ms,p99_ms,cv,samples,batch,source\n");
	for (size_t i = 0; i < n; i++)
		write_row(f, &rows[i]);
	if (fflush(f) || ferror(f))
		return ts_err_set(err, TS_EIO, "%s: write failed", name);
	return 0;
}
