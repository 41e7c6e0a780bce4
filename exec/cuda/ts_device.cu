/* ts_device.cu: the plain-C device helpers of ts_device.h. */
#include <cstdio>

#include "ts_cuda_check.cuh"

extern "C" {
#include "ts_device.h"
}

extern "C" int ts_dev_count(int *n)
{
	*n = 0;
	int c = 0;
	if (cudaGetDeviceCount(&c) != cudaSuccess) {
		cudaGetLastError(); /* clear the sticky "no driver" error */
		return 0;
	}
	*n = c;
	return 0;
}

extern "C" int ts_dev_name(int dev, char *buf, size_t len, struct ts_error *err)
{
	cudaDeviceProp prop;
	TS_CUDA(cudaGetDeviceProperties(&prop, dev), err);
	snprintf(buf, len, "%s", prop.name);
	return 0;
}

extern "C" int ts_dev_alloc(void **ptr, size_t bytes, struct ts_error *err)
{
	*ptr = NULL;
	cudaError_t rc = cudaMalloc(ptr, bytes ? bytes : 1);
	if (rc != cudaSuccess) {
		*ptr = NULL;
		cudaGetLastError(); /* recoverable: keep it out of later launch checks */
		return ts_err_set(err, TS_EDEVICE, "%s:%d: cudaMalloc(%zu bytes): %s",
				  __FILE__, __LINE__, bytes, cudaGetErrorString(rc));
	}
	return 0;
}

extern "C" void ts_dev_free(void *ptr)
{
	if (ptr)
		cudaFree(ptr);
}

extern "C" int ts_dev_poison(void *dev_ptr, size_t bytes, struct ts_error *err)
{
	TS_CUDA(cudaMemset(dev_ptr, 0xFF, bytes), err);
	return 0;
}

extern "C" int ts_dev_upload(void *dst, const void *src, size_t bytes, struct ts_error *err)
{
	TS_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), err);
	return 0;
}

extern "C" int ts_dev_download(void *dst, const void *src, size_t bytes, struct ts_error *err)
{
	TS_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), err);
	return 0;
}

extern "C" int ts_dev_sync(struct ts_error *err)
{
	TS_CUDA(cudaDeviceSynchronize(), err);
	return 0;
}

extern "C" int ts_dev_timer_init(struct ts_dev_timer *t, struct ts_error *err)
{
	cudaEvent_t a, b;
	t->start = t->stop = NULL;
	TS_CUDA(cudaEventCreate(&a), err);
	cudaError_t rc = cudaEventCreate(&b);
	if (rc != cudaSuccess) {
		cudaEventDestroy(a);
		return ts_err_set(err, TS_EDEVICE, "%s:%d: cudaEventCreate: %s",
				  __FILE__, __LINE__, cudaGetErrorString(rc));
	}
	t->start = a;
	t->stop = b;
	return 0;
}

extern "C" void ts_dev_timer_close(struct ts_dev_timer *t)
{
	if (t->start)
		cudaEventDestroy((cudaEvent_t)t->start);
	if (t->stop)
		cudaEventDestroy((cudaEvent_t)t->stop);
	t->start = t->stop = NULL;
}

extern "C" int ts_dev_timer_start(struct ts_dev_timer *t, void *stream, struct ts_error *err)
{
	TS_CUDA(cudaEventRecord((cudaEvent_t)t->start, (cudaStream_t)stream), err);
	return 0;
}

extern "C" int ts_dev_timer_stop(struct ts_dev_timer *t, void *stream, float *ms,
				 struct ts_error *err)
{
	TS_CUDA(cudaEventRecord((cudaEvent_t)t->stop, (cudaStream_t)stream), err);
	TS_CUDA(cudaEventSynchronize((cudaEvent_t)t->stop), err);
	TS_CUDA(cudaEventElapsedTime(ms, (cudaEvent_t)t->start, (cudaEvent_t)t->stop), err);
	return 0;
}
