/* fuzz_profile.c: the profile CSV loader, then the step tables of a fixed
 * trace built from it, with and without --interpolate (estimates, their
 * range check, the time bounds). */
#include <stdlib.h>

#include "fuzz_input.h"
#include "io/classes.h"
#include "io/profile.h"
#include "io/trace.h"

static const char trace_text[] =
	"request_id,arrival_s,height,width,steps,slo_s\n"
	"0,0,256,256,50,1.5\n1,0.5,512,512,50,2\n2,1,1024,1024,50,3\n3,2,2048,2048,50,5\n"
	"4,3,768,1024,20,2\n5,4,64,64,2147483647,1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], tpath[64];
	struct ts_profile p;
	struct ts_trace t;
	struct ts_classes cs;
	struct ts_error err = { 0 };
	int fd = fuzz_as_file(data, size, path);
	int tfd = fuzz_as_file((const uint8_t *)trace_text, sizeof(trace_text) - 1, tpath);

	if (fd >= 0 && tfd >= 0 && ts_profile_load(&p, path, &err) == 0) {
		if (ts_trace_load(&t, tpath, &err) != 0)
			abort();
		for (int interp = 0; interp < 2; interp++) {
			struct ts_classes_opts o = { .max_degree = 1 << (size % 7), .interpolate = interp };
			if (ts_classes_build(&cs, &t, &p, &o, &err) == 0)
				ts_classes_free(&cs);
		}
		ts_trace_free(&t);
		ts_profile_free(&p);
	}
	if (fd >= 0)
		close(fd);
	if (tfd >= 0)
		close(tfd);
	return 0;
}
