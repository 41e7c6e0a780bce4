/* store_sql.h: private helpers of the results store: SQLite failures turned
 * into struct ts_error, and one-shot statements. Not part of the public API. */
#ifndef TS_STORE_SQL_H
#define TS_STORE_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/ts_error.h"

/* Fills *err with TS_EIO as "<path>: <what>: <SQLite message>", where what
 * is the printf-style description of the failed operation. Returns TS_EIO. */
int ts_store_sql_err(sqlite3 *db, const char *path, struct ts_error *err,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Runs sql (one or more statements, no result rows wanted); on failure
 * returns TS_EIO naming path and what. */
int ts_store_sql_exec(sqlite3 *db, const char *path, const char *sql,
		      const char *what, struct ts_error *err);

/* Prepares one persistent statement into *out; TS_EIO on failure. */
int ts_store_sql_prepare(sqlite3 *db, const char *path, const char *sql,
			 sqlite3_stmt **out, struct ts_error *err);

/* Runs a query whose first row's first column is an integer (a PRAGMA or a
 * count) and stores it in *out; TS_EIO on failure or when it yields no row. */
int ts_store_sql_int(sqlite3 *db, const char *path, const char *sql,
		     int64_t *out, struct ts_error *err);

/* The int64 with the same bits as v: how GPU masks and seeds are stored,
 * so values >= 2^63 round-trip (read back with a cast to uint64_t). */
static inline int64_t ts_store_u64_bits(uint64_t v)
{
	int64_t r;
	memcpy(&r, &v, sizeof(r));
	return r;
}

/* "file:PATH?mode=ro" (or ...&immutable=1) with the characters a URI
 * reserves escaped, for sqlite3_open_v2 with SQLITE_OPEN_URI or ATTACH;
 * malloc'ed, NULL when out of memory. Immutable is for files on read-only
 * storage, where nobody can be writing them. */
char *ts_store_ro_uri(const char *path, bool immutable);

/* Whether the folder of path is not writable (SQLite cannot make the WAL
 * index there, so a reader opens the file immutable). */
bool ts_store_folder_read_only(const char *path);

/* PATH-wal exists and holds data: committed rows that an immutable open
 * of PATH would not see (true when it cannot tell). */
bool ts_store_wal_has_data(const char *path);

#endif
