"""One pass over a log that finds every line carrying an oops header.

Scanning uses a single regex over the whole buffer, so the cost is linear in the log
size and independent of how many reports are later extracted from it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import attrs

from crashsig.rules import LINUX_OOPSES, Oops
from crashsig.rules.ignore import LINE_IGNORES

# Lines longer than this are only matched against rule regexes by their first bytes:
# kernel printk lines are at most ~1 KiB, and it keeps every regex linear.
MAX_MATCH_LINE = 4096

# Not bugs by themselves, but they carry a stack: inside a report they end the title region.
INFO_MESSAGES_WITH_STACK = (
    b"vmalloc: allocation failure:",
    b"FAULT_INJECTION: forcing a failure",
    b"FAULT_FLAG_ALLOW_RETRY missing",
)
# These do not start a new report: they are usually the tail of the current one.
_REPORT_START_IGNORES = re.compile(
    rb"invalid opcode: 0000|Kernel panic - not syncing|unregister_netdevice: waiting for"
    rb"|PANIC: double fault|Internal error:"
)
_REPLAY_MARK = b"** replaying previous printk message **"
_IGNORE_RES = tuple(re.compile(p.encode()) for p in LINE_IGNORES)


@attrs.frozen
class HeaderLine:
    """A log line that matches an oops (or an info message with a stack)."""

    start: int
    end: int
    """Offset of the line's end, excluding the newline."""
    oops: Oops | None
    """The first oops in table order whose header the line carries; None for info lines."""
    starts_report: bool
    """Whether this line would start a second report inside another one."""


def match_oops(line: bytes, oopses: Sequence[Oops] = LINUX_OOPSES) -> Oops | None:
    """Return the first oops whose header ``line`` contains and does not suppress."""
    head = line[:MAX_MATCH_LINE]
    if any(r.search(head) for r in _IGNORE_RES):
        return None
    for oops in oopses:
        if oops.header in line and not any(r.search(head) for r in oops.suppressions):
            return oops
    return None


_ANY_HEADER_RE = re.compile(
    b"|".join(re.escape(h) for h in dict.fromkeys([o.header for o in LINUX_OOPSES] + list(INFO_MESSAGES_WITH_STACK)))
)


class OopsIndex:
    """Header lines of a log, in order, with fast lookups by offset."""

    def __init__(self, log: bytes) -> None:
        self.log = log
        self.lines: list[HeaderLine] = []
        pos = 0
        while (match := _ANY_HEADER_RE.search(log, pos)) is not None:
            start = log.rfind(b"\n", 0, match.start()) + 1
            end = log.find(b"\n", match.end())
            end = len(log) if end == -1 else end
            self._add(start, end)
            pos = end + 1
        self._starts = [h.start for h in self.lines]

    def _add(self, start: int, end: int) -> None:
        line = self.log[start:end]
        oops = match_oops(line)
        is_info = any(m in line for m in INFO_MESSAGES_WITH_STACK)
        if oops is None and not is_info:
            return
        starts_report = is_info or not _REPORT_START_IGNORES.search(line[:MAX_MATCH_LINE])
        self.lines.append(HeaderLine(start, end, oops, starts_report))

    def _truncated_by_replay(self, header: HeaderLine) -> bool:
        next_end = self.log.find(b"\n", header.end + 1)
        next_line = self.log[header.end + 1 : next_end if next_end != -1 else len(self.log)]
        return _REPLAY_MARK in next_line

    def first_oops(self, pos: int) -> HeaderLine | None:
        """The first oops line starting at or after ``pos`` (replayed duplicates skipped)."""
        for header in self.lines[bisect.bisect_left(self._starts, pos) :]:
            if header.oops is not None and not self._truncated_by_replay(header):
                return header
        return None

    def second_report_start(self, oops_line: HeaderLine) -> int | None:
        """Offset of the first later line that starts another report, if any."""
        for header in self.lines[bisect.bisect_right(self._starts, oops_line.start) :]:
            if header.starts_report:
                return header.start
        return None

    def last_oops_end(self, pos: int) -> int:
        """End of the last oops line at or after ``pos`` (``pos``'s line end when none)."""
        for header in reversed(self.lines):
            if header.start < pos:
                break
            if header.oops is not None:
                return header.end
        return -1

    def has_oops(self) -> bool:
        """True when any line carries an oops header."""
        return any(h.oops is not None for h in self.lines)
