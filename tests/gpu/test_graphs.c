/* test_graphs.c: steps replayed from CUDA graphs (ts_dit_engine_set_graphs)
 * give the bits of eager steps, for FLUX.1-dev and SD3-medium:
 * - lockstep: two requests with one seed, one stepped eagerly and one with
 *   graphs, alternating, hold equal latents after every step, at 256x256,
 *   at 336x208 (non-square, 273 image tokens) and for SD3 at batch 2; the
 *   graph request's key ran once eagerly, was captured once and replayed;
 * - two requests of different seeds sharing one cached graph, stepping in
 *   turn (the staged conditioning swaps), end where each ends alone eagerly;
 * - a larger shape grows the workspace: the 256x256 graphs are dropped and
 *   captured again, and all three requests match their eager runs;
 * - with two GPUs, the lockstep cases at SP=2;
 * - `tetriserve profile --graphs` takes on or off only, and on only with
 *   --warmup >= 2 (no GPU needed), and
 *   with on writes a profile saying so.
 * Graphs default to off. Needs 1 GPU (2 for the SP=2 cases). */
#include <string.h>
#include <unistd.h>

#include "gpu_test.h"
#include "ts_dit.h"
#include "ts_profile_cmd.h"

#define STEPS 5 /* eager warm-up, capture, 3 replays */

static struct ts_error err;

struct shape {
	int height, width, batch;
};

static int step_with(struct ts_dit_engine *e, struct ts_dit_request *r, uint64_t mask, bool graphs)
{
	ts_dit_engine_set_graphs(e, graphs);
	return ts_dit_request_step(e, r, mask, &err);
}

/* The latent of r into a new host buffer (NULL on failure, reported). */
static float *latent_of(struct ts_dit_request *r)
{
	float *x = malloc(sizeof(float) * (size_t)ts_dit_request_latent_size(r));
	if (!x || ts_dit_request_latent(r, x, &err)) {
		TS_CHECK_MSG(0, "latent: %s", x ? err.msg : "out of memory");
		free(x);
		return NULL;
	}
	return x;
}

static bool same_latent(struct ts_dit_request *a, struct ts_dit_request *b)
{
	float *x = latent_of(a), *y = latent_of(b);
	bool same = x && y &&
		    !memcmp(x, y, sizeof(float) * (size_t)ts_dit_request_latent_size(a));
	free(x), free(y);
	return same;
}

static struct ts_dit_graph_stats stats_of(struct ts_dit_engine *e)
{
	struct ts_dit_graph_stats s;
	ts_dit_engine_graph_stats(e, &s);
	return s;
}

/* Checks the captures and replays since `before`. */
static void check_counts(struct ts_dit_engine *e, const struct ts_dit_graph_stats *before,
			 int64_t captures, int64_t replays, const char *what)
{
	struct ts_dit_graph_stats now = stats_of(e);
	TS_CHECK_MSG(now.captures - before->captures == captures &&
			     now.replays - before->replays == replays &&
			     now.fallbacks == before->fallbacks,
		     "%s %s: %lld captures, %lld replays, %lld fallbacks; expected %lld, %lld, 0",
		     ts_dit_engine_config(e)->name, what, (long long)(now.captures - before->captures),
		     (long long)(now.replays - before->replays),
		     (long long)(now.fallbacks - before->fallbacks), (long long)captures,
		     (long long)replays);
}

/* An eager and a graph request of one seed, stepped in turn: equal bits
 * after every step. The shape's key must be new to the engine. */
static void check_lockstep(struct ts_dit_engine *e, struct shape sh, uint64_t mask)
{
	struct ts_dit_request *a = NULL, *b = NULL;
	struct ts_dit_graph_stats before = stats_of(e);
	const char *model = ts_dit_engine_config(e)->name;
	int rc = ts_dit_request_open(e, &a, sh.height, sh.width, sh.batch, 30, 11, &err) ||
		 ts_dit_request_open(e, &b, sh.height, sh.width, sh.batch, 30, 11, &err);
	int diverged = -1;
	for (int s = 0; !rc && s < STEPS; s++) {
		rc = step_with(e, a, mask, false) || step_with(e, b, mask, true);
		if (!rc && diverged < 0 && !same_latent(a, b))
			diverged = s;
	}
	TS_CHECK_MSG(rc == 0, "%s %dx%d lockstep: %s", model, sh.height, sh.width, err.msg);
	TS_CHECK_MSG(diverged < 0, "%s %dx%d batch %d mask 0x%llx: graph latent differs from eager after step %d",
		     model, sh.height, sh.width, sh.batch, (unsigned long long)mask, diverged + 1);
	if (!rc)
		check_counts(e, &before, 1, STEPS - 2, "lockstep");
	printf("%s %dx%d batch %d mask 0x%llx: %d graph steps %s eager bits\n", model, sh.height,
	       sh.width, sh.batch, (unsigned long long)mask, STEPS,
	       diverged < 0 && !rc ? "equal" : "DIFFER from");
	ts_dit_request_close(a);
	ts_dit_request_close(b);
}

/* Runs `steps` steps of a fresh request (seed) eagerly; its latent. */
static float *eager_run(struct ts_dit_engine *e, struct shape sh, uint64_t seed, int steps)
{
	struct ts_dit_request *r = NULL;
	float *x = NULL;
	int rc = ts_dit_request_open(e, &r, sh.height, sh.width, sh.batch, 30, seed, &err);
	for (int s = 0; !rc && s < steps; s++)
		rc = step_with(e, r, 1, false);
	TS_CHECK_MSG(rc == 0, "eager run: %s", err.msg);
	if (!rc)
		x = latent_of(r);
	ts_dit_request_close(r);
	return x;
}

static bool equals_eager(struct ts_dit_engine *e, struct ts_dit_request *r, struct shape sh,
			 uint64_t seed, int steps)
{
	float *x = latent_of(r), *ref = eager_run(e, sh, seed, steps);
	bool same = x && ref &&
		    !memcmp(x, ref, sizeof(float) * (size_t)ts_dit_request_latent_size(r));
	free(x), free(ref);
	return same;
}

/* Two requests of different seeds take turns on the cached 256x256 graph
 * (captured by check_lockstep, nothing larger ran since): all replays. */
static void check_shared_graph(struct ts_dit_engine *e)
{
	struct shape sh = {256, 256, 1};
	struct ts_dit_request *c = NULL, *d = NULL;
	struct ts_dit_graph_stats before = stats_of(e);
	const char *model = ts_dit_engine_config(e)->name;
	int rc = ts_dit_request_open(e, &c, 256, 256, 1, 30, 21, &err) ||
		 ts_dit_request_open(e, &d, 256, 256, 1, 30, 22, &err);
	for (int s = 0; !rc && s < 4; s++)
		rc = step_with(e, c, 1, true) || step_with(e, d, 1, true);
	TS_CHECK_MSG(rc == 0, "%s shared graph: %s", model, err.msg);
	if (!rc) {
		check_counts(e, &before, 0, 8, "shared graph");
		TS_CHECK_MSG(equals_eager(e, c, sh, 21, 4), "%s shared graph: request 1 differs from eager",
			     model);
		TS_CHECK_MSG(equals_eager(e, d, sh, 22, 4), "%s shared graph: request 2 differs from eager",
			     model);
	}
	ts_dit_request_close(c);
	ts_dit_request_close(d);
}

/* Three graph steps of a fresh request; 0 or the error. */
static int graph_steps(struct ts_dit_engine *e, struct shape sh, uint64_t seed,
		       struct ts_dit_request **out)
{
	int rc = ts_dit_request_open(e, out, sh.height, sh.width, sh.batch, 30, seed, &err);
	for (int s = 0; !rc && s < 3; s++)
		rc = step_with(e, *out, 1, true);
	return rc;
}

/* 256x256 (cached), then 512x512 (the workspace grows: the 256x256 graphs
 * point at freed buffers and must go), then 256x256 again: captured anew. */
static void check_workspace_growth(struct ts_dit_engine *e)
{
	struct shape small = {256, 256, 1}, big = {512, 512, 1};
	struct ts_dit_request *s1 = NULL, *b = NULL, *s2 = NULL;
	const char *model = ts_dit_engine_config(e)->name;
	int rc = graph_steps(e, small, 31, &s1) || graph_steps(e, big, 32, &b);
	struct ts_dit_graph_stats before = stats_of(e);
	if (!rc)
		rc = graph_steps(e, small, 33, &s2);
	TS_CHECK_MSG(rc == 0, "%s workspace growth: %s", model, err.msg);
	if (!rc) {
		check_counts(e, &before, 1, 2, "256x256 after the workspace grew");
		TS_CHECK_MSG(equals_eager(e, s1, small, 31, 3), "%s 256x256 before growth differs", model);
		TS_CHECK_MSG(equals_eager(e, b, big, 32, 3), "%s 512x512 (growing) differs", model);
		TS_CHECK_MSG(equals_eager(e, s2, small, 33, 3), "%s 256x256 after growth differs", model);
		printf("%s: workspace growth 256 -> 512 -> 256 with graphs: eager bits, re-captured\n",
		       model);
	}
	ts_dit_request_close(s1);
	ts_dit_request_close(b);
	ts_dit_request_close(s2);
}

static void check_model(const char *model, int ngpu)
{
	struct ts_dit_engine *e = NULL;
	int rc = ts_dit_engine_open(&e, model, ngpu, 1234, &err);
	TS_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc)
		return;
	TS_CHECK_MSG(!ts_dit_engine_graphs(e), "graphs should default to off");
	struct shape sq = {256, 256, 1}, odd = {336, 208, 1}, two = {256, 256, 2};
	check_lockstep(e, sq, 1);
	check_shared_graph(e);
	check_lockstep(e, odd, 1);
	if (!strcmp(model, "sd3-medium"))
		check_lockstep(e, two, 1);
	check_workspace_growth(e);
	if (ngpu >= 2) {
		check_lockstep(e, sq, 3);
		check_lockstep(e, odd, 3);
	}
	struct ts_dit_graph_stats st = stats_of(e);
	printf("%s: %lld captures, %lld replays, %lld fallbacks, %d keys cached\n", model,
	       (long long)st.captures, (long long)st.replays, (long long)st.fallbacks, st.cached);
	ts_dit_engine_close(e);
}

static int profile(int argc, const char **argv)
{
	return ts_cmd_profile(argc, (char **)argv);
}

static void check_profile_option(void)
{
	const char *bad[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1",
			     "--gpus", "1", "--out", "/dev/null", "--graphs", "yes"};
	TS_CHECK(profile(13, bad) == 2);
	/* the eager and the capture step would be timed */
	const char *short_warmup[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp",
				      "1", "--gpus", "1", "--out", "/dev/null", "--graphs", "on",
				      "--warmup", "1"};
	TS_CHECK(profile(15, short_warmup) == 2);
}

/* A --graphs on profile runs and its CSV header records it. */
static void check_profile_graphs_on(void)
{
	char path[] = "/tmp/ts_graphs_profile_XXXXXX";
	int fd = mkstemp(path);
	TS_CHECK(fd >= 0);
	close(fd);
	const char *on[] = {"profile", "--model", "sd3-medium", "--res", "256", "--sp", "1",
			    "--gpus", "1", "--warmup", "2", "--iters", "3", "--out", path,
			    "--graphs", "on"};
	TS_CHECK(profile(17, on) == 0);
	char buf[4096] = {0};
	FILE *f = fopen(path, "r");
	size_t got = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	TS_CHECK_MSG(got > 0 && strstr(buf, "# CUDA graphs: on"), "profile header: %s", buf);
	unlink(path);
}

int main(void)
{
	int ngpu = gt_gpus();
	check_profile_option();
	if (ngpu < 1) {
		printf("test_graphs: no GPU, skipped (option check: %d failed)\n", ts_test_failures);
		return ts_test_failures ? 1 : TS_SKIP;
	}
	check_profile_graphs_on();
	ngpu = ngpu >= 2 ? 2 : 1;
	if (ngpu < 2)
		printf("test_graphs: one GPU, SP=2 cases skipped\n");
	check_model("sd3-medium", ngpu);
	check_model("flux-dev", ngpu);
	return ts_test_result("test_graphs");
}
