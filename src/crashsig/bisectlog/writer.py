"""Writing ``BisectLog`` records as syzbot-format text that ``read`` parses back.

``write(log)`` renders a whole log. A harness that logs as it goes can call
``format_header``, ``format_bisect_start``, ``format_revision`` and ``format_result``
in that order and get the same text piece by piece.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from crashsig.bisectlog.records import BisectLog, Revision, Run


def collapse_runs(runs: Sequence[Run]) -> tuple[tuple[Run, ...], bool]:
    """Return ``(runs, all_runs)`` the way syzkaller logs them: identical outcomes of
    several runs collapse into one ``all runs:`` entry."""
    if len(runs) > 1 and len(set(runs)) == 1:
        return (runs[0],), True
    return tuple(runs), False


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def format_header(kind: str, start_commit: str, syzkaller_commit: str = "") -> str:
    """The first lines: what is bisected from where, and the syzkaller build."""
    what = "fixing commit since" if kind == "fix" else "cause commit starting from"
    text = f"bisecting {what} {start_commit}\n"
    return text + (f"building syzkaller on {syzkaller_commit}\n" if syzkaller_commit else "")


def format_bisect_start(commits: Sequence[str]) -> str:
    """``# git bisect start BAD GOOD...``."""
    return f"# git bisect start {' '.join(commits)}\n"


def format_revision(rev: Revision) -> str:
    """One tested revision: bisect step, build, runs and git verdict."""
    lines = []
    if rev.left is not None and rev.steps is not None:
        left = _plural(rev.left, "revision")
        lines.append(f"Bisecting: {left} left to test after this (roughly {_plural(rev.steps, 'step')})")
    if rev.subject:
        lines.append(f"[{rev.commit}] {rev.subject}")
    if rev.release:
        lines.append(f"testing release {rev.release}")
    if rev.head:
        lines.append(f"testing current HEAD {rev.commit}")
    lines.append(f"testing commit {rev.commit}" + (f" with {rev.compiler}" if rev.compiler else ""))
    if rev.kernel_signature:
        lines.append(f"kernel signature: {rev.kernel_signature}")
    lines.extend(rev.notes)
    if rev.all_runs and rev.runs:
        lines.append(f"all runs: {rev.runs[0]}")
    else:
        lines.extend(f"run #{index}: {run}" for index, run in enumerate(rev.runs))
    if rev.verdict and not rev.verdict_inferred:
        lines.append(f"# git bisect {rev.verdict} {rev.commit}")
    return "".join(line + "\n" for line in lines)


def _is_parent_build(rev: Revision, log: BisectLog) -> bool:
    return bool(log.untested_parent) and rev.commit == log.untested_parent and not rev.runs


def format_result(log: BisectLog) -> str:
    """Everything after the last bisect step: culprit, signatures, totals, cc, crash."""
    what = "good" if log.kind == "fix" else "bad"
    lines = []
    if log.culprit_details:
        lines += [f"{log.culprit} is the first bad commit", log.culprit_details]
    if log.untested_parent:
        lines.append(f"parent commit {log.untested_parent} wasn't tested")
        lines += [format_revision(rev).rstrip("\n") for rev in log.revisions if _is_parent_build(rev, log)]
    if log.culprit_signature or log.parent_signature:
        lines += [f"culprit signature: {log.culprit_signature}", f"parent  signature: {log.parent_signature}"]
    if log.revisions_tested is not None:
        lines.append(
            f"revisions tested: {log.revisions_tested}, total time: {log.total_time} "
            f"(build: {log.build_time}, test: {log.test_time})"
        )
    if log.error:
        lines.append(f"error: {log.error}")
    lines.extend(log.result_notes)
    if log.candidates:
        lines.append(f"bisection is inconclusive, the first {what} commit could be any of:")
        lines.extend(log.candidates)
    elif log.culprit:
        lines.append(f"first {what} commit: {log.culprit} {log.culprit_subject}".rstrip())
    if log.cc:
        lines.append("cc: [" + " ".join(json.dumps(address) for address in log.cc) + "]")
    text = "".join(line + "\n" for line in lines)
    if log.crash_title or log.crash_text:
        text += f"crash: {log.crash_title}\n{log.crash_text}"
    return text


def write(log: BisectLog) -> str:
    """Render ``log`` in syzbot's bisection-log format (``read(write(log))`` gives it back)."""
    parts = [format_header(log.kind, log.start_commit, log.syzkaller_commit)] if log.kind else []
    started = not log.bisect_start
    for rev in log.revisions:
        if _is_parent_build(rev, log):
            continue
        if not started and (rev.left is not None or (rev.verdict and not rev.verdict_inferred)):
            parts.append(format_bisect_start(log.bisect_start))
            started = True
        parts.append(format_revision(rev))
    if not started:
        parts.append(format_bisect_start(log.bisect_start))
    parts.append(format_result(log))
    return "".join(parts)
