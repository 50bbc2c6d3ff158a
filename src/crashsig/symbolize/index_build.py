"""Writing the on-disk index of one ELF file (format: :mod:`crashsig.symbolize.index`).

Every unit reachable by address is decoded once with the decoders direct lookups use
(:func:`~crashsig.symbolize.inlines.function_ranges`,
:func:`~crashsig.symbolize.inlines.subprogram_scopes`, :class:`LineTable` rows), and
the results are streamed to per-array temporary files, so memory stays bounded by one
unit plus the string table however large the DWARF is.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from array import array
from typing import BinaryIO

from crashsig.symbolize import abbrev as A
from crashsig.symbolize.aranges import sorted_ranges
from crashsig.symbolize.binary import BinarySymbolizer, call_site
from crashsig.symbolize.dwarf_lines import NO_FILE
from crashsig.symbolize.index import DIRECTORY_ENTRY, DIRECTORY_HEAD, END_OF_SEQUENCE, MAGIC, NONE, name_hash
from crashsig.symbolize.inlines import function_ranges, subprogram_scopes
from crashsig.symbolize.unit import Attrs, Unit

_CHUNK = 1 << 16


class _Sink:
    """Named arrays appended in chunks to one temporary file each."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self._arrays: dict[str, tuple[array[int], BinaryIO, int]] = {}
        self.counts: dict[str, int] = {}
        """Records written so far per table."""

    def table(self, name: str, typecode: str, width: int = 1) -> None:
        """Declare a table of records of ``width`` items of ``typecode``."""
        out = open(os.path.join(self.dir, name), "wb")  # noqa: SIM115  # closed in write() or close()
        self._arrays[name] = (array(typecode), out, width)
        self.counts[name] = 0

    def extend(self, name: str, values: list[int] | array[int]) -> None:
        """Append records, flattened (``width`` items each)."""
        data, out, width = self._arrays[name]
        data.extend(values)
        self.counts[name] += len(values) // width
        if len(data) >= _CHUNK:
            data.tofile(out)
            del data[:]

    def append(self, name: str, *record: int) -> None:
        """Append one record."""
        self.extend(name, record)  # type: ignore[arg-type]

    def write(self, target: BinaryIO, build_id: str, has_dwarf: bool, source: str) -> None:
        """Write the index file: magic, directory position, arrays, directory."""
        target.write(MAGIC + bytes(16))
        entries = []
        for name, (data, out, width) in self._arrays.items():
            data.tofile(out)
            out.close()
            target.write(bytes(-target.tell() % 8))
            entries.append(
                DIRECTORY_ENTRY.pack(name.encode(), data.typecode.encode(), width, target.tell(), self.counts[name])
            )
            with open(os.path.join(self.dir, name), "rb") as chunks:
                shutil.copyfileobj(chunks, target)
        where = target.tell()
        raw_id, raw_source = bytes.fromhex(build_id), source.encode("utf-8", "surrogateescape")
        head = DIRECTORY_HEAD.pack(has_dwarf, len(raw_id), len(raw_source), len(entries))
        blob = b"".join([head, raw_id, raw_source, *entries])
        target.write(blob)
        target.seek(len(MAGIC))
        target.write(where.to_bytes(8, "little") + len(blob).to_bytes(8, "little"))

    def close(self) -> None:
        for _, out, _ in self._arrays.values():
            out.close()


class _Strings:
    """The deduplicated string table."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.blob = bytearray()
        self.offsets = array("Q", [0])

    def add(self, text: str | None) -> int:
        if text is None:
            return NONE
        sid = self.ids.get(text)
        if sid is None:
            sid = self.ids[text] = len(self.ids)
            self.blob += text.encode("utf-8", "surrogateescape")
            self.offsets.append(len(self.blob))
        return sid


def write_index(binary: BinarySymbolizer, path: str) -> None:
    """Build the index of ``binary`` into ``path`` (atomically: a temporary file, then rename)."""
    build_id = binary.build_id
    if build_id is None:
        raise ValueError(f"{binary.path} has no build-id: nothing to key its index by")
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    work = tempfile.mkdtemp(dir=directory, prefix=".build-")
    sink = _Sink(work)
    try:
        strings = _Strings()
        _add_units(binary, sink, strings)
        _add_symbols(binary, sink, strings)
        sink.table("str_offsets", "Q")
        sink.extend("str_offsets", strings.offsets)
        sink.table("str_blob", "B")
        sink.extend("str_blob", array("B", strings.blob))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index-")
        try:
            with os.fdopen(fd, "wb") as out:
                sink.write(out, build_id, binary.dwarf is not None, binary.path)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)


_TABLES = (
    ("units", "Q", 4),
    ("unlisted_units", "Q", 4),
    ("cus", "Q", 3),
    ("fns", "Q", 4),
    ("subs", "Q", 2),
    ("ivs", "Q", 3),
    ("nodes", "I", 5),
    ("line_addrs", "Q", 1),
    ("line_rows", "I", 3),
)


def _add_units(binary: BinarySymbolizer, sink: _Sink, strings: _Strings) -> None:
    for name, typecode, width in _TABLES:
        sink.table(name, typecode, width)
    dwarf = binary.dwarf
    listed = sorted_ranges(dwarf.listed_unit_ranges) if dwarf else []
    unlisted = sorted_ranges(dwarf.unlisted_unit_ranges()) if dwarf else []
    offsets = sorted({e[2] for e in listed + unlisted})
    number = {offset: n for n, offset in enumerate(offsets)}
    for name, entries in (("units", listed), ("unlisted_units", unlisted)):
        maxends = itertools.accumulate((e[1] for e in entries), max)
        sink.extend(
            name,
            [
                v
                for (start, end, offset), top in zip(entries, maxends, strict=True)
                for v in (start, end, top, number[offset])
            ],
        )
    for offset in offsets:
        unit = binary.dwarf.get_unit(offset)  # type: ignore[union-attr]
        _UnitWriter(binary, unit, sink, strings).write()
    sink.append("cus", sink.counts["fns"], sink.counts["line_addrs"], NONE)
    sink.append("subs", sink.counts["ivs"], NONE)


class _UnitWriter:
    """The arrays of one unit: compilation directory, line rows, subprograms."""

    def __init__(self, binary: BinarySymbolizer, unit: Unit, sink: _Sink, strings: _Strings) -> None:
        self.unit = unit
        self.sink = sink
        self.strings = strings
        self.table = binary.line_table(unit)
        self.paths: dict[int, int] = {}
        self.names: dict[int, int] = {}

    def write(self) -> None:
        unit, sink = self.unit, self.sink
        comp_dir = self.strings.add(unit.string(unit.top, A.AT_COMP_DIR) or "")
        sink.append("cus", sink.counts["fns"], sink.counts["line_addrs"], comp_dir)
        if self.table is not None:
            rows = self.table.rows.deduplicated()
            sink.extend("line_addrs", rows.addrs)
            files = [self._path(f) if f != NO_FILE else END_OF_SEQUENCE for f in rows.files]
            sink.extend("line_rows", [v for row in zip(files, rows.lines, rows.columns, strict=True) for v in row])
        entries = sorted_ranges(function_ranges(unit))
        subs: dict[int, int] = {}
        for _, _, pos in entries:
            if pos not in subs:
                subs[pos] = sink.counts["subs"]
                self._subprogram(pos)
        maxends = itertools.accumulate((e[1] for e in entries), max)
        sink.extend(
            "fns",
            [v for (start, end, pos), top in zip(entries, maxends, strict=True) for v in (start, end, top, subs[pos])],
        )

    def _path(self, index: int) -> int:
        sid = self.paths.get(index)
        if sid is None:
            sid = self.paths[index] = self.strings.add(self.table.file_path(index) if self.table else None)
        return sid

    def _subprogram(self, pos: int) -> None:
        sink, scopes = self.sink, subprogram_scopes(self.unit, pos)
        base = sink.counts["nodes"]
        sink.append("subs", sink.counts["ivs"], base)
        for n, (parent, attrs) in enumerate(scopes.nodes):
            file, line, column = call_site(self.unit, self.table, attrs) if n else (None, 0, 0)
            sink.append(
                "nodes",
                NONE if parent < 0 else base + parent,
                self._name(attrs),
                self.strings.add(file),
                line or 0,
                column or 0,
            )
        sink.extend(
            "ivs", [v for row in zip(scopes.starts, scopes.ends, (base + node for node in scopes.node_of)) for v in row]
        )

    def _name(self, attrs: Attrs) -> int:
        """String id of the DIE's name; names reached through the same origin are cached."""
        ref = attrs.get(A.AT_ABSTRACT_ORIGIN) or attrs.get(A.AT_SPECIFICATION)
        if ref is None or A.AT_NAME in attrs or A.AT_LINKAGE_NAME in attrs:
            return self.strings.add(self.unit.die_name(attrs))
        key = self.unit.ref_offset(ref[0], int(ref[1]))  # type: ignore[call-overload]
        sid = self.names.get(key)
        if sid is None:
            sid = self.names[key] = self.strings.add(self.unit.die_name(attrs))
        return sid


def _add_symbols(binary: BinarySymbolizer, sink: _Sink, strings: _Strings) -> None:
    table = binary.symbols
    sink.table("syms", "Q", 4)
    sink.extend(
        "syms",
        [
            v
            for sym, size in table.iter_by_address()
            for v in (sym.address, strings.add(sym.name), size, sym.address + max(size, sym.elf_size))
        ],
    )
    named = [(sym.name, sym.address) for sym in table.iter_text()]
    buckets = 1 << max(len(named), 1).bit_length()
    rows = sorted((name_hash(name.encode()) % buckets, address, strings.add(name)) for name, address in named)
    sink.table("names", "Q", 2)
    sink.extend("names", [v for _, address, name in rows for v in (address, name)])
    counts = [0] * (buckets + 1)
    for bucket, _, _ in rows:
        counts[bucket + 1] += 1
    sink.table("names_first", "Q")
    sink.extend("names_first", list(itertools.accumulate(counts)))
