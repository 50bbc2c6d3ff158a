/* Helpers inlined from a header, so call_file differs from the caller's file. */
#ifndef INLINE_UTIL_H
#define INLINE_UTIL_H

static inline __attribute__((always_inline)) unsigned mix(unsigned x, unsigned k)
{
	x ^= x >> 13;
	x *= k;
	return x ^ (x >> 7);
}

static inline __attribute__((always_inline)) unsigned mix2(unsigned x)
{
	return mix(mix(x, 0x9e3779b1u), 0x85ebca6bu) + 1;
}

static inline unsigned clamp_u(unsigned v, unsigned lo, unsigned hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

#endif
