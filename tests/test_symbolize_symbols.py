"""The symbol table by address: the search near an address agrees with the sorted table.

``SymbolTable.find_by_address`` answers its first few lookups from the symbols in the
64 KiB windows of addresses at and below the address (no sorting); later ones, and any
the windows do not settle, bisect the table sorted by address. Both must name the same
symbol (kallsyms rules: aliases ranked, the last symbol ends at its size) everywhere.
"""

from __future__ import annotations

from pathlib import Path

from symbolize_refs import DATA, run

from crashsig.symbolize.elf import load_elf
from crashsig.symbolize.symbols import SymbolTable


def _spread_program(tmp_path: Path) -> Path:
    program = tmp_path / "spread"
    run(["gcc", "-O1", "-g", "-fno-toplevel-reorder", "-o", str(program), str(DATA / "spread_symbols.c")])
    return program


def test_search_near_an_address_agrees_with_the_sorted_table(tmp_path: Path) -> None:
    image = load_elf(_spread_program(tmp_path))
    near, ref = SymbolTable(image), SymbolTable(image)
    assert ref._text  # sorted up front: ref.find_by_address bisects
    starts = [sym.address for sym in ref.iter_text()]
    text = image.section_by_name[".text"]
    addresses = sorted({*range(text.addr - 64, text.addr + text.size + 4096, 61),
                        *(start + delta for start in starts for delta in (-1, 0, 1))})
    settled = far = 0
    for address in addresses:
        decided, sym = near._nearby(address)
        expected = ref.find_by_address(address)
        if decided:
            settled += 1
            assert (sym and (sym.name, sym.address)) == (expected and (expected.name, expected.address)), hex(address)
            far += sym is not None and address - sym.address >= 1 << 17
    assert settled > 0.95 * len(addresses)
    assert far > 0  # answers found two or more windows below the address


def test_table_is_sorted_after_a_few_lookups(tmp_path: Path) -> None:
    table = SymbolTable(load_elf(_spread_program(tmp_path)))
    (second,) = {sym.address for sym in table.find_by_name("second")}
    answers = {table.find_by_address(second + 0x20000 + offset).address for offset in range(9)}
    assert answers == {second}  # 128 KiB past its start: two windows down, then from the sorted table
    assert "_text" in table.__dict__
