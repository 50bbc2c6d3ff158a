"""Titles: choose an oops format, fill its template, normalize, classify.

``describe`` follows syzkaller's rules for compatibility: the format whose title regex
matches earliest in the title region wins (ties go to the format listed first); its
arguments are the regex groups followed by one frame per stack segment.
"""

from __future__ import annotations

import re

import attrs

from crashsig.frames import TitleFrame, extract_title_frames
from crashsig.rules import skip as skip_rules
from crashsig.rules.model import Format, Oops
from crashsig.rules.replace import MAX_TITLE_LEN, TITLE_REPLACEMENTS
from crashsig.rules.types import TITLE_TO_TYPE, UNKNOWN

TITLE_STYLES = ("current", "2020")

CORRUPTED_NO_FRAMES = "extracted no frames"
CORRUPTED_NO_REPORT_MATCH = "matched title but not report regexp"
CORRUPTED_FORMAT = "report format is marked as corrupted"

_REPLACEMENTS = tuple((re.compile(p, re.ASCII), r) for p, r, _why in TITLE_REPLACEMENTS)
_FRAME_FROM_TITLE_RE = re.compile(r".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)")


@attrs.frozen
class Description:
    """The raw (not yet normalized) title of an oops and how it was found."""

    title: str
    alt_titles: tuple[str, ...]
    corrupted_reason: str
    format: Format | None
    """The format that produced the title; None when the raw header line was used."""


_PLACEHOLDER_RE = re.compile(r"\{([0-9]+)\}")


def _fill(template: str, args: list[str]) -> str:
    """Fill ``{N}`` (1-based); a missing argument prints as Go's fmt does."""

    def arg(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return args[index] if 0 <= index < len(args) else "%!v(BADINDEX)"

    return _PLACEHOLDER_RE.sub(arg, template)


def _arg_variants(prefix: list[str], frames: list[TitleFrame]) -> list[list[str]]:
    """Arguments with raw frame names, then with each single syscall prefix stripped."""
    variants = [prefix + [f.raw for f in frames]]
    for strip in skip_rules.STRIP_FRAME_PREFIXES:
        trimmed = [f.raw.removeprefix(strip) for f in frames]
        if any(t != f.raw for t, f in zip(trimmed, frames)):
            variants.append(prefix + trimmed)
    return variants


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def describe(region: bytes, oops: Oops, *, style: str = "current") -> Description:
    """Build the raw title of ``oops`` from its title region (text starting at the oops line)."""
    best_pos = len(region)
    title = ""
    reason = ""
    alt_titles: list[str] = []
    chosen: Format | None = None
    matched_title = False
    for fmt in oops.formats:
        match = fmt.title.search(region)
        if match is None or match.start() > best_pos:
            continue
        if match.start() == best_pos and title:
            continue
        if match.start() < best_pos:
            title, chosen, best_pos = "", None, match.start()
        matched_title = True
        if fmt.report is not None:
            match = fmt.report.search(region)
            if match is None:
                continue
        prefix = [(g or b"").decode("latin-1") for g in match.groups()]
        frames: list[TitleFrame] = []
        reason = ""
        if fmt.stack is not None:
            frames, ok = extract_title_frames(fmt.stack, region[match.start() :])
            if not ok:
                reason = CORRUPTED_NO_FRAMES
        args = prefix + [f.canonical for f in frames]
        template = fmt.fmt_2020 if style == "2020" and fmt.fmt_2020 else fmt.fmt
        title = _fill(template, args)
        alt_titles.extend(_fill(alt, args) for alt in fmt.alts)
        for variant in _arg_variants(prefix, frames):
            alternative = _fill(template, variant)
            if alternative != title:
                alt_titles.append(alternative)
            alt_titles.extend(_fill(alt, variant) for alt in fmt.alts)
        alt_titles = _unique(alt_titles)
        chosen = fmt
    if not title:
        if matched_title:
            reason = CORRUPTED_NO_REPORT_MATCH
        pos = region.find(oops.header)
        if pos == -1:
            return Description("", tuple(alt_titles), reason, None)
        end = region.find(b"\n", pos)
        title = region[pos : end if end != -1 else len(region)].decode("latin-1")
    if not reason and chosen is not None and chosen.corrupted:
        reason = CORRUPTED_FORMAT
    return Description(title, tuple(alt_titles), reason, chosen)


def _replace_all(title: str) -> str:
    for regex, replacement in _REPLACEMENTS:
        while True:
            replaced = regex.sub(replacement, title)
            if replaced == title:
                break
            title = replaced
    return title


def _sanitize(title: str) -> str:
    kept: list[str] = []
    previous = " "
    for ch in title[:MAX_TITLE_LEN]:
        if ch == "\t":
            ch = " "
        elif ord(ch) < 0x20 or ord(ch) >= 0x7F:
            continue
        if ch == " " and previous == " ":
            continue
        kept.append(ch)
        previous = ch
    return "".join(kept).strip()


def normalize_title(title: str) -> str:
    """Replace addresses, numbers and line numbers; drop control bytes; cut to 120 bytes."""
    return _sanitize(_replace_all(title))


def title_to_type(title: str) -> str:
    """syzkaller's crash type for a normalized title, ``UNKNOWN`` when none applies."""
    for prefixes, crash_type in TITLE_TO_TYPE:
        if title.startswith(prefixes):
            return crash_type
    return UNKNOWN


def frame_from_title(title: str) -> str:
    """The indicative function: the identifier after the last `` in `` of a title."""
    match = _FRAME_FROM_TITLE_RE.match(title)
    return match.group(1) if match else ""
