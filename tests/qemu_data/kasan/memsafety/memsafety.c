// SPDX-License-Identifier: GPL-2.0
/*
 * memsafety: memory-safety bugs on request, for crashsig's KASAN test kernel.
 *
 * Built into the kernel. Each bug kind is a file in /sys/kernel/debug/memsafety/;
 * writing anything to it runs the bug, e.g. "echo 1 > /sys/kernel/debug/memsafety/uaf_read".
 * Each kind is its own noinline function, so reports name it (memsafety_<kind>). Names
 * avoid words in syzkaller's frame skip list ("kasan", "slab_", "malloc", "memcpy", ...),
 * so a title names the buggy function rather than its caller.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

/* Volatile sizes and indexes: the compiler cannot see the bugs and cannot fold them away. */
static volatile size_t memsafety_size = 40;
static volatile size_t memsafety_stack_index = 8;
static volatile size_t memsafety_global_index = 10;
static char memsafety_global[10] = "123456789";

struct memsafety_node {
	long key;
	long value;
};

static struct memsafety_node *volatile memsafety_null_node;

static noinline void memsafety_uaf_read(void)
{
	char *p = kmalloc(memsafety_size, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	pr_info("memsafety: read %d\n", READ_ONCE(p[8]));
}

static noinline void memsafety_uaf_write(void)
{
	char *p = kmalloc(memsafety_size, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	WRITE_ONCE(p[8], 'x');
}

static noinline void memsafety_heap_oob_read(void)
{
	char *p = kmalloc(memsafety_size, GFP_KERNEL);

	if (!p)
		return;
	pr_info("memsafety: read %d\n", READ_ONCE(p[memsafety_size]));
	kfree(p);
}

static noinline void memsafety_heap_oob_write(void)
{
	char *p = kmalloc(memsafety_size, GFP_KERNEL);

	if (!p)
		return;
	WRITE_ONCE(p[memsafety_size + 2], 'x');
	kfree(p);
}

static noinline void memsafety_double_free(void)
{
	char *p = kmalloc(memsafety_size, GFP_KERNEL);

	kfree(p);
	kfree(p);
}

static noinline void memsafety_stack_oob_read(void)
{
	char buf[8] = "abcdefg";

	pr_info("memsafety: read %d\n", READ_ONCE(buf[memsafety_stack_index]));
}

static noinline void memsafety_global_oob_read(void)
{
	pr_info("memsafety: read %d\n", READ_ONCE(memsafety_global[memsafety_global_index]));
}

/* Inline KASAN checks the shadow of NULL first: a GPF at 0xdffffc0000000000. */
static noinline void memsafety_null_deref(void)
{
	pr_info("memsafety: read %ld\n", READ_ONCE(memsafety_null_node->value));
}

/* A sized copy goes through __asan_memcpy, whose range check reports null-ptr-deref. */
static noinline void memsafety_null_copy(void)
{
	char buf[16];

	memcpy(buf, &memsafety_null_node->value, memsafety_size % sizeof(buf));
	pr_info("memsafety: copied %d\n", buf[0]);
}

struct memsafety_kind {
	const char *name;
	void (*fn)(void);
};

#define KIND(x) { #x, memsafety_##x }
static const struct memsafety_kind memsafety_kinds[] = {
	KIND(uaf_read), KIND(uaf_write), KIND(heap_oob_read), KIND(heap_oob_write),
	KIND(double_free), KIND(stack_oob_read), KIND(global_oob_read), KIND(null_deref),
	KIND(null_copy),
};

static ssize_t memsafety_write(struct file *file, const char __user *buf, size_t len,
			       loff_t *off)
{
	const struct memsafety_kind *kind = file->private_data;

	pr_info("memsafety: triggering %s\n", kind->name);
	kind->fn();
	return len;
}

static const struct file_operations memsafety_fops = {
	.open = simple_open,
	.write = memsafety_write,
};

static int __init memsafety_init(void)
{
	struct dentry *dir = debugfs_create_dir("memsafety", NULL);
	int i;

	for (i = 0; i < ARRAY_SIZE(memsafety_kinds); i++)
		debugfs_create_file(memsafety_kinds[i].name, 0200, dir,
				    (void *)&memsafety_kinds[i], &memsafety_fops);
	return 0;
}
late_initcall(memsafety_init);
