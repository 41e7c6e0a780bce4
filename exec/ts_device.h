/* ts_device.h: plain-C access to CUDA devices for exec/ and its tests:
 * counting GPUs, device memory, copies and timing. No CUDA type appears
 * here; device pointers are void * and streams are opaque void *. */
#ifndef TS_DEVICE_H
#define TS_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"

/* Sets *n to the number of CUDA devices. A machine without a driver or
 * without GPUs gives *n = 0 and returns 0 (callers skip), never an error. */
int ts_dev_count(int *n);

/* Copies the name of device `dev` (e.g. "NVIDIA H100 80GB HBM3") into buf. */
int ts_dev_name(int dev, char *buf, size_t len, struct ts_error *err);

/* Allocates `bytes` of device memory on the current device into *ptr. */
int ts_dev_alloc(void **ptr, size_t bytes, struct ts_error *err);

/* Frees device memory from ts_dev_alloc(); NULL is a no-op. */
void ts_dev_free(void *ptr);

/* Fills `bytes` bytes at dev_ptr with 0xFF: NaN in both bf16 and fp32, so an
 * element a kernel forgot to write fails any finite-value check. */
int ts_dev_poison(void *dev_ptr, size_t bytes, struct ts_error *err);

/* Synchronous host-to-device and device-to-host copies. */
int ts_dev_upload(void *dst, const void *src, size_t bytes, struct ts_error *err);
int ts_dev_download(void *dst, const void *src, size_t bytes, struct ts_error *err);

/* Waits for all work on the current device. */
int ts_dev_sync(struct ts_error *err);

/* Device-side timing of a region on a stream (NULL: the legacy default
 * stream): ts_dev_timer_start() records a start event, ts_dev_timer_stop()
 * records the end, waits for it and sets *ms to the elapsed GPU time. */
struct ts_dev_timer {
	void *start, *stop; /* cudaEvent_t */
};
int ts_dev_timer_init(struct ts_dev_timer *t, struct ts_error *err);
void ts_dev_timer_close(struct ts_dev_timer *t);
int ts_dev_timer_start(struct ts_dev_timer *t, void *stream, struct ts_error *err);
int ts_dev_timer_stop(struct ts_dev_timer *t, void *stream, float *ms, struct ts_error *err);

#endif
