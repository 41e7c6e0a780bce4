/* store_schema.h: private: the SQL schema of the results store and its
 * version check. The schema is documented column by column in docs/SCHEMA.md. */
#ifndef TS_STORE_SCHEMA_H
#define TS_STORE_SCHEMA_H

#include <sqlite3.h>

#include "core/ts_error.h"

/* Schema version written to PRAGMA user_version. Bump it with every change
 * of a table or view, and say in docs/SCHEMA.md what changed. */
#define TS_STORE_SCHEMA_VERSION 3

/* Makes sure the database at path (already open as db) holds the current
 * schema: creates it in an empty file, migrates an older version in place
 * (in one write transaction, once even when several processes open the
 * file at the same time), accepts it when the version matches. Returns
 * TS_EIO naming path when the file has a newer or negative schema version,
 * is not a tetriserve store (version 0 but other tables), or SQLite fails;
 * the file is then left as it was. */
int ts_store_schema_ensure(sqlite3 *db, const char *path, struct ts_error *err);

#endif
