"""Real console logs captured with crashsig's own QEMU runner (tests/corpus/qemu/).

Each file is a syzkaller-format test case: Debian's stock cloud kernel crashed on purpose by
tests/qemu_data/crashmod, with the title, alt titles, type, corrupted and panicked flags
that syzkaller's rules give for it. ``scripts/capture_qemu_corpus.py`` regenerates the logs
and keeps the reviewed headers. Cases the parser does not pass yet are listed, with a
reason, in ``tests/corpus/qemu/KNOWN_FAILURES.txt`` and run as strict xfails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crashsig import corpus

CORPUS = Path(__file__).resolve().parent / "corpus" / "qemu"
KNOWN_FAILURES = CORPUS / "KNOWN_FAILURES.txt"


def _known_failures() -> dict[str, str]:
    known = {}
    for line in KNOWN_FAILURES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            known[name] = reason.strip()
    return known


KNOWN = _known_failures()
CASES = sorted(p for p in CORPUS.glob("*.txt") if p != KNOWN_FAILURES)


def _param(path: Path) -> object:
    marks = (
        [pytest.mark.xfail(reason=KNOWN[path.stem], strict=True)]
        if path.stem in KNOWN
        else []
    )
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in CASES])
def test_qemu_case(path: Path) -> None:
    case = corpus.load_report_case(path)
    assert case.title, "every captured log holds a crash"
    assert b"Linux version" in case.log, "a whole boot log, not an excerpt"
    assert corpus.check_report_case(case) == []


def test_corpus_has_enough_real_logs() -> None:
    assert len(CASES) >= 15


def test_known_failures_name_real_cases() -> None:
    for name in KNOWN:
        assert (CORPUS / f"{name}.txt").is_file(), name
