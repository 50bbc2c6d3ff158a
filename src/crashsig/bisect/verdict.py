"""Judge one revision from its runs: good, bad or skip, with a confidence and a reason.

Pure: run records and the target crash in, a :class:`Verdict` out. No logging, no I/O,
no hidden state; the driver decides what to do with the answer.

Model (a one-sided sequential probability ratio test):

* A run that ends in the *target* crash (same title or alt title, or same crash
  signature) proves that the bug's code is present: the revision is **bad**.
* A run that ends in a *different* crash is **unrelated**: the run was cut short before
  the reproducer could show the target, so it carries no evidence either way.
* A **clean** run (``ok``) is evidence for good, weighted by the repro rate measured at
  the bad end: if the bug were present, ``m`` clean runs in a row happen with probability
  ``E[(1-p)^m]``, ``p`` drawn from the Beta posterior of the bad end's hits and misses.
  The revision is **good** once the posterior probability that it is bad, starting from
  even odds, drops to the policy's ``false_good`` bound.
* Runs that say nothing about the kernel under test (boot failures, timeouts) are
  counted; too many of them make the revision a **skip**.

``Policy.syzbot()`` gives syzbot's rule for comparison: a fixed number of runs and any
crash makes the revision bad.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

PRIOR_HITS = 0.5
PRIOR_MISSES = 0.5
"""Jeffreys prior Beta(1/2, 1/2) on the repro rate: uninformative, and it keeps a small
bad-end sample from claiming a rate near 0 or 1."""

PRIOR_BAD = 0.5
"""Prior probability that a tested revision is bad: bisection picks midpoints, so either
answer is equally likely before any run."""

TITLE_COLLISION_RATE = 0.01
"""Chance that a bug-free revision still shows a crash we match to the target (two bugs
sharing a normalized title). Only used to state the confidence of a bad verdict."""

MIN_JUDGED_RUNS = 1
"""A verdict needs at least one run that reached the reproducer's end or crashed."""

MAX_FAILED_SHARE = 0.5
"""Skip a revision when more than half of its runs failed to boot or timed out: the
kernel is too broken for its clean runs to be trusted."""

MIN_FAILED_FOR_SKIP = 3
"""...but only after three such failures, so one unlucky boot does not skip a revision."""

MEASURE_HITS = 5
"""The bad end runs until it has shown the target 5 times (or reached max runs). The rate
sets how many clean runs a good verdict needs, and an early lucky streak overstates it:
in simulation, stopping at 3 hits gave 95 % right culprits, stopping at 5 gave 98 % for
3 % more runs (docs/bisect.md)."""

SYZBOT_RUNS = 10
"""syzbot runs the reproducer 10 times per revision."""

SYZBOT_MIN_GOOD_SHARE = 0.5
"""syzbot calls a crash-free revision good only if at least half of its runs were OK."""


class Kind(enum.Enum):
    """What one run says about the target bug."""

    TARGET = "target"
    """Crashed with the target bug."""
    UNRELATED = "unrelated"
    """Crashed with a different bug: no evidence about the target."""
    CLEAN = "clean"
    """Ran to the end without a crash."""
    FAILED = "failed"
    """Did not boot or timed out: says nothing about the kernel's bug."""
    INFRA = "infra"
    """Our machinery failed (QEMU missing, bad image)."""


@attrs.frozen
class Run:
    """One VM run as the verdict needs it; the driver converts boot results into these."""

    outcome: str
    """``ok``, ``crashed``, ``boot failed``, ``timed out`` or ``infra error``."""
    title: str = ""
    """Crash title when ``outcome`` is ``crashed``, else empty."""
    alt_titles: tuple[str, ...] = ()
    """Alternative titles of the crash."""
    signature: str = ""
    """Crash signature of the report, empty when unknown."""
    reason: str = ""
    """Why a run failed (for ``boot failed``, ``timed out``, ``infra error``)."""
    duration: float = 0.0
    """Wall time of the run in seconds."""
    report: str = ""
    """The crash report's text, for the log; empty when the run did not crash."""
    console_log: str = ""
    """Where the run's console was saved, empty when it was not."""

    def describe(self) -> str:
        """The run as a bisection log writes it: ``crashed: TITLE``, ``OK``, ``boot failed: ...``."""
        if self.outcome == "crashed":
            return f"crashed: {self.title}"
        if self.outcome == "ok":
            return "OK"
        return f"{self.outcome}: {self.reason}" if self.reason else self.outcome


@attrs.frozen
class Target:
    """The bug being bisected."""

    title: str
    """Its title; ``""`` with ``any_crash`` policies."""
    alt_titles: tuple[str, ...] = ()
    """Its alternative titles."""
    signature: str = ""
    """Its crash signature, empty when only the title is known."""

    def matches(self, run: Run) -> bool:
        """True when the run crashed with this bug (title sets overlap or signatures equal)."""
        if run.outcome != "crashed":
            return False
        if self.signature and self.signature == run.signature:
            return True
        ours = {self.title, *self.alt_titles} - {""}
        return bool(ours & {run.title, *run.alt_titles})


@attrs.frozen
class Rate:
    """Repro-rate evidence from the bad end: hits (target crashes) and misses (clean runs)."""

    hits: int
    misses: int

    @classmethod
    def from_probability(cls, rate: float, weight: int = 10) -> Rate:
        """Evidence worth ``weight`` runs at the given rate (for a rate known beforehand)."""
        hits = round(max(0.0, min(1.0, rate)) * weight)
        return cls(hits=hits, misses=weight - hits)

    @classmethod
    def from_counts(cls, counts: Counts) -> Rate:
        """The evidence of a bad end's runs (unrelated crashes and failures say nothing)."""
        return cls(hits=counts.target, misses=counts.clean)

    @property
    def estimate(self) -> float:
        """Posterior mean of the repro rate."""
        return (self.hits + PRIOR_HITS) / (self.hits + self.misses + PRIOR_HITS + PRIOR_MISSES)

    def miss_probability(self, clean: int) -> float:
        """Chance of ``clean`` clean runs in a row on a revision that has the bug."""
        a, b = self.hits + PRIOR_HITS, self.misses + PRIOR_MISSES
        prob = 1.0
        for i in range(clean):
            prob *= (b + i) / (a + b + i)
        return prob


@attrs.frozen
class Policy:
    """How runs are judged and when to stop running."""

    any_crash: bool = False
    """syzbot's rule: every crash counts as the target."""
    false_good: float = 0.05
    """Stop with good once P(bad | runs) is at most this."""
    max_runs: int = 20
    """Never run a revision more often than this."""
    fixed_runs: int | None = None
    """Run exactly this many times and ignore ``false_good`` (syzbot's procedure)."""

    @classmethod
    def syzbot(cls) -> Policy:
        """syzbot's rule: 10 runs per revision, any crash is bad."""
        return cls(any_crash=True, max_runs=SYZBOT_RUNS, fixed_runs=SYZBOT_RUNS)

    def stricter(self, false_good: float, max_runs: int) -> Policy:
        """The same rule with a tighter bound, for checking ends and confirming a culprit."""
        if self.fixed_runs is not None:
            return self
        return attrs.evolve(self, false_good=min(self.false_good, false_good), max_runs=max(self.max_runs, max_runs))


@attrs.frozen
class Counts:
    """How the runs of a revision split up."""

    target: int = 0
    unrelated: int = 0
    clean: int = 0
    failed: int = 0
    infra: int = 0

    @property
    def total(self) -> int:
        """Number of runs."""
        return self.target + self.unrelated + self.clean + self.failed + self.infra


@attrs.frozen
class Verdict:
    """The judgement of one revision."""

    result: str
    """``good``, ``bad`` or ``skip``."""
    done: bool
    """True when more runs would not change the answer enough to be worth them."""
    confidence: float
    """Probability that ``result`` is right under the model (0.5 means a coin flip)."""
    reason: str
    """One sentence: which rule decided."""
    counts: Counts
    """How the runs split up."""


def classify(run: Run, target: Target, *, any_crash: bool = False) -> Kind:
    """What one run says about the target."""
    if run.outcome == "crashed":
        return Kind.TARGET if any_crash or target.matches(run) else Kind.UNRELATED
    if run.outcome == "ok":
        return Kind.CLEAN
    if run.outcome == "infra error":
        return Kind.INFRA
    return Kind.FAILED


def count(runs: Iterable[Run], target: Target, *, any_crash: bool = False) -> Counts:
    """Split runs by :func:`classify`."""
    tally = dict.fromkeys(Kind, 0)
    for run in runs:
        tally[classify(run, target, any_crash=any_crash)] += 1
    return Counts(
        target=tally[Kind.TARGET],
        unrelated=tally[Kind.UNRELATED],
        clean=tally[Kind.CLEAN],
        failed=tally[Kind.FAILED],
        infra=tally[Kind.INFRA],
    )


def judge(runs: Sequence[Run], target: Target, rate: Rate, policy: Policy) -> Verdict:
    """Judge a revision from its runs so far; ``done`` says whether to stop running it."""
    counts = count(runs, target, any_crash=policy.any_crash)
    if counts.infra > counts.total // 2:
        reason = f"infra errors in {counts.infra} of {plural(counts.total, 'run')}"
        return Verdict("skip", True, 0.0, reason, counts)
    if policy.fixed_runs is not None:
        return _judge_fixed(counts, policy.fixed_runs)
    return _judge_adaptive(counts, rate, policy)


def judge_bad_end(runs: Sequence[Run], target: Target, policy: Policy) -> Verdict:
    """Judge the bad end, which also measures the repro rate: ``done`` after MEASURE_HITS."""
    counts = count(runs, target, any_crash=policy.any_crash)
    if policy.fixed_runs is not None:
        return _judge_fixed(counts, policy.fixed_runs)
    done = counts.target >= MEASURE_HITS or counts.total >= policy.max_runs
    if counts.target:
        rate = Rate.from_counts(counts)
        reason = f"{_crash_words(counts)} in {plural(counts.total, 'run')}: repro rate ~{rate.estimate:.2f}"
        return Verdict("bad", done, 1.0 - TITLE_COLLISION_RATE**counts.target, reason, counts)
    return Verdict("good", done, 0.0, f"no target crash in {plural(counts.total, 'run')}", counts)


def _judge_adaptive(counts: Counts, rate: Rate, policy: Policy) -> Verdict:
    out_of_runs = counts.total >= policy.max_runs
    if counts.target:
        confidence = 1.0 - TITLE_COLLISION_RATE**counts.target
        return Verdict("bad", True, confidence, f"{_crash_words(counts)} in {plural(counts.total, 'run')}", counts)
    if counts.failed >= MIN_FAILED_FOR_SKIP and counts.failed > MAX_FAILED_SHARE * counts.total:
        reason = f"{counts.failed} of {plural(counts.total, 'run')} failed to boot or timed out"
        return Verdict("skip", True, 0.0, reason, counts)
    p_bad = posterior_bad(rate, counts.clean)
    enough = counts.clean >= MIN_JUDGED_RUNS and p_bad <= policy.false_good
    if enough or out_of_runs:
        if counts.clean < MIN_JUDGED_RUNS:
            return Verdict("skip", True, 0.0, f"none of {plural(counts.total, 'run')} reached the end", counts)
        bound = "" if enough else f", short of the {1 - policy.false_good:.0%} aimed at (max runs reached)"
        reason = f"{plural(counts.clean, 'clean run')}: P(bad) = {p_bad:.3f} at repro rate ~{rate.estimate:.2f}{bound}"
        return Verdict("good", True, 1.0 - p_bad, _with_unrelated(reason, counts), counts)
    verb = "is" if counts.clean == 1 else "are"
    return Verdict("good", False, 1.0 - p_bad, f"{plural(counts.clean, 'clean run')} {verb} not enough yet", counts)


def _judge_fixed(counts: Counts, runs: int) -> Verdict:
    if counts.total < runs:
        return Verdict("good", False, 0.5, f"{counts.total} of {plural(runs, 'fixed run')} done", counts)
    if counts.target:
        confidence = 1.0 - TITLE_COLLISION_RATE**counts.target
        return Verdict("bad", True, confidence, f"{_crash_words(counts)} in {plural(runs, 'run')}", counts)
    if counts.clean >= SYZBOT_MIN_GOOD_SHARE * runs:
        return Verdict("good", True, 1.0, f"{counts.clean} of {plural(runs, 'run')} OK", counts)
    return Verdict("skip", True, 0.0, f"only {counts.clean} of {plural(runs, 'run')} OK", counts)


def posterior_bad(rate: Rate, clean: int) -> float:
    """P(revision is bad | ``clean`` clean runs and no target crash), from even odds."""
    likely_bad = PRIOR_BAD * rate.miss_probability(clean)
    return likely_bad / (likely_bad + (1.0 - PRIOR_BAD))


def plural(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``, ``1 target crash``, ``3 target crashes``."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}{'es' if noun.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def _crash_words(counts: Counts) -> str:
    return plural(counts.target, "target crash")


def _with_unrelated(reason: str, counts: Counts) -> str:
    if counts.unrelated:
        return f"{reason}; {plural(counts.unrelated, 'unrelated crash')} ignored"
    return reason
