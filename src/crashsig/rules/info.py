"""Formats of the ``INFO:`` header: old-style lockdep, RCU stalls, hung tasks.

Data from syzkaller ``pkg/report/linux.go`` (Apache-2.0); see ``crashsig.rules``.
"""

from __future__ import annotations

from crashsig.rules.model import PARSE_STACK, Format, Oops, Stack
from crashsig.rules.stacks import RIP_FRAME, call_trace_stack

_AT_PC_FUNC = r"at: {{PC}} +{{FUNC}}"


def _old_lockdep(header: str, middle: str, fmt: str = "possible deadlock in {1}") -> Format:
    """Pre-4.x lockdep reports ("INFO: ... ]" headers) with the lock site on an ``at:`` line."""
    return Format(
        title=f"INFO: {header}", report=f"INFO: {header} \\](?:.*\\n)+?.*{middle}(?:.*\\n)+?.*{_AT_PC_FUNC}", fmt=fmt
    )


INFO = Oops(
    header=b"INFO:",
    formats=(
        _old_lockdep("possible circular locking dependency detected", "is trying to acquire lock"),
        _old_lockdep("possible irq lock inversion dependency detected", "just changed the state of lock"),
        _old_lockdep("SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "is trying to acquire"),
        _old_lockdep("possible recursive locking detected", "is trying to acquire lock"),
        _old_lockdep("inconsistent lock state", "takes", fmt="inconsistent lock state in {1}"),
        Format(
            title=r"INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall",
            fmt="INFO: rcu detected stall in {1}",
            alts=("stall in {1}",),
            stack=Stack(
                parts=(r"apic_timer_interrupt", RIP_FRAME, PARSE_STACK),
                parts2=(r"(?:apic_timer_interrupt|Exception stack|el1h_64_irq)", PARSE_STACK),
                skip=("apic_timer_interrupt", "rcu"),
                extractor="stall",
            ),
        ),
        Format(
            title=r"INFO: trying to register non-static key",
            fmt="INFO: trying to register non-static key in {1}",
            stack=call_trace_stack("stack", "lock", "IRQ"),
        ),
        Format(
            title=r"INFO: suspicious RCU usage",
            report=r"INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
            fmt="INFO: suspicious RCU usage in {2}",
            stack=call_trace_stack("rcu", "kmem", "slab"),
        ),
        Format(
            title=r"INFO: task .* blocked for more than [0-9]+ seconds",
            fmt="INFO: task hung in {1}",
            alts=("hang in {1}",),
            stack=call_trace_stack(extractor="hang"),
        ),
        Format(
            title=r"INFO: task .* can't die for more than .* seconds",
            fmt="INFO: task can't die in {1}",
            alts=("hang in {1}",),
            stack=call_trace_stack("schedule"),
        ),
        # Captures corrupted old-style KASAN reports.
        Format(title=r"INFO: (Freed|Allocated) in (.*)", fmt="INFO: {1} in {2}", corrupted=True),
        Format(title=r"INFO:[[:space:]]*(?:\n|$)", fmt="INFO: corrupted", corrupted=True),
    ),
    suppressions=(
        "INFO: lockdep is turned off",
        "INFO: Stall ended before state dump start",
        "INFO: NMI handler",
        "INFO: recovery required on readonly filesystem",
        "(handler|interrupt).*took too long",
        "INFO: sys_.* is not present in /proc/kallsyms",  # syzkaller pkg/host debug output
        "INFO: no syscalls can create resource",  # syzkaller pkg/host debug output
        "rmt_storage:INFO:",  # Android
        "_INFO:",  # "INVALID BTF_INFO:NUM"
    ),
)
