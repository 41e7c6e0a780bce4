/* test_profile_cmd.c: `tetriserve profile` refuses bad options with exit 2
 * and a message (no GPU needed), and, on a GPU, writes a profile CSV that
 * the project's profile reader (common/io/profile.h) loads, one row per
 * cell with sane statistics. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_test.h"
#include "io/profile.h"
#include "ts_profile_cmd.h"

static int run(int argc, const char **argv)
{
	return ts_cmd_profile(argc, (char **)argv);
}

static void check_usage_errors(void)
{
	const char *no_out[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1", "--gpus", "1"};
	const char *bad_res[] = {"profile", "--model", "sd3-medium", "--res", "256,x", "--sp", "1",
				 "--gpus", "1", "--out", "/dev/null"};
	const char *db[] = {"profile", "--db", "r.db"};
	const char *bad_seed[] = {"profile", "--seed", "-3"};
	TS_CHECK(run(9, no_out) == 2);
	TS_CHECK(run(11, bad_res) == 2);
	TS_CHECK(run(3, db) == 2);
	TS_CHECK(run(3, bad_seed) == 2);
}

static void check_profile_csv(void)
{
	char path[] = "/tmp/ts_profile_XXXXXX";
	int fd = mkstemp(path);
	TS_CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	const char *argv[] = {"profile", "--model", "sd3-medium", "--res", "256,512", "--sp", "1",
			      "--gpus", "1", "--batch", "1,2", "--warmup", "1", "--iters", "3",
			      "--out", path};
	TS_CHECK(run(17, argv) == 0);
	struct ts_profile p = {0};
	struct ts_error err = {0, ""};
	int rc = ts_profile_load(&p, path, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	TS_CHECK(p.n == 4);
	for (size_t i = 0; i < p.n; i++) {
		const struct ts_profile_row *r = &p.rows[i];
		TS_CHECK(!strcmp(r->model, "sd3-medium") && r->sp == 1 && r->samples == 3);
		TS_CHECK(r->step_ms > 0 && r->p50_ms <= r->p99_ms && r->cv >= 0);
		TS_CHECK(r->batch == 1 || r->batch == 2);
	}
	ts_profile_free(&p);
	unlink(path);
}

int main(void)
{
	check_usage_errors();
	if (gt_gpus() >= 1)
		check_profile_csv();
	else
		printf("test_profile_cmd: no GPU, CSV check skipped\n");
	return ts_test_result("test_profile_cmd");
}
