"""``crashsig parse``: find and describe every oops in console logs."""

from __future__ import annotations

import argparse
import itertools
import json
import sys

from crashsig.commands.io import iter_inputs
from crashsig.parse import Symbolizing
from crashsig.stream import iter_file_reports
from crashsig.title import TITLE_STYLES
from crashsig.types import Report

SCHEMA_VERSION = 1
EXIT_CRASH = 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``parse`` subcommand."""
    parser = subparsers.add_parser("parse", help="find oopses in console logs and title them")
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files (.gz/.xz ok); '-' or none: stdin")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--first", action="store_true", help="only the first report of each log")
    parser.add_argument(
        "--title-style",
        choices=TITLE_STYLES,
        default="current",
        help="'2020' gives pre-2021 syzbot titles such as 'kernel BUG at FILE:LINE!'",
    )
    parser.add_argument("--fail-on-crash", action="store_true", help="exit 1 when any crash is found")
    parser.add_argument("--vmlinux", help="symbolize frames with this kernel image (with debug info)")
    parser.add_argument("--modules", metavar="DIR", help="with --vmlinux: directory of NAME.ko / NAME.ko.debug")
    parser.add_argument("--no-cache", action="store_true", help="with --vmlinux: no on-disk symbol index")
    parser.set_defaults(func=run)


def report_to_json(report: Report) -> dict[str, object]:
    """The JSON object of one report (see docs/json.md, ``parse`` schema)."""
    return {
        "title": report.title,
        "alt_titles": list(report.alt_titles),
        "type": report.type,
        "frame": report.frame,
        "corrupted": report.corrupted,
        "corrupted_reason": report.corrupted_reason,
        "suppressed": report.suppressed,
        "panicked": report.panicked,
        "executor": None if report.executor is None else {"proc": report.executor.proc, "id": report.executor.id},
        "start": report.start,
        "end": report.end,
        "guilty_file": report.guilty_file,
        "frames": [
            {
                "function": f.function,
                "offset": f.offset,
                "size": f.size,
                "module": f.module,
                "address": f.address,
                "file": f.file,
                "line": f.line,
                "inline": f.inline,
                "reliable": f.reliable,
            }
            for f in report.frames
        ],
        "text": report.text,
    }


def _guilty_frame(report: Report) -> str:
    """The title's frame; when the title names none, the first reliable frame, marked so."""
    if report.frame:
        return report.frame
    reliable = [f for f in report.frames if f.reliable and not f.inline]
    return f"{reliable[0].function} (first reliable frame)" if reliable else "-"


def format_text(name: str, reports: list[Report]) -> str:
    """Readable blocks, one per report."""
    if not reports:
        return f"{name}: no crash found\n"
    blocks = []
    primary, primary_end = 0, -1
    for number, report in enumerate(reports, 1):
        lines = [
            f"{name}: report {number} of {len(reports)}",
            f"  title:    {report.title}",
            f"  type:     {report.type}",
            f"  frame:    {_guilty_frame(report)}",
            f"  guilty:   {report.guilty_file or '-'}",
            f"  offsets:  {report.start}-{report.end}",
        ]
        lines += [f"  alt:      {alt}" for alt in report.alt_titles]
        if report.start < primary_end:
            # Lines such as "invalid opcode" or "Kernel panic" after a BUG: the same crash.
            lines.append(f"  follows:  report {primary} (a follow-on line of the same crash)")
        else:
            primary, primary_end = number, report.end
        if report.corrupted:
            lines.append(f"  corrupted: {report.corrupted_reason or 'yes'}")
        if report.suppressed:
            lines.append("  suppressed: yes")
        if report.panicked:
            lines.append("  panicked: yes")
        if report.executor:
            lines.append(f"  executor: proc={report.executor.proc}, id={report.executor.id}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    """Parse each input and print its reports."""
    if args.vmlinux is None:
        return _run(args, None)
    from crashsig.symbolize import Symbolizer

    with Symbolizer(args.vmlinux, modules=args.modules, use_cache=not args.no_cache) as symbolizer:
        return _run(args, symbolizer)


def _run(args: argparse.Namespace, symbolizer: Symbolizing | None) -> int:
    found = False
    documents = []
    for name in iter_inputs(args.files):
        reports = list(
            itertools.islice(
                iter_file_reports(name, title_style=args.title_style, symbolizer=symbolizer), 1 if args.first else None
            )
        )
        found = found or bool(reports)
        if args.format == "json":
            documents.append({"file": name, "reports": [report_to_json(r) for r in reports]})
        else:
            sys.stdout.write(format_text(name, reports))
    if args.format == "json":
        json.dump({"schema_version": SCHEMA_VERSION, "logs": documents}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return EXIT_CRASH if args.fail_on_crash and found else 0
