"""The on-disk index of one ELF file: every answer as sorted tables, read with ``pread``.

One file per build-id and size holds flat tables of fixed-width records (``array``
typecodes, native byte order): ``MAGIC``, the directory's offset and size (8 bytes each,
little-endian), the tables (8-byte aligned), then the directory: :data:`DIRECTORY_HEAD`
(whether the file had DWARF, the lengths of the build-id and of the source path, the
number of tables), the build-id, the path, and one :data:`DIRECTORY_ENTRY` per table
(name, typecode, record width, offset, record count). The directory is binary, not JSON,
so that a lookup process need not import ``json`` (a millisecond of its twenty).

A lookup reads a handful of small slices, so the ELF file is opened only for its
build-id, and the process maps none of the index (peak RSS stays that of Python).
:mod:`crashsig.symbolize.index_build` writes the file from the decoders direct lookups
use; the tests check both give the same answers.

Tables (``*_first`` columns give each unit's or subprogram's ``[lo, hi)`` slice):

* ``units`` (start, end, running max end, unit number): the ranges ``.debug_aranges``
  lists, ordered as :class:`~crashsig.symbolize.aranges.RangeIndex` orders them;
  ``unlisted_units`` the same for the units it leaves out, consulted only when ``units``
  has no range for an address (the rule direct lookups follow);
* ``cus`` (fns_first, lines_first, compilation directory), one sentinel row at the end;
* ``fns`` (start, end, running max end within the unit, subprogram number);
* ``subs`` (ivs_first, own node), sentinel at the end; ``ivs`` (start, end, innermost
  node) for each subprogram, sorted;
* ``nodes`` (parent or :data:`NONE`, name, call file, call line, call column);
* ``line_addrs`` and ``line_rows`` (file or :data:`END_OF_SEQUENCE`, line, column);
* ``syms`` (address, name, kallsyms size, end) per unique text address;
  ``names_first`` and ``names`` (address, name): a CRC-32 hash table of text symbols;
* ``str_offsets`` and ``str_blob``: the string table; :data:`NONE` is "no string".
"""

from __future__ import annotations

import bisect
import functools
import os
import struct
from collections.abc import Callable
from functools import cached_property

from crashsig.errors import DwarfError
from crashsig.symbolize.aranges import find_range
from crashsig.symbolize.location import Location

MAGIC = b"CSIGIDX\x05"
DIRECTORY_HEAD = struct.Struct("<BBHH")
"""Directory head: has DWARF (0 or 1), build-id bytes, source path bytes, number of tables."""
DIRECTORY_ENTRY = struct.Struct("<16scBQQ")
"""Directory entry: table name (NUL-padded), typecode, record width, offset, record count."""
NONE = 0xFFFFFFFF
"""String or node number meaning "none" (an unknown file, no parent)."""
END_OF_SEQUENCE = 0xFFFFFFFE
"""File of the line row that ends a sequence."""
_ITEM = {"B": 1, "I": 4, "Q": 8}

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")


def name_hash(name: bytes) -> int:
    """Hash of a symbol name for the ``names`` table (CRC-32: the same in every process)."""
    import zlib  # here: only name lookups hash, and loading zlib costs 0.3 ms

    return zlib.crc32(name)


def _tables(entries: bytes, end: int) -> dict[str, tuple[int, str, int, int]]:
    """Decode the directory's table entries (whole ones); ValueError unless every one is sound."""
    out = {}
    for raw_name, raw_typecode, width, offset, count in DIRECTORY_ENTRY.iter_unpack(entries):
        name, typecode = raw_name.rstrip(b"\0").decode("ascii", "replace"), raw_typecode.decode("ascii", "replace")
        if typecode not in _ITEM or width == 0:
            raise ValueError(f"table {name}: malformed directory entry")
        if offset + count * width * _ITEM[typecode] > end:
            raise ValueError(f"table {name} lies outside the file")
        out[name] = (offset, typecode, count, width)
    return out


def _corruption_is_dwarf_error(method: Callable[P, R]) -> Callable[P, R]:
    """Turn what a damaged index makes a lookup raise into :class:`DwarfError`."""

    @functools.wraps(method)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
            index: IndexFile = args[0].index  # type: ignore[attr-defined]
            problem = f"{type(exc).__name__}: {exc}"
            raise DwarfError(f"{index.path}: corrupt index ({problem}); delete it to rebuild") from exc

    return checked


class IndexFile:
    """An open index file: its directory, and bounded reads of its tables."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            head = os.pread(self._fd, 24, 0)
            if head[:8] != MAGIC:
                raise ValueError("not a crashsig index of this format")
            where, size = int.from_bytes(head[8:16], "little"), int.from_bytes(head[16:24], "little")
            if not 24 <= where <= where + size <= os.fstat(self._fd).st_size:
                raise ValueError("the directory lies outside the file")
            directory = os.pread(self._fd, size, where)
            if len(directory) < DIRECTORY_HEAD.size:
                raise ValueError("the directory is truncated")
            has_dwarf, id_size, source_size, count = DIRECTORY_HEAD.unpack_from(directory)
            names_end = DIRECTORY_HEAD.size + id_size + source_size
            if has_dwarf > 1 or len(directory) != names_end + count * DIRECTORY_ENTRY.size:
                raise ValueError("the directory is malformed")
            self.has_dwarf = bool(has_dwarf)
            self.build_id = directory[DIRECTORY_HEAD.size : DIRECTORY_HEAD.size + id_size].hex()
            self.tables = _tables(directory[names_end:], where)
        except BaseException:
            os.close(self._fd)
            raise

    def count(self, name: str) -> int:
        """Number of records of table ``name``."""
        return self.tables[name][2]

    def read(self, name: str, lo: int, hi: int) -> memoryview:
        """Records ``[lo, hi)`` of table ``name``, flattened (``width`` items per record)."""
        offset, typecode, count, width = self.tables[name]
        if not 0 <= lo <= hi <= count:
            raise ValueError(f"records {lo}:{hi} of {name} are outside the table")
        size = _ITEM[typecode] * width
        data = os.pread(self._fd, (hi - lo) * size, offset + lo * size)
        if len(data) != (hi - lo) * size:
            raise ValueError(f"{name} is truncated")
        return memoryview(data).cast(typecode)  # type: ignore[call-overload,no-any-return]  # one of _ITEM's, checked on open

    def column(self, name: str, field: int) -> Column:
        """Field ``field`` of every record of table ``name``, read record by record."""
        return Column(self, name, field)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Column:
    """One field of a table as a sequence whose items are read on access.

    Bisecting it reads about 20 records; the ``syms`` table of a vmlinux is 5 MB, and
    reading it whole would cost a one-lookup process a tenth of its run time.
    """

    def __init__(self, index: IndexFile, name: str, field: int) -> None:
        self.index = index
        self.name = name
        self.field = field

    def __len__(self) -> int:
        return self.index.count(self.name)

    def __getitem__(self, position: int) -> int:
        return self.record(position)[self.field]

    def record(self, position: int) -> memoryview:
        """Every field of record ``position``."""
        return self.index.read(self.name, position, position + 1)


class IndexedBinary:
    """Lookups in one ELF file answered from its index file (see the module docstring)."""

    def __init__(self, index: IndexFile, path: str) -> None:
        self.index = index
        self.path = path
        self.build_id: str | None = index.build_id
        self.note: str | None = None if index.has_dwarf else f"{path}: no debug info, results are symbol names only"
        self._strings: dict[int, str | None] = {NONE: None}
        self._last_unit: tuple[int, tuple[int, int, memoryview, memoryview]] | None = None

    @cached_property
    def _units(self) -> memoryview:
        return self.index.read("units", 0, self.index.count("units"))

    @cached_property
    def _unlisted_units(self) -> memoryview:
        return self.index.read("unlisted_units", 0, self.index.count("unlisted_units"))

    def _unit_number(self, address: int) -> int | None:
        """Number of the unit covering ``address``: listed units first, then the others."""
        for units in (self._units, self._unlisted_units):
            k = find_range(units[0::4], units[1::4], units[2::4], 0, len(units) // 4, address)
            if k is not None:
                return units[k * 4 + 3]
        return None

    @cached_property
    def _cus(self) -> memoryview:
        return self.index.read("cus", 0, self.index.count("cus"))

    @cached_property
    def _sym_starts(self) -> Column:
        return self.index.column("syms", 0)

    def string(self, sid: int) -> str | None:
        """String ``sid`` of the table (None for :data:`NONE`)."""
        if sid in self._strings:
            return self._strings[sid]
        start, end = self.index.read("str_offsets", sid, sid + 2)
        text = bytes(self.index.read("str_blob", start, end)).decode("utf-8", "replace")
        self._strings[sid] = text
        return text

    @_corruption_is_dwarf_error
    def lookup(self, address: int) -> tuple[Location, ...]:
        """Inline chain at ``address``, innermost first; empty when nothing is known."""
        cu = self._unit_number(address)
        if cu is None:
            sym = self._symbol_at(address)
            return (Location(self.string(sym[1]) or "??"),) if sym is not None else ()
        lines_lo, comp_dir_id, line_addrs, fns = self._unit_tables(cu)
        comp_dir = self.string(comp_dir_id) or ""
        row = bisect.bisect_right(line_addrs, address) - 1
        file: str | None = None
        line = column = None
        if row >= 0:
            file_id, line, column = self.index.read("line_rows", lines_lo + row, lines_lo + row + 1)
            if file_id == END_OF_SEQUENCE:
                row, line, column = -1, None, None
            else:
                file = self.string(file_id)
        fn = find_range(fns[0::4], fns[1::4], fns[2::4], 0, len(fns) // 4, address)
        if fn is None:
            sym = self._symbol_at(address)
            if row < 0 and sym is None:
                return ()
            name = self.string(sym[1]) if sym is not None else "??"
            return (Location(name or "??", file, line, column, False, comp_dir),)
        out = []
        node = self._innermost(fns[fn * 4 + 3], address)
        while node != NONE:
            parent, name_id, call_file, call_line, call_column = self.index.read("nodes", node, node + 1)
            if parent != NONE and parent >= node:  # a parent always comes first: anything else loops
                raise ValueError(f"inline node {node} has parent {parent}")
            out.append(Location(self.string(name_id) or "??", file, line, column, parent != NONE, comp_dir))
            file, line, column = self.string(call_file), call_line, call_column
            node = parent
        return tuple(out)

    def _unit_tables(self, cu: int) -> tuple[int, int, memoryview, memoryview]:
        """Unit ``cu``'s first line row, compilation directory, line addresses and subprograms.

        The last unit's are kept: :meth:`Symbolizer.lookup_all` looks addresses up in order.
        """
        if self._last_unit is None or self._last_unit[0] != cu:
            fns_lo, lines_lo, comp_dir_id, fns_hi, lines_hi = self._cus[cu * 3 : cu * 3 + 5]
            line_addrs = self.index.read("line_addrs", lines_lo, lines_hi)
            self._last_unit = (cu, (lines_lo, comp_dir_id, line_addrs, self.index.read("fns", fns_lo, fns_hi)))
        return self._last_unit[1]

    def _innermost(self, sub: int, address: int) -> int:
        lo, root, hi, _ = self.index.read("subs", sub, sub + 2)
        ivs = self.index.read("ivs", lo, hi)
        pos = bisect.bisect_right(ivs[0::3], address) - 1
        return ivs[pos * 3 + 2] if pos >= 0 and ivs[pos * 3 + 1] > address else root

    def _symbol_at(self, address: int) -> memoryview | None:
        """The ``syms`` record (start, name, kallsyms size, end) covering ``address``, or None."""
        starts = self._sym_starts
        pos = bisect.bisect_right(starts, address) - 1
        if pos < 0:
            return None
        record = starts.record(pos)
        return record if address < record[3] else None

    @_corruption_is_dwarf_error
    def describe(self, address: int) -> str | None:
        """``func+0xOFF/0xSIZE`` for an address from the symbol table, or None."""
        sym = self._symbol_at(address)
        if sym is None:
            return None
        start, name, ksize, _ = sym
        return f"{self.string(name)}+{address - start:#x}/{ksize:#x}"

    @_corruption_is_dwarf_error
    def symbol_address(self, function: str, size: int | None = None) -> int | None:
        """Start of text symbol ``function``; with several, the one of kallsyms size ``size``."""
        buckets = self.index.count("names_first") - 1
        bucket = name_hash(function.encode()) % buckets
        lo, hi = self.index.read("names_first", bucket, bucket + 2)
        rows = self.index.read("names", lo, hi)
        found = [rows[i] for i in range(0, len(rows), 2) if self.string(rows[i + 1]) == function]
        if not found:
            return None
        if size is not None and len(found) > 1:
            starts = self._sym_starts
            for address in found:
                if starts.record(bisect.bisect_left(starts, address))[2] == size:
                    return address
        return found[0]

    def close(self) -> None:
        """Close the index file."""
        self.index.close()
