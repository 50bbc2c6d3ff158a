"""The record a lookup returns: one source location of an inline chain."""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Self

_FIELDS = ("function", "file", "line", "column", "inlined", "comp_dir")


class Location(tuple[str, str | None, int | None, int | None, bool, str]):
    """One frame of ``addr2line -f -i`` output: a function and where in it.

    A named tuple (immutable, compared by value, unpacks into its six fields) written
    out by hand: ``typing.NamedTuple`` or ``collections.namedtuple`` would cost a process
    that answers from the on-disk index (about 20 ms in all) 3 ms of imports and class
    creation.
    """

    __slots__ = ()

    def __new__(
        cls,
        function: str,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        inlined: bool = False,
        comp_dir: str = "",
    ) -> Self:
        return tuple.__new__(cls, (function, file, line, column, inlined, comp_dir))

    def __getnewargs__(self) -> tuple[str, str | None, int | None, int | None, bool, str]:
        return tuple(self)  # type: ignore[return-value]  # six items, as built by __new__

    def __repr__(self) -> str:
        return f"Location({', '.join(f'{name}={value!r}' for name, value in zip(_FIELDS, self, strict=True))})"

    @property
    def function(self) -> str:
        """Function name from DWARF (``??`` when unknown); the symbol name without debug info."""
        return self[0]

    @property
    def file(self) -> str | None:
        """Source path as addr2line prints it (compilation directory joined); None if unknown."""
        return self[1]

    @property
    def line(self) -> int | None:
        """Source line; None when unknown, 0 when the compiler gave no line."""
        return self[2]

    @property
    def column(self) -> int | None:
        """Source column; None or 0 when the compiler gave none."""
        return self[3]

    @property
    def inlined(self) -> bool:
        """True when this function was inlined into the next (outer) location."""
        return self[4]

    @property
    def comp_dir(self) -> str:
        """Compilation directory of the unit; :meth:`short_file` strips it."""
        return self[5]

    def short_file(self) -> str | None:
        """``file`` normalized and relative to the compilation directory, as syzbot prints it."""
        if self.file is None:
            return None
        path = posixpath.normpath(self.file)
        root = posixpath.normpath(self.comp_dir) if self.comp_dir else ""
        if root and root != "/" and path.startswith(root + "/"):
            return path[len(root) + 1 :]
        return path
