/* store.h: the SQLite results store. Schema: docs/SCHEMA.md.
 * One file holds many runs; each run is written in transactions and marked
 * completed only by ts_store_run_end(). */
#ifndef TS_STORE_H
#define TS_STORE_H

#include "core/ts_error.h"
#include "core/ts_types.h"

struct ts_store; /* opaque handle */
struct ts_profile_row; /* io/profile.h */

/* What identifies a run. Strings are copied; NULL stores NULL. */
struct ts_run_info {
	const char *backend;       /* "sim", "exec" or "profile" */
	const char *policy;        /* e.g. "fixed-sp:2", "tetriserve" */
	const char *policy_params; /* JSON object text of the policy's knobs, or NULL */
	const char *trace_name;    /* path as given */
	uint64_t trace_hash;
	const char *profile_name;
	uint64_t profile_hash;
	int32_t gpus;
	uint64_t seed;
	const char *version;       /* tetriserve version string */
	const char *options;       /* JSON object text of the other options (slo scale, noise...) or NULL */
};

/* Opens (creating if needed) the database at path and creates the schema if
 * absent, or migrates an older schema version in place (docs/SCHEMA.md).
 * Returns TS_EIO naming the path and SQLite's message on failure, and for a
 * file of a newer schema version (left untouched). */
int ts_store_open(struct ts_store **out, const char *path, struct ts_error *err);

/* Inserts and commits a runs row (completed = 0, start wall time = now);
 * *run_id receives the new id. */
int ts_store_run_begin(struct ts_store *s, const struct ts_run_info *info,
		       int64_t *run_id, struct ts_error *err);

/* Appends a segment of the current run. Rows wait in memory and are
 * committed in one short write transaction once TS_STORE_BATCH_ROWS (4096)
 * have gathered or the oldest has waited 100 ms, whichever comes first (the
 * write lock is held only while they are inserted, so concurrent writers
 * never wait long); a killed process loses only the rows not yet committed. */
int ts_store_segment(struct ts_store *s, const struct ts_segment *seg, struct ts_error *err);

/* Appends the outcome of one request of the current run: start, finish
 * and dropped < 0 are stored as NULL; met_slo = finish >= 0 && finish <=
 * deadline; status from ts_request_status_of(). A request both finished
 * and dropped is TS_EINVAL. */
int ts_store_request(struct ts_store *s, const struct ts_request *r, ts_ns start,
		     ts_ns finish, ts_ns dropped, struct ts_error *err);

/* Appends one planning round of the current run (committed like segments). */
int ts_store_round(struct ts_store *s, const struct ts_round_rec *rr, struct ts_error *err);

/* Appends one measured step-latency cell to the current run, which must
 * have been begun with backend "profile" (else TS_EINVAL). All fields of
 * row but `line` are stored; p50_ms/p99_ms that are NaN and a peak_mem_gib
 * that is NaN or negative (not measured) are stored as NULL. A row that a
 * profile CSV could not hold (model or gpu empty or not NUL-terminated;
 * height, width, sp or batch < 1; step_ms, or p50_ms/p99_ms when present,
 * not finite and > 0; cv not finite and >= 0; samples < 0) is TS_EINVAL
 * naming the cell and the field. A cell is committed at once, with the
 * rows buffered before it. */
int ts_store_profile_cell(struct ts_store *s, const struct ts_profile_row *row,
			  double peak_mem_gib, struct ts_error *err);

/* Commits everything written so far (the run stays incomplete). */
int ts_store_flush(struct ts_store *s, struct ts_error *err);

/* Commits, stores summary_json (may be NULL) and the end wall time, and marks
 * the current run completed = 1. */
int ts_store_run_end(struct ts_store *s, const char *summary_json, struct ts_error *err);

/* Commits what is pending and closes the file; a run not ended stays
 * completed = 0. Safe with NULL. */
void ts_store_close(struct ts_store *s);

/* What ts_store_merge did. */
struct ts_merge_counts {
	long copied, duplicates, incomplete;
};

/* Copies every completed run of the results files src[0..n) into the file
 * at out (created if needed), with its requests, segments, rounds and
 * profile cells, skipping runs out already holds (same backend, policy and
 * parameters, trace and profile content hashes, GPU count, seed and
 * options) and incomplete runs. An input of an older schema is first
 * migrated to the current one (that needs write access to it); one of the
 * current schema is only read (read-only, immutable on read-only storage).
 * Each input is merged in one transaction: all of it or nothing. Every input
 * is checked to be readable before out is created; an input that is out
 * itself is refused; a failed merge into a file it created removes that
 * file. */
int ts_store_merge(const char *out, const char *const *src, int n, struct ts_merge_counts *mc,
		   struct ts_error *err);

#endif
