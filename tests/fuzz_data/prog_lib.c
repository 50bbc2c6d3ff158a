/* Second compilation unit: a cold path (split ranges), a switch, and a static twin name. */
#include <stdlib.h>
#include "prog.h"

static __attribute__((noinline, cold)) void fail(const char *what)
{
	abort();
	(void)what;
}

static int helper(int x)
{
	switch (x & 7) {
	case 0: return x * 3;
	case 1: return x + 11;
	case 2: return x ^ 0x55;
	case 3: return -x;
	default: return x / 2;
	}
}

long lib_sum(const struct item *it, int depth)
{
	if (depth > 1000)
		fail("too deep");
	return fold(it) + helper(depth);
}

int lib_find(const struct item *it, int key)
{
	for (; it; it = it->next)
		if (it->key == key)
			return helper(key);
	return -1;
}
