"""crashsig: Linux kernel console logs into answers.

Parse oopses with syzbot-compatible titles, symbolize frames, compute crash and build
signatures, and bisect without being derailed by unrelated crashes.
"""

from crashsig.errors import (
    BuildError,
    CrashsigError,
    DwarfError,
    ElfError,
    InfraError,
    InputError,
)
from crashsig.parse import contains_crash, parse
from crashsig.signature import crash_signature, kernel_signature, same_crash
from crashsig.types import Executor, Frame, Report


def __getattr__(name: str) -> object:
    """Import the symbolizer (and pyelftools) only when it is first used."""
    if name in ("Location", "Symbolizer"):
        from crashsig import symbolize

        return getattr(symbolize, name)
    raise AttributeError(f"module 'crashsig' has no attribute {name!r}")

__all__ = [
    "BuildError",
    "CrashsigError",
    "DwarfError",
    "ElfError",
    "Executor",
    "Frame",
    "InfraError",
    "InputError",
    "Location",
    "Report",
    "Symbolizer",
    "contains_crash",
    "crash_signature",
    "kernel_signature",
    "parse",
    "same_crash",
]
