"""``parse(log, symbolizer=...)`` and ``crashsig parse --vmlinux`` on a program compiled
during the test: frames gain source locations, titles stay those of the raw frames, and
the guilty file comes from the symbolized text, as on syzbot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from symbolize_refs import addr2line, compile_program, run

import crashsig
from crashsig.symbolize import Symbolizer


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_program("gcc", 5, tmp_path_factory.mktemp("parse") / "prog", ["inline_main.c", "inline_other.c"])


def _symbols(binary: Path) -> dict[str, tuple[int, int]]:
    table = {}
    for line in run(["nm", "-S", "--defined-only", str(binary)]).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            table.setdefault(parts[3], (int(parts[0], 16), int(parts[1], 16)))
    return table


def _log(binary: Path) -> tuple[bytes, int]:
    table = _symbols(binary)
    start, size = table["walk"]
    offset = size // 2
    _, main_size = table["main"]
    log = (
        b"[   10.000000] BUG: unable to handle page fault for address: ffffc90000a3c000\n"
        b"[   10.000001] #PF: supervisor read access in kernel mode\n"
        b"[   10.000002] RIP: 0010:walk+%#x/%#x\n"
        b"[   10.000003] Call Trace:\n"
        b"[   10.000004]  <TASK>\n"
        b"[   10.000005]  main+%#x/%#x\n"
        b"[   10.000006]  </TASK>\n" % (offset, size, 8, main_size)
    )
    return log, start + offset


def test_symbolized_report(program: Path) -> None:
    log, rip = _log(program)
    raw = crashsig.parse(log)[0]
    with Symbolizer(program, use_cache=False) as symbolizer:
        report = crashsig.parse(log, symbolizer=symbolizer)[0]
    assert report.title == raw.title == "BUG: unable to handle kernel paging request in walk"
    assert raw.guilty_file is None
    expected = addr2line(program, [rip])[rip]  # innermost first; the RIP is looked up exactly
    walk_frames = report.frames[: len(expected)]
    assert [(f.function, f.line) for f in walk_frames] == [(name, line) for name, _, line in expected]
    assert [f.inline for f in walk_frames] == [True] * (len(expected) - 1) + [False]
    assert report.guilty_file is not None and report.guilty_file.endswith(".c")
    assert report.guilty_file in report.text
    assert report.text.startswith("BUG: unable to handle page fault")
    assert report.text_start == 0


def test_cli_parse_with_vmlinux(program: Path, tmp_path: Path) -> None:
    log, _ = _log(program)
    path = tmp_path / "console.log"
    path.write_bytes(log)
    argv = [sys.executable, "-m", "crashsig", "parse", "--vmlinux", str(program), "--no-cache", str(path)]
    out = subprocess.run(argv, capture_output=True, timeout=120, check=True).stdout.decode()
    assert "title:    BUG: unable to handle kernel paging request in walk" in out
    assert "guilty:   -" not in out
