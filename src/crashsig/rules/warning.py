"""Formats of the ``WARNING:`` header, lockdep reports included.

Data from syzkaller ``pkg/report/linux.go`` (Apache-2.0); see ``crashsig.rules``.
"""

from __future__ import annotations

from crashsig.rules.model import PARSE_STACK, Format, Oops, Stack
from crashsig.rules.stacks import CALL_TRACE, call_trace_stack, warning_stack

_AT_FUNC = r"at: (?:{{PC}} +)?{{FUNC}}"

SUBSYSTEM = (
    # Skip every ODEBUG user too.
    Format(
        title=r"WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)",
        fmt="WARNING: ODEBUG bug in {1}",
        stack=warning_stack(
            "debug_",
            "rcu",
            "hrtimer_",
            "timer_",
            "work_",
            "percpu_",
            "vunmap",
            "vfree",
            "__free_",
            "debug_check",
            "kobject_",
        ),
    ),
    Format(
        title=r"WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)",
        fmt="WARNING: bad usercopy in {1}",
        stack=warning_stack("usercopy", "__check"),
    ),
    Format(
        title=r"WARNING: .*lib/kobject\.c.* (?:kobject_|at)",
        fmt="WARNING: kobject bug in {1}",
        stack=warning_stack("kobject_"),
    ),
    Format(
        title=r"WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)",
        fmt="WARNING: proc registration bug in {1}",
        stack=warning_stack("proc_"),
    ),
    Format(
        title=r"WARNING: .*lib/refcount\.c.* (?:refcount_|at)",
        fmt="WARNING: refcount bug in {1}",
        stack=warning_stack("refcount", "kobject_"),
    ),
    Format(
        title=r"WARNING: .*kernel/locking/lockdep\.c.*lock_",
        fmt="WARNING: locking bug in {1}",
        stack=warning_stack("lock_sock", "release_sock"),
    ),
    Format(
        title=r"WARNING: .*still has locks held!",
        report=r"WARNING: .*still has locks held!(?:.*\n)+?.*at: {{FUNC}}",
        fmt="WARNING: still has locks held in {1}",
    ),
    Format(
        title=r"WARNING: Nested lock was not taken",
        fmt="WARNING: nested lock was not taken in {1}",
        stack=warning_stack(),
    ),
    Format(
        title=r"WARNING: lock held when returning to user space",
        report=r"WARNING: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held"
        r"(?:.*\n)+?.*" + _AT_FUNC,
        fmt="WARNING: lock held when returning to user space in {1}",
        no_stack_trace=True,
    ),
    Format(
        title=r"WARNING: .*mm/.*\.c.* k?.?malloc",
        fmt="WARNING: kmalloc bug in {1}",
        stack=warning_stack("kmalloc", "krealloc", "slab", "kmem"),
    ),
    Format(
        title=r"WARNING: .*mm/vmalloc.c.*__vmalloc_node", fmt="WARNING: zero-size vmalloc in {1}", stack=warning_stack()
    ),
    Format(
        title=r"WARNING: .* usb_submit_urb",
        fmt="WARNING in {1}/usb_submit_urb",
        stack=warning_stack(
            "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg"
        ),
    ),
)

GENERIC = (
    # 2025 header form, https://lore.kernel.org/all/20251110114633.202485143@infradead.org/
    Format(title=r"WARNING: {{SRC}} at 0x\d+, CPU#\d+", fmt="WARNING in {2}", stack=warning_stack()),
    Format(title=r"WARNING: .* at {{SRC}} {{FUNC}}", fmt="WARNING in {3}", stack=warning_stack()),
    Format(title=r"WARNING: {{SRC}} at {{FUNC}}", fmt="WARNING in {3}", stack=warning_stack()),
    Format(title=r"WARNING: \[.*\] {{SRC}} at {{FUNC}}.*", fmt="WARNING in {3}", stack=warning_stack()),
)

LOCKDEP = (
    Format(
        title=r"WARNING: possible circular locking dependency detected",
        report=r"WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to acquire lock",
        fmt="possible deadlock in {1}",
        stack=Stack(
            parts=(_AT_FUNC, _AT_FUNC, PARSE_STACK),
            # Workqueue functions take locks of work items: such deadlocks belong to the work.
            skip=("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"),
        ),
    ),
    Format(
        title=r"WARNING: possible irq lock inversion dependency detected",
        report=r"WARNING: possible irq lock inversion dependency detected(?:.*\n)+?.*just changed the state of lock"
        r"(?:.*\n)+?.*" + _AT_FUNC,
        fmt="possible deadlock in {1}",
    ),
    Format(
        title=r"WARNING: .*-safe -> .*-unsafe lock order detected",
        fmt="possible deadlock in {1}",
        stack=Stack(parts=(r"which became (?:.*) at:", PARSE_STACK)),
    ),
    Format(
        title=r"WARNING: possible recursive locking detected",
        report=r"WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*"
        + _AT_FUNC,
        fmt="possible deadlock in {1}",
    ),
    Format(
        title=r"WARNING: inconsistent lock state",
        report=r"WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*" + _AT_FUNC,
        fmt="inconsistent lock state in {2}",
        stack=call_trace_stack(),
    ),
    Format(
        title=r"WARNING: suspicious RCU usage",
        report=r"WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
        fmt="WARNING: suspicious RCU usage in {2}",
        stack=call_trace_stack("rcu", "kmem", "slab"),
    ),
)

STACK_CHECKS = (
    Format(
        title=r"WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
        fmt="WARNING: kernel stack regs has bad '{1}' value",
        no_stack_trace=True,
    ),
    Format(
        title=r"WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
        fmt="WARNING: kernel stack frame pointer has bad value",
        no_stack_trace=True,
    ),
    Format(
        title=r"WARNING: bad unlock balance detected!",
        fmt="WARNING: bad unlock balance in {1}",
        stack=Stack(parts=(r"{{PC}} +{{FUNC}}", CALL_TRACE, PARSE_STACK)),
    ),
    Format(
        title=r"WARNING: held lock freed!",
        report=r"WARNING: held lock freed!(?:.*\n)+?.*at:(?: {{PC}})? +{{FUNC}}",
        fmt="WARNING: held lock freed in {1}",
    ),
    Format(
        title=r"WARNING: kernel stack regs .* has bad 'bp' value",
        fmt="WARNING: kernel stack regs has bad value",
        no_stack_trace=True,
    ),
    Format(
        title=r"WARNING: kernel stack frame pointer .* has bad value",
        fmt="WARNING: kernel stack regs has bad value",
        no_stack_trace=True,
    ),
    Format(title=r"WARNING:[[:space:]]*(?:\n|$)", fmt="WARNING: corrupted", corrupted=True),
)

WARNING = Oops(
    header=b"WARNING:",
    formats=SUBSYSTEM + GENERIC + LOCKDEP + STACK_CHECKS,
    suppressions=(
        "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",  # sshd
        "WARNING: workqueue cpumask: online intersect > possible intersect",
        "WARNING: [Tt]he mand mount option",
        r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1",  # glibc, when dumped
        "WARNING: Unprivileged eBPF is enabled with eIBRS",
        r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size (\((?:\d+)x(?:\d+) vs\. (?:\d+)x(?:\d+)\))",
        r"WARNING: See https.* for mitigation options.",
        r"WARNING: kernel not compiled with CPU_SRSO",
        r"EXT4-[Ff][Ss](?: \(.*\))?:",  # __ext4_msg
        r"(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
        r"XFS \(\w+\): WARNING",
    ),
)
