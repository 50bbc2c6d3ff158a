"""Crash signatures: equal for the same bug, different for near misses.

Built-in part: the seed bisection log's final crash (tests/corpus/seed), rewritten the
ways reruns and rebuilds change a report. Corpus part: syzkaller's report corpus read in
place, grouped by the TITLE that syzkaller expects.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from conftest import SYZKALLER_CORPUS

from crashsig import parse, same_crash
from crashsig.corpus import load_report_case
from crashsig.signature import crash_signature, normalize_title, signature_input, strip_compiler_suffix
from crashsig.types import Frame, Report

GPF = "general protection fault in start_creating"


@pytest.fixture(scope="module")
def gpf_text(seed_log: bytes) -> str:
    """The symbolized GPF report that ends the seed log."""
    text = seed_log.decode()
    return text[text.index("general protection fault, probably") :]


def _report(text: str) -> Report:
    reports = parse(text.encode())
    assert reports, text[:200]
    return reports[0]


def _kaslr(text: str) -> str:
    """Move every kernel address by a KASLR-like offset."""
    return re.sub(r"ffffffff[0-9a-f]{8}", lambda m: f"{int(m[0], 16) + 0x1A00000:016x}", text)


def _rebuilt(text: str) -> str:
    """Change every func+0xOFF/0xSIZE, as a rebuild that moves code does."""
    return re.sub(
        r"\+0x([0-9a-f]+)/0x([0-9a-f]+)", lambda m: f"+0x{int(m[1], 16) + 8:x}/0x{int(m[2], 16) + 24:x}", text
    )


def _raw(text: str) -> str:
    """Undo symbolization: drop [inline] frames and file:line."""
    lines = [line for line in text.splitlines() if not line.endswith("[inline]")]
    return "\n".join(re.sub(r"(\+0x[0-9a-f]+/0x[0-9a-f]+) \S+:[0-9]+$", r"\1", line) for line in lines) + "\n"


def _isra(text: str) -> str:
    return text.replace("start_creating+0x7f", "start_creating.isra.0+0x7f")


def test_invariances(gpf_text: str) -> None:
    base = _report(gpf_text)
    assert base.title == GPF
    assert signature_input(base).functions == ("start_creating",)
    for variant in (_kaslr, _rebuilt, _raw, _isra, lambda t: _raw(_rebuilt(_kaslr(t)))):
        report = _report(variant(gpf_text))
        assert report.signature == base.signature == crash_signature(base), variant
        assert same_crash(report, base)


def test_other_bug_differs(gpf_text: str) -> None:
    base = _report(gpf_text)
    other = _report(gpf_text.replace("start_creating", "debugfs_create_dir"))
    assert other.title == "general protection fault in debugfs_create_dir"
    assert other.signature != base.signature and not same_crash(other, base)


def test_functionless_titles_use_stack_frames() -> None:
    title = "kernel BUG at arch/x86/kvm/mmu/mmu.c:LINE!"
    raw = Report(
        title=title,
        type="BUG",
        frames=(Frame("kvm_mmu_page_fault.isra.0", 0x1F), Frame("handle_ept_violation"), Frame("vmx_handle_exit")),
    )
    symbolized = Report(
        title=title,
        type="BUG",
        frames=(
            Frame("kvm_mmu_do_page_fault", inline=True),
            Frame("kvm_mmu_page_fault", 0x2B, file="arch/x86/kvm/mmu/mmu.c", line=5571),
            Frame("guessed_frame", reliable=False),
            Frame("handle_ept_violation"),
            Frame("vmx_handle_exit"),
            Frame("vcpu_run"),
        ),
    )
    assert signature_input(raw).functions == ("kvm_mmu_page_fault", "handle_ept_violation", "vmx_handle_exit")
    assert symbolized.signature == raw.signature
    other = Report(title=title, type="BUG", frames=(Frame("kvm_mmu_unprotect_page"), *raw.frames[1:]))
    assert other.signature != raw.signature and same_crash(other, raw)


def test_normalization_helpers() -> None:
    assert strip_compiler_suffix("foo.constprop.0.isra.0") == "foo"
    assert strip_compiler_suffix("foo.cold") == "foo" and strip_compiler_suffix("foo.llvm.8841") == "foo"
    assert normalize_title("WARNING in foo.part.0") == "WARNING in foo"
    assert normalize_title("BUG at mm/slub.c:123 in bar+0x1f/0x80") == "BUG at mm/slub.c:LINE in bar"
    assert normalize_title(GPF) == GPF


def _corpus_reports() -> dict[str, list[tuple[str, Report]]]:
    """Non-corrupted corpus reports keyed by the TITLE syzkaller expects.

    Files the parser titles differently are left out (test_syzkaller_corpus.py tracks
    those); the tests below require enough groups and pairs to stay meaningful.
    """
    groups: dict[str, list[tuple[str, Report]]] = defaultdict(list)
    for path in sorted((SYZKALLER_CORPUS / "report").iterdir(), key=lambda p: p.name):
        if not path.name.isdigit():
            continue
        case = load_report_case(path)
        if case.title and not case.corrupted and "corrupted" not in case.title:
            reports = parse(case.log)
            if reports and reports[0].title == case.title:
                groups[case.title].append((path.name, reports[0]))
    return groups


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[tuple[str, Report]]]:
    assert (SYZKALLER_CORPUS / "report").is_dir(), f"{SYZKALLER_CORPUS} is missing"
    groups = _corpus_reports()
    assert len(groups) >= 250
    return groups


def test_same_title_same_signature(corpus: dict[str, list[tuple[str, Report]]]) -> None:
    groups = {title: items for title, items in corpus.items() if len(items) > 1}
    assert len(groups) >= 15
    for title, items in groups.items():
        names = [name for name, _ in items]
        if items[0][1].frame:
            assert len({report.signature for _, report in items}) == 1, (title, names)
        assert all(same_crash(items[0][1], report) for _, report in items), (title, names)


def _one_word_apart(a: str, b: str) -> bool:
    left, right = a.split(), b.split()
    return len(left) == len(right) and sum(x != y for x, y in zip(left, right)) == 1


def test_near_misses_differ(corpus: dict[str, list[tuple[str, Report]]]) -> None:
    titles = sorted(corpus)
    pairs = [(a, b) for i, a in enumerate(titles) for b in titles[i + 1 :] if _one_word_apart(a, b)]
    assert len(pairs) >= 1000
    for a, b in pairs:
        assert corpus[a][0][1].signature != corpus[b][0][1].signature, (a, b)


def test_no_signature_shared_by_two_titles(corpus: dict[str, list[tuple[str, Report]]]) -> None:
    owner: dict[str, str] = {}
    for title, items in corpus.items():
        for name, report in items:
            assert owner.setdefault(report.signature, title) == title, (name, title, owner[report.signature])
