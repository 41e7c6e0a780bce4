/* ts_error.h: error codes and the error record every fallible call fills in. */
#ifndef TS_ERROR_H
#define TS_ERROR_H

/* Negative error codes, libuv style: 0 is success, every failure is < 0. */
enum ts_errcode {
	TS_OK = 0,
	TS_EINVAL = -1,    /* bad argument or option value */
	TS_EPARSE = -2,    /* malformed input file (trace, profile, JSON) */
	TS_EIO = -3,       /* file or database I/O failed */
	TS_ENOMEM = -4,    /* allocation failed */
	TS_ENOTFOUND = -5, /* missing profile cell, run id, file */
	TS_EPOLICY = -6,   /* a policy returned an impossible decision */
	TS_EDEVICE = -7,   /* CUDA, cuBLAS or NCCL failed */
	TS_EINTR = -8,     /* interrupted by the user (Ctrl-C) */
	TS_ERANGE = -9,    /* value out of the supported range */
};

/* Caller-owned error record: the code and a human-readable message naming
 * the file, line, field or call that failed. */
struct ts_error {
	int code;
	char msg[1024];
};

/* Fills *err (when err is not NULL) with code and a printf-style message.
 * Returns code, so callers can write `return ts_err_set(err, ...)`. */
int ts_err_set(struct ts_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to err->msg (context added by a caller); returns err->code. */
int ts_err_prefix(struct ts_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Resets *err to success with an empty message. */
void ts_err_clear(struct ts_error *err);

/* Short constant name of a code, e.g. "EPARSE". Never NULL. */
const char *ts_err_name(int code);

#endif
