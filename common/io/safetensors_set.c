/* safetensors_set.c: a checkpoint of one or several safetensors files: a
 * diffusers folder with or without an index of shards, name lookup, the
 * check that every tensor was used. */
#include "io/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "dir/name", malloc'ed (NULL when out of memory). */
static char *ts_st_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static bool ts_st_exists(const char *path)
{
	struct stat sb;
	return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ts_st_cmp_name(const void *a, const void *b)
{
	const struct ts_st_tensor *x = *(struct ts_st_tensor *const *)a;
	const struct ts_st_tensor *y = *(struct ts_st_tensor *const *)b;
	return strcmp(x->name, y->name);
}

static struct ts_st_set *ts_st_set_new(const char *where)
{
	struct ts_st_set *s = calloc(1, sizeof(*s));
	if (s && !(s->where = strdup(where))) {
		free(s);
		s = NULL;
	}
	return s;
}

/* Opens `path` as one more file of s. */
static int ts_st_set_add(struct ts_st_set *s, const char *path, struct ts_error *err)
{
	struct ts_st_file **grown = realloc(s->files, (size_t)(s->nfiles + 1) * sizeof(*grown));
	if (!grown)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	s->files = grown;
	int rc = ts_st_open(&s->files[s->nfiles], path, err);
	if (!rc)
		s->nfiles++;
	return rc;
}

/* The name-sorted view of every file's tensors; a name in two files is
 * TS_EPARSE naming both. */
static int ts_st_set_index(struct ts_st_set *s, struct ts_error *err)
{
	int n = 0;
	for (int i = 0; i < s->nfiles; i++)
		n += s->files[i]->n;
	s->sorted = calloc((size_t)n + 1, sizeof(*s->sorted));
	if (!s->sorted)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory for %d tensors", s->where, n);
	for (int i = 0; i < s->nfiles; i++)
		for (int j = 0; j < s->files[i]->n; j++)
			s->sorted[s->n++] = &s->files[i]->t[j];
	qsort(s->sorted, (size_t)s->n, sizeof(*s->sorted), ts_st_cmp_name);
	for (int i = 1; i < s->n; i++)
		if (!strcmp(s->sorted[i]->name, s->sorted[i - 1]->name))
			return ts_err_set(err, TS_EPARSE, "%s: tensor '%s' is in both %s and %s", s->where,
					  s->sorted[i]->name, s->sorted[i - 1]->file->path,
					  s->sorted[i]->file->path);
	return 0;
}

static struct ts_st_tensor *ts_st_set_lookup(const struct ts_st_set *s, const char *name)
{
	struct ts_st_tensor key = {0};
	struct ts_st_tensor *kp = &key, **hit;
	key.name = (char *)name;
	hit = bsearch(&kp, s->sorted, (size_t)s->n, sizeof(*s->sorted), ts_st_cmp_name);
	return hit ? *hit : NULL;
}

/* Opens, in order of first mention, every shard the index's weight_map
 * names; shard names must be plain file names in `dir`. */
static int ts_st_open_shards(struct ts_st_set *s, const char *dir, const char *index,
			     json_t *map, struct ts_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(map, key, v) {
		const char *shard = json_string_value(v);
		if (!shard || !*shard || strchr(shard, '/') || !strcmp(shard, "..") || !strcmp(shard, "."))
			return ts_err_set(err, TS_EPARSE, "%s: weight_map entry '%s' is not a file name in the folder",
					  index, key);
		bool seen = false;
		for (int i = 0; i < s->nfiles && !seen; i++) {
			const char *p = strrchr(s->files[i]->path, '/');
			seen = !strcmp(p ? p + 1 : s->files[i]->path, shard);
		}
		if (seen)
			continue;
		char *path = ts_st_join(dir, shard);
		int rc = path ? ts_st_set_add(s, path, err) : ts_err_set(err, TS_ENOMEM, "out of memory");
		free(path);
		if (rc)
			return ts_err_prefix(err, "shard named by %s", index);
	}
	return 0;
}

/* Every tensor the weight_map names is in the shard it names. */
static int ts_st_check_map(const struct ts_st_set *s, const char *index, json_t *map,
			   struct ts_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(map, key, v) {
		const char *shard = json_string_value(v);
		const struct ts_st_tensor *t = ts_st_set_lookup(s, key);
		const char *in = t ? strrchr(t->file->path, '/') : NULL;
		in = in ? in + 1 : t ? t->file->path : NULL;
		if (!t)
			return ts_err_set(err, TS_EPARSE, "%s names tensor '%s' in %s, which lacks it",
					  index, key, shard);
		if (strcmp(in, shard))
			return ts_err_set(err, TS_EPARSE, "%s names tensor '%s' in %s, but it is in %s",
					  index, key, shard, in);
	}
	return 0;
}

/* The folder's shards as its index names them. */
static int ts_st_open_indexed(struct ts_st_set *s, const char *dir, const char *index,
			      struct ts_error *err)
{
	json_error_t je;
	json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return ts_err_set(err, TS_EPARSE, "%s: line %d column %d: %s", index, je.line, je.column,
				  je.text);
	json_t *map = json_object_get(root, "weight_map");
	int rc = json_is_object(map) ? 0 :
		 ts_err_set(err, TS_EPARSE, "%s: no \"weight_map\" object", index);
	if (!rc)
		rc = ts_st_open_shards(s, dir, index, map, err);
	if (!rc)
		rc = ts_st_set_index(s, err);
	if (!rc)
		rc = ts_st_check_map(s, index, map, err);
	json_decref(root);
	return rc;
}

/* The two layouts a diffusers folder may have, each with its errors. */
int ts_st_set_open_dir(struct ts_st_set **out, const char *dir, const char *stem,
		       struct ts_error *err)
{
	char index_name[512], single_name[512];
	snprintf(index_name, sizeof(index_name), "%s.safetensors.index.json", stem);
	snprintf(single_name, sizeof(single_name), "%s.safetensors", stem);
	char *index = ts_st_join(dir, index_name), *single = ts_st_join(dir, single_name);
	struct ts_st_set *s = ts_st_set_new(dir);
	int rc = 0;
	*out = NULL;
	if (!index || !single || !s) {
		rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", dir);
		goto out_free;
	}
	if (ts_st_exists(index)) {
		rc = ts_st_open_indexed(s, dir, index, err);
	} else if (ts_st_exists(single)) {
		rc = ts_st_set_add(s, single, err);
		if (!rc)
			rc = ts_st_set_index(s, err);
	} else {
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: neither %s nor %s (a diffusers transformer folder has one)",
				dir, index_name, single_name);
	}
out_free:
	free(index);
	free(single);
	if (rc)
		ts_st_set_close(s);
	else
		*out = s;
	return rc;
}

int ts_st_set_open_file(struct ts_st_set **out, const char *path, struct ts_error *err)
{
	struct ts_st_set *s = ts_st_set_new(path);
	int rc = s ? ts_st_set_add(s, path, err) : ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	if (!rc)
		rc = ts_st_set_index(s, err);
	if (rc) {
		ts_st_set_close(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

void ts_st_set_close(struct ts_st_set *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nfiles; i++)
		ts_st_close(s->files[i]);
	free(s->files);
	free(s->sorted);
	free(s->where);
	free(s);
}

struct ts_st_tensor *ts_st_set_find(struct ts_st_set *s, const char *name)
{
	struct ts_st_tensor *t = ts_st_set_lookup(s, name);
	if (t)
		t->used = true;
	return t;
}

int ts_st_set_check_used(const struct ts_st_set *s, struct ts_error *err)
{
	const struct ts_st_tensor *first = NULL;
	int unused = 0;
	for (int i = 0; i < s->n; i++) {
		if (s->sorted[i]->used)
			continue;
		first = first ? first : s->sorted[i];
		unused++;
	}
	if (!first)
		return 0;
	return ts_err_set(err, TS_EPARSE, "%s: tensor '%s' (in %s) is not used by a model of this config (%d unused tensors)",
			  s->where, first->name, first->file->path, unused);
}
