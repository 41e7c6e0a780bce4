/* ts_strbuf.h: appending formatted text to a caller-owned fixed buffer.
 * The length keeps counting past the end (snprintf semantics), so callers
 * check truncation once at the end: len >= size means it did not fit. */
#ifndef TS_STRBUF_H
#define TS_STRBUF_H

#include <stddef.h>

struct ts_strbuf {
	char *buf;
	size_t size;
	size_t len;  /* length the full text needs */
};

/* A builder over buf[0..size); buf is "" afterwards (size must be > 0). */
struct ts_strbuf ts_strbuf_init(char *buf, size_t size);

/* Appends printf-style text (truncated in the buffer, counted in len). */
void ts_strbuf_printf(struct ts_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));


#endif
