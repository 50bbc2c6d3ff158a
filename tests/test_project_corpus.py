"""crashsig's own annotated logs: ``tests/corpus/<family>/<case>.txt``.

Each file is a syzkaller-format report test, named after what it shows. Families:

* ``qemu/``: real console logs captured with ``crashsig boot`` (Debian's cloud kernel
  crashed on purpose by ``tests/qemu_data/crashmod``; regenerate them with
  ``scripts/capture_qemu_corpus.py``, which keeps the reviewed headers);
* ``rules/``: hand-written logs, from the kernel's printk formats, for oops formats no
  captured log exercises (so every rule is covered, see ``test_rules.py``);
* ``seed/``: the crash report of the seed bisection log.

A family may list cases the parser does not pass yet in ``KNOWN_FAILURES.txt``
(``case-name reason``); they run as strict xfails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crashsig import corpus

from conftest import OWN_CORPUS, load_known_failures

KNOWN_FAILURES = "KNOWN_FAILURES.txt"
# Folders of report cases (tests/corpus/demangle holds demangler goldens instead).
REPORT_FAMILIES = ("qemu", "rules", "seed")


def _families() -> list[Path]:
    return [OWN_CORPUS / name for name in REPORT_FAMILIES]


def _cases() -> list[object]:
    params = []
    for family in _families():
        known_file = family / KNOWN_FAILURES
        known = load_known_failures(known_file) if known_file.is_file() else {}
        for path in sorted(family.glob("*.txt")):
            if path.name == KNOWN_FAILURES:
                continue
            marks = [pytest.mark.xfail(reason=known[path.stem], strict=True)] if path.stem in known else []
            params.append(pytest.param(path, id=f"{family.name}/{path.stem}", marks=marks))
    return params


@pytest.mark.parametrize("path", _cases())
def test_project_case(path: Path) -> None:
    case = corpus.load_report_case(path)
    assert case.title, "every project case holds a crash"
    if path.parent.name == "qemu":
        assert b"Linux version" in case.log, "a whole boot log, not an excerpt"
    assert corpus.check_report_case(case) == []


def test_qemu_family_has_enough_real_logs() -> None:
    assert len(list((OWN_CORPUS / "qemu").glob("*.txt"))) - 1 >= 15


def test_known_failures_name_real_cases() -> None:
    for family in _families():
        known_file = family / KNOWN_FAILURES
        for name in load_known_failures(known_file) if known_file.is_file() else {}:
            assert (family / f"{name}.txt").is_file(), name
