#include "store/store_sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ts_store_sql_err(sqlite3 *db, const char *path, struct ts_error *err,
		     const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ts_err_set(err, TS_EIO, "%s: %s: %s", path, what,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

int ts_store_sql_exec(sqlite3 *db, const char *path, const char *sql,
		      const char *what, struct ts_error *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ts_store_sql_err(db, path, err, "%s", what);
	return TS_OK;
}

int ts_store_sql_prepare(sqlite3 *db, const char *path, const char *sql,
			 sqlite3_stmt **out, struct ts_error *err)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return ts_store_sql_err(db, path, err, "preparing \"%.80s\"", sql);
	return TS_OK;
}

int ts_store_sql_int(sqlite3 *db, const char *path, const char *sql,
		     int64_t *out, struct ts_error *err)
{
	sqlite3_stmt *st = NULL;
	int ret = TS_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return ts_store_sql_err(db, path, err, "running \"%s\"", sql);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		ret = ts_err_set(err, TS_EIO, "%s: \"%s\" returned no row", path, sql);
	else
		ret = ts_store_sql_err(db, path, err, "running \"%s\"", sql);
	sqlite3_finalize(st);
	return ret;
}

char *ts_store_ro_uri(const char *path, bool immutable)
{
	size_t n = strlen(path);
	char *uri = malloc(3 * n + 40);
	if (!uri)
		return NULL;
	/* an absolute path gets an empty authority, so "//x/..." is not a host */
	char *p = uri + sprintf(uri, path[0] == '/' ? "file://" : "file:");
	for (const char *c = path; *c; c++)
		p += (*c == '%' || *c == '?' || *c == '#') ? sprintf(p, "%%%02X", (unsigned char)*c)
							   : sprintf(p, "%c", *c);
	sprintf(p, "?mode=ro%s", immutable ? "&immutable=1" : "");
	return uri;
}

bool ts_store_folder_read_only(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return false;
	char *slash = strrchr(copy, '/');
	const char *dir = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	bool ro = access(dir, W_OK) != 0;
	free(copy);
	return ro;
}

bool ts_store_wal_has_data(const char *path)
{
	size_t n = strlen(path) + 5;
	char *wal = malloc(n);
	if (!wal)
		return true; /* cannot tell: never risk reading without it */
	snprintf(wal, n, "%s-wal", path);
	struct stat st;
	bool data = stat(wal, &st) == 0 && st.st_size > 0;
	free(wal);
	return data;
}
