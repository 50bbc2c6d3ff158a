"""Record types for oops rules and the placeholder expansion used by their regexes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import attrs

# Placeholders usable in every rule regex (expanded once, at load time).
_PLACEHOLDERS = {
    "{{ADDR}}": r"0x[0-9a-f]+",
    "{{PC}}": r"\[\<?(?:0x)?[0-9a-f]+\>?\]",
    # An identifier followed by '.' or '+': drops .isra.3, .cold and +0x../0x.. suffixes.
    "{{FUNC}}": r"([a-zA-Z0-9_]+)(?:\.|\+)",
    "{{SRC}}": r"([a-zA-Z0-9\-_/.]+\.[a-z]+:[0-9]+)",
}
# Go's RE2 POSIX classes, which Python would misread as nested sets.
_POSIX_CLASSES = {"[[:space:]]": r"[\t\n\v\f\r ]", "[[:xdigit:]]": r"[0-9A-Fa-f]"}
# "Any number of lines" is bounded so that a backtracking search stays linear: each
# start position may look at most this many lines ahead (RE2 needs no such bound).
MAX_LINES_AHEAD = 50
_ANY_LINES = {r"(?:.*\n)+?": rf"(?:.*\n){{1,{MAX_LINES_AHEAD}}}?"}


def expand(pattern: str) -> str:
    """Expand ``{{FUNC}}``-style placeholders and POSIX classes in a rule regex."""
    for key, value in {**_PLACEHOLDERS, **_POSIX_CLASSES, **_ANY_LINES}.items():
        pattern = pattern.replace(key, value)
    return pattern


def compile_rule(pattern: str) -> re.Pattern[bytes]:
    """Compile a rule regex (after placeholder expansion) as an ASCII bytes pattern."""
    return re.compile(expand(pattern).encode())


def _compile_all(patterns: Iterable[str]) -> tuple[re.Pattern[bytes], ...]:
    return tuple(map(compile_rule, patterns))


class _ParseStack:
    """Marker part: parse frame lines until the next stack starts."""

    def __repr__(self) -> str:
        return "PARSE_STACK"


PARSE_STACK = _ParseStack()
StackPart = "re.Pattern[bytes] | _ParseStack"
FrameExtractor = Callable[[Sequence[str]], tuple[str, int]]


def _compile_parts(parts: Sequence[str | _ParseStack]) -> tuple[re.Pattern[bytes] | _ParseStack, ...]:
    return tuple(p if isinstance(p, _ParseStack) else compile_rule(p) for p in parts)


@attrs.frozen
class Stack:
    """Where the indicative frame of a format comes from."""

    parts: tuple[re.Pattern[bytes] | _ParseStack, ...] = attrs.field(converter=_compile_parts)
    """Regexes matched line by line in order; PARSE_STACK collects frame lines."""
    parts2: tuple[re.Pattern[bytes] | _ParseStack, ...] = attrs.field(default=(), converter=_compile_parts)
    """Alternative parts tried when ``parts`` find no frame."""
    skip: tuple[str, ...] = ()
    """Extra skip regexes for frame names, on top of the global skip list."""
    extractor: str = "first"
    """How to pick the frame: ``first``, ``stall`` or ``hang``."""


def _compile_opt(pattern: str | None) -> re.Pattern[bytes] | None:
    return None if pattern is None else compile_rule(pattern)


@attrs.frozen
class Format:
    """One title format of an oops: regexes, title template and flags."""

    title: re.Pattern[bytes] = attrs.field(converter=compile_rule)
    """Searched in the title region; the earliest match among formats wins."""
    fmt: str
    """Title template, ``{N}`` = Nth argument."""
    report: re.Pattern[bytes] | None = attrs.field(default=None, converter=_compile_opt)
    """When set, must also match; its groups become the arguments."""
    alts: tuple[str, ...] = ()
    """Alternative title templates."""
    stack: Stack | None = None
    """Frame extraction spec; its frames are appended to the arguments."""
    no_stack_trace: bool = False
    """The oops has no stack trace by design: skip the corruption check."""
    corrupted: bool = False
    """Matching this format means the real header was missed."""
    fmt_2020: str | None = None
    """Template syzbot used before 2021, when it differs (``title_style="2020"``)."""


@attrs.frozen
class Oops:
    """An oops header string with its formats and per-oops suppressions."""

    header: bytes
    formats: tuple[Format, ...]
    suppressions: tuple[re.Pattern[bytes], ...] = attrs.field(default=(), converter=_compile_all)
