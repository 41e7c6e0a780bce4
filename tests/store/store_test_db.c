#include "store_test_db.h"

#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void store_test_mkdir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, size, "%s/ts_store_test_XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

void store_test_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Opens path read-only and steps sql to its first row; NULL on failure. */
static sqlite3_stmt *first_row(const char *path, const char *sql, sqlite3 **db)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(*db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "query failed on %s: %s: %s\n", path, sql, sqlite3_errmsg(*db));
		sqlite3_finalize(st);
		sqlite3_close(*db);
		return NULL;
	}
	return st;
}

int64_t store_test_int(const char *path, const char *sql, bool *is_null)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = first_row(path, sql, &db);
	if (!st)
		return INT64_MIN;
	if (is_null)
		*is_null = sqlite3_column_type(st, 0) == SQLITE_NULL;
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

double store_test_double(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = first_row(path, sql, &db);
	if (!st)
		return NAN;
	double v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

void store_test_text(const char *path, const char *sql, char *buf, size_t size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = first_row(path, sql, &db);
	if (!st) {
		snprintf(buf, size, "<error>");
		return;
	}
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(buf, size, "%s", t ? (const char *)t : "");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

bool store_test_write_lock(const char *path, int wait_ms)
{
	sqlite3 *db = NULL;
	bool got = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
		   sqlite3_busy_timeout(db, wait_ms) == SQLITE_OK &&
		   sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	if (got)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return got;
}
