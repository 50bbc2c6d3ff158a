"""Stack-spec building blocks shared by the oops tables (syzkaller ``linux.go`` data)."""

from __future__ import annotations

from crashsig.rules.model import PARSE_STACK, Stack

# The faulting-PC line on the architectures syzkaller supports (x86 RIP/IP, powerpc NIP,
# arm64 "pc :", arm "PC is at"); it captures the function name when one is printed.
RIP_FRAME = (
    r"(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}|(?:[0-9]+:)?0x[0-9a-f]+"
    r"|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))"
)
CALL_TRACE = r"(?:Call (?:T|t)race:)|(?:Backtrace:)"


def rip_stack(*skip: str, extractor: str = "first") -> Stack:
    """RIP line, then ``Call Trace:``, then the frames: the usual bad-access spec."""
    return Stack(parts=(RIP_FRAME, CALL_TRACE, PARSE_STACK), skip=skip, extractor=extractor)


def call_trace_stack(*skip: str, extractor: str = "first") -> Stack:
    """``Call Trace:`` followed by the frames."""
    return Stack(parts=(CALL_TRACE, PARSE_STACK), skip=skip, extractor=extractor)


def rip_only_stack() -> Stack:
    """Only the RIP line (traps whose stack is unreliable)."""
    return Stack(parts=(RIP_FRAME,))


def warning_stack(*skip: str) -> Stack:
    """WARNING stacks: from the RIP line (or powerpc interrupt line), else Call Trace."""
    return Stack(
        # Newer kernels trap into WARN and print the stack after the RIP line; older
        # kernels (and powerpc's "--- interrupt:") just print the stack.
        parts=("(?:" + RIP_FRAME + r"|--- interrupt: [0-9]+ at {{FUNC}})", PARSE_STACK),
        parts2=(CALL_TRACE, PARSE_STACK),
        skip=skip,
    )
