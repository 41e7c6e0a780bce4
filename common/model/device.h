/* device.h: a GPU's peak figures, the bounds that keep the step-time
 * model's fitted rates physical (docs/STEP_MODEL.md). */
#ifndef TS_DEVICE_SPEC_H
#define TS_DEVICE_SPEC_H

#include "core/ts_error.h"

struct ts_device_spec {
	char name[48];        /* the profile's gpu value */
	double peak_tflops;   /* dense bf16 tensor-core peak */
	double hbm_gbps;      /* memory bandwidth */
	double link_gbps;     /* GPU-to-GPU bandwidth per direction (NVLink, PCIe) */
	char source[96];      /* "datasheet: NVIDIA H200 SXM" or "given: --peak-tflops ..." */
};

/* Fills *d from the datasheet table for a profile's gpu name (matched
 * case-insensitively by the part's name inside it: "H200", "H100-SXM-80GB",
 * "A40"); fields of `given` that are > 0 replace the table's (and are
 * enough on their own when all three are given). TS_ENOTFOUND naming the
 * GPU and the options to give when it is not in the table. */
int ts_device_spec_lookup(const char *gpu, const struct ts_device_spec *given,
			  struct ts_device_spec *d, struct ts_error *err);

#endif
