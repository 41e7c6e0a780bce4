#include "core/ts_strbuf.h"

#include <stdarg.h>
#include <stdio.h>

struct ts_strbuf ts_strbuf_init(char *buf, size_t size)
{
	buf[0] = '\0';
	return (struct ts_strbuf){ .buf = buf, .size = size, .len = 0 };
}

void ts_strbuf_printf(struct ts_strbuf *sb, const char *fmt, ...)
{
	size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
	char *at = room ? sb->buf + sb->len : NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(at, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->len += (size_t)n;
}
