/* Shared inline helpers: their inlined copies give DW_TAG_inlined_subroutine chains. */
#ifndef FUZZ_PROG_H
#define FUZZ_PROG_H

struct item {
	int key;
	long value;
	struct item *next;
};

static inline __attribute__((always_inline)) long mix(long a, long b)
{
	return (a * 31) ^ (b >> 3);
}

static inline __attribute__((always_inline)) long fold(const struct item *it)
{
	long acc = 0;

	for (; it; it = it->next)
		acc = mix(acc, it->value + it->key);
	return acc;
}

long lib_sum(const struct item *it, int depth);
int lib_find(const struct item *it, int key);
#endif
