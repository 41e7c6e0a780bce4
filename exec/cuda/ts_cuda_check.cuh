/* ts_cuda_check.cuh: turns failed CUDA, cuBLAS and NCCL calls into TS_EDEVICE
 * errors naming the call and file:line (llm.c's cudaCheck, returning an error
 * instead of exiting). Internal to exec/cuda. */
#ifndef TS_CUDA_CHECK_CUH
#define TS_CUDA_CHECK_CUH

#include <cuda_runtime.h>

extern "C" {
#include "core/ts_error.h"
}

/* Evaluates a cudaError_t call; on failure sets *err and returns from the
 * enclosing function with TS_EDEVICE. The runtime's last-error slot is
 * cleared so a recoverable failure (an allocation) is not reported again
 * by the next launch check. */
#define TS_CUDA(call, err)                                                      \
	do {                                                                    \
		cudaError_t ts_rc_ = (call);                                    \
		if (ts_rc_ != cudaSuccess) {                                    \
			cudaGetLastError();                                     \
			return ts_err_set((err), TS_EDEVICE, "%s:%d: %s: %s",   \
					  __FILE__, __LINE__, #call,            \
					  cudaGetErrorString(ts_rc_));          \
		}                                                               \
	} while (0)

/* Same, but jumps to `label` after setting *err and rc. */
#define TS_CUDA_GOTO(call, err, rc, label)                                      \
	do {                                                                    \
		cudaError_t ts_rc_ = (call);                                    \
		if (ts_rc_ != cudaSuccess) {                                    \
			cudaGetLastError();                                     \
			rc = ts_err_set((err), TS_EDEVICE, "%s:%d: %s: %s",     \
					__FILE__, __LINE__, #call,              \
					cudaGetErrorString(ts_rc_));            \
			goto label;                                             \
		}                                                               \
	} while (0)

/* Checks the last kernel launch (launch configuration errors, and with
 * CUDA_LAUNCH_BLOCKING=1 also execution errors). */
#define TS_CUDA_LAUNCHED(name, err)                                             \
	do {                                                                    \
		cudaError_t ts_rc_ = cudaGetLastError();                        \
		if (ts_rc_ != cudaSuccess)                                      \
			return ts_err_set((err), TS_EDEVICE,                    \
					  "%s:%d: launch of %s: %s", __FILE__,  \
					  __LINE__, (name),                     \
					  cudaGetErrorString(ts_rc_));          \
	} while (0)

#endif
