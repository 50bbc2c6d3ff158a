"""The ordered Linux oops table: the first header contained in a line wins.

Data from syzkaller ``pkg/report/linux.go`` and ``report.go`` (Apache-2.0); see
``crashsig.rules``. ``fmt_2020`` keeps the title syzbot used until January 2021
(syzkaller commit de4e4f4d8) for ``title_style="2020"``.
"""

from __future__ import annotations

from collections.abc import Iterable

from crashsig.rules.bug import BUG
from crashsig.rules.info import INFO
from crashsig.rules.model import Format, Oops
from crashsig.rules.stacks import call_trace_stack, rip_only_stack, rip_stack
from crashsig.rules.warning import WARNING


def _single(header: str, title: str, fmt: str, *, suppressions: Iterable[str] = (), **kwargs: object) -> Oops:
    """An oops with exactly one format (most non-BUG/WARNING/INFO headers)."""
    return Oops(
        header=header.encode(),
        formats=(Format(title=title, fmt=fmt, **kwargs),),  # type: ignore[arg-type]
        suppressions=suppressions,
    )


KERNEL_PANIC = Oops(
    header=b"Kernel panic",
    formats=(
        # For stack corruption the kernel may fail to print a symbol or to unwind.
        Format(
            title=r"Kernel panic - not syncing: stack-protector:",
            report=r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}",
            fmt="kernel panic: stack is corrupted in {1}",
            no_stack_trace=True,
        ),
        Format(
            title=r"Kernel panic - not syncing: stack-protector:",
            report=r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+",
            fmt="kernel panic: stack is corrupted in {1}",
            stack=call_trace_stack("stack_chk"),
        ),
        Format(
            title=r"Kernel panic - not syncing: corrupted stack end",
            report=r"Kernel panic - not syncing: corrupted stack end detected inside scheduler",
            fmt="kernel panic: corrupted stack end in {1}",
            alts=("stack-overflow in {1}",),
            stack=call_trace_stack("schedule", "retint_kernel", extractor="stall"),
        ),
        Format(
            title=r"Kernel panic - not syncing: kernel stack overflow",
            fmt="kernel stack overflow in {1}",
            alts=("stack-overflow in {1}",),
            stack=call_trace_stack("bad_stack", extractor="stall"),
        ),
        Format(
            title=r"Kernel panic - not syncing: Attempted to kill init!", fmt="kernel panic: Attempted to kill init!"
        ),
        Format(
            title=r"Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
            fmt="kernel panic: Couldn't open N_TTY ldisc",
        ),
        # These panics follow a BUG, WARNING/KASAN or hung task: seeing them as the title
        # means the real header was lost.
        Format(
            title=r"Kernel panic - not syncing: Fatal exception", fmt="kernel panic: Fatal exception", corrupted=True
        ),
        Format(
            title=r"Kernel panic - not syncing: panic_on_warn set",
            fmt="kernel panic: panic_on_warn set",
            corrupted=True,
        ),
        Format(
            title=r"Kernel panic - not syncing: hung_task: blocked tasks",
            fmt="kernel panic: hung_task: blocked tasks",
            corrupted=True,
        ),
        Format(title=r"Kernel panic - not syncing: (.*)", fmt="kernel panic: {1}"),
    ),
)

KERNEL_BUG = Oops(
    header=b"kernel BUG",
    formats=(
        Format(
            title=r"kernel BUG at mm/usercopy.c",
            fmt="BUG: bad usercopy in {1}",
            stack=call_trace_stack("usercopy", "__check"),
        ),
        # Also sometimes due to memory corruption or races, hence bad-access.
        Format(
            title=r"kernel BUG at lib/list_debug.c",
            fmt="BUG: corrupted list in {1}",
            alts=("bad-access in {1}",),
            stack=call_trace_stack(),
        ),
        # skb wrappers contain many BUG_ONs, but the bug is almost always in the caller.
        Format(
            title=r"kernel BUG at (.*)", fmt="kernel BUG in {2}", stack=rip_stack("^skb_"), fmt_2020="kernel BUG at {1}"
        ),
    ),
)

TRUSTY = Oops(
    header=b"trusty: panic",
    formats=(
        Format(
            title=r"trusty: panic.* ASSERT FAILED",
            report=r"trusty: panic \(.*?\):(?: DEBUG)? ASSERT FAILED at \(.*?\): (.+)",
            fmt="trusty: ASSERT FAILED: {1}",
            no_stack_trace=True,
        ),
        Format(title=r"trusty: panic.* ASSERT FAILED.*: *(.*)", fmt="trusty: ASSERT FAILED: {1}", corrupted=True),
        Format(
            title=r"trusty: panic", report=r"trusty: panic \(.*?\): (.+)", fmt="trusty: panic: {1}", no_stack_trace=True
        ),
    ),
)

UBSAN = Oops(
    header=b"UBSAN:",
    formats=(
        Format(
            title=r"UBSAN:",
            report=r"UBSAN: Undefined behaviour in",
            fmt="UBSAN: undefined-behaviour in {1}",
            stack=call_trace_stack("ubsan", "overflow"),
        ),
        Format(
            title=r"UBSAN: array-index-out-of-bounds in",
            fmt="UBSAN: array-index-out-of-bounds in {1}",
            alts=("bad-access in {1}",),
            stack=call_trace_stack("ubsan", "overflow"),
        ),
        Format(
            title=r"UBSAN:",
            report=r"UBSAN: (.*?) in",
            fmt="UBSAN: {1} in {2}",
            stack=call_trace_stack("ubsan", "overflow"),
        ),
    ),
)

# syzkaller-internal and Go runtime failures (report.go commonOopses, groupGoRuntimeErrors).
SYZKALLER_AND_GO = (
    _single(
        "fatal error:",
        r"fatal error:",
        "go runtime error",
        no_stack_trace=True,
        suppressions=("ALSA", "fatal error: cannot create timer"),
    ),
    _single("SYZFAIL:", r"SYZFAIL:(.*)", "SYZFAIL:{1}", no_stack_trace=True),
    _single("SYZFATAL:", r"SYZFATAL:(.*)()", "SYZFATAL:{1}", alts=("SYZFATAL{2}",), no_stack_trace=True),
    Oops(
        header=b"panic:",
        formats=(
            Format(
                title=r"panic: Sentry detected .* stuck task",
                fmt="panic: Sentry detected stuck tasks",
                no_stack_trace=True,
            ),  # gVisor
            Format(title=r"panic:(.*)", fmt="panic:{1}", no_stack_trace=True),
        ),
        # "_panic:" matches kernel functions such as skb_panic and skb_over_panic.
        suppressions=("_panic:", "xlog_status:", r"ddb\.onpanic:", r"evtlog_status:"),
    ),
)

LINUX_OOPSES: tuple[Oops, ...] = (
    BUG,
    WARNING,
    INFO,
    _single(
        "Unable to handle kernel",
        r"Unable to handle kernel (paging request|NULL pointer dereference"
        r"|access to user memory)",
        "BUG: unable to handle kernel {1} in {2}",
        alts=("bad-access in {2}",),
        stack=rip_stack(),
    ),
    _single(
        "general protection fault",
        r"general protection fault.*:",
        "general protection fault in {1}",
        alts=("bad-access in {1}",),
        stack=rip_stack(),
        suppressions=(r"general protection fault .* error:\d+ in ",),
    ),  # user-space GPF
    _single("stack segment: ", r"stack segment: ", "stack segment fault in {1}", stack=rip_stack()),
    KERNEL_PANIC,
    _single("PANIC: double fault", r"PANIC: double fault", "PANIC: double fault in {1}", stack=rip_only_stack()),
    _single(
        "rust_kernel: panicked",
        r"rust_kernel: panicked",
        "{1} in {2}",
        report=r"rust_kernel: panicked at [^\n]*?\n(.+?)\n",
        stack=call_trace_stack(r"__rustc::rust_begin_unwind"),
    ),
    KERNEL_BUG,
    _single("Kernel BUG", r"Kernel BUG (.*)", "kernel BUG {1}"),
    _single("BUG kmalloc-", r"BUG kmalloc-.*: Object already free", "BUG: Object already free"),
    _single("divide error:", r"divide error: ", "divide error in {1}", stack=rip_only_stack()),
    # Misspelling introduced by 9d06c4027f21 ("x86/entry: Convert Divide Error to IDTENTRY").
    _single("divide_error:", r"divide_error: ", "divide error in {1}", stack=rip_only_stack()),
    _single("invalid opcode:", r"invalid opcode: ", "invalid opcode in {1}", stack=rip_only_stack()),
    _single("int3:", r"int3: ", "int3 in {1}", stack=rip_stack()),
    UBSAN,
    # The fuzzer may echo boot text back through a mount option: not a reboot.
    _single(
        "Booting the kernel.",
        r"^Booting the kernel",
        "unexpected kernel reboot",
        no_stack_trace=True,
        suppressions=("Parsing ELF|Decompressing Linux|Unknown parameter '",),
    ),
    _single(
        "unregister_netdevice: waiting for",
        r"unregister_netdevice: waiting for (?:.*) to become free",
        "unregister_netdevice: waiting for DEV to become free",
        no_stack_trace=True,
    ),
    # Custom VFS errors of older kernels (syzkaller issue #3621).
    _single(
        "VFS: Close: file count is 0",
        r"VFS: Close: file count is 0",
        "VFS: Close: file count is zero (use-after-free)",
        no_stack_trace=True,
    ),
    _single(
        "VFS: Busy inodes after unmount",
        r"VFS: Busy inodes after unmount",
        "VFS: Busy inodes after unmount (use-after-free)",
        no_stack_trace=True,
    ),
    # arm64 "synchronous external abort" is arm's paging request: hence bad-access.
    _single(
        "Internal error:", r"Internal error:", "Internal error in {1}", alts=("bad-access in {1}",), stack=rip_stack()
    ),
    # arm prints NULL derefs as "Unhandled fault: page domain fault".
    _single(
        "Unhandled fault:",
        r"Unhandled fault:",
        "Unhandled fault in {1}",
        alts=("bad-access in {1}",),
        stack=rip_stack(),
    ),
    _single("Alignment trap:", r"Alignment trap:", "Alignment trap in {1}", stack=rip_stack()),
    TRUSTY,
) + SYZKALLER_AND_GO
