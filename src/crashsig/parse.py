"""Find every oops in a console log and extract a structured ``Report`` for each.

The log is scanned once for header lines (``crashsig.oopsindex``). For each oops the
report body is every later line in the oopsing context (caller id), with unreliable
frames and other tasks' lines left out; its title region ends where a second report
starts. Titles, alternative titles and types follow syzkaller's rules
(``crashsig.title``), so they match syzbot's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

import attrs

from crashsig import console
from crashsig.errors import InputError
from crashsig.frames import RISCV_STACK_START, STACK_START_RES, is_frame_line, is_stack_start, parse_frame_line
from crashsig.guilty import extract_guilty_file
from crashsig.oopsindex import MAX_MATCH_LINE, PANIC, Buffer, HeaderLine, OopsIndex, release
from crashsig.title import (
    TITLE_STYLES,
    Description,
    describe,
    frame_from_title,
    normalize_title,
    title_to_type,
)
from crashsig.types import Executor, Frame, Report

# Bounds that keep one report linear in the log size; far above real oopses.
MAX_REPORT_LINES = 5_000
MAX_REPORT_BYTES = 4 << 20
MAX_PREFIX_SCAN_LINES = 10_000
MAX_TITLE_LINES = 1_000
# Longer lines are read only this far (the console prefix plus MAX_MATCH_LINE with room).
READ_LINE_LIMIT = 4 * MAX_MATCH_LINE
_LOCKDEP_INDUCED = b"WARNING: possible circular locking dependency detected"
_EXECUTOR_RE = re.compile(rb" Comm: syz\.(\d+)\.(\d+) ")
_TIMESTAMP_IN_TITLE_RE = re.compile(r"\[ *[0-9]+\.[0-9]+\]")
_END_OF_TRACE = b"---[ end trace"
_RIP_LINE_RE = re.compile(rb"^(?:RIP|IP|NIP|pc |PC is at):? ")


@attrs.define
class _FrameLines:
    """Frame lines of the oops's first trace: from the RIP/trace start to ``end trace``."""

    lines: list[tuple[bytes, bool]] = attrs.Factory(list)
    in_trace: bool = False
    done: bool = False

    def add_reliable(self, text: bytes) -> None:
        self.done = self.done or _END_OF_TRACE in text
        starts = bool(_RIP_LINE_RE.match(text)) or is_stack_start(text) or is_frame_line(text)
        self.in_trace = not self.done and (self.in_trace or starts)
        if self.in_trace:
            self.lines.append((text, True))

    def add_unreliable(self, text: bytes) -> None:
        if self.in_trace:
            self.lines.append((text, False))

    def frames(self) -> tuple[Frame, ...]:
        parsed = (parse_frame_line(text, reliable=reliable) for text, reliable in self.lines)
        return tuple(f for f in parsed if f is not None)


@attrs.define
class _Body:
    """The oopsing context's lines from the oops line on."""

    prefix: list[bytes] = attrs.Factory(list)
    text: bytearray = attrs.Factory(bytearray)
    title_end: int = 0
    frame_lines: _FrameLines = attrs.Factory(_FrameLines)


def _lines_from(log: Buffer, pos: int) -> Iterator[tuple[int, bytes]]:
    """Lines from ``pos`` on, each cut to READ_LINE_LIMIT bytes (giant lines are not copied)."""
    while pos < len(log):
        end = log.find(b"\n", pos, pos + READ_LINE_LIMIT)
        if end != -1:
            yield pos, log[pos:end]
        else:
            end = log.find(b"\n", pos + READ_LINE_LIMIT)
            end = len(log) if end == -1 else end
            yield pos, log[pos : pos + READ_LINE_LIMIT]
            release(log, pos, end)
        pos = end + 1


def _prefix_lines(log: Buffer, start: int, context: bytes, limit: int) -> list[bytes]:
    """Up to ``limit`` non-empty, reliable lines of ``context`` just before ``start``."""
    found: list[bytes] = []
    end = start - 1
    for _ in range(MAX_PREFIX_SCAN_LINES):
        if end < 0 or len(found) == limit:
            break
        begin = log.rfind(b"\n", 0, end) + 1
        line = console.split_line(log[begin : min(end, begin + READ_LINE_LIMIT)])
        if line.context == context and line.text and not line.questionable:
            found.append(line.text)
        end = begin - 1
    return found[::-1]


def _clip(text: bytes, header: bytes | None = None) -> bytes:
    """Cut an over-long line to MAX_MATCH_LINE bytes, keeping an oops header inside."""
    if len(text) <= MAX_MATCH_LINE:
        return text
    start = max(text.find(header) - MAX_MATCH_LINE // 4, 0) if header else 0
    return text[start : start + MAX_MATCH_LINE]


def _raw_region(log: Buffer, oops_line: HeaderLine, end: int) -> bytes:
    """The unfiltered log from the oops line to ``end``, over-long lines clipped."""
    assert oops_line.oops is not None
    lines = log[oops_line.start : min(end, oops_line.start + MAX_REPORT_BYTES)].split(b"\n")
    return b"\n".join([_clip(lines[0], oops_line.oops.header)] + [_clip(line) for line in lines[1:]])


def _min_lines_before_tail_cut(oops_line: bytes) -> int:
    # KMSAN reports lack "Call Trace" and a few other lines, so they are cut earlier.
    return 16 if b"BUG: KMSAN:" in oops_line else 22


def _collect_body(index: OopsIndex, oops_line: HeaderLine, context: bytes, *, whole_tail: bool) -> _Body:
    """Collect the report lines; ``whole_tail`` keeps going past the next report (syzkaller's rule)."""
    log = index.log
    assert oops_line.oops is not None
    header = oops_line.oops.header
    next_report = None if whole_tail else index.first_oops(oops_line.end + 1)
    stop = len(log) if next_report is None else next_report.start
    body = _Body(prefix=_prefix_lines(log, oops_line.start, context, 50 if console.is_task_context(context) else 5))
    second = index.second_report_start(oops_line)
    own_context_only = console.has_caller_id(context)
    min_lines = _min_lines_before_tail_cut(log[oops_line.start : oops_line.end])
    text_lines = 0
    skip_rest = cpu_traceback = False
    for count, (pos, raw) in enumerate(_lines_from(log, oops_line.start)):
        if count >= MAX_REPORT_LINES or len(body.text) >= MAX_REPORT_BYTES or pos >= stop:
            break
        is_oops_line = pos == oops_line.start
        if is_oops_line:
            raw = log[oops_line.start : oops_line.end]  # whole: the header may sit far in
        line = console.split_line(raw)
        in_context = line.context == context or (cpu_traceback and console.is_cpu_context(line.context))
        if not is_oops_line and in_context and line.questionable:
            body.frame_lines.add_unreliable(line.text)
        if not is_oops_line and (line.questionable or not in_context):
            continue
        text_lines += 1
        skip_line = skip_rest
        if b"Disabling lock debugging due to kernel taint" in raw:
            skip_line = True
        elif b"Sending NMI from CPU" in raw:
            # All-CPU backtraces come from other CPU contexts: keep them.
            cpu_traceback = True
        elif (PANIC in raw or _LOCKDEP_INDUCED in raw) and text_lines > min_lines:
            # panic_on_warn panics and oops-induced lockdep reports repeat the stack.
            skip_rest = skip_line = True
        if not is_oops_line and skip_line:
            continue
        text = _clip(line.text, header if is_oops_line else None)
        body.text += text + b"\n"
        if (second is None or pos < second or own_context_only) and text_lines <= MAX_TITLE_LINES:
            body.title_end = len(body.text)
            body.frame_lines.add_reliable(text)
    return body


def _corruption(title: str, report: bytes, description: Description) -> str:
    """syzkaller's corruption checks for a report whose format did not already decide."""
    if _TIMESTAMP_IN_TITLE_RE.search(title):
        return "title matches corrupted regexp"
    if description.format is None or description.format.no_stack_trace:
        return ""
    has_stack = False
    for key in STACK_START_RES:
        match = key.search(report)
        if match is None:
            continue
        lines = report[match.start() :].split(b"\n")
        if len(lines) < 4:
            return "call trace is missed"
        corrupted = True
        for line in lines[1:16]:
            if is_stack_start(line):
                break
            if b"(stack is not available)" in line or is_frame_line(line):
                has_stack, corrupted = True, False
                break
        if key is not RISCV_STACK_START and corrupted:
            return "no frames in a stack trace"
    return "" if has_stack else "no stack trace in report"


class Symbolizing(Protocol):
    """What ``parse(..., symbolizer=)`` needs; ``crashsig.Symbolizer`` provides it."""

    def symbolize(self, report: Report) -> Report: ...

    def annotate(self, log: str) -> str: ...


@attrs.frozen
class RawReport:
    """A report with its text as the bytes it came from."""

    report: Report
    text: bytes
    """``report.text`` before decoding."""
    text_start: int
    """Byte offset in ``text`` of the oops line (the context lines come before)."""


def parse_raw(index: OopsIndex, oops_line: HeaderLine, base: int, style: str, *, whole_tail: bool = True) -> RawReport:
    """Parse the oops at ``oops_line`` (``base``: where parsing started, for ``panicked``)."""
    log = index.log
    assert oops_line.oops is not None
    context = console.line_context(log[oops_line.start : oops_line.end])
    body = _collect_body(index, oops_line, context, whole_tail=whole_tail)
    end = max(index.last_oops_end(oops_line.start), oops_line.end)
    report = bytes(body.text)
    description = describe(report[: body.title_end], oops_line.oops, style=style)
    prefix = body.prefix
    if not description.title:
        prefix, report = [], _raw_region(log, oops_line, end)
        description = describe(report, oops_line.oops, style=style)
    reason = description.corrupted_reason or _corruption(description.title, report, description)
    title = normalize_title(description.title)
    prefix_text = b"".join(p + b"\n" for p in prefix)
    text = prefix_text + report
    executor = _EXECUTOR_RE.search(text)
    parsed = Report(
        title=title,
        alt_titles=tuple(normalize_title(t) for t in description.alt_titles),
        type=title_to_type(title),
        frame=frame_from_title(title),
        corrupted=bool(reason) or index.console_hangup,
        corrupted_reason=reason,
        suppressed=index.suppressed,
        panicked=index.panicked_after(base),
        executor=Executor(int(executor.group(1)), int(executor.group(2))) if executor else None,
        start=oops_line.start,
        end=end,
        text=text.decode("utf-8", "replace"),
        text_start=len(prefix_text.decode("utf-8", "replace")),
        frames=body.frame_lines.frames(),
        guilty_file=extract_guilty_file(title, report) or None,
    )
    return RawReport(parsed, text, len(prefix_text))


def symbolize_report(report: Report, symbolizer: Symbolizing) -> Report:
    """Symbolize a report; the guilty file then comes from the symbolized text, as on syzbot.

    Titles are not recomputed: syzbot titles come from the raw frames.
    """
    symbolized = symbolizer.symbolize(report)
    prefix = report.text[: report.text_start]
    start = len(symbolizer.annotate(prefix)) if prefix else 0
    body = symbolized.text[start:].encode("utf-8", "surrogateescape")
    return attrs.evolve(symbolized, text_start=start, guilty_file=extract_guilty_file(report.title, body) or None)


def _to_bytes(log: bytes | str | bytearray | memoryview) -> bytes:
    if isinstance(log, str):
        return log.encode("utf-8", "surrogateescape")
    if isinstance(log, (bytes, bytearray, memoryview)):
        return bytes(log)
    raise InputError(f"a console log must be bytes or str, not {type(log).__name__}")


def _check_style(title_style: str) -> None:
    if title_style not in TITLE_STYLES:
        raise InputError(f"unknown title style {title_style!r} (expected one of {', '.join(TITLE_STYLES)})")


def parse_from(
    log: bytes | str, pos: int = 0, *, title_style: str = "current", symbolizer: Symbolizing | None = None
) -> Report | None:
    """The first report starting at or after byte offset ``pos``, or None."""
    _check_style(title_style)
    index = OopsIndex(_to_bytes(log))
    oops_line = index.first_oops(pos)
    if oops_line is None:
        return None
    report = parse_raw(index, oops_line, pos, title_style).report
    return report if symbolizer is None else symbolize_report(report, symbolizer)


def iter_index_reports(
    index: OopsIndex, *, title_style: str = "current", symbolizer: Symbolizing | None = None
) -> Iterator[Report]:
    """Yield every report of an indexed log (each resumes after the previous oops line)."""
    _check_style(title_style)
    pos = 0
    while (oops_line := index.first_oops(pos)) is not None:
        # Only the first report's text runs to the end of the log (syzkaller's rule);
        # later ones stop where the next report starts, which keeps parsing linear.
        report = parse_raw(index, oops_line, pos, title_style, whole_tail=pos == 0).report
        yield report if symbolizer is None else symbolize_report(report, symbolizer)
        pos = oops_line.end + 1


def iter_reports(
    log: bytes | str, *, title_style: str = "current", symbolizer: Symbolizing | None = None
) -> Iterator[Report]:
    """Yield every report of a log in order (each resumes after the previous oops line)."""
    _check_style(title_style)
    return iter_index_reports(OopsIndex(_to_bytes(log)), title_style=title_style, symbolizer=symbolizer)


def parse(log: bytes | str, *, title_style: str = "current", symbolizer: Symbolizing | None = None) -> list[Report]:
    """Every report in a console log, in order; the first is the one syzbot would pick.

    ``title_style="2020"`` gives the titles syzbot used before 2021 (``kernel BUG at
    FILE:LINE!``). With a ``symbolizer`` (``crashsig.Symbolizer``), frames get source
    locations and inline frames, and the guilty file comes from the symbolized text.
    Bad input never raises except for a wrong argument type or title style.
    """
    return list(iter_reports(log, title_style=title_style, symbolizer=symbolizer))


def contains_crash(log: bytes | str) -> bool:
    """True when any line of the log carries an oops header."""
    return OopsIndex(_to_bytes(log)).has_oops()
