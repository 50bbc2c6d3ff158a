"""The crashsig exception tree: one root, a few meaningful branches."""

from __future__ import annotations


class CrashsigError(Exception):
    """Root of every error crashsig raises on purpose."""


class InputError(CrashsigError, ValueError):
    """The input (a log, a file, an option) cannot be used."""


class ElfError(CrashsigError):
    """An ELF file is missing, truncated or malformed."""


class DwarfError(CrashsigError):
    """DWARF debug information is truncated or malformed."""


class BuildError(CrashsigError):
    """A revision failed to build: the bisection skips it."""


class InfraError(CrashsigError):
    """Our own machinery (QEMU, git, disk) failed: the bisection aborts."""
