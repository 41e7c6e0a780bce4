/* ts_types.h: the plain data shared by the trace reader, the profile tables,
 * the scheduler, both backends and the results store. */
#ifndef TS_TYPES_H
#define TS_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time is a count of nanoseconds everywhere: virtual time in the simulator,
 * monotonic wall time since the start of the run in the executor. */
typedef int64_t ts_ns;

#define TS_NS_PER_S 1000000000LL
#define TS_NS_PER_MS 1000000LL
#define TS_NS_PER_US 1000LL

/* The longest simulated time span tetriserve represents: 2^61 ns (73
 * years). Inputs whose times could pass it are refused when they are
 * loaded (an arrival or SLO, one request's steps, the work of a whole trace
 * after its last arrival), so a sum of a few such spans, as the driver and
 * the policies form them, never overflows int64. */
#define TS_TIME_MAX ((ts_ns)1 << 61)

/* Seconds (double) to nanoseconds, rounded to nearest. */
static inline ts_ns ts_ns_from_s(double s)
{
	return (ts_ns)(s * 1e9 + (s >= 0 ? 0.5 : -0.5));
}

/* Nanoseconds to seconds as a double. */
static inline double ts_ns_to_s(ts_ns t)
{
	return (double)t / 1e9;
}

/* A node holds at most 64 GPUs: GPU sets are 64-bit masks (bit g = GPU g). */
#define TS_MAX_GPUS 64
/* SP degrees are powers of two 1..64; degree index d means degree 1 << d. */
#define TS_NDEG 7
/* Batch sizes 1, 2, 4, 8; batch index b means batch 1 << b. */
#define TS_NBATCH 4
#define TS_MAX_BATCH 8

/* One request of a trace, immutable during a run. */
struct ts_request {
	int64_t id;       /* request_id column */
	ts_ns arrival;    /* arrival_s */
	ts_ns slo;        /* slo_s */
	ts_ns deadline;   /* arrival + slo */
	int32_t height;   /* pixels */
	int32_t width;    /* pixels */
	int32_t steps;    /* denoising steps, >= 1 */
	int32_t model;    /* index into ts_trace.models; 0 when the trace has no model column */
	int32_t cls;      /* index into ts_classes.cls; set by ts_classes_build(), -1 before */
	uint64_t seed;    /* seed column, else the request id */
	ts_ns cancel_after; /* cancel_s: the client gives up this long after arrival (> 0); 0: never */
};

/* The step-time table of one (model, height, width) as a policy sees it:
 * mean step time per SP degree and batch size, from the profile. */
struct ts_class {
	int32_t model;                        /* index into ts_classes.models */
	int32_t height, width;
	int64_t tokens;                       /* (height/16) * (width/16): image tokens after 8x VAE and 2x2 patches */
	ts_ns step[TS_NBATCH][TS_NDEG];       /* mean step time; -1 where the profile has no cell */
	double cv[TS_NBATCH][TS_NDEG];        /* coefficient of variation of the step time; 0 if unknown */
	bool interpolated[TS_NBATCH][TS_NDEG];/* cell estimated by --interpolate, not measured */
	bool modelled[TS_NBATCH][TS_NDEG];    /* cell from a profile row of source "modelled" */
};

/* All classes of one run. */
struct ts_classes {
	struct ts_class *cls;
	int32_t n;
	char **models;   /* model names, index = ts_class.model / ts_request.model */
	int32_t nmodels;
	const char *profile_path; /* for error messages; not owned */
	bool interpolated_cells;  /* built with --interpolate: missing cells could not be estimated */
};

/* How a request of a run ended. */
enum ts_request_status {
	TS_REQ_MET = 0,        /* finished by its deadline */
	TS_REQ_LATE = 1,       /* finished after its deadline */
	TS_REQ_DROPPED = 2,    /* dropped by its policy or cancelled by its client: never ran again */
	TS_REQ_UNFINISHED = 3, /* the run ended (or was interrupted) before it finished */
};

/* "met", "late", "dropped", "unfinished". */
static inline const char *ts_request_status_name(enum ts_request_status s)
{
	static const char *const names[] = { "met", "late", "dropped", "unfinished" };
	return (unsigned)s < 4 ? names[s] : "unfinished";
}

/* The status of a request that finished at `finish` (< 0: never) or was
 * dropped at `dropped` (< 0: never), against its deadline. */
static inline enum ts_request_status ts_request_status_of(ts_ns finish, ts_ns dropped, ts_ns deadline)
{
	if (dropped >= 0)
		return TS_REQ_DROPPED;
	if (finish < 0)
		return TS_REQ_UNFINISHED;
	return finish <= deadline ? TS_REQ_MET : TS_REQ_LATE;
}

/* Kinds of segment recorded in the results. */
enum ts_seg_kind {
	TS_SEG_STEPS = 0,  /* denoising steps ran on a GPU set */
	TS_SEG_MOVE = 1,   /* the latent moved to a new GPU set before steps */
};

/* A contiguous piece of a request's execution on one GPU set. */
struct ts_segment {
	int64_t request_id;
	uint64_t gpus;      /* GPU mask */
	int32_t first_step; /* 0-based index of the first step in this segment */
	int32_t nsteps;     /* steps run (0 for a move) */
	int32_t batch;      /* requests that shared these steps (1 unless batched) */
	int32_t kind;       /* enum ts_seg_kind */
	ts_ns start, end;
};

/* One round boundary (or planning call) of a policy, for decision-latency
 * figures and debugging. */
struct ts_round_rec {
	ts_ns t;            /* virtual/wall time of the decision */
	int32_t active;     /* requests arrived and not finished */
	int32_t launched;   /* launches the plan issued */
	int64_t plan_wall_ns; /* host time spent inside the policy's plan call */
};

/* Degree index of a power-of-two degree k (1 -> 0, 2 -> 1, ...); -1 if k is
 * not a power of two in 1..64. */
static inline int ts_deg_index(int k)
{
	if (k <= 0 || k > TS_MAX_GPUS || (k & (k - 1)))
		return -1;
	return __builtin_ctz((unsigned)k);
}

#endif
