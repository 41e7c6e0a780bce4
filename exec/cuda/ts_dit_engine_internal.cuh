/* ts_dit_engine_internal.cuh: what the files of the engine share: its
 * state (GPUs, communicator groups, the CUDA-graph cache, requests) and
 * the functions one file offers the others. Internal to exec/cuda:
 *   ts_dit_engine.cu  the engine (open, close, attention choice) and requests
 *   ts_dit_graphs.cu  the cache of captured steps
 *   ts_dit_groups.cu  NCCL communicators per GPU group
 *   ts_dit_ranks.cu   one host thread per GPU of a step, the step itself */
#ifndef TS_DIT_ENGINE_INTERNAL_CUH
#define TS_DIT_ENGINE_INTERNAL_CUH

#include <pthread.h>

#include "ts_dit_internal.cuh"

extern "C" {
#include "core/gpuset.h"
#include "core/ts_types.h"
}

#define TS_MAX_GROUPS 64
#define TS_MAX_GRAPHS 64

struct ts_dit_gpu {
	cudaStream_t st;
	struct ts_gemm *gemm;
	struct ts_attn_cudnn *cudnn; /* NULL where cuDNN did not load */
	struct ts_dit_weights w;
	struct ts_dit_ws ws;
	int64_t peak_mem;
	pthread_mutex_t glock; /* guards the exec[]/sealed[] slots of this GPU's ranks */
	/* per sample slot of the staging: whose conditioning it holds
	 * (ts_cond_key of a request's sample), 0: none or unknown */
	uint64_t staged_cond[TS_MAX_BATCH];
	uint64_t output_of;    /* request whose step output ws holds, 0: none */
};

/* Where a step key stands: seen never, once (ran eagerly), captured, or
 * left eager after a failed capture. */
enum ts_graph_state { TS_G_NEW, TS_G_SEEN, TS_G_READY, TS_G_EAGER };

/* One cached step key and its graphs, one per rank. Entries are found,
 * added and evicted under the engine lock; a step marks its entry busy so
 * nobody evicts it meanwhile. exec[r] and sealed[r] are read and written
 * under the glock of rank r's GPU, because ts_dit_engine_abort() may drop
 * them while the step's rank threads run. */
struct ts_dit_graph {
	bool used;
	int busy;
	uint64_t mask;
	int group; /* slot in e->group[], -1 for one GPU */
	int height, width, batch;
	enum ts_graph_state state;
	uint64_t last_use;
	cudaGraphExec_t exec[TS_MAX_GPUS];
	bool sealed[TS_MAX_GPUS]; /* the group was aborted: never launch again */
};

struct ts_dit_group {
	uint64_t mask;
	bool dead;                    /* aborted: never used or destroyed again */
	ncclComm_t comm[TS_MAX_GPUS]; /* indexed by rank within the group */
};

struct ts_dit_engine {
	struct ts_dit_config cfg;
	int ngpus;
	struct ts_dit_gpu gpu[TS_MAX_GPUS];
	struct ts_dit_group group[TS_MAX_GROUPS];
	int ngroups;
	pthread_mutex_t lock; /* guards group[], ngroups, graph[], the counters */
	bool graphs;
	int attn_kernel;     /* enum ts_attn_kernel */
	char cudnn_why[256]; /* why a GPU has no cuDNN context ("" if all have) */
	struct ts_dit_graph graph[TS_MAX_GRAPHS];
	uint64_t graph_clock, next_serial;
	struct ts_dit_graph_stats gstats;
};

struct ts_dit_request {
	struct ts_dit_engine *e;
	int height, width, batch, steps, done;
	uint64_t seed;
	uint64_t serial;    /* unique in the engine, never 0 */
	uint64_t holders;   /* GPUs whose latent is current */
	uint64_t allocated; /* GPUs with state allocated */
	struct ts_dit_req_gpu g[TS_MAX_GPUS];
	/* ts_dit_request_set_inputs(): host copies, NULL: seeded */
	float *in_latent, *in_text, *in_pooled;
	float *sigmas; /* steps + 1 noise levels, NULL: ts_dit_sigma() */
	float guidance;
};

/* How a step runs. */
enum ts_step_mode { TS_M_EAGER, TS_M_CAPTURE, TS_M_REPLAY };

/* ---- ts_dit_graphs.cu ---- */

/* Destroys the graphs of entry g on every GPU of its mask; with `seal` its
 * ranks may never launch again (their group is being aborted). A graph
 * still running is freed by CUDA when it completes. */
void ts_graph_drop_execs(struct ts_dit_engine *e, struct ts_dit_graph *g, bool seal);

/* Before GPU dev's workspace moves: drops the graphs of every key that runs
 * on dev; a key captured before is captured again at its next step. */
void ts_graphs_drop_gpu(struct ts_dit_engine *e, int dev);

/* Drops and seals the graphs of group slot `slot` (engine lock held):
 * aborting or destroying a communicator waits until no graph holds it. */
void ts_graphs_seal_group(struct ts_dit_engine *e, int slot);

/* The cache entry of a step of `batch` samples of height x width on `gpus`
 * (group slot `slot`), added when new, evicting the least recently used
 * idle one; marked busy until ts_graph_release(). *state receives its
 * state. NULL when every entry is busy: the step then runs eagerly. */
struct ts_dit_graph *ts_graph_acquire(struct ts_dit_engine *e, int height, int width, int batch,
					     uint64_t gpus, int slot, enum ts_graph_state *state);

/* How the step of entry g runs now: eagerly (no entry, or a key seen for
 * the first time or left eager), captured (seen once), or replayed. */
enum ts_step_mode ts_graph_mode(struct ts_dit_engine *e, struct ts_dit_graph *g);

/* Records how the step of entry g went (rc: its result) and unmarks it. */
void ts_graph_release(struct ts_dit_engine *e, struct ts_dit_graph *g, enum ts_step_mode mode,
			     bool fell_back, int rc);

/* ---- ts_dit_groups.cu ---- */

/* The communicators of a GPU group, created on first use. The lock is not
 * held during ncclCommInitAll, so steps of other groups start meanwhile; the
 * same mask is never looked up twice at once (the backend runs one launch
 * per GPU), and a slot is published only once its communicators exist. */
int ts_group_get(struct ts_dit_engine *e, uint64_t mask, struct ts_dit_group **out,
			struct ts_error *err);

/* Aborts the communicators of g (ncclCommAbort makes ranks blocked in its
 * collectives return) and retires it, its graphs destroyed first. */
void ts_group_abort(struct ts_dit_engine *e, struct ts_dit_group *g);

/* ---- ts_dit_engine.cu ---- */

/* The default schedule: sigma of step i of `steps` (flow matching, shift 3). */
float ts_dit_sigma(int i, int steps);

/* Latent and conditioning on GPU dev; a fresh request's latent is the
 * seeded noise, the same on every GPU. */
int ts_request_alloc(struct ts_dit_request *r, int dev, struct ts_error *err);

/* TS_EINVAL unless gpus is a non-empty set of the engine's GPUs whose size
 * divides the model's heads. */
int ts_check_mask(const struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err);

/* The checks of ts_dit_batch_step() (ts_dit.h) before anything runs; *batch
 * receives the samples of all n requests together. */
int ts_check_batch(const struct ts_dit_engine *e, struct ts_dit_request *const *reqs, int n,
		   int *batch, struct ts_error *err);

#endif
