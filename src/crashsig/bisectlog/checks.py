"""Diagnostics that tell a derailed bisection from a trustworthy one.

Each check is a pure function of a ``BisectLog`` returning ``Diagnostic`` records; the
``CHECKS`` table says why each exists. Verdicts are compared in "did it crash" terms, so
fix bisections (where git's good and bad are swapped) are judged the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs

from crashsig.bisectlog.records import BAD, GOOD, BisectLog, Diagnostic, Revision
from crashsig.signature import normalize_title

_RELEASE = re.compile(r"^v([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(?:-rc([0-9]+))?$")


def _short(commit: str) -> str:
    return commit[:12]


def crashing(revision: Revision, log: BisectLog) -> bool | None:
    """Whether the bisection judged ``revision`` to have the crash; None without a verdict."""
    if revision.verdict not in (GOOD, BAD):
        return None
    return revision.verdict == (GOOD if log.kind == "fix" else BAD)


def _titles(titles: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize_title(title) for title in titles if title)


def _judged(log: BisectLog) -> list[Revision]:
    return [rev for rev in log.revisions if crashing(rev, log) is not None]


def check_title_drift(log: BisectLog) -> list[Diagnostic]:
    """Revisions judged crashing only because of crashes with other titles."""
    original = _titles(log.original_titles)
    found = []
    for rev in log.revisions[1:]:
        titles = rev.crash_titles
        if original and crashing(rev, log) and titles and not _titles(titles) & original:
            others = ", ".join(titles)
            message = f"judged {rev.verdict} on crashes titled {others!r}, not {' / '.join(log.original_titles)!r}"
            found.append(Diagnostic("title-drift", rev.commit, message, titles))
    return found


def check_flaky(log: BisectLog) -> list[Diagnostic]:
    """Crashing verdicts that rest on a minority of runs."""
    found = []
    for rev in _judged(log):
        crashed, total = rev.crash_count, rev.run_count
        if crashing(rev, log) and crashed is not None and total and crashed * 2 < total:
            message = f"judged {rev.verdict} on {crashed}/{total} crashed runs"
            found.append(Diagnostic("flaky-verdict", rev.commit, message, rev.crash_titles))
    return found


def check_noop_culprit(log: BisectLog) -> list[Diagnostic]:
    """A culprit whose kernel binary equals its parent's cannot change behaviour."""
    if log.culprit and log.culprit_signature and log.culprit_signature == log.parent_signature:
        message = f"culprit kernel signature equals its parent's ({log.culprit_signature[:16]}...)"
        return [Diagnostic("noop-culprit", log.culprit, message)]
    return []


def check_final_title(log: BisectLog) -> list[Diagnostic]:
    """The crash reported for the culprit is not the crash the bisection started from."""
    final = [log.crash_title]
    if log.report is not None:
        final += [log.report.title, *log.report.alt_titles]
    original = _titles(log.original_titles)
    if not original or not _titles(final) or _titles(final) & original:
        return []
    shown = log.crash_title or final[1]
    message = f"final crash {shown!r} differs from the original {' / '.join(log.original_titles)!r}"
    return [Diagnostic("final-title", log.culprit or log.start_commit, message, (shown,))]


def _release_key(tag: str) -> tuple[int, int, int, float] | None:
    found = _RELEASE.match(tag)
    if not found:
        return None
    major, minor, patch, rc = found.groups()
    return (int(major), int(minor), int(patch or 0), float(rc) if rc else float("inf"))


def check_contradictions(log: BisectLog) -> list[Diagnostic]:
    """Verdicts that contradict each other where the log shows how revisions relate.

    Identical kernel signatures mean identical binaries; an older release is an ancestor
    of a newer one; the culprit must be judged bad (in git's terms) and its parent not.
    """
    found = []
    judged = _judged(log)
    first_by_signature: dict[str, Revision] = {}
    for rev in judged:
        twin = first_by_signature.setdefault(rev.kernel_signature, rev) if rev.kernel_signature else rev
        if crashing(twin, log) != crashing(rev, log):
            message = (
                f"judged {rev.verdict}, but {_short(twin.commit)} built the identical kernel and was {twin.verdict}"
            )
            found.append(Diagnostic("contradiction", rev.commit, message))
    if log.kind == "cause":
        releases = [(key, rev) for rev in judged if (key := _release_key(rev.release)) is not None]
        for key, old in releases:
            for newer_key, new in releases:
                if key < newer_key and crashing(old, log) and not crashing(new, log):
                    message = f"release {old.release} crashes but its descendant {new.release} does not"
                    found.append(Diagnostic("contradiction", old.commit, message))
    for rev in judged:
        is_culprit = bool(log.culprit) and rev.commit.startswith(log.culprit)
        is_parent = bool(log.parent_signature) and rev.kernel_signature == log.parent_signature
        if is_culprit and rev.verdict != BAD:
            found.append(Diagnostic("contradiction", rev.commit, f"named culprit, but judged {rev.verdict}"))
        elif is_parent and not is_culprit and rev.verdict == BAD:
            message = "built the culprit's parent kernel, but judged bad"
            found.append(Diagnostic("contradiction", rev.commit, message))
    return found


@attrs.frozen
class Check:
    """One diagnostic family: its kind, the function, and why it matters."""

    kind: str
    run: Callable[[BisectLog], list[Diagnostic]]
    why: str


CHECKS = (
    Check("title-drift", check_title_drift, "a different crash says nothing about the original bug"),
    Check("flaky-verdict", check_flaky, "1 crash in 10 runs is noise as often as signal"),
    Check("noop-culprit", check_noop_culprit, "an unchanged binary cannot introduce a crash"),
    Check("final-title", check_final_title, "the culprit must reproduce the crash being bisected"),
    Check("contradiction", check_contradictions, "a crash cannot vanish from a descendant of a crashing revision"),
)


def diagnose(log: BisectLog) -> tuple[Diagnostic, ...]:
    """Run every check; diagnostics come grouped by check, in log order."""
    return tuple(diagnostic for check in CHECKS for diagnostic in check.run(log))


def conclude(log: BisectLog, diagnostics: tuple[Diagnostic, ...]) -> str:
    """One line: ``trustworthy``, ``incomplete: <error>``, or ``suspect: <kind> at <commit> ...``."""
    if not diagnostics and log.error:
        return f"incomplete: {log.error}"
    if not diagnostics:
        return f"trustworthy (partial log: {len(log.warnings)} warnings)" if log.warnings else "trustworthy"
    parts = []
    for check in CHECKS:
        mine = [d for d in diagnostics if d.kind == check.kind]
        if mine:
            more = f" (+{len(mine) - 1} more)" if len(mine) > 1 else ""
            titles = f": {mine[0].titles[0]}" if mine[0].titles and check.kind != "flaky-verdict" else ""
            parts.append(f"{check.kind} at {_short(mine[0].commit)}{more}{titles}")
    return "suspect: " + "; ".join(parts)
