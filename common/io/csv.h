/* csv.h: the small CSV reader shared by the trace and profile loaders.
 *
 * The whole file is read into memory once and split in place: each row's
 * fields become NUL-terminated strings inside the buffer, so parsing a row
 * allocates nothing. Conventions (traces/README.md): comma separated, no
 * quoting (fields cannot hold commas), spaces and tabs around a field are
 * trimmed, '\r\n' line ends and a leading UTF-8 byte order mark accepted,
 * blank lines and lines whose first non-blank character is '#' skipped. */
#ifndef TS_CSV_H
#define TS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ts_error.h"
#include "core/ts_types.h"

#define TS_CSV_MAX_FIELDS 64
/* The largest file a trace or profile may be (2 GiB - 1, about 55 million
 * trace rows): memory stays proportional to the input, and line numbers fit
 * an int. */
#define TS_CSV_MAX_BYTES ((size_t)0x7fffffff)

struct ts_csv {
	char *buf;          /* file contents plus a trailing NUL, owned */
	size_t len;         /* bytes of the file */
	const char *path;   /* for messages; not owned */
	uint64_t hash;      /* FNV-1a 64 of the file's bytes */
	size_t pos;         /* offset of the next unread line */
	int next_line;      /* number of the next unread line (1-based) */
	int line;           /* line number of the current row */
	int header_line;    /* line of the header row, once mapped */
	int header_nf;      /* fields in the header row, once mapped */
	int nf;             /* fields in the current row */
	char *f[TS_CSV_MAX_FIELDS];
};

/* One named column of a schema: ts_csv_map_header() sets idx to its
 * position in the header, or -1 when an optional column is absent. */
struct ts_csv_col {
	const char *name;
	bool required;
	int idx;
};

/* FNV-1a 64-bit hash of n bytes. */
uint64_t ts_fnv1a64(const void *data, size_t n);

/* Reads the file at path into *c (which the call initialises) and hashes it.
 * Returns TS_EIO naming the path and the system error (a directory says
 * so), TS_EPARSE at the first NUL byte (naming its line: not a text file,
 * e.g. /dev/zero, which is not read on), TS_ERANGE past TS_CSV_MAX_BYTES,
 * or TS_ENOMEM. On error *c holds nothing to free. */
int ts_csv_open(struct ts_csv *c, const char *path, struct ts_error *err);

/* Advances to the next row that is neither blank nor a comment. Returns 1
 * with c->f[0..nf-1] set, 0 at the end of the file, or TS_EPARSE when the
 * row has more than TS_CSV_MAX_FIELDS fields. */
int ts_csv_next(struct ts_csv *c, struct ts_error *err);

/* Reads the header row (the first row) and sets each cols[i].idx. Returns
 * TS_EPARSE for an empty file, a column named twice, or a missing required
 * column, naming path, line and the column. */
int ts_csv_map_header(struct ts_csv *c, struct ts_csv_col *cols, int ncols,
		      struct ts_error *err);

/* Number of lines not read yet: an upper bound on the rows left, so loaders
 * can allocate once. */
size_t ts_csv_lines_left(const struct ts_csv *c);

/* Checks that the current row has as many fields as the header. Returns 0
 * or TS_EPARSE naming path, line and both counts. */
int ts_csv_check_width(const struct ts_csv *c, struct ts_error *err);

/* Text of column col in the current row ("" when the column is absent). */
const char *ts_csv_text(const struct ts_csv *c, const struct ts_csv_col *col);

/* Sets a TS_EPARSE error "path:line: field 'name': <message>" for the
 * current row; returns TS_EPARSE. */
int ts_csv_field_error(const struct ts_csv *c, const struct ts_csv_col *col,
		       struct ts_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parses column col of the current row as a whole decimal integer.
 * Returns 0 or TS_EPARSE (empty, not an integer, out of int64 range). */
int ts_csv_int64(const struct ts_csv *c, const struct ts_csv_col *col,
		 int64_t *out, struct ts_error *err);

/* Same for an unsigned 64-bit integer (no sign allowed). */
int ts_csv_uint64(const struct ts_csv *c, const struct ts_csv_col *col,
		  uint64_t *out, struct ts_error *err);

/* Parses column col as a finite floating-point number. Returns 0 or
 * TS_EPARSE (empty, not a number, infinite or NaN). */
int ts_csv_double(const struct ts_csv *c, const struct ts_csv_col *col,
		  double *out, struct ts_error *err);

/* Parses column col as a time in seconds into nanoseconds. Plain decimals
 * ("12.345678901") convert exactly, rounding half up past the 9th decimal;
 * other forms ("1e-3") go through strtod. Returns 0 or TS_EPARSE (empty,
 * not a number, beyond +-1e9 s, which keeps arrival + SLO inside int64 ns). */
int ts_csv_seconds(const struct ts_csv *c, const struct ts_csv_col *col,
		   ts_ns *out, struct ts_error *err);

/* Largest image side accepted, in pixels (keeps token counts far from overflow). */
#define TS_CSV_MAX_SIDE 65536

/* Parses column col as an image side in pixels: a positive multiple of 16
 * up to TS_CSV_MAX_SIDE. Returns 0 or TS_EPARSE. */
int ts_csv_pixels(const struct ts_csv *c, const struct ts_csv_col *col,
		  int32_t *out, struct ts_error *err);

/* Frees the buffer and zeroes *c. Safe on a zeroed struct. */
void ts_csv_close(struct ts_csv *c);

#endif
