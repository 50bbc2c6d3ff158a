"""The ET_REL path: a real out-of-tree module built against Debian's cloud-amd64 headers.

Every byte of every function in ``.text``, ``.init.text`` and ``.exit.text`` is compared
with ``addr2line -j SECTION``. llvm-symbolizer 14 is not used here: it cannot be told which
section an address of a relocatable file belongs to (all start at 0) and answers from
whichever section matches first (``.exit.text`` for a ``.text`` address).
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import pytest
from symbolize_refs import DATA, addr2line, assert_same_answers, run

from crashsig.symbolize import Symbolizer
from crashsig.symbolize.binary import BinarySymbolizer
from crashsig.symbolize.index import IndexedBinary

MODULE = "crashsig_testmod"


def _headers() -> str:
    found = sorted(glob.glob("/usr/src/linux-headers-*-cloud-amd64"))
    assert found, "install linux-headers-cloud-amd64 (listed in .ci/apt-packages.txt)"
    return found[-1]


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("kmod")
    for name in ("Kbuild", f"{MODULE}.c"):
        shutil.copy(DATA / "kmod" / name, build / name)
    run(["make", "-C", _headers(), f"M={build}", "modules"])
    return build


def _functions(binary: BinarySymbolizer) -> dict[str, list[int]]:
    """Section name -> offsets of every byte of every FUNC symbol in it (from readelf)."""
    out: dict[str, set[int]] = {}
    sections = {str(s.index): s.name for s in binary.image.sections}
    for line in run(["readelf", "-sW", binary.path]).splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[3] == "FUNC" and parts[6] in sections:
            start, size = int(parts[1], 16), int(parts[2])
            out.setdefault(sections[parts[6]], set()).update(range(start, start + size))
    return {name: sorted(offsets) for name, offsets in out.items()}


def test_every_module_address_matches_addr2line(module_dir: Path) -> None:
    binary = BinarySymbolizer(module_dir / f"{MODULE}.ko")
    assert binary.image.is_relocatable and binary.dwarf is not None
    functions = _functions(binary)
    assert {".text", ".init.text", ".exit.text"} <= set(functions)
    inline_seen = 0
    for section, offsets in functions.items():
        base = binary.image.section_bases[binary.image.section_by_name[section].index]
        expected = addr2line(Path(binary.path), offsets, ("-j", section))
        for offset in offsets:
            ours = [(loc.function, loc.file, loc.line or None) for loc in binary.lookup(base + offset)]
            assert ours == [(f, p, line or None) for f, p, line in expected[offset]], f"{section}+{offset:#x}"
            inline_seen += len(ours) > 1
    assert inline_seen > 50
    binary.close()


def test_module_frames_in_a_log(module_dir: Path, tmp_path: Path) -> None:
    ko = module_dir / f"{MODULE}.ko"
    vmlinux = ko  # any ELF serves as the "vmlinux"; only the module frames matter here
    build_id = BinarySymbolizer(ko).build_id
    assert build_id
    log = (
        f"[   5.1]  csig_walk+0x10/0x70 [{MODULE}]\n"
        f"[   5.1]  csig_add+0x20/0x90 [crashsig-testmod {build_id}]\n"
        f"[   5.1]  csig_add+0x20/0x90 [{MODULE} {'0' * 40}]\n"
        "[   5.1]  csig_walk+0x10/0x70 [not_there]\n"
    )
    with Symbolizer(vmlinux, modules=module_dir, use_cache=False) as sym:
        out = sym.annotate(log).splitlines()
        assert out[0] == f"[   5.1]  csig_sum {module_dir}/{MODULE}.c:34 [inline]"
        assert out[1] == f"[   5.1]  csig_walk+0x10/0x70 {module_dir}/{MODULE}.c:41 [{MODULE}]"
        assert any(line.endswith("[crashsig-testmod]") and "csig_add+0x20/0x90" in line for line in out)
        assert out[-1] == "[   5.1]  csig_walk+0x10/0x70 [not_there]"
        assert any("does not match" in note and "0" * 40 in note for note in sym.notes)
        assert not any("does not match" in note and build_id in note.split("match")[1] for note in sym.notes)
        assert any("not_there" in note for note in sym.notes)
    with Symbolizer(vmlinux, modules={MODULE: str(ko)}, use_cache=False) as sym:
        chain = sym.lookup_symbol("csig_walk", 0x10, module=MODULE)
        assert [loc.function for loc in chain] == ["csig_sum", "csig_walk"]
        assert chain[0].inlined and not chain[1].inlined


def test_module_index_answers_like_direct_lookups(module_dir: Path, tmp_path: Path) -> None:
    ko = module_dir / f"{MODULE}.ko"
    with Symbolizer(ko, modules=module_dir, cache_dir=tmp_path / "cache") as sym:
        indexed = sym.binary(MODULE)
        assert isinstance(indexed, IndexedBinary)
        direct = BinarySymbolizer(ko)
        for section, offsets in _functions(direct).items():
            base = direct.image.section_bases[direct.image.section_by_name[section].index]
            assert_same_answers(indexed, direct, [base + offset for offset in offsets])
        direct.close()
