"""Annotating raw console text: frame lines gain ``file:line`` and ``[inline]`` lines.

This works on the log text alone (it does not use the parser): every line holding
``func+0xOFF/0xSIZE [mod]``, ``RIP: 0010:func+0x...`` or a raw ``[<ffffffff...>]`` address
is rewritten the way syzbot prints symbolized reports (syzkaller ``linux.go``
``symbolizeLine``): inline frames first, each as ``name path:line [inline]`` with the
original line prefix, then the original frame with `` path:line`` after the size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from crashsig.symbolize.location import Location

if TYPE_CHECKING:
    from crashsig.symbolize.symbolizer import Symbolizer

FRAME_RE = re.compile(
    r"(?<![\w.$])(?P<func>[A-Za-z_.$][\w.$]*)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    r"(?P<mod> \[(?P<modname>[\w-]+)(?: (?P<buildid>[0-9a-f]{8,64}))?\])?"
)
RAW_RE = re.compile(r"\[<(?P<raw>[0-9a-f]{8,16})>\]|(?:RIP|EIP|IP): [0-9a-f]{4}:(?P<rip>[0-9a-f]{8,16})\b")
# Faulting instruction pointers (looked up at the PC itself): syzkaller ``linuxRipFrame``
# plus the WARNING header, whose func+off is the ``ud2`` of the WARN.
# Kept linear on giant lines: no ``.*`` that a later failure makes the engine retry.
RIP_RE = re.compile(r"\b(?:RIP|EIP|NIP|IP|pc|PC is at)\b:? ?(?:[0-9a-f]{4}:)?$")
_WARNING = "WARNING: "
_SYMBOLIZED_RE = re.compile(r"^ \S+:\d+\b| \[inline\]")
KASLR_RE = re.compile(r"Kernel Offset: 0x(?P<off>[0-9a-f]+) from 0x[0-9a-f]+")
# ``CPU: 0 PID: 1 Comm: syz Not tainted 6.1.0 #1 <build-id>``: the head, then the build-id
# at the end of the same line (two searches, so a line full of heads stays linear).
CPU_LINE_RE = re.compile(r"CPU: \d+ (?:UID: \d+ )?PID: \d+ Comm: ")
BUILD_ID_TAIL_RE = re.compile(r" (?P<bid>[0-9a-f]{40})$")


def kaslr_offset(text: str) -> int:
    """The ``Kernel Offset:`` of a log (0 without one)."""
    match = KASLR_RE.search(text)
    return int(match.group("off"), 16) if match else 0


def logged_build_id(text: str) -> str | None:
    """The vmlinux build-id printed on the ``CPU: ... Comm:`` line, if any."""
    pos = 0
    while match := CPU_LINE_RE.search(text, pos):
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        last = len(text[match.end() : end].rstrip())  # the build-id ends the line, maybe before blanks
        tail = BUILD_ID_TAIL_RE.search(text, max(match.end(), match.end() + last - 41), match.end() + last)
        if tail:
            return tail.group("bid")
        pos = end + 1
    return None


def is_rip_prefix(prefix: str) -> bool:
    """True when the frame after ``prefix`` is a faulting PC rather than a return address."""
    if RIP_RE.search(prefix):
        return True
    warning = prefix.find(_WARNING)
    return warning >= 0 and prefix.find(" at ", warning + len(_WARNING)) >= 0


def _where(loc: Location) -> str:
    path = loc.short_file()
    if path is None:
        return ""
    return f" {path}:{loc.line}" if loc.line else f" {path}"


class FrameLine(NamedTuple):
    """One resolved frame line of a log."""

    number: int
    """0-based line number in the log."""
    prefix: str
    """Text before the frame (kept on every output line)."""
    frame: str
    """``func+0xOFF/0xSIZE`` as printed, or as derived from the symbol table for raw addresses."""
    suffix: str
    """Text after the frame (`` [mod]`` and anything else)."""
    locations: tuple[Location, ...]
    """The inline chain, innermost first; empty when unresolved."""

    def assemble(self) -> list[str]:
        """Output lines: inline frames, then the original frame with ``path:line``."""
        locs = self.locations
        if not locs:
            return [self.prefix + self.frame + self.suffix]
        lines = [f"{self.prefix}{loc.function}{_where(loc)} [inline]" for loc in locs[:-1]]
        lines.append(f"{self.prefix}{self.frame}{_where(locs[-1])}{self.suffix}")
        return lines


def iter_frame_lines(symbolizer: Symbolizer, text: str) -> Iterator[tuple[str, FrameLine | None]]:
    """Each line of ``text`` (ending kept) with its resolved frame, or None."""
    offset = kaslr_offset(text)
    symbolizer.check_build_id(logged_build_id(text))
    for number, line in enumerate(text.splitlines(keepends=True)):
        yield line, _resolve(symbolizer, number, line.rstrip("\r\n"), offset)


def annotate_text(symbolizer: Symbolizer, text: str) -> str:
    """Return ``text`` with every resolvable frame line symbolized."""
    out = []
    for line, frame in iter_frame_lines(symbolizer, text):
        if frame is None or not frame.locations:
            out.append(line)
            continue
        body = line.rstrip("\r\n")
        lines = frame.assemble()
        out.extend(f"{text}\n" for text in lines[:-1])
        out.append(lines[-1] + line[len(body) :])
    return "".join(out)


def _resolve(symbolizer: Symbolizer, number: int, line: str, kaslr: int) -> FrameLine | None:
    match = FRAME_RE.search(line)
    if match is not None:
        rest = line[match.end() :]
        if _SYMBOLIZED_RE.match(rest) or rest.endswith("[inline]"):
            return None
        prefix = line[: match.start()]
        locs = symbolizer.lookup_symbol(
            match.group("func"),
            int(match.group("off"), 16),
            module=match.group("modname"),
            size=int(match.group("size"), 16),
            return_address=not is_rip_prefix(prefix),
            build_id=match.group("buildid"),
        )
        module = f" [{match.group('modname')}]" if match.group("mod") else ""
        return FrameLine(number, prefix, line[match.start() : match.end("size")], module + rest, locs)
    raw = RAW_RE.search(line)
    if raw is None:
        return None
    address = int(raw.group("raw") or raw.group("rip"), 16) - kaslr
    exact = raw.group("rip") is not None or is_rip_prefix(line[: raw.start()])
    locs = symbolizer.lookup(address, return_address=not exact)
    described = symbolizer.describe(address) if locs else None
    if described is None:
        return None
    return FrameLine(number, line.rstrip() + " ", described, "", locs)
