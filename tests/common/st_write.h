/* st_write.h: writing safetensors files (io/safetensors.h describes the
 * format) for the tests that read them, well formed or broken on purpose. */
#ifndef TS_ST_WRITE_H
#define TS_ST_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_entry {
	const char *name, *dtype;
	int ndim;
	int64_t shape[8];
	const void *data;
	size_t bytes;
};

/* Writes the 8-byte length of `header`, the header and dlen data bytes. */
static inline int st_write_raw(const char *path, const char *header, const void *data, size_t dlen)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	uint64_t n = strlen(header);
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
	int bad = fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, (size_t)n, f) != n ||
		  (dlen && fwrite(data, 1, dlen, f) != dlen);
	return (fclose(f) || bad) ? -1 : 0;
}

/* A well-formed file of the n entries (with a __metadata__ object); with
 * `reverse` the data lies in the opposite order of the header's entries. */
static inline int st_write(const char *path, const struct st_entry *e, int n, bool reverse)
{
	size_t total = 0, cap = 256 + (size_t)n * 512, used = 0;
	for (int i = 0; i < n; i++)
		total += e[i].bytes;
	char *h = malloc(cap);
	unsigned char *data = malloc(total + 1);
	if (!h || !data)
		return -1;
	used += (size_t)snprintf(h, cap, "{\"__metadata__\": {\"format\": \"pt\"}");
	for (int i = 0; i < n; i++) {
		size_t begin = 0;
		for (int j = 0; j < n; j++)
			if (reverse ? j > i : j < i)
				begin += e[j].bytes;
		memcpy(data + begin, e[i].data, e[i].bytes);
		used += (size_t)snprintf(h + used, cap - used, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [",
					 e[i].name, e[i].dtype);
		for (int d = 0; d < e[i].ndim; d++)
			used += (size_t)snprintf(h + used, cap - used, "%s%lld", d ? ", " : "",
						 (long long)e[i].shape[d]);
		used += (size_t)snprintf(h + used, cap - used, "], \"data_offsets\": [%zu, %zu]}", begin,
					 begin + e[i].bytes);
	}
	snprintf(h + used, cap - used, "}");
	int rc = st_write_raw(path, h, data, total);
	free(h);
	free(data);
	return rc;
}

#endif
