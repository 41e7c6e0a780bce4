/* ts_comm_bench.cu: all-to-all bandwidth over NCCL, one process, one thread. */
#include <algorithm>
#include <nccl.h>
#include <stdlib.h>
#include <time.h>

#include "ts_cuda_check.cuh"

extern "C" {
#include "core/ts_types.h"
#include "ts_comm_bench.h"
}

struct ts_a2a_ctx {
	int k;
	ncclComm_t comm[TS_MAX_GPUS];
	cudaStream_t st[TS_MAX_GPUS];
	char *send[TS_MAX_GPUS], *recv[TS_MAX_GPUS];
};

static int ts_a2a_once(struct ts_a2a_ctx *c, size_t chunk, struct ts_error *err)
{
	ncclResult_t nr = ncclGroupStart();
	for (int r = 0; nr == ncclSuccess && r < c->k; r++)
		for (int p = 0; nr == ncclSuccess && p < c->k; p++) {
			nr = ncclSend(c->send[r] + p * chunk, chunk, ncclChar, p, c->comm[r], c->st[r]);
			if (nr == ncclSuccess)
				nr = ncclRecv(c->recv[r] + p * chunk, chunk, ncclChar, p, c->comm[r], c->st[r]);
		}
	ncclResult_t end = ncclGroupEnd();
	if (nr == ncclSuccess)
		nr = end;
	if (nr != ncclSuccess)
		return ts_err_set(err, TS_EDEVICE, "%s:%d: all-to-all: %s", __FILE__, __LINE__,
				  ncclGetErrorString(nr));
	for (int r = 0; r < c->k; r++) {
		TS_CUDA(cudaSetDevice(r), err);
		TS_CUDA(cudaStreamSynchronize(c->st[r]), err);
	}
	return 0;
}

static double ts_a2a_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ts_a2a_setup(struct ts_a2a_ctx *c, size_t bytes, struct ts_error *err)
{
	int devs[TS_MAX_GPUS];
	for (int r = 0; r < c->k; r++) {
		devs[r] = r;
		TS_CUDA(cudaSetDevice(r), err);
		TS_CUDA(cudaStreamCreateWithFlags(&c->st[r], cudaStreamNonBlocking), err);
		TS_CUDA(cudaMalloc(&c->send[r], bytes), err);
		TS_CUDA(cudaMalloc(&c->recv[r], bytes), err);
		TS_CUDA(cudaMemset(c->send[r], r + 1, bytes), err);
	}
	ncclResult_t nr = ncclCommInitAll(c->comm, c->k, devs);
	if (nr != ncclSuccess) {
		c->comm[0] = NULL;
		return ts_err_set(err, TS_EDEVICE, "%s:%d: ncclCommInitAll(%d): %s", __FILE__, __LINE__,
				  c->k, ncclGetErrorString(nr));
	}
	return 0;
}

static void ts_a2a_teardown(struct ts_a2a_ctx *c)
{
	for (int r = 0; r < c->k; r++) {
		if (c->comm[0])
			ncclCommDestroy(c->comm[r]);
		cudaSetDevice(r);
		cudaFree(c->send[r]);
		cudaFree(c->recv[r]);
		if (c->st[r])
			cudaStreamDestroy(c->st[r]);
	}
}

extern "C" int ts_comm_bench_alltoall(int k, size_t bytes_per_rank, int iters,
				      struct ts_a2a_result *res, struct ts_error *err)
{
	int have = 0;
	if (cudaGetDeviceCount(&have) != cudaSuccess)
		have = 0;
	if (k < 2 || k > have || k > TS_MAX_GPUS || iters < 1 || bytes_per_rank < (size_t)k)
		return ts_err_set(err, TS_EINVAL, "alltoall bench: k %d (2..%d GPUs), iters %d, %zu bytes",
				  k, have, iters, bytes_per_rank);
	struct ts_a2a_ctx *c = (struct ts_a2a_ctx *)calloc(1, sizeof(*c));
	double *ms = (double *)calloc((size_t)iters, sizeof(double));
	int rc = (!c || !ms) ? ts_err_set(err, TS_ENOMEM, "alltoall bench: out of memory") : 0;
	size_t chunk = bytes_per_rank / k;
	if (rc)
		goto out_free;
	c->k = k;
	rc = ts_a2a_setup(c, chunk * k, err);
	for (int i = 0; !rc && i < 3; i++)
		rc = ts_a2a_once(c, chunk, err);
	for (int i = 0; !rc && i < iters; i++) {
		double t0 = ts_a2a_now_ms();
		rc = ts_a2a_once(c, chunk, err);
		ms[i] = ts_a2a_now_ms() - t0;
	}
	if (!rc) {
		std::sort(ms, ms + iters);
		res->ms = ms[iters / 2];
		res->algbw_gbs = (double)(chunk * k) / (res->ms * 1e-3) / 1e9;
		res->busbw_gbs = res->algbw_gbs * (k - 1) / k;
	}
	ts_a2a_teardown(c);
out_free:
	free(c);
	free(ms);
	return rc;
}
