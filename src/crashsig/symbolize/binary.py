"""Symbolization against one ELF file (a vmlinux or one module)."""

from __future__ import annotations

import collections
import os
import struct
from functools import cached_property

from crashsig.errors import DwarfError
from crashsig.symbolize import abbrev as A
from crashsig.symbolize.dwarf_info import DwarfInfo, has_dwarf
from crashsig.symbolize.dwarf_lines import LineTable
from crashsig.symbolize.elf import load_elf
from crashsig.symbolize.inlines import inline_chain
from crashsig.symbolize.location import Location
from crashsig.symbolize.symbols import Symbol, SymbolTable
from crashsig.symbolize.unit import Attrs, Unit

_LINE_TABLES = 16
_RESULTS = 65536


class BinarySymbolizer:
    """Lookups in one ELF file, with a per-address result cache (failures included)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.image = load_elf(path)
        self.path = self.image.path
        self.dwarf = DwarfInfo(self.image) if has_dwarf(self.image) else None
        self.note = None if self.dwarf else f"{self.path}: no debug info, results are symbol names only"
        self._lines: collections.OrderedDict[int, LineTable] = collections.OrderedDict()
        self.results: dict[int, tuple[Location, ...]] = {}
        """Lookups done so far by address (failures too)."""
        self.symbol_addresses: dict[str, int] = {}
        """``name/size`` -> address of symbols resolved so far (-1: no such symbol)."""

    @cached_property
    def symbols(self) -> SymbolTable:
        """The text symbol table (built on first use)."""
        return SymbolTable(self.image)

    @property
    def build_id(self) -> str | None:
        """GNU build-id of the file, lowercase hex."""
        return self.image.build_id

    def find_symbol(self, function: str, size: int | None = None) -> Symbol | None:
        """The symbol ``function``; with several, the one whose kallsyms size is ``size``."""
        found = self.symbols.find_by_name(function)
        if not found:
            return None
        if size is not None and len(found) > 1:
            for sym in found:
                if self.symbols.kallsyms_size(sym) == size:
                    return sym
        return found[0]

    def symbol_address(self, function: str, size: int | None = None) -> int | None:
        """Start address of ``function`` (see :meth:`find_symbol`), remembered per name/size."""
        key = f"{function}/{size}"
        address = self.symbol_addresses.get(key)
        if address is None:
            sym = self.find_symbol(function, size)
            address = -1 if sym is None else sym.address
            self.symbol_addresses[key] = address
        return None if address < 0 else address

    def lookup(self, address: int) -> tuple[Location, ...]:
        """Inline chain at ``address``, innermost first; empty when nothing is known."""
        cached = self.results.get(address)
        if cached is not None:
            return cached
        try:
            result = self._lookup(address)
        except (IndexError, struct.error, ValueError, RecursionError) as exc:
            raise DwarfError(f"{self.path}: corrupt DWARF near address {address:#x} ({type(exc).__name__})") from exc
        if len(self.results) >= _RESULTS:
            self.results.clear()
        self.results[address] = result
        return result

    def _lookup(self, address: int) -> tuple[Location, ...]:
        unit = self.dwarf.unit_for_address(address) if self.dwarf else None
        if unit is None:
            sym = self.symbols.find_by_address(address)
            return (Location(sym.name),) if sym else ()
        table = self.line_table(unit)
        row = table.find(address) if table else None
        chain = inline_chain(unit, address)
        comp_dir = unit.string(unit.top, A.AT_COMP_DIR) or ""
        file = table.file_path(row[0]) if table and row else None
        line, column = (row[1], row[2]) if row else (None, None)
        if not chain:
            sym = self.symbols.find_by_address(address)
            if row is None and sym is None:
                return ()
            return (Location(sym.name if sym else "??", file, line, column, False, comp_dir),)
        out = []
        for depth in range(len(chain) - 1, -1, -1):
            attrs = chain[depth]
            out.append(Location(_name(unit, attrs), file, line, column, depth > 0, comp_dir))
            if depth:
                file, line, column = call_site(unit, table, attrs)
        return tuple(out)

    def line_table(self, unit: Unit) -> LineTable | None:
        """The line table of ``unit`` (a small LRU keeps recent ones), None without one."""
        stmt = unit.top.get(A.AT_STMT_LIST)
        if stmt is None:
            return None
        offset = int(stmt[1])  # type: ignore[call-overload]
        table = self._lines.get(offset)
        if table is None:
            table = LineTable(unit, offset)
            self._lines[offset] = table
            if len(self._lines) > _LINE_TABLES:
                self._lines.popitem(last=False)
        return table

    def describe(self, address: int) -> str | None:
        """``func+0xOFF/0xSIZE`` for an address from the symbol table, or None."""
        sym = self.symbols.find_by_address(address)
        if sym is None:
            return None
        return f"{sym.name}+{address - sym.address:#x}/{self.symbols.kallsyms_size(sym):#x}"

    def close(self) -> None:
        """Release the mapped file."""
        self.image.close()


def _name(unit: Unit, attrs: Attrs) -> str:
    return unit.die_name(attrs) or "??"


def call_site(unit: Unit, table: LineTable | None, attrs: Attrs) -> tuple[str | None, int | None, int | None]:
    """Where an inlined subroutine was called: (file, line, column); 0 for a missing number."""
    call_file = attrs.get(A.AT_CALL_FILE)
    call_line = attrs.get(A.AT_CALL_LINE)
    call_column = attrs.get(A.AT_CALL_COLUMN)
    file = table.file_path(int(call_file[1])) if table and call_file else None  # type: ignore[call-overload]
    line = int(call_line[1]) if call_line else 0  # type: ignore[call-overload]
    column = int(call_column[1]) if call_column else 0  # type: ignore[call-overload]
    return file, line, column
