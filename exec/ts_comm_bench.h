/* ts_comm_bench.h: the Ulysses all-to-all measured on its own
 * (exec/cuda/ts_comm_bench.cu), reported as nccl-tests does. */
#ifndef TS_COMM_BENCH_H
#define TS_COMM_BENCH_H

#include <stddef.h>

#include "core/ts_error.h"

struct ts_a2a_result {
	double ms;         /* median time of one all-to-all */
	double algbw_gbs;  /* bytes_per_rank / time, GB/s */
	double busbw_gbs;  /* algbw * (k - 1) / k, the nccl-tests all-to-all correction */
};

/* Times an all-to-all over GPUs 0..k-1 from one thread (grouped
 * ncclSend/ncclRecv over all devices, as nccl-tests' single-process mode):
 * each rank sends bytes_per_rank bytes, in k equal chunks, one per rank.
 * Median over `iters` runs after 3 warm-up runs, each timed from issue to
 * completion on every GPU. TS_EINVAL if k exceeds the GPUs present. */
int ts_comm_bench_alltoall(int k, size_t bytes_per_rank, int iters, struct ts_a2a_result *res,
			   struct ts_error *err);

#endif
