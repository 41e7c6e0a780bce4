/* step_model.h: the step-time model of a DiT (docs/STEP_MODEL.md). One
 * step on each rank of an SP group of k GPUs takes
 *
 *   t_gpu = sum_gemm max(F/P, B/M) + F_attn / (A * S/(S + S_half))
 *           + E/M + [k > 1] (calls * lat_k + bytes (k-1)/k / busbw_k)
 *   t     = t0 + t_gpu   (host "add")   or   max(t0, t_gpu)   (host "max")
 *
 * with the work (F, B, F_attn, S, E, calls, bytes) counted by
 * model/step_work.h and the parameters P (GEMM TFLOP/s), A (attention
 * TFLOP/s), S_half (tokens), M (memory GB/s), t0 (ms), lat_k (us) and
 * busbw_k (GB/s) fitted on a measured profile (model/step_fit.h). */
#ifndef TS_STEP_MODEL_H
#define TS_STEP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ts_types.h"
#include "io/profile.h"
#include "model/device.h"
#include "model/dit_config.h"
#include "model/step_work.h"

/* The scalar parameters. */
enum ts_step_param {
	TS_SP_GEMM_TFLOPS,   /* P: GEMM rate ceiling, (0, peak) */
	TS_SP_ATTN_TFLOPS,   /* A: attention rate for long sequences, (0, peak) */
	TS_SP_ATTN_S_HALF,   /* S_half: tokens at which attention runs at half A */
	TS_SP_MEM_GBPS,      /* M: memory bandwidth of weights, element-wise, small GEMMs, (0, HBM) */
	TS_SP_OVERHEAD_MS,   /* t0: fixed per-step overhead (launches, host), >= 0 */
	TS_SP_COUNT
};

#define TS_STEP_SOURCE 640

struct ts_step_value {
	double value;
	char source[TS_STEP_SOURCE]; /* "fit: P.csv (20 cells)", "assumed: ...", "given: ..." */
};

/* The all-to-all of one SP degree (none at degree 1). */
struct ts_a2a_value {
	bool set;
	bool assumed;        /* copied from another degree by ts_step_model_assume_a2a() */
	double lat_us, busbw_gbps;
	char source[TS_STEP_SOURCE];
};

/* Where a fitted model may predict without --force. */
struct ts_step_range {
	int64_t min_tokens, max_tokens; /* image tokens of the measured cells */
	int max_sp, max_batch;          /* largest measured degree and batch */
};

struct ts_step_model {
	char model[48], gpu[48];
	struct ts_dit_config cfg;
	struct ts_device_spec dev;
	bool host_max;                          /* combine t0 and t_gpu by max, not sum */
	struct ts_step_value p[TS_SP_COUNT];
	struct ts_a2a_value a2a[TS_NDEG];       /* index: log2(degree); [0] unused */
	struct ts_step_range range;
	/* the fit */
	char profile[256], bench[256];          /* paths as given ("" when none) */
	uint64_t profile_hash;
	int fit_cells, fit_bench_rows;
	double fit_median_err, fit_max_err;     /* |relative error| over the fitted cells */
	char warning[TS_STEP_SOURCE];           /* why the fit is non-physical, kept anyway; "" */
	struct ts_profile_row *cells;           /* the measured cells fitted, owned */
	size_t ncells;
};

/* What a predicted step spends, ms (parts add up to t_gpu). */
struct ts_step_parts {
	double gemm, attn, elem, a2a, gpu, overhead;
};

/* Name of parameter i in the model file and messages ("gemm_tflops"). */
const char *ts_step_param_name(int i);

/* Predicted step time (ms) of work *w; parts (may be NULL) receive the
 * split. TS_ENOTFOUND naming the degree when w->sp > 1 has no all-to-all
 * parameters (fill them with ts_step_model_assume_a2a()). */
int ts_step_model_predict(const struct ts_step_model *m, const struct ts_step_work *w,
			  double *ms, struct ts_step_parts *parts, struct ts_error *err);

/* Gives degree sp, when it has no all-to-all parameters, those of the
 * largest fitted degree below it (bus bandwidth and per-call latency
 * unchanged: on an NVSwitch node each GPU's links bound its all-to-all at
 * any group size), with a source saying so. TS_ENOTFOUND when no degree > 1
 * was fitted. */
int ts_step_model_assume_a2a(struct ts_step_model *m, int sp, struct ts_error *err);

/* Frees what *m owns; safe on a zeroed struct. */
void ts_step_model_free(struct ts_step_model *m);

#endif
