/* gpu_test.h: helpers shared by the GPU tests: skipping without a GPU,
 * whether cuDNN must be used, seeded random inputs, bf16 device buffers,
 * relative error. */
#ifndef TS_GPU_TEST_H
#define TS_GPU_TEST_H

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/ts_bf16.h"
#include "ts_device.h"

#define TS_SKIP 77

/* Number of GPUs; the caller exits TS_SKIP when it is below what it needs. */
static inline int gt_gpus(void)
{
	int n = 0;
	ts_dev_count(&n);
	return n;
}

/* Whether the cuDNN attention path must be taken here: libcudnn.so.9 loads
 * and is 9.13 or later (the fused SDPA operation), or TS_REQUIRE_CUDNN=1.
 * Found out on its own, not by asking the engine, so an engine or build that
 * misses a cuDNN that is there fails the GPU tests instead of skipping its
 * path quietly. *what says which (for the message). The library stays
 * loaded, as the engine keeps it. */
static inline bool gt_cudnn_expected(char *what, size_t size)
{
	const char *req = getenv("TS_REQUIRE_CUDNN");
	void *lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
	size_t (*version)(void) = NULL;
	if (lib)
		*(void **)&version = dlsym(lib, "cudnnGetVersion");
	size_t v = version ? version() : 0;
	if (v >= 91300) {
		snprintf(what, size, "libcudnn.so.9 %zu loads", v);
		return true;
	}
	if (req && !strcmp(req, "1")) {
		snprintf(what, size, "TS_REQUIRE_CUDNN=1");
		return true;
	}
	snprintf(what, size, lib ? "libcudnn.so.9 is %zu, older than 9.13" : "libcudnn.so.9 does not load", v);
	return false;
}

/* xorshift64* stream for test inputs. */
static inline double gt_uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* n random values in [-scale, scale), rounded to bf16 so host and device
 * see the same inputs. */
static inline float *gt_random(size_t n, float scale, uint64_t *s)
{
	float *v = malloc(n * sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = ts_bf16_to_float(ts_bf16_from_float((float)(scale * gt_uniform(s))));
	return v;
}

/* Device copy of host floats as bf16; aborts the test on failure. */
static inline void *gt_to_dev_bf16(const float *v, size_t n)
{
	struct ts_error err = {0, ""};
	uint16_t *h = malloc(n * sizeof(*h) + 1);
	void *d = NULL;
	for (size_t i = 0; h && i < n; i++)
		h[i] = ts_bf16_from_float(v[i]);
	if (!h || ts_dev_alloc(&d, n * 2, &err) || ts_dev_upload(d, h, n * 2, &err)) {
		fprintf(stderr, "device buffer: %s\n", err.msg);
		exit(1);
	}
	free(h);
	return d;
}

/* A poisoned (NaN-filled) bf16 or fp32 device buffer of `bytes`. */
static inline void *gt_dev_poisoned(size_t bytes)
{
	struct ts_error err = {0, ""};
	void *d = NULL;
	if (ts_dev_alloc(&d, bytes, &err) || ts_dev_poison(d, bytes, &err)) {
		fprintf(stderr, "device buffer: %s\n", err.msg);
		exit(1);
	}
	return d;
}

/* Host floats from a device bf16 buffer (caller frees). */
static inline float *gt_from_dev_bf16(const void *d, size_t n)
{
	struct ts_error err = {0, ""};
	uint16_t *h = malloc(n * sizeof(*h) + 1);
	float *v = malloc(n * sizeof(*v) + 1);
	if (!h || !v || ts_dev_download(h, d, n * 2, &err)) {
		fprintf(stderr, "download: %s\n", err.msg);
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = ts_bf16_to_float(h[i]);
	free(h);
	return v;
}

/* ||out - ref|| / ||ref||; +Inf if any output is not finite. */
static inline double gt_rel_err(const float *out, const double *ref, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(out[i]))
			return INFINITY;
		num += (out[i] - ref[i]) * (out[i] - ref[i]);
		den += ref[i] * ref[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ||(a - x0) - (ref - x0)|| / ||ref - x0||: how far the update of a latent
 * from x0 is from the reference update (the noise itself cancels out);
 * infinite when a holds a non-finite value. */
static inline double gt_rel_update_err(const float *a, const float *ref, const float *x0, int64_t n)
{
	double num = 0, den = 0;
	for (int64_t i = 0; i < n; i++) {
		if (!isfinite(a[i]))
			return INFINITY;
		double da = a[i] - x0[i], dr = ref[i] - x0[i];
		num += (da - dr) * (da - dr);
		den += dr * dr;
	}
	return den > 0 ? sqrt(num / den) : INFINITY;
}

#endif
