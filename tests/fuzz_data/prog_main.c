/* A tiny program whose DWARF has inline chains, several CUs and static functions. */
#include <stdio.h>
#include <stdlib.h>
#include "prog.h"

static int helper(int x)
{
	return x * 7 + 1;
}

static inline __attribute__((always_inline)) long step(struct item *items, int n)
{
	long total = 0;

	for (int i = 0; i < n; i++)
		total += mix(items[i].value, helper(i));
	return total + fold(items);
}

int main(int argc, char **argv)
{
	struct item items[4];

	for (int i = 0; i < 4; i++) {
		items[i].key = i + argc;
		items[i].value = argv[0][0] * i;
		items[i].next = i < 3 ? &items[i + 1] : NULL;
	}
	printf("%ld %ld %d\n", step(items, 4), lib_sum(items, argc), lib_find(items, 2));
	return 0;
}
