"""Signatures: which crash is this, and which kernel build produced it.

``crash_signature(report)`` names "the same bug": a short hex digest of the crash type,
the normalized title and the guilty-side function names, with every build-specific
detail removed (addresses, offsets, line numbers, compiler clone suffixes). It is equal
for reruns of one crash, across rebuilds that move code and with or without KASLR.
``same_crash(a, b)`` adds syzbot's rule on top: two reports are the same bug when their
title and alt-title sets overlap. docs/signatures.md explains the choices.

``kernel_signature(path)`` (from ``crashsig.kernelsig``) is syzbot's build signature.
"""

from __future__ import annotations

import hashlib
import re

import attrs

from crashsig.kernelsig import kernel_signature
from crashsig.types import Report

__all__ = [
    "SignatureInput",
    "crash_signature",
    "kernel_signature",
    "normalize_title",
    "same_crash",
    "signature_input",
    "strip_compiler_suffix",
]

SCHEME = "crashsig-crash-v1"
"""Hashed first, so a change of recipe never collides with old signatures."""

GUILTY_FRAMES = 3
"""Stack frames that stand in for the guilty function when the title names none."""

_SUFFIX_WORDS = r"isra|constprop|part|cold|lto_priv|llvm|clone|localalias"
_FUNCTION_SUFFIX = re.compile(rf"(?:\.(?:{_SUFFIX_WORDS}|[0-9]+))+$")
"""gcc/clang clone suffixes: ``foo.isra.0``, ``foo.constprop.0.cold``, ``foo.llvm.123``."""


@attrs.frozen
class _Rewrite:
    """One title rewrite: a regex, its replacement, and why it is needed."""

    pattern: re.Pattern[str]
    replacement: str
    why: str


# Parser titles are already normalized like syzbot's; these rows make the signature
# robust to titles that came from elsewhere (a harness, an old log, a user).
_TITLE_REWRITES = (
    _Rewrite(
        re.compile(rf"(?<=[A-Za-z0-9_])(?:\.(?:{_SUFFIX_WORDS})(?:\.[0-9]+)*)+(?=$|[\s/,:)\]])"),
        "",
        "a compiler clone suffix moves between builds of the same source",
    ),
    _Rewrite(
        re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?"),
        r"\1",
        "func+0xOFF/0xSIZE changes whenever code moves",
    ),
    _Rewrite(re.compile(r"\b(?:0x)?[0-9a-f]{6,}\b"), "ADDR", "addresses change with KASLR and layout"),
    _Rewrite(re.compile(r"(\.[a-zA-Z]+):[0-9]+(?::[0-9]+)*"), r"\1:LINE", "line numbers move with edits"),
    _Rewrite(re.compile(r"\s+"), " ", "console wrapping and padding are not part of a title"),
)


@attrs.frozen
class SignatureInput:
    """Everything a crash signature is computed from, after normalization."""

    type: str
    """syzkaller crash type (``KASAN-USE-AFTER-FREE-READ``, ``UNKNOWN``...)."""
    title: str
    """The report title, normalized again and stripped of compiler suffixes."""
    functions: tuple[str, ...]
    """Guilty-side function names: the title's frame, else the top stack frames."""


def strip_compiler_suffix(function: str) -> str:
    """Return ``function`` without gcc/clang clone suffixes (``foo.isra.0`` -> ``foo``)."""
    return _FUNCTION_SUFFIX.sub("", function)


def normalize_title(title: str) -> str:
    """Return ``title`` with addresses, offsets, line numbers and clone suffixes replaced."""
    for rewrite in _TITLE_REWRITES:
        title = rewrite.pattern.sub(rewrite.replacement, title)
    return title.strip()


def _guilty_functions(report: Report) -> tuple[str, ...]:
    """The title's indicative frame, or the top reliable non-inline frames without one.

    Inline and ``?`` frames are left out: they depend on symbolization and on the
    unwinder's guesses, not on the bug.
    """
    if report.frame and report.frame != "corrupted":
        return (strip_compiler_suffix(report.frame),)
    functions: list[str] = []
    for frame in report.frames:
        name = strip_compiler_suffix(frame.function)
        if frame.reliable and not frame.inline and name and name not in functions:
            functions.append(name)
        if len(functions) == GUILTY_FRAMES:
            break
    return tuple(functions)


def signature_input(report: Report) -> SignatureInput:
    """Return the normalized parts that ``crash_signature`` hashes, for display and tests."""
    return SignatureInput(report.type, normalize_title(report.title), _guilty_functions(report))


def crash_signature(report: Report) -> str:
    """Return a 16-hex-digit identifier of the bug behind ``report``."""
    parts = signature_input(report)
    text = "\n".join((SCHEME, parts.type, parts.title, ",".join(parts.functions)))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def same_crash(a: Report, b: Report) -> bool:
    """True when ``a`` and ``b`` are the same bug: equal signatures, or (syzbot's rule)
    overlapping sets of title plus alt titles."""
    if a.signature == b.signature:
        return True
    return not {a.title, *a.alt_titles}.isdisjoint({b.title, *b.alt_titles})
