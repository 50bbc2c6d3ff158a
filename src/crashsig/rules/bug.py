"""Formats of the ``BUG:`` header: sanitizers, bad accesses, lockups, lock bugs, leaks.

Data from syzkaller ``pkg/report/linux.go`` (Apache-2.0); see ``crashsig.rules``.
"""

from __future__ import annotations

from crashsig.rules.model import PARSE_STACK, Format, Oops, Stack
from crashsig.rules.stacks import CALL_TRACE, call_trace_stack, rip_stack

_KMSAN_ORIGIN = r"(Local variable .* created at:|Uninit was created at:)"
_KFENCE_HEADER = r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}"

KASAN = (
    Format(
        title=r"BUG: KASAN:",
        report=r"BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)",
        fmt="KASAN: {1} {3} in {4}",
        alts=("bad-access in {4}",),
        stack=Stack(
            parts=(r"BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}", CALL_TRACE, PARSE_STACK),
            # These frames are present in KASAN_HW_TAGS reports.
            skip=("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"),
        ),
    ),
    Format(
        title=r"BUG: KASAN:",
        report=r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
        fmt="KASAN: invalid-free in {2}",
        alts=("invalid-free in {2}",),
        stack=Stack(
            parts=(
                r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
                CALL_TRACE,
                PARSE_STACK,
            ),
            skip=("slab_", "kfree", "vunmap", "vfree"),
        ),
    ),
    # Pre-2017 KASAN: "BUG: KASAN: use-after-free on address ...".
    Format(title=r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)", fmt="KASAN: {1} {2}"),
    Format(title=r"BUG: KASAN: (.*)", fmt="KASAN: {1}", corrupted=True),
)

KMSAN = (
    Format(
        title=r"BUG: KMSAN: kernel-usb-infoleak",
        report=r"BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}",
        fmt="KMSAN: kernel-usb-infoleak in {2}",
        alts=("KMSAN origin in {3}",),
        stack=Stack(
            parts=(PARSE_STACK, _KMSAN_ORIGIN, PARSE_STACK),
            skip=(
                "alloc_skb",
                "usb_submit_urb",
                "usb_start_wait_urb",
                "usb_bulk_msg",
                "usb_interrupt_msg",
                "usb_control_msg",
            ),
        ),
        no_stack_trace=True,
    ),
    Format(
        title=r"BUG: KMSAN:",
        report=r"BUG: KMSAN: ([a-z\-]+) in {{FUNC}}",
        fmt="KMSAN: {1} in {3}",
        alts=("bad-access in {3}",),
        stack=Stack(
            parts=(PARSE_STACK, _KMSAN_ORIGIN, PARSE_STACK),
            # Encryption routines are where the bug is hit, but generic code makes bad titles.
            skip=("alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_"),
        ),
        no_stack_trace=True,
    ),
)

KCSAN = (
    Format(title=r"BUG: KCSAN: data-race", report=r"BUG: KCSAN: (.*)", fmt="KCSAN: {1}", no_stack_trace=True),
    Format(title=r"BUG: KCSAN:", report=r"BUG: KCSAN: (.*)", fmt="KCSAN: {1}", no_stack_trace=True),
)

KFENCE = (
    Format(
        title=r"BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}",
        fmt="KFENCE: {1} {2} in {4}",
        alts=("bad-access in {4}",),
        stack=Stack(parts=(_KFENCE_HEADER, PARSE_STACK)),
    ),
    Format(
        title=r"BUG: KFENCE: invalid free in {{FUNC}}",
        fmt="KFENCE: invalid free in {2}",
        alts=("invalid-free in {2}",),
        no_stack_trace=True,
        stack=Stack(parts=(_KFENCE_HEADER, PARSE_STACK)),
    ),
    Format(
        title=r"BUG: KFENCE: invalid (read|write) in {{FUNC}}",
        fmt="KFENCE: invalid {1} in {3}",
        alts=("bad-access in {3}",),
        stack=Stack(parts=(_KFENCE_HEADER, PARSE_STACK)),
    ),
    Format(
        title=r"BUG: KFENCE: memory corruption in {{FUNC}}",
        fmt="KFENCE: memory corruption in {2}",
        no_stack_trace=True,
        stack=Stack(parts=(_KFENCE_HEADER, PARSE_STACK)),
    ),
)

BAD_ACCESS = (
    Format(
        title=r"BUG: (?:unable to handle kernel paging request|unable to handle page fault for address"
        r"|Unable to handle kernel data access)",
        fmt="BUG: unable to handle kernel paging request in {1}",
        alts=("bad-access in {1}",),
        stack=rip_stack(),
    ),
    Format(
        title=r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference"
        r"|Kernel NULL pointer dereference)",
        fmt="BUG: unable to handle kernel NULL pointer dereference in {1}",
        alts=("bad-access in {1}",),
        stack=rip_stack(),
    ),
    # The kernel prints this header with two printk calls; the second half can be lost.
    Format(
        title=r"BUG: (?:unable to handle kernel|Unable to handle kernel)",
        fmt="BUG: unable to handle kernel",
        corrupted=True,
    ),
)

LOCKING_AND_MISC = (
    Format(
        title=r"BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion"
        r"|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)",
        fmt="BUG: {1} {2} in {3}",
        stack=call_trace_stack("spin_", "_lock", "_unlock"),
    ),
    Format(
        title=r"BUG: soft lockup",
        fmt="BUG: soft lockup in {1}",
        alts=("stall in {1}",),
        stack=rip_stack(extractor="stall"),
    ),
    Format(
        title=r"BUG: .*still has locks held!",
        report=r"BUG: .*still has locks held!(?:.*\n)+?.*{{PC}} +{{FUNC}}",
        fmt="BUG: still has locks held in {1}",
    ),
    Format(
        title=r"BUG: scheduling while atomic",
        fmt="BUG: scheduling while atomic in {1}",
        stack=call_trace_stack("schedule"),
    ),
    Format(
        title=r"BUG: lock held when returning to user space",
        report=r"BUG: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held"
        r"(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}",
        fmt="BUG: lock held when returning to user space in {1}",
        no_stack_trace=True,
    ),
    Format(
        title=r"BUG: bad unlock balance detected!",
        fmt="BUG: bad unlock balance in {1}",
        stack=Stack(parts=(r"{{PC}} +{{FUNC}}", CALL_TRACE, PARSE_STACK)),
    ),
    Format(
        title=r"BUG: held lock freed!",
        report=r"BUG: held lock freed!(?:.*\n)+?.*{{PC}} +{{FUNC}}",
        fmt="BUG: held lock freed in {1}",
    ),
    Format(title=r"BUG: Bad rss-counter state", fmt="BUG: Bad rss-counter state", no_stack_trace=True),
    Format(
        title=r"BUG: non-zero nr_ptes on freeing mm", fmt="BUG: non-zero nr_ptes on freeing mm", no_stack_trace=True
    ),
    Format(
        title=r"BUG: non-zero nr_pmds on freeing mm", fmt="BUG: non-zero nr_pmds on freeing mm", no_stack_trace=True
    ),
    # The fs type and block device are left out: loop0/1/2 names only make duplicates.
    Format(
        title=r"BUG: Dentry .* still in use",
        report=r"BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]",
        fmt="BUG: Dentry still in use in {1}",
        alts=("BUG: Dentry still in use [{1} of {2}]",),
    ),
    Format(
        title=r"BUG: Bad page (state|cache)",
        fmt="BUG: Bad page {1} in {2}",
        stack=Stack(
            parts=(r"page last allocated", PARSE_STACK),
            skip=(
                "(free|put|get|update|release)_page",
                "free_unref",
                "^_*folio",
                "truncate_inode_pages",
                "page_frag_free",
                "alloc",
                "vmap",
                "page_owner",
            ),
        ),
    ),
    Format(title=r"BUG: Bad page map", fmt="BUG: Bad page map"),
    Format(title=r"BUG: workqueue lockup", fmt="BUG: workqueue lockup", no_stack_trace=True),
    Format(
        title=r"BUG: sleeping function called from invalid context at (.*)",
        fmt="BUG: sleeping function called from invalid context in {2}",
        stack=call_trace_stack(),
    ),
    Format(
        title=r"BUG: using ([a-z_]+)\(\) in preemptible",
        fmt="BUG: using {1}() in preemptible code in {2}",
        stack=call_trace_stack("dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"),
    ),
    Format(
        title=r"BUG: workqueue leaked lock or atomic",
        report=r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n",
        fmt="BUG: workqueue leaked lock or atomic in {1}",
        no_stack_trace=True,
    ),
    Format(
        title=r"BUG: memory leak",
        fmt="memory leak in {1}",
        stack=Stack(
            parts=(r"backtrace(?: \(crc [[:xdigit:]]*\))?:", PARSE_STACK),
            skip=(
                "kmemleak",
                "mmap",
                "kmem",
                "slab",
                "alloc",
                "create_object",
                "idr_get",
                "list_lru_init",
                "kasprintf",
                "kvasprintf",
                "pcpu_create",
                "strdup",
                "strndup",
                "memdup",
            ),
        ),
    ),
    Format(
        title=r"BUG: .*stack guard page was hit at",
        fmt="BUG: stack guard page was hit in {1}",
        alts=("stack-overflow in {1}",),
        stack=rip_stack(extractor="stall"),
    ),
    # arm/arm64 print this where amd64 prints a lockdep WARNING: use the amd64 title.
    Format(
        title=r"BUG: Invalid wait context",
        fmt="WARNING: locking bug in {1}",
        stack=call_trace_stack("lock_sock", "release_sock"),
    ),
    Format(title=r"BUG:[[:space:]]*(?:\n|$)", fmt="BUG: corrupted", corrupted=True),
)

BUG = Oops(
    header=b"BUG:",
    formats=KASAN + KMSAN + KCSAN + KFENCE + BAD_ACCESS + LOCKING_AND_MISC,
    suppressions=(
        "ODEBUG:",  # CONFIG_DEBUG_OBJECTS output
        "Boot_DEBUG:",  # Android boot output
        "xlog_status:",
        "DEBUG:",  # Android ART debug output
        "BUG: no syscalls can create resource",  # syzkaller pkg/host debug output
    ),
)
