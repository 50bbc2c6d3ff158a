/* Second unit: another static helper() and more header inlines. */
#include "inline_util.h"

__attribute__((noinline)) static unsigned helper(unsigned x)
{
	unsigned v = 0;
	for (unsigned i = 0; i < (x & 15); i++)
		v += mix2(v + i) >> 3;
	return clamp_u(v, 3, 99999);
}

__attribute__((noinline)) unsigned other_entry(unsigned x)
{
	return helper(x) + helper(x + 1) * 2;
}
