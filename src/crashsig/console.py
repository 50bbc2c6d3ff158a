"""Console line handling: timestamps, caller ids (contexts) and unreliable frames.

A kernel console line may start with ``[  12.345678]`` and, with CONFIG_PRINTK_CALLER,
a caller id ``[T1234]`` (task) or ``[C1]`` (CPU). The caller id is the line's
*context*: a report keeps only lines of the oopsing context.
"""

from __future__ import annotations

import re

import attrs

CONSOLE = "console"
"""Context of timestamped lines without a caller id (no CONFIG_PRINTK_CALLER)."""

_PREFIX_RE = re.compile(
    rb"^(?:\*\* [0-9]+ printk messages dropped \*\* )?(?:.* login: )?(?:\<[0-9]+\>)?"
    rb"\[ *[0-9]+\.[0-9]+\](\[ *(?:C|T)[0-9]+\])? "
)
_TASK_CONTEXT_RE = re.compile(rb"\[ *T[0-9]+\]")
_CPU_CONTEXT_RE = re.compile(rb"\[ *C[0-9]+\]")
_QUESTIONABLE_MARK = b" ? "  # x86 "? func+0x1/0x2" frames, optionally after [<addr>]
_EOI = b"<EOI>"
_UNRELIABLE_SUFFIX = b" (unreliable)"  # powerpc


@attrs.frozen
class ConsoleLine:
    """One console line with its prefix removed."""

    context: bytes
    """Caller id such as ``[  T298]``, ``b"console"``, or empty when untimestamped."""
    text: bytes
    """The line without timestamp and caller id."""
    questionable: bool
    """True for an unreliable (``? ``) frame, which reports leave out."""


def line_context(line: bytes) -> bytes:
    """Return the context of a raw console line (see ``ConsoleLine.context``)."""
    match = _PREFIX_RE.match(line)
    if match is None:
        return b""
    return match.group(1) or CONSOLE.encode()


def split_line(line: bytes) -> ConsoleLine:
    """Strip the console prefix of one line and flag unreliable frames."""
    context = line_context(line)
    if not context:
        return ConsoleLine(context, line, False)
    text = line[line.index(b"] ") + 2 :]
    questionable = False
    if _EOI not in text:
        if _QUESTIONABLE_MARK in text:
            text = text[text.index(_QUESTIONABLE_MARK) + 2 :]
            questionable = True
        elif text.endswith(_UNRELIABLE_SUFFIX):
            text = text[: -len(_UNRELIABLE_SUFFIX)]
            questionable = True
    return ConsoleLine(context, text, questionable)


def is_task_context(context: bytes) -> bool:
    """True for a ``[T123]`` caller id."""
    return _TASK_CONTEXT_RE.search(context) is not None


def is_cpu_context(context: bytes) -> bool:
    """True for a ``[C1]`` caller id."""
    return _CPU_CONTEXT_RE.search(context) is not None


def has_caller_id(context: bytes) -> bool:
    """True when the context is a real caller id, not empty or ``console``."""
    return bool(context) and context != CONSOLE.encode()
