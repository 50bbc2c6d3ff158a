"""The bisection-log reader, its diagnostics and its writer, on syzbot's real KVM log.

That log blamed an innocent commit: midway, revisions crashed on 1 or 2 runs in 10 with
a different crash (a GPF in start_creating, not the original kernel BUG), and every such
crash counted as bad.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from crashsig import bisectlog
from crashsig.bisectlog import BAD, GOOD, SKIP, BisectLog, Revision, Run
from crashsig.cli import main

DRIFT_START = "6e085cbfb0f0c7de4ca0f370adb572b0e07a818c"
CULPRIT = "63d04348371b7ea4a134bcf47c79763d969e9168"
ORIGINAL = "kernel BUG at arch/x86/kvm/mmu/mmu.c:LINE!"
GPF = "general protection fault in start_creating"


@pytest.fixture(scope="module")
def seed(seed_log: bytes) -> BisectLog:
    return bisectlog.read(seed_log)


def _kinds(log: BisectLog, kind: str) -> list[str]:
    return [d.commit for d in log.diagnostics if d.kind == kind]


def test_timeline(seed: BisectLog) -> None:
    assert (seed.kind, seed.start_commit) == ("cause", "c11d28ab4a691736e30b49813fb801847bd44e83")
    assert seed.syzkaller_commit == "9682898d6f14dd27f95c419d059fd867bb91b22b"
    assert len(seed.revisions) == seed.revisions_tested == 16
    start, release = seed.revisions[:2]
    assert (start.verdict, start.verdict_inferred, start.crash_titles) == (BAD, True, (ORIGINAL,))
    assert (release.release, release.verdict, release.all_runs, release.runs) == ("v5.6", GOOD, True, (Run("OK"),))
    assert seed.bisect_start == (start.commit, release.commit)
    assert all(rev.compiler == "gcc (GCC) 8.1.0" and len(rev.kernel_signature) == 64 for rev in seed.revisions)
    drift = seed.revisions[9]
    assert (drift.commit, drift.left, drift.steps) == (DRIFT_START, 92, 7)
    assert drift.subject == "KVM: SVM: immediately inject INTR vmexit"
    assert (drift.crash_count, drift.run_count, drift.verdict) == (1, 10, BAD)
    assert drift.runs[0] == Run("crashed", GPF) and drift.runs[1:] == (Run("OK"),) * 9
    assert [rev.verdict for rev in seed.revisions[2:]] == [
        GOOD, GOOD, GOOD, BAD, GOOD, BAD, BAD, BAD, GOOD, BAD, BAD, GOOD, BAD, GOOD,
    ]  # fmt: skip


def test_result(seed: BisectLog) -> None:
    assert (seed.culprit, seed.culprit_subject) == (
        CULPRIT,
        "KVM: x86: move kvm_create_vcpu_debugfs after last failure point",
    )
    assert seed.culprit_details.startswith(f"commit {CULPRIT}\nAuthor: Paolo Bonzini")
    assert seed.culprit_signature == seed.revisions[-2].kernel_signature
    assert seed.parent_signature == seed.revisions[-1].kernel_signature != seed.culprit_signature
    assert (seed.total_time, seed.build_time, seed.test_time) == (
        "3h50m14.362477126s", "1h34m56.430418385s", "2h14m7.913416088s",
    )  # fmt: skip
    assert seed.cc == (
        "eesposit@redhat.com",
        "kvm@vger.kernel.org",
        "linux-kernel@vger.kernel.org",
        "pbonzini@redhat.com",
    )
    assert seed.crash_title == GPF and seed.crash_text.startswith("general protection fault, probably for")
    assert seed.warnings == ()


def test_final_report_is_parsed(seed: BisectLog) -> None:
    assert seed.report is not None
    assert seed.report.title == GPF
    assert "start_creating" in [frame.function for frame in seed.report.frames]


def test_diagnostics(seed: BisectLog) -> None:
    drifts = [d for d in seed.diagnostics if d.kind == "title-drift"]
    assert drifts[0].commit == DRIFT_START and drifts[0].titles == (GPF,)
    assert GPF in drifts[0].message and ORIGINAL in drifts[0].message
    assert [d.commit[:7] for d in drifts] == ["6e085cb", "8791585", "7b7bd87", "63d0434"]
    flaky = {d.commit[:7]: d.message for d in seed.diagnostics if d.kind == "flaky-verdict"}
    assert flaky == {
        "6e085cb": "judged bad on 1/10 crashed runs",
        "8791585": "judged bad on 2/10 crashed runs",
        "7b7bd87": "judged bad on 1/10 crashed runs",
        "63d0434": "judged bad on 2/10 crashed runs",
    }
    assert _kinds(seed, "final-title") == [CULPRIT]
    assert _kinds(seed, "noop-culprit") == [] and _kinds(seed, "contradiction") == []
    assert seed.conclusion.startswith(f"suspect: title-drift at {DRIFT_START[:12]}")


def test_writer_round_trips_the_seed(seed_log: bytes, seed: BisectLog) -> None:
    assert bisectlog.write(seed) == seed_log.decode()


def test_noop_culprit_and_contradictions(seed: BisectLog) -> None:
    noop = bisectlog.check(attrs.evolve(seed, parent_signature=seed.culprit_signature))
    assert _kinds(noop, "noop-culprit") == [CULPRIT]
    # The parent kernel (1c164cb, good) rebuilt identically but judged bad elsewhere.
    twin = attrs.evolve(seed.revisions[4], kernel_signature=seed.parent_signature, verdict=BAD)
    changed = bisectlog.check(attrs.evolve(seed, revisions=(*seed.revisions[:4], twin, *seed.revisions[5:])))
    assert set(_kinds(changed, "contradiction")) == {twin.commit, seed.revisions[-1].commit}


def _clean_log() -> BisectLog:
    """A bisection a harness could write: one title throughout, firm verdicts."""
    crash = Run("crashed", "KASAN: use-after-free Read in foo")
    revs = (
        Revision("a" * 40, compiler="gcc 12", kernel_signature="1" * 64, runs=(crash,), all_runs=True,
                 verdict=BAD, verdict_inferred=True),
        Revision("b" * 40, release="v6.1", kernel_signature="2" * 64, runs=(Run("OK"),), all_runs=True,
                 verdict=GOOD, verdict_inferred=True),
        Revision("c" * 40, left=3, steps=2, subject="mm: one", notes=("kernel build error: foo.c:1: error: x",), verdict=SKIP),
        Revision(
            "d" * 40, left=1, steps=1, subject="mm: two", kernel_signature="3" * 64,
            runs=(crash, crash, crash, Run("boot failed", "KASAN: oops"), crash), verdict=BAD,
        ),
        Revision("e" * 40, left=0, steps=0, subject="mm: three", kernel_signature="4" * 64,
                 runs=(Run("OK"),), all_runs=True, verdict=GOOD),
    )  # fmt: skip
    return BisectLog(
        kind="cause", start_commit="a" * 40, syzkaller_commit="f" * 40, revisions=revs,
        bisect_start=("a" * 40, "b" * 40), culprit="d" * 40, culprit_subject="mm: two",
        culprit_signature="3" * 64, parent_signature="4" * 64, revisions_tested=5,
        total_time="1h2m3s", build_time="1h", test_time="2m3s", cc=("mm@example.org",),
        crash_title=crash.detail, crash_text="",
    )  # fmt: skip


def test_write_then_read_gives_the_records_back() -> None:
    log = _clean_log()
    text = bisectlog.write(log)
    back = bisectlog.read(text)
    assert attrs.evolve(back, diagnostics=(), conclusion="") == log
    assert back.diagnostics == () and back.conclusion == "trustworthy"
    assert bisectlog.write(back) == text


def test_collapse_runs() -> None:
    assert bisectlog.collapse_runs([Run("OK")] * 10) == ((Run("OK"),), True)
    mixed = (Run("OK"), Run("crashed", "x"))
    assert bisectlog.collapse_runs(mixed) == (mixed, False)


@pytest.mark.parametrize("cut", [400, 1500, 3047, 5200, 7000, 9100])
def test_truncated_logs_give_partial_results(seed_log: bytes, cut: int) -> None:
    log = bisectlog.read(seed_log[:cut])
    assert log.kind == "cause" and log.revisions
    assert log.warnings and any("truncated" in warning for warning in log.warnings)
    assert all(rev.verdict or rev is log.revisions[-1] for rev in log.revisions)


@pytest.mark.parametrize(
    "text",
    [b"", b"hello\nworld\n", b"\xff\xfe binary \x00 junk", b"[   12.3] BUG: KASAN: use-after-free in foo+0x1/0x2\n"],
)
def test_foreign_input_gives_warnings(text: bytes) -> None:
    log = bisectlog.read(text)
    assert (log.kind, log.revisions, log.diagnostics) == ("", (), ())
    assert any("not a syzbot bisection log" in warning for warning in log.warnings)


def test_cli(tmp_path, capsys: pytest.CaptureFixture[str], seed_log: bytes) -> None:
    seed_file = tmp_path / "seed.log"
    seed_file.write_bytes(seed_log)
    assert main(["bisect-log", str(seed_file)]) == 1
    out = capsys.readouterr().out
    assert f"original crash: {ORIGINAL}" in out
    assert f"  {DRIFT_START[:12]}  bad    1/10 crashed: {GPF}, 9/10 OK" in out
    assert out.splitlines()[-1].startswith("conclusion: suspect: title-drift at 6e085cbfb0f0")
    assert main(["bisect-log", str(seed_file), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["culprit"] == CULPRIT and data["revisions"][9]["runs"][0] == {"outcome": "crashed", "detail": GPF}
    clean = tmp_path / "clean.log"
    clean.write_text(bisectlog.write(_clean_log()))
    assert main(["bisect-log", str(clean)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "conclusion: trustworthy"
    foreign = tmp_path / "foreign.log"
    foreign.write_text("hello\n")
    assert main(["bisect-log", str(foreign)]) == 2
    assert main(["bisect-log", str(tmp_path / "missing.log")]) == 2
    assert "crashsig: error:" in capsys.readouterr().err


def test_interrupted_log_is_incomplete_not_trustworthy(tmp_path: Path) -> None:
    text = (
        "bisecting cause commit starting from c11d28ab4a691736e30b49813fb801847bd44e83\n"
        "testing commit c11d28ab4a691736e30b49813fb801847bd44e83 with gcc (GCC) 8.1.0\n"
        "all runs: crashed: kernel BUG at arch/x86/kvm/mmu/mmu.c:LINE!\n"
        "error: interrupted by SIGTERM while building 824e6198325d (bisect, step 2 of about 4)\n"
    )
    log = bisectlog.read(text)
    assert log.conclusion.startswith("incomplete: interrupted by SIGTERM")
    path = tmp_path / "bisect.log"
    path.write_text(text)
    assert main(["bisect-log", str(path)]) == 1
