"""Every oops rule loads, its regexes compile, its templates use only existing arguments,
and some golden file exercises it."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import OWN_CORPUS, SYZKALLER_CORPUS

from crashsig import corpus
from crashsig.rules import LINUX_OOPSES, Format
from crashsig.rules.model import PARSE_STACK
from crashsig.rules.types import TITLE_TO_TYPE

ALL_FORMATS = [(oops, fmt) for oops in LINUX_OOPSES for fmt in oops.formats]


def _argument_count(fmt: Format) -> int:
    regex = fmt.report if fmt.report is not None else fmt.title
    frames = 0
    if fmt.stack is not None:
        parse_parts = sum(part is PARSE_STACK for part in fmt.stack.parts)
        frames = 1 + max(parse_parts - 1, 0)
    return regex.groups + frames


@pytest.mark.parametrize("oops,fmt", ALL_FORMATS, ids=lambda x: getattr(x, "fmt", getattr(x, "header", b"")).__str__())
def test_templates_name_existing_arguments(oops: object, fmt: Format) -> None:
    count = _argument_count(fmt)
    for template in (fmt.fmt, fmt.fmt_2020 or "", *fmt.alts):
        for index in re.findall(r"\{([0-9]+)\}", template):
            assert 1 <= int(index) <= count, f"{template!r} uses {{{index}}} of {count} arguments"


def test_every_header_is_unique_and_titles_are_typed() -> None:
    headers = [oops.header for oops in LINUX_OOPSES]
    assert len(headers) == len(set(headers)) == 29
    prefixes = [p for row, _ in TITLE_TO_TYPE for p in row]
    assert len(prefixes) == len(set(prefixes))


def _golden_logs() -> list[bytes]:
    paths = [p for p in (SYZKALLER_CORPUS / "report").iterdir() if p.name.isdigit()]
    paths += [p for p in OWN_CORPUS.glob("*/*.txt") if p.parent.name != "demangle" and p.name != "KNOWN_FAILURES.txt"]
    return [corpus.load_report_case(p).log for p in paths]


def test_every_format_is_exercised_by_a_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    parse_module = sys.modules["crashsig.parse"]
    used: set[int] = set()
    original = parse_module.describe

    def recording(*args: object, **kwargs: object) -> object:
        description = original(*args, **kwargs)
        if description.format is not None:
            used.add(id(description.format))
        return description

    monkeypatch.setattr(parse_module, "describe", recording)
    for log in _golden_logs():
        parse_module.parse_from(log)
    unused = [f"{oops.header.decode()} -> {fmt.fmt}" for oops, fmt in ALL_FORMATS if id(fmt) not in used]
    assert unused == []
