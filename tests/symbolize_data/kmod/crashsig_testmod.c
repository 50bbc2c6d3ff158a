// SPDX-License-Identifier: GPL-2.0
/* Out-of-tree test module for crashsig's ET_REL symbolizer path: inline chains, a
 * static helper, code in .text, .init.text and .exit.text. It is built, never loaded. */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/list.h>

struct csig_item {
	struct list_head node;
	unsigned int key;
	unsigned int value;
};

static LIST_HEAD(csig_items);

static __always_inline unsigned int csig_mix(unsigned int x)
{
	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	return x ^ (x >> 12);
}

static __always_inline unsigned int csig_weight(const struct csig_item *it)
{
	return csig_mix(it->key) + csig_mix(it->value) * 3;
}

static __always_inline unsigned int csig_sum(void)
{
	struct csig_item *it;
	unsigned int sum = 0;

	list_for_each_entry(it, &csig_items, node)
		sum += csig_weight(it);
	return sum;
}

noinline unsigned int csig_walk(void)
{
	return csig_sum() + csig_mix(7);
}
EXPORT_SYMBOL_GPL(csig_walk);

noinline int csig_add(unsigned int key, unsigned int value)
{
	struct csig_item *it = kmalloc(sizeof(*it), GFP_KERNEL);

	if (!it)
		return -ENOMEM;
	it->key = csig_mix(key);
	it->value = value;
	list_add_tail(&it->node, &csig_items);
	return 0;
}
EXPORT_SYMBOL_GPL(csig_add);

static int __init csig_init(void)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (csig_add(i, i * i))
			return -ENOMEM;
	pr_info("crashsig_testmod: %u\n", csig_walk());
	return 0;
}

static void __exit csig_exit(void)
{
	struct csig_item *it, *tmp;

	list_for_each_entry_safe(it, tmp, &csig_items, node) {
		list_del(&it->node);
		kfree(it);
	}
}

module_init(csig_init);
module_exit(csig_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("crashsig symbolizer test module");
