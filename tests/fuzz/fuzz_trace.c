/* fuzz_trace.c: the trace CSV loader, then the step tables built from the
 * trace and a fixed profile (time bounds, classes), and the trace written
 * back and read again (same requests). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "io/classes.h"
#include "io/profile.h"
#include "io/trace.h"

static const char profile_text[] =
	"model,gpu,height,width,sp,step_ms,cv,batch\n"
	"flux,h,256,256,1,20,0.01,1\nflux,h,512,512,1,40,0.02,1\nflux,h,1024,1024,2,80,0,1\n"
	"flux,h,2048,2048,4,200,0.05,1\nflux,h,256,256,1,35,0,2\nsd3,h,512,512,1,30,0,1\n";

static void load_profile(struct ts_profile *p)
{
	char path[64];
	int fd = fuzz_as_file((const uint8_t *)profile_text, sizeof(profile_text) - 1, path);
	struct ts_error err = { 0 };
	if (fd < 0 || ts_profile_load(p, path, &err) != 0)
		abort();
	close(fd);
}

/* Writes t, reads it back and checks the requests survived. */
static void round_trip(const struct ts_trace *t)
{
	char *text = NULL, path[64];
	size_t len = 0;
	struct ts_error err = { 0 };
	struct ts_trace back;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	int rc = ts_trace_write(t, f, &err);
	fclose(f);
	int fd = rc ? -1 : fuzz_as_file((const uint8_t *)text, len, path);
	if (fd >= 0 && ts_trace_load(&back, path, &err) == 0) {
		if (back.n != t->n)
			abort();
		for (size_t i = 0; i < t->n; i++)
			if (back.req[i].id != t->req[i].id || back.req[i].arrival != t->req[i].arrival ||
			    back.req[i].steps != t->req[i].steps)
				abort();
		ts_trace_free(&back);
	}
	if (fd >= 0)
		close(fd);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_profile p;
	static int loaded;
	char path[64];
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_error err = { 0 };

	if (!loaded++)
		load_profile(&p);
	int fd = fuzz_as_file(data, size, path);
	if (fd < 0)
		return 0;
	if (ts_trace_load(&t, path, &err) == 0) {
		struct ts_classes_opts o = { .model = "flux", .gpu = "h", .max_degree = 8,
					     .interpolate = size % 2 };
		if (ts_classes_build(&cs, &t, &p, &o, &err) == 0)
			ts_classes_free(&cs);
		round_trip(&t);
		ts_trace_free(&t);
	}
	close(fd);
	return 0;
}
