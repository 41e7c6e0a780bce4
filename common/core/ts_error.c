#include "core/ts_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ts_err_set(struct ts_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

int ts_err_prefix(struct ts_error *err, const char *fmt, ...)
{
	if (!err)
		return TS_EINVAL;
	char buf[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return err->code;
	size_t used = strlen(buf);
	size_t room = sizeof(buf) - used;
	if (room > 3) {
		memcpy(buf + used, ": ", 2);
		used += 2;
		size_t keep = strnlen(err->msg, sizeof(buf) - used - 1);
		memcpy(buf + used, err->msg, keep);
		buf[used + keep] = '\0';
	}
	memcpy(err->msg, buf, sizeof(buf));
	return err->code;
}

void ts_err_clear(struct ts_error *err)
{
	if (!err)
		return;
	err->code = TS_OK;
	err->msg[0] = '\0';
}

const char *ts_err_name(int code)
{
	switch (code) {
	case TS_OK: return "OK";
	case TS_EINVAL: return "EINVAL";
	case TS_EPARSE: return "EPARSE";
	case TS_EIO: return "EIO";
	case TS_ENOMEM: return "ENOMEM";
	case TS_ENOTFOUND: return "ENOTFOUND";
	case TS_EPOLICY: return "EPOLICY";
	case TS_EDEVICE: return "EDEVICE";
	case TS_EINTR: return "EINTR";
	case TS_ERANGE: return "ERANGE";
	}
	return "EUNKNOWN";
}
