#include "cli/cli_util.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The installed data folder of the running binary (its folder joined to
 * TS_DATADIR_FROM_BINDIR, resolved) when that folder holds traces/; else
 * NULL. */
static const char *installed_data_dir(void)
{
	static char dir[PATH_MAX];
	char path[PATH_MAX];
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	if (!slash || strlen(TS_DATADIR_FROM_BINDIR) + 2 > sizeof(path) - (size_t)(slash - path))
		return NULL;
	strcpy(slash + 1, TS_DATADIR_FROM_BINDIR);
	if (!realpath(path, dir) || strlen(dir) + sizeof("/traces") > sizeof(path))
		return NULL;
	snprintf(path, sizeof(path), "%s/traces", dir);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

const char *ts_cli_data_dir(void)
{
	const char *env = getenv("TETRISERVE_DATA_DIR");
	if (env && *env)
		return env;
	const char *installed = installed_data_dir();
	return installed ? installed : TS_DATADIR;
}

const char *ts_cli_default_trace(void)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", ts_cli_data_dir(), TS_DEFAULT_TRACE_REL);
	return path;
}

const char *ts_cli_default_profile(void)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", ts_cli_data_dir(), TS_DEFAULT_PROFILE_REL);
	return path;
}

int ts_cli_parse_int(const char *text, long long lo, long long hi, long long *out,
		     const char *option, struct ts_error *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	/* strtoll skips leading blanks: " 4" is no whole number here */
	if (end == text || isspace((unsigned char)*text) || *end != '\0' || errno == ERANGE ||
	    v < lo || v > hi)
		return ts_err_set(err, TS_EINVAL, "%s needs a whole number in %lld..%lld, got '%s'",
				  option, lo, hi, text);
	*out = v;
	return 0;
}

int ts_cli_parse_double(const char *text, double lo, double hi, double *out, const char *option,
			struct ts_error *err)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || isspace((unsigned char)*text) || *end != '\0' || errno == ERANGE ||
	    !isfinite(v) || v < lo || v > hi)
		return ts_err_set(err, TS_EINVAL, "%s needs a number in %g..%g, got '%s'", option, lo,
				  hi, text);
	*out = v;
	return 0;
}

int ts_cli_bad_option(const char *cmd, char **argv)
{
	fprintf(stderr, "%s: unknown or incomplete option '%s' (see --help)\n", cmd, argv[optind - 1]);
	return 2;
}

int ts_cli_split_policies(char *list, char **spec, int max, struct ts_error *err)
{
	int n = 0;
	char *p = list;
	while (*p) {
		if (n == max)
			return ts_err_set(err, TS_EINVAL, "--policy lists more than %d policies", max);
		spec[n++] = p;
		char *c = p;
		while ((c = strchr(c, ',')) && !isalpha((unsigned char)c[1]))
			c++;
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	if (n == 0)
		return ts_err_set(err, TS_EINVAL, "--policy is empty");
	return n;
}

/* A temporary file beside path with mode `mode`, opened on o->f; false
 * (nothing left behind) when the folder does not let us create one. */
static bool open_beside(struct ts_cli_out *o, const char *path, mode_t mode)
{
	size_t n = strlen(path) + sizeof(".XXXXXX");
	o->tmp = malloc(n);
	if (!o->tmp)
		return false;
	snprintf(o->tmp, n, "%s.XXXXXX", path);
	int fd = mkstemp(o->tmp);
	if (fd >= 0 && fchmod(fd, mode) == 0 && (o->f = fdopen(fd, "w")))
		return true;
	if (fd >= 0) {
		close(fd);
		unlink(o->tmp);
	}
	free(o->tmp);
	o->tmp = NULL;
	return false;
}

int ts_cli_out_open(struct ts_cli_out *o, const char *path, struct ts_error *err)
{
	struct stat st;
	*o = (struct ts_cli_out){ .path = path };
	bool exists = lstat(path, &st) == 0;
	if (!exists || S_ISREG(st.st_mode)) {
		mode_t mask = umask(0);
		umask(mask);
		if (open_beside(o, path, exists ? st.st_mode & 07777 : 0666 & ~mask))
			return 0;
	}
	o->f = fopen(path, "w");
	if (!o->f)
		return ts_err_set(err, TS_EIO, "%s: cannot write: %s", path, strerror(errno));
	return 0;
}

int ts_cli_out_close(struct ts_cli_out *o, bool ok, struct ts_error *err)
{
	int rc = 0;
	if (o->f && fclose(o->f) != 0 && ok) {
		rc = ts_err_set(err, TS_EIO, "%s: write error: %s", o->path, strerror(errno));
		ok = false;
	}
	if (o->tmp && ok && rename(o->tmp, o->path) != 0)
		rc = ts_err_set(err, TS_EIO, "%s: cannot put the file in place: %s", o->path,
				strerror(errno));
	if (o->tmp && (!ok || rc))
		unlink(o->tmp);
	free(o->tmp);
	*o = (struct ts_cli_out){ 0 };
	return rc;
}
