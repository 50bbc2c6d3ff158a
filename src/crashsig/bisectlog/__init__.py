"""Bisection logs in syzbot's format: read them, check them, write them.

``read(text)`` returns a ``BisectLog``: the start commit, every tested revision (compiler,
kernel signature, per-run outcomes, git verdict), the culprit with its subject and build
signatures, totals, cc list and the final crash report parsed with ``crashsig.parse``,
plus diagnostics that flag a derailed bisection and a one-line conclusion. ``write(log)``
renders a ``BisectLog`` back into the same format, so crashsig's own bisect harness logs
what this module reads.
"""

from __future__ import annotations

import attrs

from crashsig.bisectlog.checks import CHECKS, conclude, diagnose
from crashsig.bisectlog.reader import infer_verdict, parse_run, read_fields
from crashsig.bisectlog.records import BAD, GOOD, SKIP, BisectLog, Diagnostic, Revision, Run
from crashsig.bisectlog.writer import (
    collapse_runs,
    format_bisect_start,
    format_header,
    format_result,
    format_revision,
    write,
)
from crashsig.errors import CrashsigError
from crashsig.parse import parse
from crashsig.types import Report

__all__ = [
    "BAD",
    "CHECKS",
    "GOOD",
    "SKIP",
    "BisectLog",
    "Diagnostic",
    "Revision",
    "Run",
    "check",
    "collapse_runs",
    "format_bisect_start",
    "format_header",
    "format_result",
    "format_revision",
    "infer_verdict",
    "parse_run",
    "read",
    "write",
]


def _parse_report(title: str, text: str) -> tuple[Report | None, list[str]]:
    """The first report ``crashsig.parse`` finds in the final crash text, and warnings."""
    if not text.strip():
        return None, []
    try:
        reports = parse(text.encode("utf-8", "surrogateescape"))
    except CrashsigError as exc:
        return None, [f"the final crash report could not be parsed: {exc}"]
    if not reports:
        return None, [f"no crash report found after 'crash: {title}'"]
    return reports[0], []


def check(log: BisectLog) -> BisectLog:
    """Return ``log`` with its diagnostics and conclusion (re)computed."""
    diagnostics = diagnose(log)
    return attrs.evolve(log, diagnostics=diagnostics, conclusion=conclude(log, diagnostics))


def read(text: str | bytes) -> BisectLog:
    """Parse a syzbot-format bisection log; never raises on odd input.

    Truncated or foreign text gives a partial ``BisectLog`` whose ``warnings`` say what
    was missing or not understood.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    fields = read_fields(text)
    report, warnings = _parse_report(fields.get("crash_title", ""), fields.get("crash_text", ""))
    fields["warnings"] = fields["warnings"] + tuple(warnings)
    return check(BisectLog(**fields, report=report))
