/* store_test_db.h: helpers of the store tests: a scratch directory and
 * one-value SQL queries on a results file, read the way a user would. */
#ifndef TS_STORE_TEST_DB_H
#define TS_STORE_TEST_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and writes its path to
 * dir (size bytes). Exits the test with status 1 when that fails. */
void store_test_mkdir(char *dir, size_t size);

/* Removes every file in dir and then dir itself. */
void store_test_rmdir(const char *dir);

/* First column of the first row of sql on the file at path, as an integer;
 * *is_null (when not NULL) tells whether it was SQL NULL. Returns INT64_MIN
 * and prints why when the query fails or yields no row. */
int64_t store_test_int(const char *path, const char *sql, bool *is_null);

/* Same, as a double (NAN on failure). */
double store_test_double(const char *path, const char *sql);

/* Same, as text copied into buf (size bytes); "" on NULL, "<error>" on failure. */
void store_test_text(const char *path, const char *sql, char *buf, size_t size);

/* Whether a writer of the file at path gets the write lock (BEGIN
 * IMMEDIATE) within wait_ms; it lets go at once. */
bool store_test_write_lock(const char *path, int wait_ms);

#endif
