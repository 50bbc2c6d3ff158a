"""crashsig: Linux kernel console logs into answers.

Parse oopses with syzbot-compatible titles, symbolize frames, compute crash and build
signatures, and bisect without being derailed by unrelated crashes.

Public names are imported on first use (PEP 562), so a command that needs only one
part (``crashsig symbolize`` with an index) does not pay for loading the others.
"""

from __future__ import annotations

import sys
import types

from crashsig.errors import (
    BuildError,
    CrashsigError,
    DwarfError,
    ElfError,
    InfraError,
    InputError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:  # what __getattr__ provides, for type checkers
    from crashsig.parse import contains_crash, parse
    from crashsig.signature import crash_signature, kernel_signature, same_crash
    from crashsig.symbolize import Location, Symbolizer
    from crashsig.types import Executor, Frame, Report

_LAZY = {
    "Executor": "crashsig.types",
    "Frame": "crashsig.types",
    "Location": "crashsig.symbolize",
    "Report": "crashsig.types",
    "Symbolizer": "crashsig.symbolize",
    "contains_crash": "crashsig.parse",
    "crash_signature": "crashsig.signature",
    "kernel_signature": "crashsig.signature",
    "parse": "crashsig.parse",
    "same_crash": "crashsig.signature",
}


def _import_module(name: str) -> types.ModuleType:
    """``importlib.import_module`` for an absolute name, without importing ``importlib``
    (0.3 ms of a 20 ms ``crashsig symbolize`` process)."""
    __import__(name)
    return sys.modules[name]


def __getattr__(name: str) -> object:
    """Import a public name's module when the name is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crashsig' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``crashsig.parse`` the function once the ``crashsig.parse`` module is loaded.

    Importing a submodule sets it as an attribute of the package; for the one submodule
    that shares its name with a public function, the function stays the attribute.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
