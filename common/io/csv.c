#include "io/csv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t ts_fnv1a64(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Fails on the first NUL byte of buf[from, to): a text CSV holds none, and
 * stopping at it keeps /dev/zero (or a binary file) from being read whole. */
static int check_no_nul(const char *buf, size_t from, size_t to, const char *path,
			struct ts_error *err)
{
	const char *nul = memchr(buf + from, '\0', to - from);
	if (!nul)
		return 0;
	size_t line = 1;
	for (const char *p = buf; p < nul; p++)
		line += *p == '\n';
	return ts_err_set(err, TS_EPARSE, "%s:%zu: the line holds a NUL byte (not a text CSV?)", path,
			  line);
}

/* Reads all of f (at most TS_CSV_MAX_BYTES) into a fresh NUL-terminated
 * buffer; size_hint may be 0 (pipes). Returns 0, TS_EIO, TS_EPARSE (a NUL
 * byte), TS_ERANGE (too large) or TS_ENOMEM. */
static int read_all(FILE *f, size_t size_hint, char **out, size_t *len,
		    const char *path, struct ts_error *err)
{
	size_t cap = size_hint + 1 > 4096 ? size_hint + 1 : 4096;
	size_t used = 0;
	int rc = 0;
	if (cap > TS_CSV_MAX_BYTES + 1)
		cap = TS_CSV_MAX_BYTES + 1;
	char *buf = malloc(cap);
	if (!buf)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory reading the file", path);
	for (;;) {
		size_t want = cap - 1 - used;
		size_t got = fread(buf + used, 1, want, f);
		rc = check_no_nul(buf, used, used + got, path, err);
		used += got;
		if (rc || got < want) /* end of file, or an error checked below */
			break;
		if (cap - 1 >= TS_CSV_MAX_BYTES) {
			rc = ts_err_set(err, TS_ERANGE, "%s: larger than %.0f MiB, the most a trace or "
					"profile may hold", path, TS_CSV_MAX_BYTES / 1048576.0);
			break;
		}
		size_t bigger_cap = cap * 2 > TS_CSV_MAX_BYTES + 1 ? TS_CSV_MAX_BYTES + 1 : cap * 2;
		char *bigger = realloc(buf, bigger_cap);
		if (!bigger) {
			rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory reading the file", path);
			break;
		}
		buf = bigger;
		cap = bigger_cap;
	}
	if (!rc && ferror(f))
		rc = ts_err_set(err, TS_EIO, "%s: read error: %s", path, strerror(errno));
	if (rc) {
		free(buf);
		return rc;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

int ts_csv_open(struct ts_csv *c, const char *path, struct ts_error *err)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen(path, "rb");
	if (!f)
		return ts_err_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	size_t hint = 0;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return ts_err_set(err, TS_EIO, "%s: is a directory, not a CSV file", path);
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		hint = (size_t)st.st_size;
	int rc = read_all(f, hint, &c->buf, &c->len, path, err);
	fclose(f);
	if (rc)
		return rc;
	c->path = path;
	c->hash = ts_fnv1a64(c->buf, c->len);
	c->next_line = 1;
	/* spreadsheet exports may start with a UTF-8 byte order mark */
	if (c->len >= 3 && !memcmp(c->buf, "\xEF\xBB\xBF", 3))
		c->pos = 3;
	return 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trims blanks at both ends of [s, e) in place; returns the new start. */
static char *trim(char *s, char *e)
{
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* Splits the NUL-terminated line s into c->f. */
static int split_fields(struct ts_csv *c, char *s, struct ts_error *err)
{
	c->nf = 0;
	for (;;) {
		char *end = s;
		while (*end != ',' && *end != '\0') /* fields are short: no strchr call */
			end++;
		bool last = *end == '\0';
		if (c->nf == TS_CSV_MAX_FIELDS)
			return ts_err_set(err, TS_EPARSE, "%s:%d: more than %d fields",
					  c->path, c->line, TS_CSV_MAX_FIELDS);
		c->f[c->nf++] = trim(s, end);
		if (last)
			return 0;
		s = end + 1;
	}
}

int ts_csv_next(struct ts_csv *c, struct ts_error *err)
{
	while (c->pos < c->len) {
		char *s = c->buf + c->pos;
		char *eol = memchr(s, '\n', c->len - c->pos);
		if (!eol)
			eol = c->buf + c->len;
		*eol = '\0';
		c->pos = (size_t)(eol - c->buf) + 1;
		c->line = c->next_line++;
		if (strlen(s) != (size_t)(eol - s)) /* a NUL byte would end the row early, unseen */
			return ts_err_set(err, TS_EPARSE, "%s:%d: the line holds a NUL byte (not a text CSV?)",
					  c->path, c->line);
		while (is_blank(*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		int rc = split_fields(c, s, err);
		return rc ? rc : 1;
	}
	return 0;
}

/* Index of the header field named name, or -1. */
static int header_index(const struct ts_csv *c, const char *name)
{
	for (int i = 0; i < c->nf; i++)
		if (strcmp(c->f[i], name) == 0)
			return i;
	return -1;
}

/* Rejects a header naming one column twice. */
static int check_header_unique(const struct ts_csv *c, struct ts_error *err)
{
	for (int i = 0; i < c->nf; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(c->f[i], c->f[j]) == 0)
				return ts_err_set(err, TS_EPARSE,
						  "%s:%d: field '%s': column appears twice in the header",
						  c->path, c->line, c->f[i]);
	return 0;
}

int ts_csv_map_header(struct ts_csv *c, struct ts_csv_col *cols, int ncols,
		      struct ts_error *err)
{
	int rc = ts_csv_next(c, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return ts_err_set(err, TS_EPARSE, "%s:%d: empty file: no header row",
				  c->path, c->next_line > 1 ? c->next_line - 1 : 1);
	for (int i = 0; i < ncols; i++) {
		cols[i].idx = header_index(c, cols[i].name);
		if (cols[i].idx < 0 && cols[i].required)
			return ts_err_set(err, TS_EPARSE,
					  "%s:%d: field '%s': required column missing from the header "
					  "(the first row that is not a comment)",
					  c->path, c->line, cols[i].name);
	}
	rc = check_header_unique(c, err);
	if (rc)
		return rc;
	c->header_line = c->line;
	c->header_nf = c->nf;
	return 0;
}

size_t ts_csv_lines_left(const struct ts_csv *c)
{
	size_t n = 0;
	const char *p = c->buf + c->pos, *end = c->buf + c->len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		n++;
		p = eol ? eol + 1 : end;
	}
	return n;
}

int ts_csv_check_width(const struct ts_csv *c, struct ts_error *err)
{
	if (c->nf == c->header_nf)
		return 0;
	return ts_err_set(err, TS_EPARSE,
			  "%s:%d: wrong field count: %d fields, the header (line %d) has %d",
			  c->path, c->line, c->nf, c->header_line, c->header_nf);
}

const char *ts_csv_text(const struct ts_csv *c, const struct ts_csv_col *col)
{
	return col->idx >= 0 ? c->f[col->idx] : "";
}

int ts_csv_field_error(const struct ts_csv *c, const struct ts_csv_col *col,
		       struct ts_error *err, const char *fmt, ...)
{
	char why[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ts_err_set(err, TS_EPARSE, "%s:%d: field '%s': %s", c->path, c->line,
			  col->name, why);
}

/* Fails on an empty field; shared first check of the number parsers. */
static int require_text(const struct ts_csv *c, const struct ts_csv_col *col,
			const char **s, struct ts_error *err)
{
	*s = ts_csv_text(c, col);
	if (**s == '\0')
		return ts_csv_field_error(c, col, err, "empty value");
	return 0;
}

/* Parses [sign]digits into *out without strtoll's locale overhead (the
 * loaders call this millions of times). Returns 1 on success, 0 when s is
 * not an integer, -1 on overflow. */
static int parse_int64(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	uint64_t v = 0;
	const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (v > (limit - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (*s != '\0')
		return 0;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

int ts_csv_int64(const struct ts_csv *c, const struct ts_csv_col *col,
		 int64_t *out, struct ts_error *err)
{
	const char *s;
	int rc = require_text(c, col, &s, err);
	if (rc)
		return rc;
	int ok = parse_int64(s, out);
	if (ok == 0)
		return ts_csv_field_error(c, col, err, "'%s' is not an integer", s);
	if (ok < 0)
		return ts_csv_field_error(c, col, err, "'%s' is out of range", s);
	return 0;
}

int ts_csv_uint64(const struct ts_csv *c, const struct ts_csv_col *col,
		  uint64_t *out, struct ts_error *err)
{
	const char *s;
	int rc = require_text(c, col, &s, err);
	if (rc)
		return rc;
	if (*s < '0' || *s > '9')
		return ts_csv_field_error(c, col, err, "'%s' is not an unsigned integer", s);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0')
		return ts_csv_field_error(c, col, err, "'%s' is not an unsigned integer", s);
	if (errno == ERANGE)
		return ts_csv_field_error(c, col, err, "'%s' is out of range", s);
	*out = v;
	return 0;
}

int ts_csv_double(const struct ts_csv *c, const struct ts_csv_col *col,
		  double *out, struct ts_error *err)
{
	const char *s;
	int rc = require_text(c, col, &s, err);
	if (rc)
		return rc;
	char *end;
	double v = strtod(s, &end);
	if (*end != '\0')
		return ts_csv_field_error(c, col, err, "'%s' is not a number", s);
	if (!isfinite(v))
		return ts_csv_field_error(c, col, err, "'%s' is not a finite number", s);
	*out = v;
	return 0;
}

/* Whole seconds accepted (TS_TRACE_MAX_S of io/trace.h): arrival + SLO and
 * every later sum of times stay far inside int64 nanoseconds. */
#define SECONDS_MAX_INT 1000000000LL

/* Exact conversion of [sign]digits[.digits] to ns. Returns 1 when s has that
 * form and fits, 0 when it has another form, -1 when it is too large. */
static int plain_decimal_ns(const char *s, ts_ns *out)
{
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	int64_t whole = 0, frac = 0;
	int ndigits = 0, nfrac = 0;
	for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
		whole = whole * 10 + (*s - '0');
		if (whole > SECONDS_MAX_INT)
			return -1;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, ndigits++, nfrac++) {
			if (nfrac < 9)
				frac = frac * 10 + (*s - '0');
			else if (nfrac == 9 && *s >= '5')
				frac++; /* round half up on the 10th decimal */
		}
	}
	if (*s != '\0' || ndigits == 0)
		return 0;
	for (int i = nfrac; i < 9; i++)
		frac *= 10;
	ts_ns v = whole * TS_NS_PER_S + frac;
	if (v > SECONDS_MAX_INT * TS_NS_PER_S)
		return -1;
	*out = neg ? -v : v;
	return 1;
}

int ts_csv_seconds(const struct ts_csv *c, const struct ts_csv_col *col,
		   ts_ns *out, struct ts_error *err)
{
	const char *s = ts_csv_text(c, col);
	int plain = plain_decimal_ns(s, out);
	if (plain == 1)
		return 0;
	if (plain < 0)
		return ts_csv_field_error(c, col, err, "'%s' seconds is out of range", s);
	double v;
	int rc = ts_csv_double(c, col, &v, err);
	if (rc)
		return rc;
	if (fabs(v) > (double)SECONDS_MAX_INT)
		return ts_csv_field_error(c, col, err, "'%s' seconds is out of range", s);
	*out = ts_ns_from_s(v);
	return 0;
}

int ts_csv_pixels(const struct ts_csv *c, const struct ts_csv_col *col,
		  int32_t *out, struct ts_error *err)
{
	int64_t v;
	int rc = ts_csv_int64(c, col, &v, err);
	if (rc)
		return rc;
	if (v <= 0 || v % 16 != 0 || v > TS_CSV_MAX_SIDE)
		return ts_csv_field_error(c, col, err,
					  "%lld pixels: must be a positive multiple of 16 up to %d",
					  (long long)v, TS_CSV_MAX_SIDE);
	*out = (int32_t)v;
	return 0;
}

void ts_csv_close(struct ts_csv *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}
