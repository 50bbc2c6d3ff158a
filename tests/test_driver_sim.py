"""The bisection driver on real git repositories, with the VMs replaced by the simulator
(or by a scripted runner where a test needs exact run outcomes)."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashsig import bisectlog, cli
from crashsig.bisect import driver, record, sim
from crashsig.bisect.build import Build
from crashsig.bisect.verdict import Policy, Run, Target
from crashsig.errors import BuildError, InputError

TARGET = Target(sim.TARGET_TITLE, signature="target")
HIT = Run("crashed", sim.TARGET_TITLE, signature="target", report="kernel BUG at sim.c:1!\n", duration=1.0)
FLAKY = Run("crashed", sim.FLAKY_TITLE, signature="flaky", duration=1.0)
OK = Run("ok", duration=1.0)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo16(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "repo"
    return repo, sim.make_repo(repo, 16)


def _bisect(repo: Path, commits: list[str], runner: driver.Runner, **options: object) -> driver.Result:
    return driver.bisect(repo, runner, driver.Options(commits[0], commits[-1], TARGET, **options))  # type: ignore[arg-type]


def test_finds_the_culprit_and_leaves_the_checkout_alone(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    _git(repo, "checkout", "--quiet", commits[3])
    before = (_git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain"), _git(repo, "worktree", "list"))
    scenario = sim.Scenario(seed=1, length=16, culprit=11, repro=0.8)
    result = _bisect(repo, commits, sim.SimRunner(scenario, commits))
    assert result.culprit == commits[11]
    assert result.confirmed, result.reason
    after = (_git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain"), _git(repo, "worktree", "list"))
    assert after == before
    assert _git(repo, "for-each-ref", "refs/bisect") == ""


def test_flaky_unrelated_crash_derails_syzbots_rule_but_not_crashsig(repo16: tuple[Path, list[str]]) -> None:
    """The seed's story: a different crash appears before the culprit, on half the runs."""
    repo, commits = repo16
    scenario = sim.Scenario(seed=7, length=16, culprit=12, repro=0.9, flaky_at=4, flaky_rate=0.5)
    ours = _bisect(repo, commits, sim.SimRunner(scenario, commits))
    assert ours.culprit == commits[12] and ours.confirmed
    assert any(event.verdict.counts.unrelated for event in ours.tested if event.verdict.result == "good")
    syzbot = _bisect(repo, commits, sim.SimRunner(scenario, commits), policy=Policy.syzbot(), confirm=False)
    assert syzbot.culprit == commits[4]  # blames the commit that added the flaky crash
    any_crash = _bisect(repo, commits, sim.SimRunner(scenario, commits), policy=Policy(any_crash=True))
    assert any_crash.culprit == commits[4]


def test_equal_kernel_signatures_reuse_verdicts(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commits = sim.make_repo(repo, 32)
    inert = frozenset(range(1, 32)) - {20}  # only the culprit changes the binary
    scenario = sim.Scenario(seed=3, length=32, culprit=20, repro=1.0, inert=inert)
    runner = sim.SimRunner(scenario, commits)
    result = _bisect(repo, commits, runner)
    assert result.culprit == commits[20] and result.confirmed
    reused = [event for event in result.tested if event.reused]
    assert reused, "revisions with an already judged signature must not run again"
    assert runner.runs == result.runs
    assert runner.runs < 3 * len(result.tested)


def test_unbuildable_revisions_are_skipped(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    scenario = sim.Scenario(seed=5, length=16, culprit=9, repro=1.0, unbuildable=frozenset({4, 5, 6, 11, 12, 13}))
    result = _bisect(repo, commits, sim.SimRunner(scenario, commits))
    assert result.culprit == commits[9] and result.confirmed
    skipped = [event for event in result.tested if event.verdict.result == "skip"]
    assert skipped and all("simulated build failure" in event.build_error for event in skipped)


def test_culprit_hidden_by_unbuildable_parent_is_not_confirmed(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    scenario = sim.Scenario(seed=5, length=16, culprit=9, repro=1.0, unbuildable=frozenset({8}))
    result = _bisect(repo, commits, sim.SimRunner(scenario, commits))
    assert result.culprit is None and not result.confirmed
    assert set(result.candidates) == {commits[8], commits[9]}


class ScriptedRunner:
    """Exact outcomes per commit index, in order; OK once a script runs out."""

    def __init__(self, commits: list[str], scripts: dict[int, list[Run]], bug_from: int) -> None:
        self.index = {commit: i for i, commit in enumerate(commits)}
        self.scripts: dict[int, Iterator[Run]] = {i: iter(runs) for i, runs in scripts.items()}
        self.bug_from = bug_from
        self.batches: list[int] = []

    def build(self, commit: str) -> Build:
        return Build(commit, f"sig{self.index[commit]}", sim.COMPILER)

    def run(self, build: Build, count: int) -> list[Run]:
        self.batches.append(count)
        i = self.index[build.commit]
        default = HIT if i >= self.bug_from else OK
        return [next(self.scripts.get(i, iter(())), default) for _ in range(count)]


def test_false_good_below_the_culprit_is_caught_and_corrected(repo16: tuple[Path, list[str]]) -> None:
    """Commit 5 has the bug but stays clean for its first two runs: bisection calls it good
    after them, and only the stricter check of the culprit's parent finds it out."""
    repo, commits = repo16
    runner = ScriptedRunner(commits, {5: [OK, OK]}, bug_from=5)
    result = _bisect(repo, commits, runner)
    assert result.culprit == commits[5] and result.confirmed
    assert result.corrections == 1
    verdicts = [(event.commit, event.phase, event.verdict.result) for event in result.tested]
    assert (commits[5], "bisect", "good") in verdicts
    assert (commits[5], "confirm", "bad") in verdicts


def test_culprit_that_does_not_reproduce_again_is_not_confirmed(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    # Commit 9 crashes once with the target, then never again; 10 and later always crash.
    runner = ScriptedRunner(commits, {9: [HIT] + [OK] * 100}, bug_from=10)
    scripts = {i: iter([OK] * 100) for i in range(9)}
    runner.scripts.update(scripts)
    result = _bisect(repo, commits, runner)
    assert result.culprit == commits[9]
    assert not result.confirmed and "did not reproduce" in result.reason


def test_bad_end_must_reproduce_and_good_end_must_not(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    never = sim.SimRunner(sim.Scenario(seed=1, length=16, culprit=8, repro=0.0), commits)
    with pytest.raises(InputError, match="bad end .* never reproduced"):
        _bisect(repo, commits, never, policy=Policy(max_runs=5))
    always = ScriptedRunner(commits, {}, bug_from=0)
    with pytest.raises(InputError, match="good end .* crashes with the target"):
        _bisect(repo, commits, always)
    with pytest.raises(InputError, match="must be an ancestor"):
        driver.bisect(repo, always, driver.Options(commits[5], commits[2], TARGET))


def test_bad_end_that_does_not_build_is_a_setup_error(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16

    class Broken(ScriptedRunner):
        def build(self, commit: str) -> Build:
            raise BuildError("mod.c:1: error: expected ';'")

    with pytest.raises(InputError, match="does not build"):
        _bisect(repo, commits, Broken(commits, {}, bug_from=8))


def test_target_defaults_to_the_bad_ends_most_frequent_crash(
    repo16: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """The flaky crash comes first at the bad end, the bug more often: the bug is the target."""
    repo, commits = repo16
    caplog.set_level(logging.INFO, logger="crashsig.bisect.driver")
    runner = ScriptedRunner(commits, {16: [FLAKY, OK, HIT, FLAKY, HIT, HIT]}, bug_from=6)
    result = driver.bisect(repo, runner, driver.Options(commits[0], commits[-1]))
    assert result.target.title == sim.TARGET_TITLE
    assert result.culprit == commits[6] and result.confirmed
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"'{sim.FLAKY_TITLE}' (2 runs)" in warnings[0]
    assert f"'{sim.TARGET_TITLE}' (7 runs)" in warnings[0]  # it ran on until the bug led by 5
    assert "--title" in warnings[0]
    bad_end = bisectlog.read(bisectlog.write(record.to_bisectlog(result, repo))).revisions[0]
    assert any("several titles" in note for note in bad_end.notes)


def test_one_crash_title_at_the_bad_end_gives_no_warning(
    repo16: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    repo, commits = repo16
    result = driver.bisect(repo, ScriptedRunner(commits, {}, bug_from=6), driver.Options(commits[0], commits[-1]))
    assert result.target.title == sim.TARGET_TITLE
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_most_frequent_crash_takes_the_first_seen_on_a_tie() -> None:
    assert driver.most_frequent_crash([OK, FLAKY, HIT]) == FLAKY
    assert driver.most_frequent_crash([HIT, FLAKY, FLAKY, HIT]) == HIT
    assert driver.most_frequent_crash([FLAKY, HIT, HIT]) == HIT
    assert driver.most_frequent_crash([OK, OK]) is None


def test_simulated_flaky_bad_end_does_not_steal_the_target(tmp_path: Path) -> None:
    """A flaky crash on a third of the bad end's runs (as in the e2e history): the first crash
    is the flaky one for some seeds, the most frequent one is the bug for every seed."""
    repo = tmp_path / "repo"
    commits = sim.make_repo(repo, 16)
    first_crash_was_flaky = 0
    for seed in range(12):
        scenario = sim.Scenario(seed=seed, length=16, culprit=12, repro=0.9, flaky_at=4, flaky_rate=0.33)
        result = driver.bisect(repo, sim.SimRunner(scenario, commits), driver.Options(commits[0], commits[-1]))
        assert result.target.title == sim.TARGET_TITLE, seed
        assert result.culprit == commits[12], seed
        bad_end = result.tested[0]
        first = next(run for run in bad_end.runs if run.outcome == "crashed")
        first_crash_was_flaky += first.title == sim.FLAKY_TITLE
    assert first_crash_was_flaky >= 2  # the old rule (first crash) would have chased the flaky crash


def test_jobs_request_runs_in_parallel_batches(repo16: tuple[Path, list[str]]) -> None:
    repo, commits = repo16
    runner = ScriptedRunner(commits, {}, bug_from=10)
    result = _bisect(repo, commits, runner, jobs=3)
    assert result.culprit == commits[10]
    assert set(runner.batches) == {3}
    assert result.runs == sum(runner.batches)


def test_progress_goes_to_the_log(repo16: tuple[Path, list[str]], caplog: pytest.LogCaptureFixture) -> None:
    repo, commits = repo16
    caplog.set_level(logging.INFO, logger="crashsig.bisect.driver")
    _bisect(repo, commits, ScriptedRunner(commits, {}, bug_from=10))
    messages = [record.getMessage() for record in caplog.records]
    assert any("step 1 of about" in message and "elapsed" in message for message in messages)
    assert any(message.startswith("good end ") for message in messages)


def test_log_and_json_round_trip(repo16: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, commits = repo16
    scenario = sim.Scenario(seed=7, length=16, culprit=12, repro=0.9, flaky_at=4, flaky_rate=0.5)
    result = _bisect(repo, commits, sim.SimRunner(scenario, commits))
    text = bisectlog.write(record.to_bisectlog(result, repo))
    log = bisectlog.read(text)
    assert log.culprit == commits[12]
    assert log.start_commit == commits[-1]
    assert log.bisect_start == (commits[-1], commits[0])
    bisect_steps = [event for event in result.tested if event.phase in ("bisect", "confirm")]
    steps = [rev for rev in log.revisions if not rev.verdict_inferred]
    assert [(rev.commit, rev.verdict) for rev in steps] == [(e.commit, e.verdict.result) for e in bisect_steps]
    assert log.culprit_signature and log.culprit_signature != log.parent_signature
    assert log.crash_title == sim.TARGET_TITLE
    assert not log.warnings
    # The flaky GPF never made a revision bad, so the reader sees no title drift.
    assert not [d for d in log.diagnostics if d.kind == "title-drift"]
    data = json.loads(json.dumps(record.to_json(result)))
    assert data["culprit"] == commits[12] and data["confirmed"] is True
    assert {entry["phase"] for entry in data["tested"]} == {"bad end", "good end", "bisect", "confirm"}


def test_go_duration_format() -> None:
    assert record.go_duration(13814.362) == "3h50m14.362s"
    assert record.go_duration(65) == "1m5s"
    assert record.go_duration(0.5) == "0.5s"


def test_setup_errors_come_before_any_build(
    repo16: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, commits = repo16
    repro = tmp_path / "repro.sh"
    repro.write_text("#!/bin/sh\n")
    common = ["--repo", str(repo), "--module-dir", ".", "--kernel", str(repro), "--headers", str(tmp_path)]
    common += ["--workdir", str(tmp_path / "work"), "--good", commits[0], "--bad", commits[-1]]
    assert cli.main(["bisect", *common, "--repro", str(tmp_path / "missing.sh")]) == 2
    assert "missing.sh: reproducer is not a readable file" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main(["bisect", *common, "--repro", str(repro)]) == 2
    assert "QEMU not found" in capsys.readouterr().err
    assert not (tmp_path / "work" / "builds").exists()


def test_bisect_run_errors_stop_git_bisect_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """git bisect run reads 1..127 (but 125) as bad, so errors must exit 128 instead."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["bisect-run", "--module-dir", "."])
    assert exc.value.code == 128
    repro = tmp_path / "repro.sh"
    repro.write_text("#!/bin/sh\n")
    with pytest.raises(SystemExit) as exc:
        cli.main(["bisect-run", "--module-dir", ".", "--repro", str(repro), "--repo", str(tmp_path)])
    assert exc.value.code == 128
    assert "needs --title" in capsys.readouterr().err
