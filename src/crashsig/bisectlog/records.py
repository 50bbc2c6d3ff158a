"""Records of a bisection log: runs, tested revisions, diagnostics, the whole log."""

from __future__ import annotations

import attrs

from crashsig.types import Report

OK = "OK"
CRASHED = "crashed"

GOOD = "good"
BAD = "bad"
SKIP = "skip"


@attrs.frozen
class Run:
    """The outcome of one test run of a revision (``OK``, ``crashed: TITLE``, ...)."""

    outcome: str
    """``OK``, ``crashed``, ``boot failed``, ``basic kernel testing failed``, ``failed``..."""
    detail: str = ""
    """The text after ``outcome: ``: the crash title for ``crashed``, else the failure."""

    @property
    def crashed(self) -> bool:
        """True when the run ended in a kernel crash."""
        return self.outcome == CRASHED

    def __str__(self) -> str:
        return f"{self.outcome}: {self.detail}" if self.detail else self.outcome


@attrs.frozen
class Revision:
    """One tested kernel revision and everything the log says about it."""

    commit: str
    """Full commit hash from the ``testing commit`` line."""
    line: int = attrs.field(default=0, eq=False)
    """1-based line number of the ``testing commit`` line (0 when not read from text;
    provenance only, so it takes no part in comparisons)."""
    compiler: str = ""
    """Compiler identity (``gcc (GCC) 8.1.0``), empty when not printed."""
    release: str = ""
    """Release tag when tested as a release (``testing release v5.6``), else empty."""
    head: bool = False
    """True for fix bisection's ``testing current HEAD`` revision."""
    subject: str = ""
    """Commit subject from git bisect's ``[hash] subject`` line, when printed."""
    left: int | None = None
    """Revisions git bisect said were left before this one, None outside bisect steps."""
    steps: int | None = None
    """git bisect's ``roughly N steps`` estimate, with ``left``."""
    kernel_signature: str = ""
    """Build signature of the tested kernel, empty when the build failed."""
    notes: tuple[str, ...] = ()
    """Other lines printed for this revision: build errors, infra failures."""
    runs: tuple[Run, ...] = ()
    """Per-run outcomes; a single entry when ``all_runs`` is set."""
    all_runs: bool = False
    """True when the log summarized identical outcomes as ``all runs: ...``."""
    verdict: str = ""
    """``good``, ``bad`` or ``skip``; empty when nothing says or implies one."""
    verdict_inferred: bool = False
    """True when no ``# git bisect`` line gave ``verdict`` and it follows from the runs."""

    @property
    def crash_titles(self) -> tuple[str, ...]:
        """Distinct titles of the crashed runs, in order of appearance."""
        return tuple(dict.fromkeys(run.detail for run in self.runs if run.crashed))

    @property
    def crash_count(self) -> int | None:
        """Number of crashed runs; None when ``all runs:`` hides the count."""
        return None if self.all_runs else sum(run.crashed for run in self.runs)

    @property
    def run_count(self) -> int | None:
        """Number of runs; None when ``all runs:`` hides the count."""
        return None if self.all_runs else len(self.runs)


@attrs.frozen
class Diagnostic:
    """A reason to distrust a bisection, tied to the revision it concerns."""

    kind: str
    """``title-drift``, ``flaky-verdict``, ``noop-culprit``, ``final-title`` or ``contradiction``."""
    commit: str
    """The revision concerned (the culprit for culprit-level findings)."""
    message: str
    """One line for humans."""
    titles: tuple[str, ...] = ()
    """Crash titles involved, when the finding is about titles."""


@attrs.frozen
class BisectLog:
    """Everything ``read`` understood in a syzbot-format bisection log."""

    kind: str = ""
    """``cause`` or ``fix``; empty when the first line is missing."""
    start_commit: str = ""
    """The commit the bisection started from (where the crash reproduced)."""
    syzkaller_commit: str = ""
    """syzkaller revision used to test kernels."""
    revisions: tuple[Revision, ...] = ()
    """Every tested revision, in log order."""
    bisect_start: tuple[str, ...] = ()
    """Arguments of ``# git bisect start``: the bad end, then the good ends."""
    culprit: str = ""
    """First bad (cause) or first good (fix) commit; empty when none was found."""
    culprit_subject: str = ""
    """Subject of the culprit commit."""
    culprit_details: str = ""
    """The ``git show`` block git bisect printed for the culprit, verbatim."""
    culprit_signature: str = ""
    """Build signature of the culprit."""
    parent_signature: str = ""
    """Build signature of the culprit's parent."""
    untested_parent: str = ""
    """Parent hash from ``parent commit X wasn't tested``, when printed."""
    candidates: tuple[str, ...] = ()
    """Commits named by an inconclusive result."""
    result_notes: tuple[str, ...] = ()
    """Result lines without a field of their own (``the crash already happened ...``)."""
    revisions_tested: int | None = None
    """Count from the ``revisions tested:`` line."""
    total_time: str = ""
    """Go duration strings from the totals line (``3h50m14.36s``)."""
    build_time: str = ""
    test_time: str = ""
    cc: tuple[str, ...] = ()
    """Addresses of the ``cc:`` line."""
    crash_title: str = ""
    """Title from the ``crash:`` line that precedes the final report."""
    crash_text: str = ""
    """The final crash report as printed, verbatim."""
    report: Report | None = None
    """``crash_text`` parsed with ``crashsig.parse``; None when absent or unparsable."""
    error: str = ""
    """Text of a final ``error:`` line (the bisection itself failed)."""
    warnings: tuple[str, ...] = ()
    """What the reader could not understand: truncation, foreign lines."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Reasons to distrust the result, from ``crashsig.bisectlog.checks``."""
    conclusion: str = ""
    """``trustworthy`` or ``suspect: ...``."""

    @property
    def original_titles(self) -> tuple[str, ...]:
        """Crash titles of the first tested revision: what the bisection chases."""
        return self.revisions[0].crash_titles if self.revisions else ()
