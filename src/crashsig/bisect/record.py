"""The record of a bisection: a syzbot-format log (read back by ``crashsig bisect-log``)
and a JSON document with every verdict and run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from crashsig import bisectlog
from crashsig.bisect import git
from crashsig.bisect.results import GitStep, Result, Tested
from crashsig.bisect.verdict import Run, plural

_BISECTING = re.compile(
    r"Bisecting: (?P<left>\d+) revisions? left to test after this \(roughly (?P<steps>\d+) steps?\)"
)
_SUBJECT = re.compile(r"^\[(?P<sha>[0-9a-f]{40})\] (?P<subject>.*)$", re.MULTILINE)


def to_bisectlog(result: Result, repo: Path) -> bisectlog.BisectLog:
    """The bisection as a ``BisectLog`` record; ``bisectlog.write`` renders it."""
    revisions, pending = [], None
    for event in result.events:
        if isinstance(event, GitStep):
            pending = event
            continue
        revisions.append(_revision(event, pending if event.phase == "bisect" else None))
        pending = None
    culprit, report = result.culprit or "", "" if result.interrupted else _final_report(result)
    parent = next(iter(git.parents(repo, culprit)), "") if culprit else ""
    signatures = _signatures(result)
    outcome = f"crashsig: culprit {'confirmed' if result.confirmed else 'NOT confirmed'}: {result.reason}"
    notes = [] if result.interrupted else [outcome]
    if result.corrections:
        notes.append(f"crashsig: {plural(result.corrections, 'false good verdict')} corrected by confirmation")
    if revisions:  # the reader keeps unknown lines as notes of the revision above them
        revisions[-1] = attrs.evolve(revisions[-1], notes=(*revisions[-1].notes, *notes))
    return bisectlog.BisectLog(
        kind="cause",
        start_commit=result.bad,
        revisions=tuple(revisions),
        bisect_start=(result.bad, result.good),
        culprit=culprit,
        culprit_subject=git.subject(repo, culprit) if culprit else "",
        culprit_details=git.describe_commit(repo, culprit) if culprit else "",
        culprit_signature=signatures.get(culprit, ""),
        parent_signature=signatures.get(parent, ""),
        candidates=result.candidates,
        revisions_tested=len({event.commit for event in result.tested}),
        total_time=go_duration(result.total_time),
        build_time=go_duration(result.build_time),
        test_time=go_duration(result.test_time),
        crash_title=result.target.title if culprit else "",
        crash_text=report,
        error=result.interrupted,  # the last line of an interrupted bisection's log
    )


def _revision(tested: Tested, step: GitStep | None) -> bisectlog.Revision:
    left = steps = None
    subject = ""
    if step is not None and (counts := _BISECTING.search(step.output)):
        left, steps = int(counts["left"]), int(counts["steps"])
        named = _SUBJECT.search(step.output)
        subject = named["subject"] if named and named["sha"] == tested.commit else ""
    runs, all_runs = bisectlog.collapse_runs([bisectlog.parse_run(run.describe()) for run in tested.runs])
    verdict = tested.verdict
    notes = [f"crashsig {tested.phase}: {verdict.result} (confidence {verdict.confidence:.3f}): {verdict.reason}"]
    if tested.reused:
        notes.append("crashsig: runs reused from a revision with the same kernel signature")
    notes += [f"crashsig: {note}" for note in tested.notes]
    notes += [f"build error: {line}" for line in tested.build_error.splitlines()[-8:]]
    return bisectlog.Revision(
        commit=tested.commit,
        compiler=tested.build.compiler if tested.build else "",
        subject=subject,
        left=left,
        steps=steps,
        kernel_signature=tested.build.signature if tested.build else "",
        notes=tuple(notes),
        runs=runs,
        all_runs=all_runs,
        # The ends carry no "# git bisect" line (syzbot's format: the reader infers their
        # verdicts); confirmation reruns do, so the reader sees crashsig's verdict, not
        # one inferred by syzbot's any-crash rule.
        verdict=verdict.result if tested.phase in ("bisect", "confirm") else "",
    )


def _signatures(result: Result) -> dict[str, str]:
    return {event.commit: event.build.signature for event in result.tested if event.build}


def _final_report(result: Result) -> str:
    """The report text of a target crash on the culprit (the bad end's when there is none)."""
    for commit in (result.culprit, result.bad):
        for event in result.tested:
            if event.commit == commit:
                found = next((run.report for run in event.runs if _is_target(run, result) and run.report), "")
                if found:
                    return found if found.endswith("\n") else found + "\n"
    return ""


def _is_target(run: Run, result: Result) -> bool:
    return result.target.matches(run) or (not result.target.title and run.outcome == "crashed")


def go_duration(seconds: float) -> str:
    """Seconds as Go prints a time.Duration (``3h50m14.362s``), the format of syzbot's totals."""
    hours, rest = divmod(max(seconds, 0.0), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def to_json(result: Result) -> dict[str, Any]:
    """The bisection as plain data (for ``--json``)."""
    return {
        "culprit": result.culprit,
        "confirmed": result.confirmed,
        "reason": result.reason,
        "interrupted": result.interrupted or None,
        "candidates": list(result.candidates),
        "good": result.good,
        "bad": result.bad,
        "target": attrs.asdict(result.target),
        "repro_rate": {"hits": result.rate.hits, "misses": result.rate.misses, "estimate": result.rate.estimate},
        "corrections": result.corrections,
        "runs": result.runs,
        "build_time": round(result.build_time, 3),
        "test_time": round(result.test_time, 3),
        "total_time": round(result.total_time, 3),
        "tested": [_tested_json(event) for event in result.tested],
    }


def _tested_json(tested: Tested) -> dict[str, Any]:
    verdict = tested.verdict
    return {
        "commit": tested.commit,
        "subject": tested.subject,
        "phase": tested.phase,
        "verdict": verdict.result,
        "confidence": round(verdict.confidence, 6),
        "reason": verdict.reason,
        "counts": attrs.asdict(verdict.counts),
        "reused": tested.reused,
        "signature": tested.build.signature if tested.build else None,
        "compiler": tested.build.compiler if tested.build else None,
        "build_error": tested.build_error or None,
        "runs": [
            {"outcome": run.outcome, "title": run.title, "reason": run.reason, "duration": round(run.duration, 3)}
            | ({"console_log": run.console_log} if run.console_log else {})
            for run in tested.runs
        ],
    }
