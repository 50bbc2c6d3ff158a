"""What a bisection produced: every revision tested, every git step, the culprit."""

from __future__ import annotations

import attrs

from crashsig.bisect.build import Build
from crashsig.bisect.verdict import Rate, Run, Target, Verdict


@attrs.frozen
class Tested:
    """One revision tested (or re-judged) during the bisection."""

    commit: str
    subject: str
    verdict: Verdict
    build: Build | None = None
    """None when the revision did not build."""
    build_error: str = ""
    runs: tuple[Run, ...] = ()
    """Every run judged, including runs of earlier builds with the same signature."""
    reused: bool = False
    """True when no new run was needed: an equal kernel signature was already judged."""
    phase: str = "bisect"
    """``bad end``, ``good end``, ``bisect`` or ``confirm``."""
    notes: tuple[str, ...] = ()
    """Remarks for the log (a warning about the target's choice)."""


@attrs.frozen
class GitStep:
    """One ``git bisect`` command and what git answered."""

    command: str
    output: str


@attrs.frozen
class Result:
    """The outcome of a bisection."""

    culprit: str | None
    """The first bad commit, None when the bisection could not name one."""
    confirmed: bool
    reason: str
    """Why the culprit is (not) confirmed."""
    target: Target
    rate: Rate
    """Repro-rate evidence: the runs of the bad end and of the culprit's rerun."""
    good: str
    bad: str
    candidates: tuple[str, ...] = ()
    """Commits that could be the first bad one when skipped revisions hide it."""
    events: tuple[Tested | GitStep, ...] = ()
    """Everything in order, for the log."""
    corrections: int = 0
    """How often a false good below the culprit was found and the bisection continued."""
    total_time: float = 0.0

    runs: int = 0
    """VM runs made (runs reused through equal kernel signatures are not counted again)."""
    build_time: float = 0.0
    """Seconds spent building, each build counted once."""
    test_time: float = 0.0
    """Seconds spent in runs, summed over runs (not wall time)."""
    interrupted: str = ""
    """Where a bisection stopped on a signal (``interrupted by SIGINT while ...``); empty
    when it ran to its end."""

    @property
    def tested(self) -> tuple[Tested, ...]:
        """The Tested events in order."""
        return tuple(event for event in self.events if isinstance(event, Tested))
