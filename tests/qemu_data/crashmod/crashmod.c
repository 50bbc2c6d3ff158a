// SPDX-License-Identifier: GPL-2.0
/*
 * crashmod: crash the kernel on request, for crashsig's tests.
 *
 * Write a crash kind to /sys/kernel/debug/crashmod/trigger, e.g.
 * "echo null_deref > /sys/kernel/debug/crashmod/trigger"; "cat" the file for the list.
 * Each kind is its own noinline function, so reports name it (crashmod_<kind>). Names
 * avoid words in syzkaller's frame skip lists ("invalid_op", "usercopy", "refcount", ...),
 * so a title names the crashing function rather than its caller.
 */
#include <linux/debugfs.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

static int *volatile crashmod_null_ptr;
static volatile int crashmod_zero;
static volatile size_t crashmod_small_size = 16;
static volatile bool crashmod_recurse = true;
static const int crashmod_ro_value = 1;
static u8 crashmod_data_code[64];
static LIST_HEAD(crashmod_list);
static struct list_head crashmod_a, crashmod_b;

static noinline void crashmod_bug(const char __user *buf, size_t len)
{
	BUG();
}

static noinline void crashmod_warning(const char __user *buf, size_t len)
{
	WARN_ON(1);
}

static noinline void crashmod_null_deref(const char __user *buf, size_t len)
{
	*crashmod_null_ptr = 1;
}

static noinline void crashmod_vmap_guard(const char __user *buf, size_t len)
{
	char *p = vmalloc(PAGE_SIZE);

	/* The page after a vmalloc area is an unmapped guard page. */
	if (p)
		pr_info("crashmod: read %d\n", READ_ONCE(p[PAGE_SIZE]));
}

static noinline void crashmod_write_ro(const char __user *buf, size_t len)
{
	*(volatile int *)&crashmod_ro_value = 2;
}

static noinline void crashmod_exec_data(const char __user *buf, size_t len)
{
	void (*fn)(void) = (void (*)(void))crashmod_data_code;

	fn();
}

static noinline void crashmod_gpf(const char __user *buf, size_t len)
{
	pr_info("crashmod: read %lx\n", *(volatile unsigned long *)0xdead000000000100UL);
}

static noinline void crashmod_list_corruption(const char __user *buf, size_t len)
{
	list_add(&crashmod_a, &crashmod_list);
	crashmod_a.prev = NULL;
	list_add(&crashmod_b, &crashmod_list);
}

static noinline void crashmod_divide_error(const char __user *buf, size_t len)
{
	pr_info("crashmod: %d\n", 100 / crashmod_zero);
}

static noinline void crashmod_ud2(const char __user *buf, size_t len)
{
	asm volatile("ud2");
}

static noinline void crashmod_ref_from_zero(const char __user *buf, size_t len)
{
	refcount_t ref = REFCOUNT_INIT(0);

	refcount_inc(&ref);
}

static noinline void crashmod_oversized_copy(const char __user *buf, size_t len)
{
	char *small = kmalloc(crashmod_small_size, GFP_KERNEL);

	/* Hardened usercopy checks only sizes unknown at compile time: copy 64 bytes
	 * (crashmod_small_size * 4) into the 16-byte object.
	 */
	if (small && copy_from_user(small, buf, crashmod_small_size * 4) == 0)
		pr_info("crashmod: copied\n");
	kfree(small);
}

static noinline void crashmod_stack_protector(const char __user *buf, size_t len)
{
	char small[8];
	volatile char *p = small;
	int i;

	for (i = 0; i < 64; i++)
		p[i] = 'A';
}

static noinline void crashmod_stack_overflow(const char __user *buf, size_t len)
{
	volatile char frame[512];

	frame[0] = (char)len;
	if (crashmod_recurse)
		crashmod_stack_overflow(buf, len + frame[0]);
	frame[1] = 0;
}

static noinline void crashmod_stack_end(const char __user *buf, size_t len)
{
	*end_of_stack(current) = 0;
	schedule_timeout_uninterruptible(1);
}

static noinline void crashmod_sleep_forever(const char __user *buf, size_t len)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule();
}

static noinline void crashmod_spin(const char __user *buf, size_t len)
{
	preempt_disable();
	for (;;)
		cpu_relax();
}

static noinline void crashmod_atomic_sleep(const char __user *buf, size_t len)
{
	preempt_disable();
	schedule_timeout_uninterruptible(1);
	preempt_enable();
}

static noinline void crashmod_double_free(const char __user *buf, size_t len)
{
	void *p = kmalloc(64, GFP_KERNEL);

	kfree(p);
	kfree(p);
}

static noinline void crashmod_panic(const char __user *buf, size_t len)
{
	panic("crashmod: deliberate panic");
}

struct crashmod_kind {
	const char *name;
	void (*fn)(const char __user *buf, size_t len);
};

#define KIND(x) { #x, crashmod_##x }
static const struct crashmod_kind crashmod_kinds[] = {
	KIND(bug), KIND(warning), KIND(null_deref), KIND(vmap_guard), KIND(write_ro),
	KIND(exec_data), KIND(gpf), KIND(list_corruption), KIND(divide_error), KIND(ud2),
	KIND(ref_from_zero), KIND(oversized_copy), KIND(stack_protector), KIND(stack_overflow),
	KIND(stack_end), KIND(sleep_forever), KIND(spin), KIND(atomic_sleep),
	KIND(double_free), KIND(panic),
};

static ssize_t crashmod_write(struct file *file, const char __user *buf, size_t len,
			      loff_t *off)
{
	char name[32];
	size_t n = min(len, sizeof(name) - 1);
	int i;

	if (copy_from_user(name, buf, n))
		return -EFAULT;
	name[n] = '\0';
	strim(name);
	for (i = 0; i < ARRAY_SIZE(crashmod_kinds); i++) {
		if (strcmp(name, crashmod_kinds[i].name) == 0) {
			pr_info("crashmod: triggering %s\n", name);
			crashmod_kinds[i].fn(buf, len);
			return len;
		}
	}
	return -EINVAL;
}

static ssize_t crashmod_read(struct file *file, char __user *buf, size_t len, loff_t *off)
{
	char list[512] = "";
	int i;

	for (i = 0; i < ARRAY_SIZE(crashmod_kinds); i++) {
		strlcat(list, crashmod_kinds[i].name, sizeof(list));
		strlcat(list, "\n", sizeof(list));
	}
	return simple_read_from_buffer(buf, len, off, list, strlen(list));
}

static const struct file_operations crashmod_fops = {
	.owner = THIS_MODULE,
	.read = crashmod_read,
	.write = crashmod_write,
};

static struct dentry *crashmod_dir;

static int __init crashmod_init(void)
{
	crashmod_dir = debugfs_create_dir("crashmod", NULL);
	debugfs_create_file("trigger", 0600, crashmod_dir, NULL, &crashmod_fops);
	return 0;
}

static void __exit crashmod_exit(void)
{
	debugfs_remove_recursive(crashmod_dir);
}

module_init(crashmod_init);
module_exit(crashmod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Crash the kernel on request (crashsig test fixture)");
