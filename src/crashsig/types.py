"""Records shared by every layer: reports, frames, executors.

This module imports nothing else from crashsig.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Executor:
    """The syzkaller executor that ran when the kernel crashed (``Comm: syz.P.E``)."""

    proc: int
    """Executor process number ``P``."""
    id: int
    """Program number ``E`` within that process."""


@attrs.frozen
class Frame:
    """One stack frame of a report, as printed or as symbolized."""

    function: str
    """Function name, demangled, with compiler suffixes kept (``foo.isra.0``)."""
    offset: int | None = None
    """Offset inside the function (``+0x1f``), None when not printed."""
    size: int | None = None
    """Function size (``/0x80``), None when not printed."""
    module: str | None = None
    """Module name for ``[mod]`` frames, None for vmlinux."""
    address: int | None = None
    """Raw address (``[<ffffffff81234567>]``), None when not printed."""
    file: str | None = None
    """Source file, when the log is symbolized or a symbolizer filled it."""
    line: int | None = None
    """Source line, with ``file``."""
    inline: bool = False
    """True for an ``[inline]`` frame (a function inlined into the next frame)."""
    reliable: bool = True
    """False for ``? `` frames, which the unwinder only guessed."""


@attrs.frozen
class Report:
    """One oops found in a console log."""

    title: str
    """Normalized syzbot-compatible title."""
    alt_titles: tuple[str, ...] = ()
    """Alternative titles: two crashes are the same bug when title+alt sets overlap."""
    type: str = "UNKNOWN"
    """syzkaller crash type, e.g. ``KASAN-USE-AFTER-FREE-READ``; ``UNKNOWN`` when none."""
    frame: str = ""
    """The indicative function: the identifier after the last `` in `` of the title."""
    corrupted: bool = False
    """True when the oops text is incomplete or could not be understood."""
    corrupted_reason: str = ""
    """Why ``corrupted`` is set, empty otherwise."""
    suppressed: bool = False
    """True when a built-in suppression pattern matched the log."""
    panicked: bool = False
    """True when the log shows ``Kernel panic - not syncing`` after the oops."""
    executor: Executor | None = None
    """The syzkaller executor named by ``Comm: syz.P.E``, if any."""
    start: int = 0
    """Byte offset of the oops line in the input."""
    end: int = 0
    """Byte offset of the end of the last line carrying a crash header."""
    text: str = ""
    """The extracted report: context lines plus oops lines, prefixes stripped."""
    text_start: int = 0
    """Index in ``text`` where the oops line begins (after the context lines)."""
    frames: tuple[Frame, ...] = ()
    """Stack frames of the report, in the order printed."""
    guilty_file: str | None = None
    """Source file most likely at fault (needs a symbolized report)."""

    @property
    def signature(self) -> str:
        """Crash signature: equal for reruns of the same bug (see ``crashsig.signature``)."""
        from crashsig.signature import crash_signature  # lazy: types.py imports no crashsig module at load

        return crash_signature(self)
