"""Source files that are never to blame, and lines that never name the guilty file.

Data from syzkaller ``pkg/report/linux.go`` ``guiltyFileIgnores`` (Apache-2.0).
"""

from __future__ import annotations

GUILTY_FILE_IGNORES: tuple[str, ...] = (
    r".*\.h",
    r"^lib/.*",
    r"^virt/lib/.*",
    r"^mm/kasan/.*",
    r"^mm/kmsan/.*",
    r"^kernel/kcov.c",
    r"^mm/sl.b.c",
    r"^mm/filemap.c",
    r"^mm/folio-compat.c",
    r"^mm/truncate.c",
    r"^mm/memory.c",
    r"^mm/percpu.*",
    r"^mm/vmalloc.c",
    r"^mm/page_alloc.c",
    r"^mm/mempool.c",
    r"^mm/util.c",
    r"^kernel/rcu/.*",
    r"^arch/.*/kernel/traps.c",
    r"^arch/.*/kernel/unwind.*.c",
    r"^arch/.*/mm/fault.c",
    r"^arch/.*/mm/physaddr.c",
    r"^arch/.*/kernel/stacktrace.c",
    r"^arch/.*/kernel/apic/apic.c",
    r"^arch/arm64/kernel/entry.*.c",
    r"^arch/arm64/kernel/process\.c",
    r"^kernel/locking/.*",
    r"^kernel/panic.c",
    r"^kernel/printk/printk.*.c",
    r"^kernel/softirq.c",
    r"^kernel/kthread.c",
    r"^kernel/sched/.*.c",
    r"^kernel/stacktrace.c",
    r"^kernel/time/timer.c",
    r"^kernel/workqueue.c",
    r"^net/core/dev.c",
    r"^net/core/sock.c",
    r"^net/core/skbuff.c",
    r"^fs/proc/generic.c",
    r"^trusty/",  # Trusty sources are not in the kernel tree.
    r"^drivers/usb/core/urb.c",  # a WARNING in urb.c usually means a driver bug
    r"^arch/.*/lib/crc.*",  # crashes here are caused by the caller
)

# Lockdep irq-state lines, lock sites (", at:"), held-lock lists and register dumps.
GUILTY_LINE_IGNORE = r"(hardirqs|softirqs)\s+last\s+(enabled|disabled)|, at: |^\s*#[0-9]+:|^Register r\d+ information"

# For RCU stalls the search starts after the interrupt entry, to skip the stall machinery.
RCU_STALL_ENTRY_POINTS: tuple[str, ...] = ("apic_timer_interrupt+0x", "el1h_64_irq+0x", "Exception stack")
