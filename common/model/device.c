/* device.c: datasheet figures of the GPUs the project has profiles for. */
#include "model/device.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct spec_row {
	const char *part;    /* matched inside the gpu name */
	const char *unless;  /* ... unless this also appears (NULL: none) */
	double tflops, hbm, link;
	const char *what;
};

/* Dense bf16 tensor TFLOP/s, HBM GB/s, NVLink GB/s per direction. */
static const struct spec_row specs[] = {
	{ "H200", NULL, 989, 4800, 450, "NVIDIA H200 SXM" },
	{ "H100", "PCIE", 989, 3350, 450, "NVIDIA H100 SXM" },
	{ "H100", NULL, 756, 2000, 300, "NVIDIA H100 PCIe (NVLink bridge)" },
	{ "A100", NULL, 312, 2039, 300, "NVIDIA A100 SXM 80GB" },
	{ "A40", NULL, 150, 696, 56, "NVIDIA A40 (NVLink bridge)" },
};

static bool contains_nocase(const char *s, const char *part)
{
	size_t n = strlen(part);
	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] && toupper((unsigned char)s[i]) == part[i])
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static const struct spec_row *find_spec(const char *gpu)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (contains_nocase(gpu, specs[i].part) &&
		    !(specs[i].unless && contains_nocase(gpu, specs[i].unless)))
			return &specs[i];
	return NULL;
}

int ts_device_spec_lookup(const char *gpu, const struct ts_device_spec *given,
			  struct ts_device_spec *d, struct ts_error *err)
{
	const struct spec_row *row = find_spec(gpu);
	bool all_given = given && given->peak_tflops > 0 && given->hbm_gbps > 0 &&
			 given->link_gbps > 0;
	if (!row && !all_given)
		return ts_err_set(err, TS_ENOTFOUND,
				  "gpu '%s' has no datasheet figures here (known: H200, H100, A100, A40): "
				  "give --peak-tflops, --hbm-gbps and --link-gbps", gpu);
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", gpu);
	if (row) {
		d->peak_tflops = row->tflops, d->hbm_gbps = row->hbm, d->link_gbps = row->link;
		snprintf(d->source, sizeof(d->source), "datasheet: %s", row->what);
	}
	if (given && (given->peak_tflops > 0 || given->hbm_gbps > 0 || given->link_gbps > 0)) {
		if (given->peak_tflops > 0)
			d->peak_tflops = given->peak_tflops;
		if (given->hbm_gbps > 0)
			d->hbm_gbps = given->hbm_gbps;
		if (given->link_gbps > 0)
			d->link_gbps = given->link_gbps;
		char was[sizeof(d->source)];
		memcpy(was, d->source, sizeof(was));
		snprintf(d->source, sizeof(d->source), "%.60s%sgiven on the command line", was,
			 row ? "; " : "");
	}
	return 0;
}
