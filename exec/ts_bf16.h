/* ts_bf16.h: host-side bfloat16 conversions for tests and references.
 * bf16 values travel between host and device as uint16_t bit patterns. */
#ifndef TS_BF16_H
#define TS_BF16_H

#include <stdint.h>
#include <string.h>

/* float -> bf16, round to nearest even; NaN stays NaN. */
static inline uint16_t ts_bf16_from_float(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* bf16 -> float (exact). */
static inline float ts_bf16_to_float(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

#endif
