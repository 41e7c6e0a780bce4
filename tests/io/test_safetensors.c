/* test_safetensors.c: common/io/safetensors.h on small files the test
 * writes: header parsing, offsets in any order, dtype conversions (F32,
 * F16 with subnormals and infinities, BF16; round to nearest even), each
 * header error and a truncated file, folders with and without an index of
 * shards and each index error, and the "every tensor used" check. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io_fixture.h"
#include "st_write.h"
#include "test_util.h"

static struct ts_error err;

static const float f32_vals[6] = {1.0f, -2.0f, 1.00390625f, 1.01171875f, 3.0e-3f, 65536.0f};
/* F16: 1, -2.5, the smallest subnormal (2^-24), +infinity */
static const uint16_t f16_vals[4] = {0x3c00, 0xc100, 0x0001, 0x7c00};
/* BF16: 1, -1, 0.5, 2 */
static const uint16_t bf16_vals[4] = {0x3f80, 0xbf80, 0x3f00, 0x4000};
static const int64_t i64_vals[2] = {7, -7};

/* The three tensors of the well-formed file, plus an I64 one. */
static void good_entries(struct st_entry e[4])
{
	struct st_entry g[4] = {
		{"a.weight", "F32", 2, {2, 3}, f32_vals, sizeof(f32_vals)},
		{"b", "F16", 1, {4}, f16_vals, sizeof(f16_vals)},
		{"c.bias", "BF16", 2, {2, 2}, bf16_vals, sizeof(bf16_vals)},
		{"d", "I64", 1, {2}, i64_vals, sizeof(i64_vals)},
	};
	memcpy(e, g, sizeof(g));
}

static void test_read_good(bool reverse)
{
	struct st_entry e[4];
	struct ts_st_file *f = NULL;
	good_entries(e);
	const char *path = io_temp_path(reverse ? "good_rev.safetensors" : "good.safetensors");
	TS_CHECK(st_write(path, e, 4, reverse) == 0);
	TS_CHECK_MSG(ts_st_open(&f, path, &err) == 0, "%s", err.msg);
	if (!f)
		return;
	TS_CHECK(f->n == 4);
	const struct ts_st_tensor *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	for (int i = 0; i < f->n; i++) {
		const char *n = f->t[i].name;
		a = !strcmp(n, "a.weight") ? &f->t[i] : a;
		b = !strcmp(n, "b") ? &f->t[i] : b;
		c = !strcmp(n, "c.bias") ? &f->t[i] : c;
		d = !strcmp(n, "d") ? &f->t[i] : d;
	}
	TS_CHECK(a && b && c && d);
	if (!a || !b || !c || !d)
		goto out;
	TS_CHECK(a->dtype == TS_ST_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3 && a->nelem == 6);
	float v[6];
	uint16_t h[6];
	TS_CHECK(ts_st_read_f32(a, 0, 6, v, &err) == 0 && !memcmp(v, f32_vals, sizeof(v)));
	TS_CHECK(ts_st_read_bf16(a, 0, 6, h, &err) == 0);
	/* 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even (1);
	 * 1 + 3 * 2^-8 ties to 1 + 2^-6, the even one. */
	TS_CHECK(h[0] == 0x3f80 && h[1] == 0xc000 && h[2] == 0x3f80 && h[3] == 0x3f82);
	TS_CHECK(h[5] == 0x4780);
	TS_CHECK(ts_st_read_f32(b, 0, 4, v, &err) == 0);
	TS_CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == ldexpf(1.0f, -24) && isinf(v[3]) && v[3] > 0);
	TS_CHECK(ts_st_read_bf16(b, 1, 2, h, &err) == 0 && h[0] == 0xc020 && h[1] == 0x3380);
	TS_CHECK(ts_st_read_bf16(c, 1, 3, h, &err) == 0 && !memcmp(h, bf16_vals + 1, 6));
	TS_CHECK(ts_st_read_f32(c, 2, 2, v, &err) == 0 && v[0] == 0.5f && v[1] == 2.0f);
	TS_CHECK(ts_st_read_f32(a, 4, 3, v, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "a.weight") != NULL, "%s", err.msg);
	TS_CHECK(ts_st_read_bf16(d, 0, 2, h, &err) == TS_EINVAL);
	TS_CHECK_MSG(strstr(err.msg, "'d'") && strstr(err.msg, "I64") && strstr(err.msg, path), "%s",
		     err.msg);
out:
	ts_st_close(f);
}

/* Opening `path` fails with `code` and a message holding `want`. */
static void expect_open_error(const char *path, int code, const char *want)
{
	struct ts_st_file *f = NULL;
	int rc = ts_st_open(&f, path, &err);
	TS_CHECK_MSG(rc == code, "%s: got %d (%s), want %d", path, rc, err.msg, code);
	TS_CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
	TS_CHECK(f == NULL);
	ts_st_close(f);
}

static void test_header_errors(void)
{
	static const unsigned char data[16];
	const char *p = io_temp_file("short.safetensors", "abcde");
	expect_open_error(p, TS_EPARSE, "too short");
	expect_open_error(io_temp_path("absent.safetensors"), TS_EIO, "cannot open");
	p = io_temp_path("long_header.safetensors");
	FILE *f = fopen(p, "wb");
	unsigned char len[8] = {0xe8, 0x03}; /* 1000 */
	TS_CHECK(f && fwrite(len, 1, 8, f) == 8 && fwrite("{}", 1, 2, f) == 2 && !fclose(f));
	expect_open_error(p, TS_EPARSE, "exceeds");
	p = io_temp_path("json.safetensors");
	TS_CHECK(st_write_raw(p, "{\"a\": {\"dtype\": ", data, 0) == 0);
	expect_open_error(p, TS_EPARSE, "line 1");
	TS_CHECK(st_write_raw(p, "[1, 2]", data, 0) == 0);
	expect_open_error(p, TS_EPARSE, "not an object");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F12\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
			      data, 4) == 0);
	expect_open_error(p, TS_EPARSE, "unknown dtype 'F12'");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
			      data, 16) == 0);
	expect_open_error(p, TS_EPARSE, "needs 12");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-3], \"data_offsets\": [0, 8]}}",
			      data, 16) == 0);
	expect_open_error(p, TS_EPARSE, "dimension 0");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 4]}}",
			      data, 16) == 0);
	expect_open_error(p, TS_EPARSE, "data_offsets");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
			      "\"v\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [6, 10]}}",
			      data, 16) == 0);
	expect_open_error(p, TS_EPARSE, "share bytes");
	TS_CHECK(st_write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
			      "\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
			      data, 16) == 0);
	expect_open_error(p, TS_EPARSE, "line 1");
}

/* A well-formed file cut short: the last tensor's data ends past the file. */
static void test_truncated(void)
{
	struct st_entry e[4];
	good_entries(e);
	const char *p = io_temp_path("cut.safetensors");
	TS_CHECK(st_write(p, e, 4, false) == 0);
	struct stat sb;
	TS_CHECK(stat(p, &sb) == 0 && truncate(p, sb.st_size - 3) == 0);
	expect_open_error(p, TS_EPARSE, "truncated");
	expect_open_error(p, TS_EPARSE, "'d'");
}

static char subdirs[16][640];
static int nsubdirs;

/* A fresh folder `name` in the fixture's directory. */
static const char *make_dir(const char *name)
{
	io_temp_path(".probe"); /* creates the fixture directory */
	snprintf(subdirs[nsubdirs], sizeof(subdirs[0]), "%s/%s", io_fixture_dir, name);
	TS_CHECK(mkdir(subdirs[nsubdirs], 0700) == 0);
	return subdirs[nsubdirs++];
}

/* File `name` inside folder `dir` (registered for cleanup). */
static const char *in_dir(const char *dir, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "%s/%s", strrchr(dir, '/') + 1, name);
	return io_temp_path(rel);
}

static void write_index(const char *dir, const char *map)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {%s}}", map);
	FILE *f = fopen(in_dir(dir, "model.safetensors.index.json"), "w");
	TS_CHECK(f && fputs(text, f) >= 0 && !fclose(f));
}

/* Two shards: s1 holds a.weight and b, s2 c.bias (and d when `dup`: also in s1). */
static void write_shards(const char *dir, bool dup)
{
	struct st_entry e[4];
	good_entries(e);
	struct st_entry s2[2] = {e[2], e[3]};
	TS_CHECK(st_write(in_dir(dir, "s1.safetensors"), e, dup ? 4 : 2, false) == 0);
	TS_CHECK(st_write(in_dir(dir, "s2.safetensors"), s2, dup ? 2 : 1, false) == 0);
}

static void expect_dir_error(const char *dir, int code, const char *want)
{
	struct ts_st_set *s = NULL;
	int rc = ts_st_set_open_dir(&s, dir, "model", &err);
	TS_CHECK_MSG(rc == code, "%s: got %d (%s), want %d", dir, rc, err.msg, code);
	TS_CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
	TS_CHECK(s == NULL);
}

static void test_single_and_used(void)
{
	struct st_entry e[4];
	struct ts_st_set *s = NULL;
	good_entries(e);
	const char *dir = make_dir("single");
	TS_CHECK(st_write(in_dir(dir, "model.safetensors"), e, 4, true) == 0);
	TS_CHECK_MSG(ts_st_set_open_dir(&s, dir, "model", &err) == 0, "%s", err.msg);
	if (!s)
		return;
	TS_CHECK(s->nfiles == 1 && s->n == 4 && ts_st_set_find(s, "zzz") == NULL);
	TS_CHECK(ts_st_set_find(s, "a.weight") && ts_st_set_find(s, "b") && ts_st_set_find(s, "d"));
	TS_CHECK(ts_st_set_check_used(s, &err) == TS_EPARSE);
	TS_CHECK_MSG(strstr(err.msg, "'c.bias'") && strstr(err.msg, "1 unused"), "%s", err.msg);
	TS_CHECK(ts_st_set_find(s, "c.bias") != NULL && ts_st_set_check_used(s, &err) == 0);
	ts_st_set_close(s);
}

static void test_index(void)
{
	struct ts_st_set *s = NULL;
	const char *dir = make_dir("sharded");
	write_shards(dir, false);
	write_index(dir, "\"a.weight\": \"s1.safetensors\", \"c.bias\": \"s2.safetensors\", \"b\": \"s1.safetensors\"");
	TS_CHECK_MSG(ts_st_set_open_dir(&s, dir, "model", &err) == 0, "%s", err.msg);
	if (s) {
		TS_CHECK(s->nfiles == 2 && s->n == 3);
		const struct ts_st_tensor *c = ts_st_set_find(s, "c.bias");
		float v[4];
		TS_CHECK(c && strstr(c->file->path, "s2.safetensors") && ts_st_read_f32(c, 0, 4, v, &err) == 0 &&
			 v[3] == 2.0f);
		ts_st_set_close(s);
	}
	write_index(dir, "\"a.weight\": \"s1.safetensors\", \"x\": \"s2.safetensors\"");
	expect_dir_error(dir, TS_EPARSE, "names tensor 'x' in s2.safetensors, which lacks it");
	write_index(dir, "\"a.weight\": \"s2.safetensors\", \"b\": \"s1.safetensors\"");
	expect_dir_error(dir, TS_EPARSE, "but it is in s1.safetensors");
	write_index(dir, "\"a.weight\": \"../s1.safetensors\"");
	expect_dir_error(dir, TS_EPARSE, "not a file name");
	write_index(dir, "\"a.weight\": \"s3.safetensors\"");
	expect_dir_error(dir, TS_EIO, "s3.safetensors");
	write_index(dir, "\"a.weight\": 5");
	expect_dir_error(dir, TS_EPARSE, "not a file name");
	FILE *f = fopen(in_dir(dir, "model.safetensors.index.json"), "w");
	TS_CHECK(f && fputs("{\"weight_map\": ", f) >= 0 && !fclose(f));
	expect_dir_error(dir, TS_EPARSE, "line");
	write_index(dir, "");
	TS_CHECK(ts_st_set_open_dir(&s, dir, "model", &err) == 0 && s && s->n == 0);
	ts_st_set_close(s);
	const char *dup = make_dir("dup");
	write_shards(dup, true);
	write_index(dup, "\"a.weight\": \"s1.safetensors\", \"c.bias\": \"s2.safetensors\"");
	expect_dir_error(dup, TS_EPARSE, "in both");
	expect_dir_error(make_dir("empty"), TS_ENOTFOUND, "model.safetensors.index.json");
}

int main(void)
{
	test_read_good(false);
	test_read_good(true);
	test_header_errors();
	test_truncated();
	test_single_and_used();
	test_index();
	io_fixture_cleanup();
	for (int i = nsubdirs - 1; i >= 0; i--)
		rmdir(subdirs[i]);
	rmdir(io_fixture_dir);
	return ts_test_result("test_safetensors");
}
