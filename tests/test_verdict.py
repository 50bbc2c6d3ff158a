"""The pure verdict rules: which runs count, when to stop, syzbot's rule for comparison."""

from __future__ import annotations

import math

import pytest

from crashsig import bisectlog
from crashsig.bisect.verdict import (
    MEASURE_HITS,
    PRIOR_HITS,
    PRIOR_MISSES,
    Kind,
    Policy,
    Rate,
    Run,
    Target,
    classify,
    judge,
    judge_bad_end,
    plural,
    posterior_bad,
)

TARGET = Target("kernel BUG in trigger_write", alt_titles=("kernel BUG at mod.c:LINE!",), signature="sigA")
OK = Run("ok")
HIT = Run("crashed", "kernel BUG in trigger_write", signature="sigA")
OTHER = Run("crashed", "general protection fault in flaky_helper", signature="sigB")
NO_BOOT = Run("boot failed", reason="no init")
INFRA = Run("infra error", reason="qemu-system-x86_64 not found")
SURE = Rate(hits=10, misses=0)
"""A bug that reproduced on every one of 10 runs at the bad end."""


def test_target_crash_makes_the_revision_bad_at_once() -> None:
    verdict = judge([OK, HIT], TARGET, SURE, Policy())
    assert (verdict.result, verdict.done) == ("bad", True)
    assert verdict.confidence >= 0.99
    assert verdict.counts.target == 1 and verdict.counts.clean == 1


@pytest.mark.parametrize(
    "run",
    [
        Run("crashed", "kernel BUG at mod.c:LINE!"),  # an alt title of the target
        Run("crashed", "kernel BUG in trigger_write.cold", signature="sigA"),  # same crash signature
        Run("crashed", "some title", alt_titles=("kernel BUG in trigger_write",)),  # its alt title
    ],
)
def test_same_bug_is_recognized_by_alt_title_or_signature(run: Run) -> None:
    assert classify(run, TARGET) is Kind.TARGET


def test_different_crash_is_unrelated_and_not_evidence_for_good() -> None:
    runs = [OTHER] * 5
    verdict = judge(runs, TARGET, SURE, Policy())
    assert verdict.result != "bad"
    assert not verdict.done  # five unrelated crashes say nothing: keep running
    assert verdict.counts.unrelated == 5 and verdict.counts.clean == 0


def test_unrelated_crashes_are_listed_in_the_good_reason() -> None:
    verdict = judge([OTHER, OK, OK, OK], TARGET, SURE, Policy())
    assert (verdict.result, verdict.done) == ("good", True)
    assert "; 1 unrelated crash ignored" in verdict.reason


def test_reasons_count_in_singular_and_plural() -> None:
    assert judge([OTHER, OK], TARGET, SURE, Policy()).reason.startswith("1 clean run: ")
    assert judge([HIT], TARGET, SURE, Policy()).reason == "1 target crash in 1 run"
    assert judge([HIT, OK, HIT], TARGET, SURE, Policy()).reason == "2 target crashes in 3 runs"
    assert "2 unrelated crashes ignored" in judge([OTHER, OTHER, OK], TARGET, SURE, Policy()).reason
    assert judge([OK], TARGET, Rate(1, 9), Policy()).reason == "1 clean run is not enough yet"
    assert [plural(n, "crash") for n in (0, 1, 2)] == ["0 crashes", "1 crash", "2 crashes"]


def test_any_crash_policy_is_syzbots_rule() -> None:
    verdict = judge([OK, OTHER], TARGET, SURE, Policy(any_crash=True))
    assert verdict.result == "bad"


def test_reliable_bug_needs_few_clean_runs() -> None:
    policy = Policy(false_good=0.05)
    assert not judge([], TARGET, SURE, policy).done
    verdict = judge([OK], TARGET, SURE, policy)  # 10 of 10 at the bad end: one clean run is telling
    assert (verdict.result, verdict.done) == ("good", True)
    assert verdict.confidence >= 0.95
    assert not judge([OK], TARGET, Rate(5, 5), policy).done


def test_flaky_bug_needs_more_clean_runs_than_a_reliable_one() -> None:
    def runs_needed(rate: Rate) -> int:
        runs: list[Run] = []
        while not judge(runs, TARGET, rate, Policy(max_runs=1000)).done:
            runs.append(OK)
        return len(runs)

    reliable, half, rare = (runs_needed(Rate(9, 1)), runs_needed(Rate(5, 5)), runs_needed(Rate(2, 18)))
    assert reliable < half < rare
    # Rate ~0.1: P(bad) <= 5 % needs about ln(0.05)/ln(0.9) = 28 clean runs, give or take
    # the uncertainty of a 20-run sample.
    assert 20 <= rare <= 80


def test_max_runs_stops_with_a_weak_good() -> None:
    verdict = judge([OK] * 5, TARGET, Rate(1, 19), Policy(max_runs=5))
    assert (verdict.result, verdict.done) == ("good", True)
    assert verdict.confidence < 0.95
    assert "max runs reached" in verdict.reason


def test_revision_that_mostly_fails_to_boot_is_skipped() -> None:
    verdict = judge([NO_BOOT, OK, NO_BOOT, NO_BOOT], TARGET, Rate(1, 9), Policy())
    assert (verdict.result, verdict.done) == ("skip", True)
    # One failure among clean runs is not enough to skip.
    assert judge([NO_BOOT, OK], TARGET, Rate(1, 9), Policy()).result != "skip"


def test_infra_errors_skip_and_say_so() -> None:
    verdict = judge([INFRA, INFRA, OK], TARGET, SURE, Policy())
    assert verdict.result == "skip" and "infra" in verdict.reason


def test_fixed_runs_waits_for_all_ten() -> None:
    policy = Policy.syzbot()
    assert not judge([OK] * 9, TARGET, SURE, policy).done
    assert judge([OK] * 9 + [OTHER], TARGET, SURE, policy).result == "bad"
    assert judge([OK] * 10, TARGET, SURE, policy).result == "good"
    assert judge([OK] * 4 + [NO_BOOT] * 6, TARGET, SURE, policy).result == "skip"


def test_bad_end_runs_until_enough_hits_to_measure_the_rate() -> None:
    runs = [HIT, OK, HIT]
    assert not judge_bad_end(runs, TARGET, Policy()).done
    runs += [HIT] * (MEASURE_HITS - 2)
    verdict = judge_bad_end(runs, TARGET, Policy())
    assert (verdict.result, verdict.done) == ("bad", True)
    assert Rate.from_counts(verdict.counts) == Rate(hits=MEASURE_HITS, misses=1)


def test_bad_end_that_never_reproduces_is_reported_as_such() -> None:
    verdict = judge_bad_end([OK, OTHER] * 10, TARGET, Policy(max_runs=20))
    assert (verdict.result, verdict.done) == ("good", True)


def test_miss_probability_is_the_beta_binomial_closed_form() -> None:
    rate = Rate(hits=3, misses=7)
    a, b = 3 + PRIOR_HITS, 7 + PRIOR_MISSES  # the Beta prior plus the counts

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    for clean in (0, 1, 5, 30):
        expected = math.exp(log_beta(a, b + clean) - log_beta(a, b))
        assert rate.miss_probability(clean) == pytest.approx(expected, rel=1e-12)
    assert posterior_bad(rate, 0) == pytest.approx(0.5)


def test_rate_from_a_known_probability() -> None:
    assert Rate.from_probability(0.3) == Rate(3, 7)
    assert Rate.from_probability(1.5, weight=4) == Rate(4, 0)


def _runs(revision: bisectlog.Revision) -> list[Run]:
    """A seed-log revision's runs as verdict runs (``all runs:`` stands for syzbot's 10)."""
    runs = [Run("crashed", run.detail) if run.crashed else Run("ok") for run in revision.runs]
    return runs * 10 if revision.all_runs else runs


def test_seed_log_revisions_judged_again_are_not_derailed(seed_log: bytes) -> None:
    """The seed's revisions that syzbot called bad on a flaky GPF are not bad for crashsig."""
    log = bisectlog.read(seed_log)
    first = log.revisions[0]
    target = Target(first.crash_titles[0])
    rate = Rate.from_counts(judge_bad_end(_runs(first), target, Policy()).counts)
    derailed = []
    for revision in log.revisions[1:]:
        ours = judge(_runs(revision), target, rate, Policy())
        theirs = judge(_runs(revision), target, rate, Policy.syzbot())
        assert theirs.result == revision.verdict, revision.commit  # syzbot's rule, reproduced
        if revision.crash_titles and target.title not in revision.crash_titles:
            assert (revision.verdict, ours.result) == ("bad", "good")
            assert ours.counts.unrelated >= 1
            derailed.append(revision.commit[:8])
        else:
            assert ours.result == revision.verdict, revision.commit
    # The four revisions that only showed the GPF in start_creating, culprit 63d04348 included.
    assert derailed == ["6e085cbf", "87915858", "7b7bd87d", "63d04348"]
