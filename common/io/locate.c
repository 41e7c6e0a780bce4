/* locate.c: input files named portably (see locate.h). */
#include "io/locate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ts_strbuf.h"
#include "io/csv.h"

int ts_file_hash(const char *path, uint64_t *hash, struct ts_error *err)
{
	struct ts_csv c;
	int rc = ts_csv_open(&c, path, err);
	if (rc)
		return rc;
	*hash = c.hash;
	ts_csv_close(&c);
	return 0;
}

/* Length of the common leading folders of two absolute canonical paths
 * (ends at a '/' boundary, or covers all of a when a is a prefix folder). */
static size_t common_prefix(const char *a, const char *b)
{
	size_t last = 0, i = 0;
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '/')
			last = i;
		i++;
	}
	if (!a[i] && (b[i] == '/' || !b[i]))
		return i;
	return last;
}

int ts_path_relative_to(const char *path, const char *base_dir, char **out, struct ts_error *err)
{
	char file[PATH_MAX], base[PATH_MAX];
	*out = NULL;
	if (!realpath(path, file))
		return ts_err_set(err, TS_EIO, "%s: %s", path, strerror(errno));
	if (!realpath(base_dir, base))
		return ts_err_set(err, TS_EIO, "%s: %s", base_dir, strerror(errno));
	size_t k = strcmp(base, "/") ? common_prefix(base, file) : 0;
	size_t ups = 0;
	for (const char *p = base + k; *p; p++)
		ups += *p == '/';
	const char *rest = file + k + (file[k] == '/');
	size_t need = 3 * ups + strlen(rest) + 2;
	char *buf = malloc(need);
	if (!buf)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	struct ts_strbuf sb = ts_strbuf_init(buf, need);
	for (size_t i = 0; i < ups; i++)
		ts_strbuf_printf(&sb, "../");
	ts_strbuf_printf(&sb, "%s", rest);
	*out = buf;
	return 0;
}

int ts_path_join(const char *base_dir, const char *stored, char **out, struct ts_error *err)
{
	size_t need;
	if (stored[0] == '/' || !base_dir)
		need = strlen(stored) + 1;
	else
		need = strlen(base_dir) + strlen(stored) + 2;
	*out = malloc(need);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	if (stored[0] == '/' || !base_dir)
		snprintf(*out, need, "%s", stored);
	else
		snprintf(*out, need, "%s/%s", base_dir, stored);
	return 0;
}

char *ts_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static bool has_csv_suffix(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".csv");
}

/* Looks in one folder (not recursively) for a .csv file of content hash
 * `hash`; returns its malloc'ed path or NULL. */
static char *find_in_dir(const char *dir, uint64_t hash)
{
	DIR *d = opendir(dir);
	char *found = NULL;
	struct dirent *e;
	if (!d)
		return NULL;
	while (!found && (e = readdir(d))) {
		char *path = NULL;
		uint64_t h;
		if (!has_csv_suffix(e->d_name) || ts_path_join(dir, e->d_name, &path, NULL))
			continue;
		if (ts_file_hash(path, &h, NULL) == 0 && h == hash)
			found = path;
		else
			free(path);
	}
	closedir(d);
	return found;
}

int ts_locate_by_hash(uint64_t hash, const char *const *dirs, int ndirs, const char *what,
		      char **out, struct ts_error *err)
{
	static const char *const sub[] = { "", "/traces", "/traces/profiles" };
	char searched[600];
	struct ts_strbuf sb = ts_strbuf_init(searched, sizeof(searched));
	*out = NULL;
	for (int i = 0; i < ndirs; i++) {
		if (!dirs[i])
			continue;
		for (size_t s = 0; s < sizeof(sub) / sizeof(sub[0]); s++) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s%s", dirs[i], sub[s]);
			*out = find_in_dir(dir, hash);
			if (*out)
				return 0;
			ts_strbuf_printf(&sb, "%s%s", sb.len ? ", " : "", dir);
		}
	}
	return ts_err_set(err, TS_ENOTFOUND,
			  "%s: no file with content hash %016llx in %s", what,
			  (unsigned long long)hash, sb.len ? searched : "(no folder to search)");
}
