/* safetensors.c: one safetensors file: mapping, header checks, dtype
 * conversion. Folders and index files: safetensors_set.c. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ts_bf16.h"

/* The format's own limit on the header (safetensors specification). */
#define TS_ST_MAX_HEADER (100u << 20)

static const struct {
	const char *name;
	int size;
} ts_st_dtypes[TS_ST_NDTYPES] = {
	[TS_ST_F32] = {"F32", 4},   [TS_ST_F16] = {"F16", 2},   [TS_ST_BF16] = {"BF16", 2},
	[TS_ST_F64] = {"F64", 8},   [TS_ST_I64] = {"I64", 8},   [TS_ST_I32] = {"I32", 4},
	[TS_ST_I16] = {"I16", 2},   [TS_ST_I8] = {"I8", 1},     [TS_ST_U8] = {"U8", 1},
	[TS_ST_BOOL] = {"BOOL", 1}, [TS_ST_U16] = {"U16", 2},   [TS_ST_U32] = {"U32", 4},
	[TS_ST_U64] = {"U64", 8},   [TS_ST_F8_E4M3] = {"F8_E4M3", 1},
	[TS_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *ts_st_dtype_name(enum ts_st_dtype d)
{
	return d >= 0 && d < TS_ST_NDTYPES ? ts_st_dtypes[d].name : "?";
}

int ts_st_dtype_size(enum ts_st_dtype d)
{
	return d >= 0 && d < TS_ST_NDTYPES ? ts_st_dtypes[d].size : 0;
}

void ts_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	used += (size_t)snprintf(buf, size, "[");
	for (int i = 0; i < ndim && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
					 (long long)shape[i]);
	if (used < size)
		snprintf(buf + used, size - used, "]");
}

/* ---- mapping ------------------------------------------------------------ */

static int ts_st_map(struct ts_st_file *f, struct ts_error *err)
{
	int fd = open(f->path, O_RDONLY);
	if (fd < 0)
		return ts_err_set(err, TS_EIO, "%s: cannot open: %s", f->path, strerror(errno));
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb)) {
		rc = ts_err_set(err, TS_EIO, "%s: cannot stat: %s", f->path, strerror(errno));
		goto out_close;
	}
	f->size = (size_t)sb.st_size;
	if (f->size) {
		f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (f->map == MAP_FAILED) {
			f->map = NULL;
			rc = ts_err_set(err, TS_EIO, "%s: cannot map %zu bytes: %s", f->path, f->size,
					strerror(errno));
		}
	}
out_close:
	close(fd);
	return rc;
}

/* ---- header ------------------------------------------------------------- */

static int ts_st_dtype_lookup(const char *s)
{
	for (int d = 0; d < TS_ST_NDTYPES; d++)
		if (!strcmp(s, ts_st_dtypes[d].name))
			return d;
	return -1;
}

/* The shape of entry `name` into t (dimensions and element count). */
static int ts_st_parse_shape(const char *path, const char *name, json_t *shape,
			     struct ts_st_tensor *t, struct ts_error *err)
{
	if (!json_is_array(shape) || json_array_size(shape) > TS_ST_MAX_DIMS)
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': shape is not an array of at most %d dimensions",
				  path, name, TS_ST_MAX_DIMS);
	t->ndim = (int)json_array_size(shape);
	t->nelem = 1;
	for (int i = 0; i < t->ndim; i++) {
		json_t *d = json_array_get(shape, (size_t)i);
		if (!json_is_integer(d) || json_integer_value(d) < 0 ||
		    json_integer_value(d) > (INT64_C(1) << 40))
			return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': dimension %d is not an integer in 0..2^40",
					  path, name, i);
		t->shape[i] = json_integer_value(d);
		if (t->shape[i] && t->nelem > (INT64_C(1) << 50) / t->shape[i])
			return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': more than 2^50 elements",
					  path, name);
		t->nelem *= t->shape[i];
	}
	return 0;
}

/* One header entry NAME: {dtype, shape, data_offsets} into t; its bytes
 * must lie within the `dlen` data bytes at `data`. */
static int ts_st_parse_entry(const struct ts_st_file *f, const char *name, json_t *v,
			     const unsigned char *data, size_t dlen, struct ts_st_tensor *t,
			     struct ts_error *err)
{
	const char *p = f->path;
	json_t *dt = json_object_get(v, "dtype"), *off = json_object_get(v, "data_offsets");
	if (!json_is_object(v) || !json_is_string(dt))
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': entry without a dtype string", p, name);
	int d = ts_st_dtype_lookup(json_string_value(dt));
	if (d < 0)
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': unknown dtype '%s'", p, name,
				  json_string_value(dt));
	t->dtype = (enum ts_st_dtype)d;
	int rc = ts_st_parse_shape(p, name, json_object_get(v, "shape"), t, err);
	if (rc)
		return rc;
	json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
	if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(b) ||
	    !json_is_integer(e) || json_integer_value(b) < 0 ||
	    json_integer_value(e) < json_integer_value(b))
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': data_offsets is not [BEGIN, END] with 0 <= BEGIN <= END",
				  p, name);
	uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
	uint64_t need = (uint64_t)t->nelem * (uint64_t)ts_st_dtype_size(t->dtype);
	char shape[128];
	ts_st_shape_str(t->shape, t->ndim, shape, sizeof(shape));
	if (end - begin != need)
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, shape %s of %s needs %llu",
				  p, name, (unsigned long long)begin, (unsigned long long)end,
				  (unsigned long long)(end - begin), shape, ts_st_dtype_name(t->dtype),
				  (unsigned long long)need);
	if (end > dlen)
		return ts_err_set(err, TS_EPARSE, "%s: tensor '%s': data [%llu, %llu) ends past the %zu data bytes of the file (truncated?)",
				  p, name, (unsigned long long)begin, (unsigned long long)end, dlen);
	t->data = data + begin;
	t->bytes = (size_t)need;
	t->file = f;
	t->name = strdup(name);
	return t->name ? 0 : ts_err_set(err, TS_ENOMEM, "%s: out of memory", p);
}

static int ts_st_cmp_data(const void *a, const void *b)
{
	const struct ts_st_tensor *x = a, *y = b;
	return (x->data > y->data) - (x->data < y->data);
}

/* Sorts the tensors by offset; TS_EPARSE when two share bytes. */
static int ts_st_check_overlap(struct ts_st_file *f, struct ts_error *err)
{
	qsort(f->t, (size_t)f->n, sizeof(*f->t), ts_st_cmp_data);
	for (int i = 1; i < f->n; i++)
		if (f->t[i].data < f->t[i - 1].data + f->t[i - 1].bytes)
			return ts_err_set(err, TS_EPARSE, "%s: tensors '%s' and '%s' share bytes of the data",
					  f->path, f->t[i - 1].name, f->t[i].name);
	return 0;
}

/* Every entry of the parsed header object but __metadata__ into f->t. */
static int ts_st_parse_entries(struct ts_st_file *f, json_t *root, const unsigned char *data,
			       size_t dlen, struct ts_error *err)
{
	const char *key;
	json_t *v;
	size_t n = json_object_size(root);
	f->t = calloc(n + 1, sizeof(*f->t));
	if (!f->t)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory for %zu tensors", f->path, n);
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__"))
			continue;
		int rc = ts_st_parse_entry(f, key, v, data, dlen, &f->t[f->n], err);
		if (rc)
			return rc;
		f->n++;
	}
	return ts_st_check_overlap(f, err);
}

/* The 8-byte length, the JSON header and its entries. */
static int ts_st_parse(struct ts_st_file *f, struct ts_error *err)
{
	const unsigned char *m = f->map;
	if (f->size < 8)
		return ts_err_set(err, TS_EPARSE, "%s: %zu bytes, too short for the 8-byte header length (truncated?)",
				  f->path, f->size);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | m[i];
	if (hlen > f->size - 8)
		return ts_err_set(err, TS_EPARSE, "%s: header length %llu exceeds the %zu bytes after it (truncated?)",
				  f->path, (unsigned long long)hlen, f->size - 8);
	if (hlen > TS_ST_MAX_HEADER)
		return ts_err_set(err, TS_EPARSE, "%s: header length %llu over the format's limit of %u bytes",
				  f->path, (unsigned long long)hlen, TS_ST_MAX_HEADER);
	json_error_t je;
	json_t *root = json_loadb((const char *)m + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ts_err_set(err, TS_EPARSE, "%s: header JSON, line %d column %d: %s", f->path,
				  je.line, je.column, je.text);
	int rc = json_is_object(root) ? 0 :
		 ts_err_set(err, TS_EPARSE, "%s: header JSON is not an object", f->path);
	if (!rc)
		rc = ts_st_parse_entries(f, root, m + 8 + hlen, f->size - 8 - (size_t)hlen, err);
	json_decref(root);
	return rc;
}

int ts_st_open(struct ts_st_file **out, const char *path, struct ts_error *err)
{
	*out = NULL;
	struct ts_st_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	}
	int rc = ts_st_map(f, err);
	if (!rc)
		rc = ts_st_parse(f, err);
	if (rc) {
		ts_st_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

void ts_st_close(struct ts_st_file *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		free(f->t[i].name);
	free(f->t);
	if (f->map)
		munmap(f->map, f->size);
	free(f->path);
	free(f);
}

/* ---- conversion --------------------------------------------------------- */

static int ts_st_check_read(const struct ts_st_tensor *t, int64_t first, int64_t count,
			    struct ts_error *err)
{
	if (first < 0 || count < 0 || first > t->nelem || count > t->nelem - first)
		return ts_err_set(err, TS_EINVAL, "%s: tensor '%s': elements [%lld, %lld) outside its %lld",
				  t->file->path, t->name, (long long)first, (long long)(first + count),
				  (long long)t->nelem);
	if (t->dtype != TS_ST_F32 && t->dtype != TS_ST_F16 && t->dtype != TS_ST_BF16)
		return ts_err_set(err, TS_EINVAL, "%s: tensor '%s' is %s; only F32, F16 and BF16 convert",
				  t->file->path, t->name, ts_st_dtype_name(t->dtype));
	return 0;
}

/* Element i of t as a float (t is F32, F16 or BF16; unaligned data). */
static float ts_st_get(const struct ts_st_tensor *t, int64_t i)
{
	if (t->dtype == TS_ST_F32) {
		float v;
		memcpy(&v, t->data + 4 * i, 4);
		return v;
	}
	uint16_t h;
	memcpy(&h, t->data + 2 * i, 2);
	return t->dtype == TS_ST_BF16 ? ts_bf16_to_float(h) : ts_f16_to_float(h);
}

int ts_st_read_bf16(const struct ts_st_tensor *t, int64_t first, int64_t count, uint16_t *out,
		    struct ts_error *err)
{
	int rc = ts_st_check_read(t, first, count, err);
	if (rc)
		return rc;
	if (t->dtype == TS_ST_BF16) {
		memcpy(out, t->data + 2 * first, (size_t)count * 2);
		return 0;
	}
	for (int64_t i = 0; i < count; i++)
		out[i] = ts_bf16_from_float(ts_st_get(t, first + i));
	return 0;
}

int ts_st_read_f32(const struct ts_st_tensor *t, int64_t first, int64_t count, float *out,
		   struct ts_error *err)
{
	int rc = ts_st_check_read(t, first, count, err);
	if (rc)
		return rc;
	for (int64_t i = 0; i < count; i++)
		out[i] = ts_st_get(t, first + i);
	return 0;
}
