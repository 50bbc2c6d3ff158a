"""Symbolizer API, log annotation, reports, errors and the CLI, on a program compiled
during the test (gcc, DWARF 5); expected answers come from ``addr2line``. The on-disk
index has its own tests (``test_symbolize_index.py``)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import attrs
import pytest
from symbolize_refs import addr2line, compile_program, run

from crashsig import DwarfError, ElfError, Frame, Report
from crashsig.cli import main
from crashsig.symbolize import Location, Symbolizer

SOURCES = ["inline_main.c", "inline_other.c"]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_program("gcc", 5, tmp_path_factory.mktemp("api") / "prog", SOURCES)


def _nm(binary: Path) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for line in run(["nm", "-S", "--defined-only", str(binary)]).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            out.setdefault(parts[3], []).append((int(parts[0], 16), int(parts[1], 16)))
    return out


def _deepest_walk_offset(sym: Symbolizer, program: Path) -> tuple[int, int, tuple[Location, ...]]:
    start, size = _nm(program)["walk"][0]
    best = max(range(1, size), key=lambda off: len(sym.lookup(start + off)))
    return start, best, sym.lookup(start + best)


def test_lookup_symbol_and_return_address(program: Path) -> None:
    with Symbolizer(program, use_cache=False) as sym:
        start, off, chain = _deepest_walk_offset(sym, program)
        assert len(chain) >= 4 and chain[-1].function == "walk" and not chain[-1].inlined
        assert all(loc.inlined for loc in chain[:-1])
        expected = addr2line(program, [start + off])[start + off]
        assert [(loc.function, loc.file, loc.line) for loc in chain] == expected
        assert sym.lookup_symbol("walk", off) == chain
        assert sym.lookup_symbol("walk", off + 1, return_address=True) == chain
        assert sym.lookup(start + off + 1, return_address=True) == chain
        assert sym.lookup_symbol("no_such_function", 4) == ()
        addresses = [start + off, 0, start + 1, start + off]
        assert sym.lookup_all(addresses) == [sym.lookup(a) for a in addresses]


def test_duplicate_static_names_pick_by_size(program: Path) -> None:
    helpers = _nm(program)["helper"]
    assert len(helpers) == 2
    ordered = sorted(helpers)
    all_starts = sorted(start for syms in _nm(program).values() for start, _ in syms)
    with Symbolizer(program, use_cache=False) as sym:
        for start, _ in ordered:
            following = min(a for a in all_starts if a > start)
            chain = sym.lookup_symbol("helper", 4, size=following - start)
            assert chain == sym.lookup(start + 4)
        files = {sym.lookup(start + 4)[-1].file.rsplit("/", 1)[-1] for start, _ in ordered}  # type: ignore[union-attr]
        assert files == {"inline_main.c", "inline_other.c"}


def test_annotate_like_syzbot(program: Path) -> None:
    with Symbolizer(program, use_cache=False) as sym:
        _, off, chain = _deepest_walk_offset(sym, program)
        size = _nm(program)["walk"][0][1]
        log = (
            "[  1.0] Call Trace:\n"
            f"[  1.0]  walk+{off + 1:#x}/{size:#x}\r\n"
            f"[  1.0] RIP: 0010:walk+{off:#x}/{size:#x}\n"
            "[  1.0]  not_a_symbol+0x1/0x2\n"
            "plain text\n"
        )
        out = sym.annotate(log.encode()).split("\n")
        n = len(chain)
        assert out[0] == "[  1.0] Call Trace:"
        for i, loc in enumerate(chain[:-1]):
            assert out[1 + i] == f"[  1.0]  {loc.function} {loc.short_file()}:{loc.line} [inline]"
        assert out[n] == f"[  1.0]  walk+{off + 1:#x}/{size:#x} {chain[-1].short_file()}:{chain[-1].line}\r"
        assert out[2 * n] == f"[  1.0] RIP: 0010:walk+{off:#x}/{size:#x} {chain[-1].short_file()}:{chain[-1].line}"
        assert out[2 * n + 1 :] == ["[  1.0]  not_a_symbol+0x1/0x2", "plain text", ""]
        assert sym.annotate(sym.annotate(log)) == sym.annotate(log)  # already symbolized lines stay


def test_raw_addresses_kaslr_and_build_id(program: Path) -> None:
    with Symbolizer(program, use_cache=False) as sym:
        start, off, chain = _deepest_walk_offset(sym, program)
        shift = 0x1000000
        log = (
            f"[  1.0] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1 {'ab' * 20}\n"
            f"[  1.0]  [<{start + off + 1 + shift:016x}>]\n"
            f"Kernel Offset: {shift:#x} from 0xffffffff81000000\n"
        )
        out = sym.annotate(log).splitlines()
        assert out[1 + len(chain) - 1].endswith(f"walk+{off + 1:#x}/{_size_of(program, 'walk'):#x} "
                                                f"{chain[-1].short_file()}:{chain[-1].line}")
        assert any("does not match" in note for note in sym.notes)


def _size_of(program: Path, name: str) -> int:
    starts = sorted(start for syms in _nm(program).values() for start, _ in syms)
    start = _nm(program)[name][0][0]
    return min(a for a in starts if a > start) - start


def test_symbolize_report_inserts_inline_frames(program: Path) -> None:
    with Symbolizer(program, use_cache=False) as sym:
        _, off, chain = _deepest_walk_offset(sym, program)
        size = _nm(program)["walk"][0][1]
        report = Report(
            title="WARNING in walk",
            text=f"RIP: 0010:walk+{off:#x}/{size:#x}\nCall Trace:\n main+0x10/0x100\n",
            frames=(Frame("walk", off, size), Frame("main", 0x10, 0x100, reliable=False)),
        )
        out = sym.symbolize(report)
        assert report.frames[0].file is None  # the input is left alone
        names = [(f.function, f.inline) for f in out.frames]
        assert names[: len(chain)] == [(loc.function, loc.inlined) for loc in chain]
        assert out.frames[len(chain) - 1] == attrs.evolve(report.frames[0], file=chain[-1].short_file(), line=chain[-1].line)
        assert out.frames[-1].function == "main" and out.frames[-1].file and not out.frames[-1].reliable
        assert "[inline]" in out.text and out.title == report.title


def test_no_debug_info_gives_symbols_and_a_note(program: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped"
    run(["objcopy", "--strip-debug", str(program), str(stripped)])
    with Symbolizer(stripped, use_cache=False) as sym:
        assert sym.lookup_symbol("walk", 3) == (Location("walk"),)
        assert any("no debug info" in note for note in sym.notes)


def test_bad_files_raise_crashsig_errors(program: Path, tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("hello, this is not an ELF file at all, but it is long enough to look\n")
    with pytest.raises(ElfError, match="not an ELF"):
        Symbolizer(text)
    with pytest.raises(ElfError, match="cannot open"):
        Symbolizer(tmp_path / "missing")
    data = program.read_bytes()
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ElfError):
        Symbolizer(truncated, use_cache=False)


def test_corrupted_dwarf_never_hangs_or_tracebacks(program: Path, tmp_path: Path) -> None:
    sections = {}
    for line in run(["readelf", "-SW", str(program)]).splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1].startswith(".debug_"):
            sections[parts[1]] = (int(parts[4], 16), int(parts[5], 16))
    start, size = _nm(program)["walk"][0]
    data = program.read_bytes()
    for name in (".debug_info", ".debug_abbrev", ".debug_line", ".debug_aranges", ".debug_rnglists"):
        offset, length = sections[name]
        for pattern in (b"\xff", b"\x00", b"\x80"):
            broken = bytearray(data)
            broken[offset + 12 : offset + length] = pattern * (length - 12)
            path = tmp_path / f"broken{name}"
            path.write_bytes(bytes(broken))
            try:
                with Symbolizer(path, use_cache=False) as sym:
                    for off in range(0, size, 5):
                        sym.lookup(start + off)
            except DwarfError as exc:
                assert str(path) in str(exc)
            except ElfError as exc:
                assert str(path) in str(exc)


def test_cli_addresses_and_logs(program: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start, size = _nm(program)["walk"][0]
    expected = addr2line(program, [start + 8])[start + 8]
    assert main(["symbolize", "--vmlinux", str(program), "--no-cache", "--addr", f"{start + 8:x}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 1)[1].replace(" (inlined)", "") for line in out] == [f"{f} {p}:{n}" for f, p, n in expected]
    log = tmp_path / "log.txt"
    log.write_text(f" walk+0x8/{size:#x}\n")
    assert main(["symbolize", "--vmlinux", str(program), "--no-cache", "--format", "json", str(log)]) == 0
    data = json.loads(capsys.readouterr().out)
    (frame,) = data["logs"][0]["frames"]
    assert [(loc["function"], loc["path"], loc["line"]) for loc in frame["locations"]] == [tuple(e) for e in expected]
    assert main(["symbolize", "--vmlinux", str(log), "--no-cache", "--addr", "0"]) == 2
    assert "not an ELF" in capsys.readouterr().err


def test_location_is_a_named_tuple() -> None:
    loc = Location("walk", "/src/a.c", 12, 3, True, "/src")
    function, file, line, column, inlined, comp_dir = loc
    assert (function, file, line, column, inlined, comp_dir) == ("walk", "/src/a.c", 12, 3, True, "/src")
    assert (loc.function, loc.file, loc.line, loc.column, loc.inlined, loc.comp_dir) == tuple(loc)
    assert Location("walk") == ("walk", None, None, None, False, "") == Location(function="walk")
    assert hash(Location("walk")) == hash(("walk", None, None, None, False, ""))
    assert pickle.loads(pickle.dumps(loc)) == loc
    assert copy.copy(loc) == loc
    assert repr(Location("f", line=1)) == "Location(function='f', file=None, line=1, column=None, inlined=False, comp_dir='')"
    assert loc.short_file() == "a.c"
    with pytest.raises(AttributeError):
        loc.line = 3  # type: ignore[misc]
