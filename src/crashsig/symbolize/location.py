"""The record a lookup returns: one source location of an inline chain."""

from __future__ import annotations

import posixpath
from typing import NamedTuple


class Location(NamedTuple):
    """One frame of ``addr2line -f -i`` output: a function and where in it.

    A named tuple (immutable, compared by value) rather than an attrs class, so that a
    process answering from the on-disk index does not pay for importing attrs.
    """

    function: str
    """Function name from DWARF (``??`` when unknown); the symbol name without debug info."""
    file: str | None = None
    """Source path as addr2line prints it (compilation directory joined); None if unknown."""
    line: int | None = None
    """Source line; None when unknown, 0 when the compiler gave no line."""
    column: int | None = None
    """Source column; None or 0 when the compiler gave none."""
    inlined: bool = False
    """True when this function was inlined into the next (outer) location."""
    comp_dir: str = ""
    """Compilation directory of the unit; :meth:`short_file` strips it."""

    def short_file(self) -> str | None:
        """``file`` normalized and relative to the compilation directory, as syzbot prints it."""
        if self.file is None:
            return None
        path = posixpath.normpath(self.file)
        root = posixpath.normpath(self.comp_dir) if self.comp_dir else ""
        if root and root != "/" and path.startswith(root + "/"):
            return path[len(root) + 1 :]
        return path
