/* fuzz_input.h: what the fuzz harnesses share: an input handed to a loader
 * that takes a path (a memory file, no disk), and the fixed partner inputs
 * of each harness (built with -D_GNU_SOURCE, for memfd_create). Every
 * harness defines LLVMFuzzerTestOneInput, run by
 * libFuzzer (a clang build) or by fuzz_main.c (any compiler). */
#ifndef TS_FUZZ_INPUT_H
#define TS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* A path holding data[0..size): "/proc/self/fd/N" of a memfd, in path
 * (64 bytes); returns the fd to close, -1 on failure. */
static inline int fuzz_as_file(const uint8_t *data, size_t size, char *path)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
