/* ts_bf16.h: host-side conversions between float and the 16-bit floating
 * formats of checkpoints and device buffers (bfloat16, IEEE half). Values
 * travel as uint16_t bit patterns. */
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

/* IEEE half -> float (exact: subnormals, infinities and NaN included). */
static inline float ts_f16_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
	uint32_t u;
	if (exp == 0x1f) {
		u = sign | 0x7f800000u | (man << 13);
	} else if (exp) {
		u = sign | ((exp + 112u) << 23) | (man << 13);
	} else if (!man) {
		u = sign;
	} else { /* subnormal: normalise the mantissa */
		int e = -1;
		do {
			man <<= 1;
			e++;
		} while (!(man & 0x400u));
		u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
	}
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

#endif
