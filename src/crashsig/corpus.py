"""Annotated test corpora in syzkaller's format: ``report/N`` and ``guilty/N`` files.

A report file holds ``KEY: value`` headers (TITLE, ALT, TYPE, FRAME, CORRUPTED,
SUPPRESSED, PANICKED, EXECUTOR, START, END; ``#`` comments), an empty line, the log,
and optionally an empty line, ``REPORT:`` and the expected report text. A guilty file
holds ``FILE: path`` headers, an empty line and an already-symbolized log. Users can
keep their own corpora in this format and run them with ``crashsig test-corpus``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs

from crashsig.errors import InputError
from crashsig.guilty import extract_guilty_file
from crashsig.oopsindex import OopsIndex
from crashsig.parse import contains_crash, parse_from, parse_raw
from crashsig.types import Report

_KEYS = ("TITLE", "ALT", "TYPE", "FRAME", "CORRUPTED", "SUPPRESSED", "PANICKED", "EXECUTOR", "START", "END")


@attrs.frozen
class ReportCase:
    """Expectations of one ``report/N`` file."""

    name: str
    log: bytes
    title: str = ""
    alt_titles: tuple[str, ...] = ()
    type: str = "UNKNOWN"
    frame: str | None = None
    corrupted: bool = False
    suppressed: bool = False
    panicked: bool = False
    executor: str = ""
    start: bytes | None = None
    end: bytes | None = None
    report: bytes | None = None


@attrs.frozen
class GuiltyCase:
    """Expectation of one ``guilty/N`` file."""

    name: str
    log: bytes
    file: str


@attrs.frozen
class Mismatch:
    """One field whose actual value differs from the expected one."""

    field: str
    expected: object
    actual: object


def load_report_case(path: Path) -> ReportCase:
    """Read a ``report/N`` file; raises ``InputError`` on an unknown header."""
    data = path.read_bytes().replace(b"\r", b"")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    fields: dict[str, str | bool | bytes] = {}
    alt_titles: list[str] = []
    index = 0
    while index < len(lines) and lines[index]:
        line = lines[index].decode("utf-8", "replace")
        index += 1
        if line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if not sep and line.endswith(":"):
            key, value = line[:-1], ""
        if key not in _KEYS:
            raise InputError(f"{path}: unknown header line {line!r}")
        if key == "ALT":
            alt_titles.append(value)
        elif key in ("CORRUPTED", "SUPPRESSED", "PANICKED"):
            fields[key.lower()] = value == "Y"
        elif key in ("START", "END"):
            fields[key.lower()] = value.encode()
        else:
            fields[key.lower()] = value
    log_lines = lines[index + 1 :]
    report = None
    for i in range(1, len(log_lines)):
        if log_lines[i] == b"REPORT:" and log_lines[i - 1] == b"":
            report = b"".join(line + b"\n" for line in log_lines[i + 1 :])
            log_lines = log_lines[:i]
            break
    log = b"".join(line + b"\n" for line in log_lines)
    return ReportCase(name=path.name, log=log, report=report, alt_titles=tuple(sorted(alt_titles)), **fields)  # type: ignore[arg-type]


def load_guilty_case(path: Path) -> GuiltyCase:
    """Read a ``guilty/N`` file."""
    data = path.read_bytes()
    head, _, log = data.partition(b"\n\n")
    file = ""
    for line in head.decode("utf-8", "replace").split("\n"):
        key, _, value = line.partition(":")
        if key.strip() == "FILE":
            file = value.strip()
    return GuiltyCase(name=path.name, log=log, file=file)


def _executor_text(report: Report) -> str:
    return f"proc={report.executor.proc}, id={report.executor.id}" if report.executor else ""


def check_report_case(case: ReportCase) -> list[Mismatch]:
    """Compare the first parsed report of a case with its expectations."""
    mismatches: list[Mismatch] = []
    report = parse_from(case.log)
    if contains_crash(case.log) != bool(case.title):
        mismatches.append(Mismatch("contains_crash", bool(case.title), not case.title))
    if report is None:
        if case.title:
            mismatches.append(Mismatch("title", case.title, None))
        return mismatches
    expected = {
        "title": case.title,
        "alt_titles": case.alt_titles,
        "type": case.type,
        "corrupted": case.corrupted,
        "suppressed": case.suppressed,
        "panicked": case.panicked,
        "executor": case.executor,
    }
    actual = {
        "title": report.title,
        "alt_titles": tuple(sorted(report.alt_titles)),
        "type": report.type,
        "corrupted": report.corrupted,
        "suppressed": report.suppressed,
        "panicked": report.panicked,
        "executor": _executor_text(report),
    }
    if case.frame is not None:
        expected["frame"], actual["frame"] = case.frame, report.frame
    if case.report is not None:
        expected["report"], actual["report"] = case.report.decode("utf-8", "replace"), report.text
    if case.start is not None:
        start = case.log.find(case.start)
        end_text = case.end if case.end is not None else case.start
        expected["start"], actual["start"] = start, report.start
        expected["end"], actual["end"] = case.log.find(end_text) + len(end_text), report.end
    return [Mismatch(k, v, actual[k]) for k, v in expected.items() if actual[k] != v]


def check_guilty_case(case: GuiltyCase) -> list[Mismatch]:
    """Compare the guilty file found in a symbolized log with its expectation."""
    index = OopsIndex(case.log)
    oops_line = index.first_oops(0)
    if oops_line is None:
        return [Mismatch("crash", True, False)]
    raw = parse_raw(index, oops_line, 0, "current")
    text, text_start = raw.text, raw.text_start
    if not case.log.endswith(text):
        # Symbolized inline frames can look like a second report: use the whole log,
        # still skipping the context-line bytes (as syzkaller's test does).
        text = case.log
    actual = extract_guilty_file(raw.report.title, text[text_start:])
    return [] if actual == case.file else [Mismatch("guilty_file", case.file, actual)]


def iter_cases(directory: Path) -> Iterator[ReportCase | GuiltyCase]:
    """Yield the cases of a corpus directory (``report/`` and ``guilty/`` subfolders, numeric names)."""
    for kind, loader in (("report", load_report_case), ("guilty", load_guilty_case)):
        folder = directory / kind
        if not folder.is_dir():
            continue
        for path in sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
            yield loader(path)


def check_case(case: ReportCase | GuiltyCase) -> list[Mismatch]:
    """Check a report or guilty case."""
    if isinstance(case, ReportCase):
        return check_report_case(case)
    return check_guilty_case(case)
