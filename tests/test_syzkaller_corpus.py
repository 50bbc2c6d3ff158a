"""Every dev-corpus file of syzkaller's report tests, read in place from ../shared.

Cases that do not pass yet are listed, with a reason, in
``tests/syzkaller_known_failures.txt``; they run as strict xfails, so a fix that makes
one pass fails the suite until the list is updated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, SYZKALLER_CORPUS, load_known_failures

from crashsig import corpus

KNOWN_FAILURES_FILE = REPO / "tests" / "syzkaller_known_failures.txt"


def _case_paths(kind: str) -> list[Path]:
    folder = SYZKALLER_CORPUS / kind
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


KNOWN = load_known_failures(KNOWN_FAILURES_FILE)


def _param(path: Path, kind: str) -> object:
    name = f"{kind}/{path.name}"
    marks = [pytest.mark.xfail(reason=KNOWN[name], strict=True)] if name in KNOWN else []
    return pytest.param(path, id=name, marks=marks)


@pytest.mark.parametrize("path", [_param(p, "report") for p in _case_paths("report")])
def test_report_case(path: Path) -> None:
    case = corpus.load_report_case(path)
    assert corpus.check_report_case(case) == []


@pytest.mark.parametrize("path", [_param(p, "guilty") for p in _case_paths("guilty")])
def test_guilty_case(path: Path) -> None:
    case = corpus.load_guilty_case(path)
    assert corpus.check_guilty_case(case) == []


def test_corpus_is_present() -> None:
    """CI clones ../shared beside the project: a missing corpus is a setup error, not a skip."""
    assert len(_case_paths("report")) > 400
    assert len(_case_paths("guilty")) > 40


def test_known_failures_name_real_cases() -> None:
    for name in KNOWN:
        assert (SYZKALLER_CORPUS / name).is_file(), name
