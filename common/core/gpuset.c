/* gpuset.c: GPU sets (see gpuset.h). */
#include "core/gpuset.h"

uint64_t ts_gpus_find_free_block(uint64_t busy, int gpus, int k)
{
	if (k <= 0)
		return 0;
	for (int base = 0; base + k <= gpus; base += k) {
		uint64_t b = ts_gpus_block(base, k);
		if (!(b & busy))
			return b;
	}
	return 0;
}

/* Appends ch at buf[len] when it fits; returns len + 1. */
static int put(char *buf, int size, int len, char ch)
{
	if (len < size - 1)
		buf[len] = ch;
	return len + 1;
}

int ts_gpus_format(uint64_t set, char *buf, int size)
{
	int len = 0;
	for (; set; set &= set - 1) {
		int g = ts_gpus_first(set);
		if (len)
			len = put(buf, size, len, ',');
		if (g >= 10)
			len = put(buf, size, len, (char)('0' + g / 10));
		len = put(buf, size, len, (char)('0' + g % 10));
	}
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}
