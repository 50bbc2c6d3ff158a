/* Test program for the symbolizer: deep always_inline chains, inlines from a header,
 * a function with a cold part, and a static name that exists in two units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inline_util.h"

struct item {
	unsigned key;
	unsigned value;
	struct item *next;
};

static inline __attribute__((always_inline)) unsigned level3(unsigned x)
{
	return mix2(x) * 3u + clamp_u(x, 10, 1000);
}

static inline __attribute__((always_inline)) unsigned level2(unsigned x, unsigned y)
{
	unsigned acc = 0;
	for (unsigned i = 0; i < y; i++)
		acc += level3(x + i);
	return acc;
}

static inline __attribute__((always_inline)) unsigned level1(const struct item *it)
{
	unsigned sum = 0;
	while (it) {
		sum += level2(it->key, it->value & 7);
		it = it->next;
	}
	return sum;
}

__attribute__((noinline)) unsigned walk(const struct item *head)
{
	return level1(head) + level2(7, 3);
}

__attribute__((noinline, cold)) static void fail(const char *what)
{
	fprintf(stderr, "failed: %s\n", what);
	exit(2);
}

__attribute__((noinline)) struct item *build(unsigned n)
{
	struct item *head = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct item *it = malloc(sizeof(*it));
		if (!it)
			fail("malloc");
		it->key = mix2(i);
		it->value = i;
		it->next = head;
		head = it;
	}
	return head;
}

__attribute__((noinline)) static unsigned helper(unsigned x)  /* also in inline_other.c */
{
	return level3(x) ^ 0x55u;
}

unsigned other_entry(unsigned x);

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 10;
	struct item *head = build(n);
	unsigned r = walk(head) + helper(n) + other_entry(n);
	if (argc > 2 && strcmp(argv[2], "-v") == 0)
		printf("%u\n", r);
	return (int)(r & 1);
}
