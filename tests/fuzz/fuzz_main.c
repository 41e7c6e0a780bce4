/* fuzz_main.c: runs a fuzz harness without libFuzzer (any compiler, e.g.
 * the gcc ASan+UBSan build of run-tests.sh): every file of the corpus
 * folder once, then seeded mutations of them (bit flips, bytes set to
 * CSV-meaningful values, numbers at the limits, insertions, deletions,
 * copies within and between inputs) until the time is up. The sanitizers
 * make a failure an abort; the input that failed is then written to
 * fuzz-crash-<harness>.bin in the current folder and its path printed.
 * usage: fuzz_X CORPUS_DIR [SECONDS] [SEED]   (defaults 10 s, seed 1) */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_input.h"

#define FUZZ_MAX_INPUT 4096
#define MAX_CORPUS 512

struct input {
	uint8_t *data;
	size_t size;
};

static struct input corpus[MAX_CORPUS];
static size_t ncorpus;
static uint8_t current[FUZZ_MAX_INPUT];
static size_t current_size;
static const char *harness;

/* Saves the input being run when a sanitizer or abort() ends the process. */
static void save_current(void)
{
	char path[256];
	snprintf(path, sizeof(path), "fuzz-crash-%s.bin", harness);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(current, 1, current_size, f);
		fclose(f);
		fprintf(stderr, "fuzz: the failing input is in %s\n", path);
	}
}

static void abort_handler(int sig)
{
	(void)sig;
	save_current();
	_exit(1);
}

extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static int load_corpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)) && ncorpus < MAX_CORPUS) {
		char path[1024];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		struct input *in = &corpus[ncorpus];
		in->data = malloc(FUZZ_MAX_INPUT);
		in->size = fread(in->data, 1, FUZZ_MAX_INPUT, f);
		fclose(f);
		ncorpus++;
	}
	closedir(d);
	return ncorpus ? 0 : -1;
}

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return n ? (rng_state >> 33) % n : 0;
}

static const char *const tokens[] = {
	",", "\n", "\r\n", "#", " ", "0", "-1", "1e308", "-1e308", "1e-9", "nan", "inf", "2147483647",
	"2147483648", "9223372036854775807", "18446744073709551616", "4294967295", "65536", "0x10",
	"1e9", "0.000001", ":", "=", "+", "/", "x", "steps", "slo_s", "model", "sp", "batch", "cv",
	"tetriserve", "fixed-sp", "rssp", "edf", "late=drop", "round_ms=", "map=", "\xEF\xBB\xBF",
};

/* One random edit of current. */
static void mutate_once(void)
{
	size_t n = current_size, at = rnd(n + 1);
	switch (rnd(6)) {
	case 0:
		if (n)
			current[rnd(n)] ^= (uint8_t)(1u << rnd(8));
		break;
	case 1:
		if (n)
			current[rnd(n)] = (uint8_t)",\n0-9.e:+x\0"[rnd(11)];
		break;
	case 2: {
		const char *t = tokens[rnd(sizeof(tokens) / sizeof(tokens[0]))];
		size_t len = strlen(t);
		if (n + len <= FUZZ_MAX_INPUT) {
			memmove(current + at + len, current + at, n - at);
			memcpy(current + at, t, len);
			current_size += len;
		}
		break;
	}
	case 3: {
		size_t len = rnd(n - at + 1);
		memmove(current + at, current + at + len, n - at - len);
		current_size -= len;
		break;
	}
	default: {
		const struct input *o = &corpus[rnd(ncorpus)];
		size_t from = rnd(o->size + 1), len = rnd(o->size - from + 1);
		if (n + len <= FUZZ_MAX_INPUT) {
			memmove(current + at + len, current + at, n - at);
			memcpy(current + at, o->data + from, len);
			current_size += len;
		}
	}
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	harness = slash ? slash + 1 : argv[0];
	if (argc < 2 || load_corpus(argv[1])) {
		fprintf(stderr, "usage: %s CORPUS_DIR [SECONDS] [SEED] (a folder of inputs)\n", argv[0]);
		return 2;
	}
	double seconds = argc > 2 ? atof(argv[2]) : 10;
	rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(save_current);
	signal(SIGABRT, abort_handler);
	long runs = 0;
	for (size_t i = 0; i < ncorpus; i++, runs++) {
		memcpy(current, corpus[i].data, current_size = corpus[i].size);
		LLVMFuzzerTestOneInput(current, current_size);
	}
	for (double end = now_s() + seconds; now_s() < end; runs++) {
		const struct input *base = &corpus[rnd(ncorpus)];
		memcpy(current, base->data, current_size = base->size);
		for (uint64_t k = 1 + rnd(8); k > 0; k--)
			mutate_once();
		LLVMFuzzerTestOneInput(current, current_size);
	}
	printf("%s: %ld inputs, no failure\n", harness, runs);
	for (size_t i = 0; i < ncorpus; i++)
		free(corpus[i].data);
	return 0;
}
