"""Built-in suppressions: logs matching these are not reported (``Report.suppressed``).

Data from syzkaller ``pkg/report/linux.go`` and ``report.go`` (Apache-2.0).
"""

from __future__ import annotations

SUPPRESSIONS: tuple[str, ...] = (
    "panic: failed to start executor binary",
    "panic: executor failed: pthread_create failed",
    "panic: failed to create temp dir",
    "fatal error: unexpected signal during runtime execution",  # probably OOM turned into SIGBUS
    "signal SIGBUS: bus error",  # probably OOM turned into SIGBUS
    "SYZFAIL: SIGBUS",
    r"Out of memory: Kill process .* \(syz-executor\)",
    r"Out of memory: Kill process .* \(sshd\)",
    r"Killed process .* \(syz-executor\)",
    r"Killed process .* \(sshd\)",
    "lowmemorykiller: Killing 'syz-executor'",
    "lowmemorykiller: Killing 'sshd'",
    "INIT: PANIC: segmentation violation!",
    r"\*\*\* stack smashing detected \*\*\*: terminated",
    # Go runtime out-of-memory messages.
    "fatal error: runtime: out of memory",
    "fatal error: runtime: cannot allocate memory",
    "fatal error: out of memory",
    "fatal error: newosproc",
    "panic: .*cannot allocate memory",
)

# A GCE serial console hang-up truncates whatever was being printed.
CONSOLE_HANGUP = b"serialport: VM disconnected."

# Literal substrings, one of which every line matching a suppression contains: the
# one-pass scanners look for these before trying the regexes.
SUPPRESSION_ANCHORS: tuple[bytes, ...] = (
    b"panic: ",
    b"fatal error: ",
    b"signal SIGBUS",
    b"SYZFAIL: SIGBUS",
    b"Out of memory: Kill process",
    b"Killed process",
    b"lowmemorykiller: Killing",
    b"INIT: PANIC",
    b"*** stack smashing detected",
)
