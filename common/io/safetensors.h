/* safetensors.h: reading checkpoints in the safetensors format and
 * diffusers' folders of them.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON
 * {"NAME": {"dtype": "BF16", "shape": [..], "data_offsets": [BEGIN, END]},
 * ..., "__metadata__": {..}}, then the data; offsets count from the first
 * byte after the header. Files are mapped read-only (mmap); a tensor points
 * into its file's mapping and is converted on demand. A checkpoint (struct
 * ts_st_set) is one file or several shards named by an index file
 * ("weight_map": {"NAME": "FILE"}), as diffusers' save_pretrained writes
 * them. Every error names the file and, where there is one, the tensor. */
#ifndef TS_SAFETENSORS_H
#define TS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"

#define TS_ST_MAX_DIMS 8

/* Element types of the format; only the floating ones convert. */
enum ts_st_dtype {
	TS_ST_F32, TS_ST_F16, TS_ST_BF16, TS_ST_F64, TS_ST_I64, TS_ST_I32, TS_ST_I16,
	TS_ST_I8, TS_ST_U8, TS_ST_BOOL, TS_ST_U16, TS_ST_U32, TS_ST_U64, TS_ST_F8_E4M3,
	TS_ST_F8_E5M2, TS_ST_NDTYPES
};

struct ts_st_file;

struct ts_st_tensor {
	char *name;
	enum ts_st_dtype dtype;
	int ndim;
	int64_t shape[TS_ST_MAX_DIMS];
	int64_t nelem;
	const unsigned char *data; /* in the file's mapping */
	size_t bytes;
	const struct ts_st_file *file;
	bool used; /* set by ts_st_set_find(): the "every tensor read" check */
};

struct ts_st_file {
	char *path;
	void *map;
	size_t size;
	struct ts_st_tensor *t;
	int n;
};

/* A checkpoint: its files and their tensors sorted by name. */
struct ts_st_set {
	char *where; /* the folder or file it was opened from, for messages */
	struct ts_st_file **files;
	int nfiles;
	struct ts_st_tensor **sorted;
	int n;
};

/* The format's name of a dtype ("BF16") and its element size in bytes. */
const char *ts_st_dtype_name(enum ts_st_dtype d);
int ts_st_dtype_size(enum ts_st_dtype d);

/* Opens and maps `path` and checks its header: length within the file,
 * JSON that parses (else TS_EPARSE with line and column), every entry a
 * known dtype, at most TS_ST_MAX_DIMS non-negative dimensions and
 * data_offsets [BEGIN, END] whose length is the shape's element count
 * times the dtype's size and that lie inside the data (else TS_EPARSE
 * naming the tensor: a file cut short says so), no two tensors sharing
 * bytes. TS_EIO when the file cannot be opened or mapped. */
int ts_st_open(struct ts_st_file **out, const char *path, struct ts_error *err);

/* Unmaps and frees; NULL is a no-op. */
void ts_st_close(struct ts_st_file *f);

/* Opens a diffusers checkpoint folder: DIR/STEM.safetensors.index.json and
 * the shards it names when the index exists, else DIR/STEM.safetensors
 * (TS_ENOTFOUND naming both when neither exists). Index checks: its
 * weight_map is an object of file names without a path; every tensor it
 * names is in the shard it names (else TS_EPARSE naming tensor, shard and
 * index). Tensors of all files are taken; one name in two files is
 * TS_EPARSE naming both. */
int ts_st_set_open_dir(struct ts_st_set **out, const char *dir, const char *stem,
		       struct ts_error *err);

/* A one-file set (for inputs and test cases). */
int ts_st_set_open_file(struct ts_st_set **out, const char *path, struct ts_error *err);

void ts_st_set_close(struct ts_st_set *s);

/* The tensor `name`, marked used, or NULL. */
struct ts_st_tensor *ts_st_set_find(struct ts_st_set *s, const char *name);

/* TS_EPARSE naming the first tensor (and its file) that ts_st_set_find()
 * never returned, with how many such there are; 0 when all were used. */
int ts_st_set_check_used(const struct ts_st_set *s, struct ts_error *err);

/* Elements [first, first + count) of t (row-major) converted to bf16 bit
 * patterns (round to nearest even) or to float. F32, F16 and BF16 convert;
 * another dtype is TS_EINVAL naming the tensor, its file and its dtype, and
 * so is a range outside the tensor. */
int ts_st_read_bf16(const struct ts_st_tensor *t, int64_t first, int64_t count, uint16_t *out,
		    struct ts_error *err);
int ts_st_read_f32(const struct ts_st_tensor *t, int64_t first, int64_t count, float *out,
		   struct ts_error *err);

/* "[a, b, c]" into buf (always NUL-terminated). */
void ts_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size);

#endif
