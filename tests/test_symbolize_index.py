"""The on-disk index: built on first use, then the same answers as direct DWARF lookups.

Every byte of ``.text`` of the differential-test program (gcc and clang, DWARF 4 and 5)
is looked up both ways; so is every text symbol by name (with and without its kallsyms
size) and every address's ``func+off/size`` description. The kernel module's sections
are compared the same way in ``test_symbolize_module.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from symbolize_refs import assert_same_answers, compile_program, run

import crashsig
from crashsig.symbolize import Symbolizer
from crashsig.symbolize.binary import BinarySymbolizer
from crashsig.symbolize.index import IndexedBinary

SOURCES = ["inline_main.c", "inline_other.c"]
CONFIGS = [("gcc", 4), ("gcc", 5), ("clang", 4), ("clang", 5)]


def _text_range(binary: Path) -> range:
    for line in run(["readelf", "-SW", str(binary)]).splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1] == ".text":
            start, size = int(parts[3], 16), int(parts[5], 16)
            return range(start - 16, start + size + 16)
    raise AssertionError("no .text")


@pytest.mark.parametrize(("cc", "version"), CONFIGS, ids=[f"{cc}-dwarf{v}" for cc, v in CONFIGS])
def test_index_answers_like_direct_lookups(cc: str, version: int, tmp_path: Path) -> None:
    program = compile_program(cc, version, tmp_path / "prog", SOURCES)
    with Symbolizer(program, cache_dir=tmp_path / "cache") as sym:
        assert isinstance(sym.vmlinux, IndexedBinary)
        direct = BinarySymbolizer(program)
        assert_same_answers(sym.vmlinux, direct, _text_range(program))
        direct.close()


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_program("gcc", 5, tmp_path_factory.mktemp("index") / "prog", SOURCES)


def test_index_built_once_then_used_without_dwarf_code(program: Path, tmp_path: Path) -> None:
    copy = tmp_path / "prog"
    shutil.copy(program, copy)
    cache = tmp_path / "cache"
    with Symbolizer(copy, cache_dir=cache) as sym:
        walk = sym.lookup_symbol("walk", 8)
    (index,) = cache.iterdir()
    assert index.name.startswith(f"{sym.vmlinux.build_id}-")
    built = index.stat().st_mtime_ns
    code = ("import sys\nfrom crashsig.symbolize import Symbolizer\n"
            f"s = Symbolizer({str(copy)!r}, cache_dir={str(cache)!r})\n"
            "print(type(s.vmlinux).__name__, [l.function for l in s.lookup_symbol('walk', 8)], 'crashsig.symbolize.unit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split(None, 1)[0] == "IndexedBinary"
    assert out.strip().endswith(f"{[loc.function for loc in walk]} False")
    assert index.stat().st_mtime_ns == built  # never rewritten


def test_damaged_index_is_rebuilt(program: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with Symbolizer(program, cache_dir=cache) as sym:
        expected = sym.lookup_symbol("walk", 8)
    (index,) = cache.iterdir()
    for damage in (b"{broken", index.read_bytes()[:100]):
        index.write_bytes(damage)
        with Symbolizer(program, cache_dir=cache) as sym:
            assert isinstance(sym.vmlinux, IndexedBinary)
            assert sym.lookup_symbol("walk", 8) == expected


def test_stripped_copy_gets_its_own_index(program: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped"
    run(["objcopy", "--strip-debug", str(program), str(stripped)])
    cache = tmp_path / "cache"
    with Symbolizer(program, cache_dir=cache) as full, Symbolizer(stripped, cache_dir=cache) as bare:
        assert full.vmlinux.build_id == bare.vmlinux.build_id
        assert any("no debug info" in note for note in bare.notes) and not full.notes
        assert [loc.function for loc in bare.lookup_symbol("walk", 8)] == ["walk"]
        assert full.lookup_symbol("walk", 8)[-1].file
        direct = BinarySymbolizer(stripped)
        assert_same_answers(bare.vmlinux, direct, _text_range(stripped))  # type: ignore[arg-type]
        direct.close()
    assert len(list(cache.iterdir())) == 2


def test_no_cache_reads_the_file(program: Path, tmp_path: Path) -> None:
    with Symbolizer(program, cache_dir=tmp_path / "cache", use_cache=False) as sym:
        assert isinstance(sym.vmlinux, BinarySymbolizer)
    assert not (tmp_path / "cache").exists()


SLOW_IMPORTS = {"typing", "shutil", "zlib", "json", "logging", "pathlib", "attrs", "importlib"}
DWARF_DECODERS = {"crashsig.symbolize.unit", "crashsig.symbolize.binary", "crashsig.symbolize.dwarf_lines"}


@pytest.mark.parametrize("indexed", [True, False], ids=["with-index", "no-cache"])
def test_lookup_command_loads_only_what_it_needs(program: Path, tmp_path: Path, indexed: bool) -> None:
    """``crashsig symbolize --addr``: none of the slow imports, and with an index no DWARF decoders.

    The slow imports together would be a third of an indexed process's time (about 20 ms,
    8 of them Python's own start-up).
    """
    cache = tmp_path / "cache"
    with Symbolizer(program, cache_dir=cache) as sym:
        address = sym.vmlinux.symbol_address("walk")
        expected = [loc.function for loc in sym.lookup(address + 8)]
    where = ["--cache-dir", str(cache)] if indexed else ["--no-cache"]
    code = ("import sys\nfrom crashsig.cli import main\n"
            f"main(['symbolize', '--vmlinux', {str(program)!r}, *{where!r}, '--addr', {f'{address + 8:x}'!r}])\n"
            "print(' '.join(sys.modules))")
    bare = {**os.environ, "PYTHONPATH": os.path.dirname(crashsig.__path__[0])}  # -S: no site hooks importing things
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env=bare).stdout
    answer, loaded = out.splitlines()[:-1], set(out.splitlines()[-1].split())
    assert [line.split()[1] for line in answer] == expected
    assert not loaded & SLOW_IMPORTS
    assert bool(loaded & DWARF_DECODERS) is not indexed
