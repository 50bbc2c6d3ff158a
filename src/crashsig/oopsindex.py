"""One pass over a log that finds every line carrying an oops header.

The scan looks for a fixed set of literal strings (oops headers, info messages with a
stack, suppression anchors), so its cost is linear in the log size and independent of
how many reports are later extracted. A caller with a faster scanner (the CLI uses
GNU grep on large files) can pass the offsets it found instead.
"""

from __future__ import annotations

import bisect
import mmap
import re
from collections.abc import Iterable, Iterator, Sequence

import attrs

from crashsig.rules import LINUX_OOPSES, Oops
from crashsig.rules.ignore import LINE_IGNORES
from crashsig.rules.suppress import CONSOLE_HANGUP, SUPPRESSION_ANCHORS, SUPPRESSIONS

# Lines longer than this are only matched against rule regexes by a 4 KiB window:
# kernel printk lines are at most ~1 KiB, and it keeps every regex linear.
MAX_MATCH_LINE = 4096

# Not bugs by themselves, but they carry a stack: inside a report they end the title region.
INFO_MESSAGES_WITH_STACK = (
    b"vmalloc: allocation failure:",
    b"FAULT_INJECTION: forcing a failure",
    b"FAULT_FLAG_ALLOW_RETRY missing",
)
PANIC = b"Kernel panic - not syncing"
# These do not start a new report: they are usually the tail of the current one.
_REPORT_START_IGNORES = re.compile(
    rb"invalid opcode: 0000|Kernel panic - not syncing|unregister_netdevice: waiting for"
    rb"|PANIC: double fault|Internal error:"
)
_REPLAY_MARK = b"** replaying previous printk message **"
_IGNORE_RES = tuple(re.compile(p.encode()) for p in LINE_IGNORES)
_SUPPRESSION_RES = tuple(re.compile(p.encode()) for p in SUPPRESSIONS)

SCAN_LITERALS: tuple[bytes, ...] = tuple(
    dict.fromkeys([o.header for o in LINUX_OOPSES] + [*INFO_MESSAGES_WITH_STACK, *SUPPRESSION_ANCHORS, CONSOLE_HANGUP])
)
"""Every line the index needs contains one of these."""
_SCAN_RE = re.compile(b"|".join(re.escape(literal) for literal in SCAN_LITERALS))


Buffer = bytes | mmap.mmap
"""A whole log in memory, or a memory-mapped log file."""


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
    panic: bool
    """Whether the line says ``Kernel panic - not syncing``."""


def release(log: Buffer, start: int = 0, end: int | None = None) -> None:
    """Drop the mapped pages of ``log[start:end]`` from this process (no-op for bytes).

    A read-only file mapping re-reads dropped pages on demand; dropping them keeps the
    resident set bounded while giant logs (or giant lines) are scanned.
    """
    if isinstance(log, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        end = len(log) if end is None else end
        aligned = start - start % mmap.PAGESIZE
        if end > aligned:
            log.madvise(mmap.MADV_DONTNEED, aligned, end - aligned)


def match_oops(line: bytes, oopses: Sequence[Oops] = LINUX_OOPSES) -> Oops | None:
    """Return the first oops whose header ``line`` contains and does not suppress."""
    head = line[:MAX_MATCH_LINE]
    if any(r.search(head) for r in _IGNORE_RES):
        return None
    for oops in oopses:
        if oops.header in line and not any(r.search(head) for r in oops.suppressions):
            return oops
    return None


def scan_line_starts(log: Buffer, start: int = 0, end: int | None = None) -> Iterable[int]:
    """Start offsets of the lines in ``log[start:end]`` holding a scan literal (pure Python)."""
    end = len(log) if end is None else end
    pos = start
    while (match := _SCAN_RE.search(log, pos, end)) is not None:
        line_start = log.rfind(b"\n", 0, match.start()) + 1
        yield line_start
        line_end = log.find(b"\n", match.end())
        if line_end == -1:
            break
        pos = line_end + 1


class OopsIndex:
    """Header lines of a log, in order, with fast lookups by offset, plus log-wide facts."""

    def __init__(self, log: Buffer, line_starts: Iterable[int] | None = None) -> None:
        self.log = log
        self.lines: list[HeaderLine] = []
        self.suppressed = False
        """Whether a built-in suppression matches somewhere in the log."""
        self.console_hangup = False
        """Whether the log shows a GCE console hang-up (the end of it is lost)."""
        previous = -1
        for start in scan_line_starts(log) if line_starts is None else line_starts:
            if start > previous:
                previous = self._add(start)
        self._starts = [h.start for h in self.lines]
        self._last_panic = max((h.start for h in self.lines if h.panic), default=-1)
        self._next_report_start: list[int | None] = [None] * (len(self.lines) + 1)
        """``_next_report_start[i]``: start of the first line among ``lines[i:]`` that starts a report."""
        for i in range(len(self.lines) - 1, -1, -1):
            header = self.lines[i]
            self._next_report_start[i] = header.start if header.starts_report else self._next_report_start[i + 1]
        self._last_oops_end = [-1] * (len(self.lines) + 1)
        """``_last_oops_end[i]``: end of the last oops line among ``lines[i:]``."""
        for i in range(len(self.lines) - 1, -1, -1):
            header = self.lines[i]
            self._last_oops_end[i] = (
                self._last_oops_end[i + 1] if header.oops is None else max(header.end, self._last_oops_end[i + 1])
            )

    def _add(self, start: int) -> int:
        end = self.log.find(b"\n", start)
        end = len(self.log) if end == -1 else end
        line = self.log[start:end]
        head = line[:MAX_MATCH_LINE]
        self.suppressed = self.suppressed or any(r.search(head) for r in _SUPPRESSION_RES)
        self.console_hangup = self.console_hangup or CONSOLE_HANGUP in line
        oops = match_oops(line)
        is_info = any(m in line for m in INFO_MESSAGES_WITH_STACK)
        if oops is not None or is_info:
            starts_report = is_info or not _REPORT_START_IGNORES.search(head)
            self.lines.append(HeaderLine(start, end, oops, starts_report, PANIC in line))
        if end - start > MAX_MATCH_LINE:
            release(self.log, start, end)
        return start

    def _truncated_by_replay(self, header: HeaderLine) -> bool:
        next_end = self.log.find(b"\n", header.end + 1)
        next_line = self.log[header.end + 1 : next_end if next_end != -1 else len(self.log)]
        return _REPLAY_MARK in next_line[:MAX_MATCH_LINE]

    def _from(self, index: int) -> Iterator[HeaderLine]:
        return (self.lines[i] for i in range(index, len(self.lines)))

    def first_oops(self, pos: int) -> HeaderLine | None:
        """The first oops line starting at or after ``pos`` (replayed duplicates skipped)."""
        for header in self._from(bisect.bisect_left(self._starts, pos)):
            if header.oops is not None and not self._truncated_by_replay(header):
                return header
        return None

    def second_report_start(self, oops_line: HeaderLine) -> int | None:
        """Offset of the first later line that starts another report, if any."""
        return self._next_report_start[bisect.bisect_right(self._starts, oops_line.start)]

    def last_oops_end(self, pos: int) -> int:
        """End of the last oops line starting at or after ``pos``; -1 when none."""
        return self._last_oops_end[bisect.bisect_left(self._starts, pos)]

    def panicked_after(self, pos: int) -> bool:
        """Whether a ``Kernel panic - not syncing`` line starts at or after ``pos``."""
        return self._last_panic >= pos

    def has_oops(self) -> bool:
        """True when any line carries an oops header."""
        return any(h.oops is not None for h in self.lines)
