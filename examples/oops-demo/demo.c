/* oops-demo: a user-space program that prints a kernel-style oops of itself.
 *
 * It lets you try `crashsig parse` and `crashsig symbolize` without building a kernel:
 * the "Call Trace" uses the kernel's frame format (func+0xOFF/0xSIZE), taken from the
 * program's own stack, so the program binary plays the part of vmlinux.
 *
 * From the repository root (docs/quickstart.md, whose expected output names the line
 * numbers of this file):
 *
 *   gcc -O2 -g -rdynamic -o /tmp/crashsig-demo/oops-demo examples/oops-demo/demo.c
 *   /tmp/crashsig-demo/oops-demo > /tmp/crashsig-demo/oops.log
 *   crashsig symbolize --vmlinux /tmp/crashsig-demo/oops-demo /tmp/crashsig-demo/oops.log
 *
 * -rdynamic exports the function names so that dladdr() can find them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

/* Print one address as " func+0xOFF/0xSIZE"; false when dladdr() knows no symbol. */
static int print_frame(const char *prefix, void *pc)
{
	Dl_info info;
	const ElfW(Sym) *sym = NULL;

	if (!dladdr1(pc, &info, (void **)&sym, RTLD_DL_SYMENT) || !info.dli_sname || !sym)
		return 0;
	printf("%s%s+0x%lx/0x%lx\n", prefix, info.dli_sname,
	       (unsigned long)((char *)pc - (char *)info.dli_saddr), (unsigned long)sym->st_size);
	return 1;
}

/* The "oops": a BUG() in demo_check, called through an inlined helper of demo_write. */
__attribute__((noinline)) void demo_check(const char *buf)
{
	void *stack[16];
	int depth, line;

	if (strcmp(buf, "1") != 0)
		return;
	depth = backtrace(stack, 16); line = __LINE__;
	printf("------------[ cut here ]------------\n");
	printf("kernel BUG at %s:%d!\n", __FILE__, line);
	printf("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n");
	printf("CPU: 0 PID: 42 Comm: oops-demo Not tainted 6.1.0-demo #1\n");
	/* The call to backtrace() plays the faulting instruction: RIP points inside it. */
	print_frame("RIP: 0010:", (char *)stack[0] - 1);
	printf("Call Trace:\n <TASK>\n");
	for (int i = 1; i < depth; i++)
		if (!print_frame(" ", stack[i]))
			break;
	printf(" </TASK>\n");
}

static inline __attribute__((always_inline)) void demo_apply(const char *buf)
{
	demo_check(buf);
}

__attribute__((noinline)) void demo_write(const char *buf)
{
	demo_apply(buf);
	__asm__ volatile("" ::: "memory");	/* keep the call from becoming a tail call */
}

int main(void)
{
	printf("[    1.000000] oops-demo: writing 1 to the trigger\n");
	demo_write("1");
	return 0;
}
