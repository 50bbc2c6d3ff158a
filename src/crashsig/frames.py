"""Stack frames: picking a title's indicative frame and parsing frame lines into records.

Two jobs share the frame-line grammar:

* ``extract_title_frames`` follows a format's stack spec (``crashsig.rules.Stack``)
  through the report text and picks one frame per stack segment for the title;
* ``parse_frame_line`` turns one printed frame (raw or already symbolized) into a
  ``crashsig.types.Frame``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import attrs

from crashsig.demangle import demangle
from crashsig.rules import skip as skip_rules
from crashsig.rules.model import PARSE_STACK, Stack, compile_rule
from crashsig.types import Frame

CORRUPTED_FRAME = "corrupted"
"""Placeholder frame name used in titles when no frame could be extracted."""

# Lines that start a stack trace; a frame must follow within a few lines.
STACK_START_RES = tuple(
    re.compile(p)
    for p in (
        rb"Call (?:T|t)race",
        rb"Allocated:",
        rb"Allocated by task [0-9]+:",
        rb"Freed:",
        rb"Freed by task [0-9]+:",
        # "backtrace:" (kmemleak, with an optional crc) but not "stack backtrace:".
        rb"[^k] backtrace(?: \(crc [0-9A-Fa-f]*\))?:",
        rb"Backtrace:",
        rb"Uninit was stored to memory at",
        # RISC-V show_regs() prints the stack without a header; its last register line.
        rb"status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}",
    )
)
RISCV_STACK_START = STACK_START_RES[-1]

FRAME_LINE_RES = (
    compile_rule(r"^ *(?:{{PC}} ){0,2}{{FUNC}}"),
    # arm: "[<pc>] (callee) from [<pc>] (caller+0x..)": both names are frames.
    compile_rule(r"^ *{{PC}} \(([a-zA-Z0-9_.]+)\) from {{PC}} \({{FUNC}}"),
)
_CORRUPTED_LINE_RES = tuple(compile_rule(p) for p in skip_rules.CORRUPTED_LINES)
_STALL_ANCHOR_RES = tuple(re.compile(p, re.ASCII) for p in skip_rules.STALL_ANCHORS)


def is_frame_line(line: bytes) -> bool:
    """True when a (prefix-stripped) line is a stack frame line."""
    return any(r.search(line) for r in FRAME_LINE_RES)


def is_stack_start(line: bytes) -> bool:
    """True when a line starts a stack trace (``Call Trace:``, ``Freed by task``...)."""
    return any(r.search(line) for r in STACK_START_RES)


def strip_syscall_prefix(frame: str) -> str:
    """Remove the syscall prefix (``__x64_sys_`` → ``sys_``) that leaves the shortest name."""
    best = frame
    for prefix in skip_rules.STRIP_FRAME_PREFIXES:
        if frame.startswith(prefix) and len(frame) - len(prefix) < len(best):
            best = frame[len(prefix) :]
    return best


@attrs.frozen
class TitleFrame:
    """The frame chosen for one stack segment of a title."""

    canonical: str
    """Name used in the title (syscall prefix stripped, or an extractor's bucket)."""
    raw: str
    """Name as printed, used for alternative titles."""


@functools.lru_cache(maxsize=256)
def _skip_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(skip_rules.GENERIC_SKIP + extra), re.ASCII)


def _stall_frame(frames: Sequence[str]) -> tuple[str, int]:
    """The frame above the first dispatch anchor (the anchor itself when it is first)."""
    previous, previous_idx = frames[0], 0
    for idx, frame in enumerate(frames):
        if any(r.search(frame) for r in _STALL_ANCHOR_RES):
            if "smp_call_function" in frame:
                return "smp_call_function", idx
            return previous, previous_idx
        previous, previous_idx = frame, idx
    return "", -1


def _hang_frame(frames: Sequence[str]) -> tuple[str, int]:
    """rtnl_lock and synchronize_* buckets, else the first non-waiting frame."""
    for idx, frame in enumerate(frames):
        for anchor, bucket in skip_rules.HANG_ANCHORS:
            if anchor in frame:
                return bucket or frame, idx
    for idx, frame in enumerate(frames):
        if not any(word in frame for word in skip_rules.HANG_SKIP_WORDS):
            return frame, idx
    return "", -1


_EXTRACTORS = {"stall": _stall_frame, "hang": _hang_frame}


def _pick(extractor: str, raw_frames: list[str]) -> TitleFrame | None:
    if not raw_frames:
        return None
    stripped = [strip_syscall_prefix(f) for f in raw_frames]
    if extractor == "first":
        return TitleFrame(stripped[0], raw_frames[0])
    frame, idx = _EXTRACTORS[extractor](stripped)
    return TitleFrame(frame, raw_frames[idx]) if frame else None


def _append_frames(frames: list[str], match: re.Match[bytes] | None, skip_re: re.Pattern[str]) -> None:
    if match is None:
        return
    for group in match.groups():
        if group is None:
            continue
        name = demangle(group.decode("latin-1"))
        if not skip_re.search(name):
            frames.append(name)


def _first_match(regexes: Sequence[re.Pattern[bytes]], line: bytes) -> re.Match[bytes] | None:
    for regex in regexes:
        match = regex.search(line)
        if match is not None:
            return match
    return None


def _extract_with_parts(
    lines: list[bytes], parts: Sequence[object], skip_re: re.Pattern[str], extractor: str
) -> tuple[list[TitleFrame], bool]:
    """Walk ``parts`` over ``lines``; one chosen frame per stack segment."""
    raw_frames: list[str] = []
    results: list[TitleFrame] = []
    ok = True
    stacks_seen = 0
    pos = 0
    part_idx = 0
    while True:
        if part_idx == len(parts) or (parts[part_idx] is PARSE_STACK and stacks_seen > 0):
            picked = _pick(extractor, raw_frames)
            if picked is None:
                picked, ok = TitleFrame(CORRUPTED_FRAME, CORRUPTED_FRAME), False
            results.append(picked)
            raw_frames = []
        if part_idx == len(parts):
            return results, ok
        part = parts[part_idx]
        next_part = parts[part_idx + 1] if part_idx + 1 < len(parts) else None
        while pos < len(lines):
            line = lines[pos]
            pos += 1
            if _first_match(_CORRUPTED_LINE_RES, line):
                ok = False
                break
            if part is PARSE_STACK:
                if is_stack_start(line):
                    break
                if isinstance(next_part, re.Pattern) and (match := next_part.search(line)):
                    _append_frames(raw_frames, match, skip_re)
                    part_idx += 1
                    break
                _append_frames(raw_frames, _first_match(FRAME_LINE_RES, line), skip_re)
            else:
                assert isinstance(part, re.Pattern)
                match = part.search(line)
                if match is not None:
                    _append_frames(raw_frames, match, skip_re)
                    break
        if part is PARSE_STACK:
            stacks_seen += 1
        part_idx += 1


def extract_title_frames(stack: Stack, text: bytes) -> tuple[list[TitleFrame], bool]:
    """Pick the title frame(s) of ``text`` (which starts at the title match) per ``stack``."""
    skip_re = _skip_re(stack.skip)
    lines = text.split(b"\n")
    frames, ok = _extract_with_parts(lines, stack.parts, skip_re, stack.extractor)
    if ok or not stack.parts2:
        return frames, ok
    return _extract_with_parts(lines, stack.parts2, skip_re, stack.extractor)


_FRAME_RECORD_RE = re.compile(
    rb"^\s*(?:(?:RIP|IP|NIP|pc|PC is at):?\s*(?:[0-9a-f]{4}:)?)?\s*"
    rb"(?:\[\<?(?:0x)?(?P<addr>[0-9a-f]+)\>?\]\s*)?(?P<unreliable>\? )?"
    rb"(?P<func>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    rb"(?: \[(?P<mod>[A-Za-z0-9_.\-]+)(?: [0-9a-f]+)?\])?"
    rb"(?: (?P<file>[^\s:]+):(?P<line>[0-9]+))?"
)
_INLINE_RECORD_RE = re.compile(rb"^\s*(?P<func>[A-Za-z0-9_.$<>:]+) (?P<file>[^\s:]+):(?P<line>[0-9]+) \[inline\]")


def parse_frame_line(line: bytes, *, reliable: bool = True) -> Frame | None:
    """Parse one prefix-stripped frame line; None when the line is not a frame."""
    match = _INLINE_RECORD_RE.match(line)
    if match is not None:
        return Frame(
            function=demangle(match["func"].decode("latin-1")),
            file=match["file"].decode("latin-1"),
            line=int(match["line"]),
            inline=True,
            reliable=reliable,
        )
    match = _FRAME_RECORD_RE.match(line)
    if match is None:
        return None
    return Frame(
        function=demangle(match["func"].decode("latin-1")),
        offset=int(match["off"], 16),
        size=int(match["size"], 16),
        module=match["mod"].decode("latin-1") if match["mod"] else None,
        address=int(match["addr"], 16) if match["addr"] else None,
        file=match["file"].decode("latin-1") if match["file"] else None,
        line=int(match["line"]) if match["line"] else None,
        reliable=reliable and not match["unreliable"],
    )
