"""``crashsig bisect-log``: read a syzbot-format bisection log and say if it derailed."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import attrs

from crashsig import bisectlog
from crashsig.bisectlog import BisectLog, Revision
from crashsig.commands.io import read_input
from crashsig.errors import InputError

EXIT_TRUSTWORTHY = 0
EXIT_DERAILED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bisect-log`` subcommand."""
    parser = subparsers.add_parser(
        "bisect-log",
        help="check a bisection log for a derailed bisection",
        description="Print the timeline of a syzbot-format bisection log and its diagnostics. "
        "Exit 0 when nothing is suspect, 1 when the bisection looks derailed or was interrupted, 2 when the "
        "input cannot be read as a bisection log.",
    )
    parser.add_argument("file", metavar="FILE", help="bisection log ('-' for standard input)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(func=run)


def _runs(rev: Revision) -> str:
    if rev.all_runs and rev.runs:
        return f"all runs: {rev.runs[0]}"
    if not rev.runs:
        return "; ".join(rev.notes[:1]) or "no runs"
    counts = Counter(str(run) for run in rev.runs)
    return ", ".join(f"{count}/{len(rev.runs)} {outcome}" for outcome, count in counts.items())


def _text(log: BisectLog) -> str:
    what = "fixing" if log.kind == "fix" else "cause"
    lines = [f"bisection for the {what} commit, starting from {log.start_commit[:12] or '?'}"]
    if log.original_titles:
        lines.append(f"original crash: {' / '.join(log.original_titles)}")
    for rev in log.revisions:
        verdict = (rev.verdict or "-") + ("*" if rev.verdict_inferred else "")
        where = f"{rev.release} " if rev.release else ""
        lines.append(f"  {rev.commit[:12]}  {verdict:<6} {where}{_runs(rev)}")
    if log.culprit:
        lines.append(f"culprit: {log.culprit[:12]} {log.culprit_subject}")
    if log.culprit_signature:
        same = "identical" if log.culprit_signature == log.parent_signature else "different"
        lines.append(f"  culprit and parent kernel signatures: {same}")
    lines += [f"candidate: {commit}" for commit in log.candidates]
    if log.revisions_tested is not None:
        lines.append(f"revisions tested: {log.revisions_tested}, total time: {log.total_time}")
    if log.report is not None:
        lines.append(f"final crash: {log.report.title} (signature {log.report.signature})")
    elif log.crash_title:
        lines.append(f"final crash: {log.crash_title}")
    if log.diagnostics:
        lines.append("diagnostics:")
        lines += [f"  {d.kind:<14} {d.commit[:12]}  {d.message}" for d in log.diagnostics]
    lines += [f"warning: {warning}" for warning in log.warnings]
    if log.error:
        lines.append(f"error: {log.error}")
    lines.append(f"conclusion: {log.conclusion}")
    return "\n".join(lines)


def _json(log: BisectLog) -> str:
    data: dict[str, Any] = attrs.asdict(log)
    if log.report is not None:
        data["report"]["signature"] = log.report.signature
    data["original_titles"] = list(log.original_titles)
    return json.dumps(data, indent=2)


def run(args: argparse.Namespace) -> int:
    """Print the timeline and diagnostics; the exit status says whether to trust it."""
    log = bisectlog.read(read_input(args.file))
    if not log.kind and not log.revisions:
        raise InputError(f"{args.file}: not a bisection log ({'; '.join(log.warnings[:2])})")
    print(_json(log) if args.format == "json" else _text(log))
    # An interrupted or failed bisection names no trustworthy culprit either.
    return EXIT_DERAILED if log.diagnostics or log.error else EXIT_TRUSTWORTHY
