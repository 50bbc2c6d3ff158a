"""Drive a cause bisection: check both ends, steer ``git bisect``, confirm the culprit.

The machines sit behind a :class:`Runner`, the documented seam: ``build(commit)`` gives a
:class:`~crashsig.bisect.build.Build` (or raises BuildError: the revision is skipped) and
``run(build, count)`` gives that many :class:`~crashsig.bisect.verdict.Run` records. The
VM runner (``crashsig.bisect.runner``) boots QEMU; the simulator (``crashsig.bisect.sim``)
draws outcomes from a scenario. Everything else here is the real decision logic.

Steps: (1) run the bad end until it has shown the target a few times, which measures
the repro rate (and names the target when none is given); (2) check that the good end
does not reproduce it, with the strict bound; (3) ``git bisect`` in a worktree of its own,
judging each revision adaptively and reusing runs of any revision whose kernel signature
was already tested; (4) confirm: the culprit must differ from its parent in signature,
reproduce again, and its parents must pass the strict good check. A parent that turns
out bad was a false good: it becomes the new bad end and the bisection continues below it.

Interrupted (``KeyboardInterrupt``, or :class:`~crashsig.bisect.interrupt.Interrupted` for
SIGTERM), :func:`bisect` removes its worktree and git's bisect state and raises
:class:`BisectInterrupted` with what it found so far and where it stopped.
"""

from __future__ import annotations

import functools
import itertools
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import attrs

from crashsig.bisect import git
from crashsig.bisect.build import Build
from crashsig.bisect.interrupt import Interrupted, as_interrupted
from crashsig.bisect.results import GitStep, Result, Tested
from crashsig.bisect.verdict import (
    Counts,
    Policy,
    Rate,
    Run,
    Target,
    Verdict,
    count,
    judge,
    judge_bad_end,
    plural,
)
from crashsig.errors import BuildError, InfraError, InputError

log = logging.getLogger(__name__)

CONFIRM_FALSE_GOOD = 0.01
"""The good end and the culprit's parents must be good with P(bad) <= 1 %: a false good
right below the culprit is exactly what sends a bisection to the wrong commit."""

CONFIRM_RUNS_FACTOR = 2
"""End checks (measuring the bad end included) and confirmation may use twice ``max_runs``:
a bad end that shows the target rarely is a setup error only after that many runs."""

TITLE_LEAD = 5
"""Without a given target, the bad end keeps running (up to the end checks' run cap)
until its most frequent crash title leads every other by 5 crashes. With a flaky crash
half as frequent as the bug (the end-to-end history), that picks the bug 96 % of the
time (gambler's ruin: 1 / (1 + 2**-5)) at about 14 runs; stopping at the first 5 crashes
of a title picks it 86 % of the time, taking the first crash 67 %. With a single title
it costs nothing: that title leads by all its crashes."""

MAX_CORRECTIONS = 8
"""Re-bisect below a parent that turned out bad at most 8 times, then give up. Each
correction moves the bad end down, so this only bounds the cost of a very unlucky run."""


class Runner(Protocol):
    """The seam between decisions and machines (VMs, or a simulator)."""

    def build(self, commit: str) -> Build:
        """Build ``commit``; raise BuildError when the revision does not build."""
        ...

    def run(self, build: Build, count: int) -> list[Run]:
        """Run the reproducer ``count`` times on the build (in parallel as the runner likes)."""
        ...


@attrs.frozen
class Options:
    """What to bisect and how."""

    good: str
    bad: str
    target: Target | None = None
    """The bug; None takes the most frequent crash title of the bad end's runs."""
    policy: Policy = attrs.Factory(Policy)
    jobs: int = 1
    """Runs requested per batch (the VM runner runs a batch in parallel)."""
    confirm: bool = True
    """Check and correct the culprit at the end (off for syzbot's procedure)."""


class BisectInterrupted(Interrupted):
    """The bisection stopped on SIGINT or SIGTERM; ``result`` holds what it did so far."""

    def __init__(self, signum: int, result: Result) -> None:
        super().__init__(signum)
        self.result = result
        """No culprit; ``interrupted`` says where it stopped, ``events`` what came before."""


def bisect(repo: Path | str, runner: Runner, options: Options, *, workdir: Path | None = None) -> Result:
    """Find the commit that introduced the target crash between ``options.good`` and ``options.bad``.

    ``git bisect`` runs in a worktree of its own, ``WORKDIR/bisect`` (a temporary
    directory without ``workdir``), removed with its bisect state on every way out.
    :raises BisectInterrupted: on ``KeyboardInterrupt`` (or SIGTERM turned into one).
    """
    repo = Path(repo)
    good, bad = git.rev_parse(repo, options.good), git.rev_parse(repo, options.bad)
    if good == bad or not git.is_ancestor(repo, good, bad):
        raise InputError(f"good end {options.good} must be an ancestor of bad end {options.bad}")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="crashsig-bisect-") as tmp:
            return _bisect_in(repo, runner, options, Path(tmp), good, bad)
    return _bisect_in(repo, runner, options, Path(workdir), good, bad)


def _bisect_in(repo: Path, runner: Runner, options: Options, workdir: Path, good: str, bad: str) -> Result:
    with git.worktree(repo, workdir / "bisect", bad, checkout=False) as tree:
        session = _Session(repo, runner, options, git.GitBisect(tree))
        try:
            return session.run(good, bad)
        except KeyboardInterrupt as exc:
            stop = as_interrupted(exc)
            where = f"interrupted by {stop.name} {session.where()}"
            log.warning("%s", where)
            raise BisectInterrupted(stop.signum, session.result_so_far(where, good, bad)) from exc
        finally:
            session.bisect.reset()


class _Session:
    """The state of one bisection: builds, runs per kernel signature, events so far."""

    def __init__(self, repo: Path, runner: Runner, options: Options, bisect: git.GitBisect) -> None:
        self.repo = repo
        self.runner = runner
        self.options = options
        self.bisect = bisect
        self.events: list[Tested | GitStep] = []
        self.builds: dict[str, Build | BuildError] = {}
        self.runs: dict[str, list[Run]] = {}
        self.target = options.target or Target("")
        self.strict = options.policy.stricter(CONFIRM_FALSE_GOOD, options.policy.max_runs * CONFIRM_RUNS_FACTOR)
        self.start = time.monotonic()
        self.step = 0
        self.measured: list[list[Run]] = []
        self.run_count = 0
        self.test_time = 0.0
        self.doing = "starting"
        """What the session is doing, for the message when it is interrupted."""
        self.phase = ""
        self.steps_left = 0

    def run(self, good: str, bad: str) -> Result:
        self._check_bad_end(bad)
        self._check_good_end(good)
        result = functools.partial(self._result, good=good, bad=bad)
        marks: dict[str, str] = {good: "good"}
        for corrections in range(MAX_CORRECTIONS + 1):
            state = self._bisect_range(bad, marks)
            if state.culprit is None:
                return result(None, False, "only skipped commits are left", state.candidates, corrections)
            if not self.options.confirm:
                return result(state.culprit, False, "not checked (confirmation off)", (), corrections)
            confirmed, reason, false_good = self._confirm(state.culprit)
            if false_good is None or corrections == MAX_CORRECTIONS:
                return result(state.culprit, confirmed, reason, (), corrections)
            log.info("parent %s reproduces the target: bisecting again below it", false_good[:12])
            bad = false_good
            marks[bad] = "bad"
        raise AssertionError("unreachable: the loop returns on its last pass")

    def _bisect_range(self, bad: str, marks: dict[str, str]) -> git.BisectState:
        """Run ``git bisect`` from ``bad`` down to the good marks below it, replaying skips."""
        goods = [
            commit
            for commit, mark in marks.items()
            if mark == "good" and not self._shows_target(commit) and git.is_ancestor(self.repo, commit, bad)
        ]
        skips = [c for c, mark in marks.items() if mark == "skip"]
        self.doing = "in git bisect"
        state = self._git_step(f"git bisect start {bad} {' '.join(goods)}", self.bisect.start(bad, goods, skips))
        while state.next is not None:
            self.step += 1
            verdict = self._test(state.next, self.options.policy, "bisect", steps_left=state.steps_left).verdict
            marks[state.next] = verdict.result
            command = f"git bisect {verdict.result} {state.next}"
            self.doing = "in git bisect"
            state = self._git_step(command, self.bisect.mark(verdict.result, state.next))
        return state

    def _check_bad_end(self, bad: str) -> None:
        self.phase = "bad end"
        build = self._build(bad)
        if isinstance(build, BuildError):
            raise InputError(f"the bad end {bad[:12]} does not build: {build}")
        runs = self.runs.setdefault(build.signature, [])
        self.measured.append(runs)
        naming = self.options.target is None and not self.options.policy.any_crash
        verdict = judge_bad_end(runs, self.target, self.strict)
        while not verdict.done or (naming and not _clear_lead(runs) and len(runs) < self.strict.max_runs):
            self._progress(bad, 0, len(runs))
            runs.extend(self._new_runs(build, self.strict.max_runs - len(runs)))
            if naming:
                self._name_target(runs)
            verdict = judge_bad_end(runs, self.target, self.strict)
        if naming and self.target.title:
            log.info("target crash (the bad end's most frequent): %s", self.target.title)
        notes = (self._several_titles_warning(runs),) if naming and len(crash_titles(runs)) > 1 else ()
        tested = Tested(
            bad, git.subject(self.repo, bad), verdict, build, runs=tuple(runs), phase="bad end", notes=notes
        )
        self._record(tested)
        if verdict.result != "bad":
            raise InputError(f"the bad end {bad[:12]} never reproduced the target: {verdict.reason}")

    def _name_target(self, runs: Sequence[Run]) -> None:
        chosen = most_frequent_crash(runs)
        if chosen is not None and chosen.title != self.target.title:
            self.target = Target(chosen.title, chosen.alt_titles, chosen.signature)

    def _several_titles_warning(self, runs: Sequence[Run]) -> str:
        titles = ", ".join(f"'{title}' ({plural(n, 'run')})" for title, n in crash_titles(runs).items())
        text = (
            f"the bad end crashed with several titles: {titles}; bisecting the most frequent, "
            f"'{self.target.title}': name the target with --title if it is another one"
        )
        log.warning("warning: %s", text)
        return f"warning: {text}"

    def _check_good_end(self, good: str) -> None:
        tested = self._test(good, self.strict, "good end")
        if tested.verdict.result == "bad":
            raise InputError(f"the good end {good[:12]} crashes with the target: {tested.verdict.reason}")
        if tested.verdict.result == "skip":
            detail = tested.build_error or tested.verdict.reason
            raise InputError(f"the good end {good[:12]} cannot be tested: {detail}")

    def _confirm(self, culprit: str) -> tuple[bool, str, str | None]:
        """Return (confirmed, reason, a parent that turned out bad)."""
        built = self._build(culprit)
        if not isinstance(built, Build):  # git only names commits it was told are bad
            raise InfraError(f"git named {culprit[:12]} as the culprit, but it never built")
        for parent in git.parents(self.repo, culprit):
            parent_build = self._build(parent)
            if isinstance(parent_build, Build) and parent_build.signature == built.signature:
                return False, f"culprit and parent {parent[:12]} have the same kernel signature", None
        rerun = self._test(culprit, self.strict, "confirm", fresh=True, measure=True)
        if rerun.verdict.result != "bad":
            return False, f"the culprit did not reproduce the target again ({rerun.verdict.reason})", None
        confidence = rerun.verdict.confidence
        for parent in git.parents(self.repo, culprit):
            verdict = self._test(parent, self.strict, "confirm", min_new=1).verdict
            if verdict.result == "bad":
                return False, f"parent {parent[:12]} reproduces the target", parent
            if verdict.result != "good":
                return False, f"parent {parent[:12]} cannot be judged: {verdict.reason}", None
            confidence *= verdict.confidence
        return True, f"the culprit reproduces again and its parents do not (confidence {confidence:.3f})", None

    def _test(
        self,
        commit: str,
        policy: Policy,
        phase: str,
        *,
        steps_left: int = 0,
        fresh: bool = False,
        measure: bool = False,
        min_new: int = 0,
    ) -> Tested:
        """Judge ``commit``, running it until its verdict is done.

        ``fresh`` ignores earlier runs of the same kernel signature, ``measure`` adds the
        runs to the repro-rate evidence, ``min_new`` forces that many new runs at least.
        """
        self.phase, self.steps_left = phase, steps_left
        subject = git.subject(self.repo, commit)
        build = self._build(commit)
        if isinstance(build, BuildError):
            verdict = Verdict("skip", True, 0.0, "build failed", Counts())
            return self._record(Tested(commit, subject, verdict, build_error=str(build), phase=phase))
        runs: list[Run] = [] if fresh else self.runs.setdefault(build.signature, [])
        if measure:
            self.measured.append(runs)
        before = len(runs)
        verdict = judge(runs, self.target, self._rate(), policy)
        while not verdict.done or len(runs) - before < min_new:
            self._progress(commit, steps_left, len(runs))
            runs.extend(self._new_runs(build, policy.max_runs - len(runs)))
            verdict = judge(runs, self.target, self._rate(), policy)
        if verdict.counts.infra and verdict.result == "skip":
            raise InfraError(f"{commit[:12]}: {verdict.reason}: {runs[-1].reason}")
        if fresh:
            self.runs.setdefault(build.signature, []).extend(runs)
        reused = len(runs) == before and before > 0
        return self._record(Tested(commit, subject, verdict, build, runs=tuple(runs), reused=reused, phase=phase))

    def _rate(self) -> Rate:
        """Repro-rate evidence from runs that were made whatever they showed: the bad end's
        and the culprit's rerun (runs of revisions found bad by bisecting are not used:
        a revision is found bad *because* it crashed early, which would inflate the rate)."""
        return Rate.from_counts(self._count(itertools.chain.from_iterable(self.measured)))

    def _shows_target(self, commit: str) -> bool:
        """True when some run of this commit's kernel signature crashed with the target."""
        build = self.builds.get(commit)
        if not isinstance(build, Build):
            return False
        return self._count(self.runs.get(build.signature, ())).target > 0

    def _count(self, runs: Iterable[Run]) -> Counts:
        return count(runs, self.target, any_crash=self.options.policy.any_crash)

    def _build(self, commit: str) -> Build | BuildError:
        if commit not in self.builds:
            self.doing = f"building {commit[:12]}"
            try:
                self.builds[commit] = self.runner.build(commit)
            except BuildError as exc:
                log.info("%s does not build: %s", commit[:12], str(exc).splitlines()[0])
                self.builds[commit] = exc
        return self.builds[commit]

    def _new_runs(self, build: Build, budget: int) -> list[Run]:
        count = max(1, min(self.options.jobs, budget))
        self.doing = f"running {build.commit[:12]}"
        runs = self.runner.run(build, count)
        if len(runs) != count:
            raise InfraError(f"the runner returned {len(runs)} runs instead of {count}")
        self.run_count += count
        self.test_time += sum(run.duration for run in runs)
        return runs

    def _record(self, tested: Tested) -> Tested:
        self.events.append(tested)
        verdict = tested.verdict
        log.info(
            "%s %s: %s (%s, confidence %.3f)%s",
            tested.phase,
            tested.commit[:12],
            verdict.result,
            verdict.reason,
            verdict.confidence,
            " [reused: same kernel signature]" if tested.reused else "",
        )
        return tested

    def _git_step(self, command: str, state: git.BisectState) -> git.BisectState:
        self.events.append(GitStep(command, state.output))
        return state

    def _progress(self, commit: str, steps_left: int, runs: int) -> None:
        elapsed = time.monotonic() - self.start
        if self.step and steps_left:
            per_step = elapsed / (self.step + 1)
            eta = f", ~{_duration(per_step * steps_left)} left"
        else:
            eta = ""
        about = f"step {self.step} of about {self.step + steps_left}" if self.step else "checking ends"
        log.info(
            "%s: %s, %s here, %d in all, elapsed %s%s",
            commit[:12],
            about,
            plural(runs, "run"),
            self.run_count,
            _duration(elapsed),
            eta,
        )

    def where(self) -> str:
        """``while running 0123456789ab (bisect, step 3 of about 6), after 14 runs in 1m05s``."""
        phase = self.phase or "setup"
        if phase == "bisect" and self.step:
            phase += f", step {self.step} of about {self.step + self.steps_left}"
        elapsed = _duration(time.monotonic() - self.start)
        return f"while {self.doing} ({phase}), after {plural(self.run_count, 'run')} in {elapsed}"

    def result_so_far(self, interrupted: str, good: str, bad: str) -> Result:
        """A Result without a culprit for a bisection that stopped early."""
        result = self._result(None, False, interrupted, (), 0, good=good, bad=bad)
        return attrs.evolve(result, interrupted=interrupted)

    def _result(
        self,
        culprit: str | None,
        confirmed: bool,
        reason: str,
        candidates: Sequence[str],
        corrections: int,
        *,
        good: str,
        bad: str,
    ) -> Result:
        build_time = sum(build.duration for build in self.builds.values() if isinstance(build, Build))
        return Result(
            culprit=culprit,
            confirmed=confirmed,
            reason=reason,
            target=self.target,
            rate=self._rate(),
            good=good,
            bad=bad,
            candidates=tuple(candidates),
            events=tuple(self.events),
            corrections=corrections,
            total_time=time.monotonic() - self.start,
            runs=self.run_count,
            build_time=build_time,
            test_time=self.test_time,
        )


def crash_titles(runs: Iterable[Run]) -> Counter[str]:
    """How often each crash title occurs among the runs, in the order first seen."""
    return Counter(run.title for run in runs if run.outcome == "crashed")


def most_frequent_crash(runs: Sequence[Run]) -> Run | None:
    """The first run with the most frequent crash title (ties: the title seen first)."""
    titles = crash_titles(runs)
    if not titles:
        return None
    title = max(titles, key=lambda t: titles[t])  # max keeps the first of equal counts
    return next(run for run in runs if run.outcome == "crashed" and run.title == title)


def _clear_lead(runs: Iterable[Run]) -> bool:
    """True when the most frequent crash title leads the next one by TITLE_LEAD crashes."""
    counts = sorted(crash_titles(runs).values(), reverse=True) + [0, 0]
    return counts[0] - counts[1] >= TITLE_LEAD


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
