/* io_fixture.h: temporary files for the tests of common/io. Each test
 * program gets its own directory under $TMPDIR (or /tmp), removed by
 * io_fixture_cleanup(). */
#ifndef TS_IO_FIXTURE_H
#define TS_IO_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_FIXTURE_MAX_FILES 256

static char io_fixture_dir[512];
static char io_fixture_files[IO_FIXTURE_MAX_FILES][640];
static int io_fixture_nfiles;

/* Path of a file named name in this program's temporary directory
 * (created on first use); the file is removed at cleanup. Exits on failure. */
static inline const char *io_temp_path(const char *name)
{
	if (!io_fixture_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(io_fixture_dir, sizeof(io_fixture_dir), "%s/ts-io-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(io_fixture_dir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	if (io_fixture_nfiles == IO_FIXTURE_MAX_FILES) {
		fprintf(stderr, "io_fixture: too many temporary files\n");
		exit(1);
	}
	char *path = io_fixture_files[io_fixture_nfiles++];
	snprintf(path, sizeof(io_fixture_files[0]), "%s/%s", io_fixture_dir, name);
	return path;
}

/* Writes text to a fresh temporary file named name; returns its path. */
static inline const char *io_temp_file(const char *name, const char *text)
{
	const char *path = io_temp_path(name);
	FILE *f = fopen(path, "wb");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

/* Reads a whole file into a malloc'd NUL-terminated string (NULL on error). */
static inline char *io_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Removes every temporary file and the directory. */
static inline void io_fixture_cleanup(void)
{
	for (int i = 0; i < io_fixture_nfiles; i++)
		remove(io_fixture_files[i]);
	if (io_fixture_dir[0])
		rmdir(io_fixture_dir);
}

#endif
