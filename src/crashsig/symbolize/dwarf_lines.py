"""DWARF 2-5 line programs: header, file table and the row covering one address.

The state machine stops as soon as it has passed the address inside the sequence that
covers it, so a lookup decodes on average half of one unit's program, never more.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import TYPE_CHECKING

from crashsig.errors import DwarfError
from crashsig.symbolize.reader import cstring, initial_length, sleb, uleb, unsigned

if TYPE_CHECKING:
    from crashsig.symbolize.unit import Unit

Row = tuple[int, int, int, int]
"""(file index, line, column, discriminator) of a line-table row."""

_LNCT_PATH, _LNCT_DIRECTORY_INDEX = 1, 2
_FORM_STRING, _FORM_LINE_STRP, _FORM_STRP, _FORM_UDATA = 0x08, 0x1F, 0x0E, 0x0F
_FIXED_DATA = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x1E: 16}
_BLOCK_FORMS = {0x09}
_STRX = {0x1A: 0, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4}


class LineTable:
    """The line program at one offset of ``.debug_line``, decoded on demand."""

    def __init__(self, unit: Unit, offset: int) -> None:
        self.unit = unit
        dwarf = unit.dwarf
        blob = dwarf.section(".debug_line")
        if blob is None:
            raise dwarf.error("DW_AT_stmt_list points into a missing .debug_line")
        if not 0 <= offset < blob.size:
            raise dwarf.error(f"line program offset {offset:#x} is outside .debug_line")
        length, self.offset_size, body = initial_length(blob.read(offset, min(12, blob.size - offset)), 0)
        if offset + body + length > blob.size:
            raise dwarf.error(f"line program at .debug_line+{offset:#x} runs past the section")
        self.buf = blob.read(offset, body + length)
        self.comp_dir = unit.string(unit.top, 0x1B) or ""
        try:
            self._parse_header(body)
        except (IndexError, KeyError, ValueError) as exc:
            raise dwarf.error(f"corrupt line program header at .debug_line+{offset:#x}") from exc

    def _parse_header(self, pos: int) -> None:
        buf = self.buf
        self.version = unsigned(buf, pos, 2)
        pos += 2
        if not 2 <= self.version <= 5:
            raise DwarfError(f"{self.unit.dwarf.path}: line table version {self.version} is not supported")
        self.addr_size = self.unit.addr_size
        if self.version >= 5:
            self.addr_size = buf[pos]
            pos += 2  # address_size, segment_selector_size
        header_length = unsigned(buf, pos, self.offset_size)
        pos += self.offset_size
        self.program_start = pos + header_length
        self.min_inst = buf[pos]
        pos += 1
        if self.version >= 4:
            pos += 1  # maximum_operations_per_instruction: VLIW only
        pos += 1  # default_is_stmt: rows are looked up whatever their is_stmt
        self.line_base = buf[pos] - 256 if buf[pos] >= 128 else buf[pos]
        self.line_range = buf[pos + 1]
        self.opcode_base = buf[pos + 2]
        if self.line_range == 0:
            raise ValueError("line_range is 0")
        pos += 3
        self.std_lengths = bytes(buf[pos : pos + self.opcode_base - 1])
        pos += self.opcode_base - 1
        if self.version >= 5:
            dirs, pos = self._entries_v5(pos)
            self.dirs = [name for name, _ in dirs]
            self.files, _ = self._entries_v5(pos)
        else:
            self.dirs, self.files = self._tables_v4(pos)

    def _tables_v4(self, pos: int) -> tuple[list[str], list[tuple[str, int]]]:
        buf = self.buf
        dirs = [self.comp_dir]
        while buf[pos]:
            name, pos = cstring(buf, pos)
            dirs.append(name.decode("utf-8", "replace"))
        pos += 1
        files = [("", 0)]  # DWARF < 5 numbers files from 1
        while buf[pos]:
            name, pos = cstring(buf, pos)
            index, pos = uleb(buf, pos)
            _, pos = uleb(buf, pos)
            _, pos = uleb(buf, pos)
            files.append((name.decode("utf-8", "replace"), index))
        return dirs, files

    def _entries_v5(self, pos: int) -> tuple[list[tuple[str, int]], int]:
        buf = self.buf
        count = buf[pos]
        pos += 1
        formats = []
        for _ in range(count):
            kind, pos = uleb(buf, pos)
            form, pos = uleb(buf, pos)
            formats.append((kind, form))
        entries_count, pos = uleb(buf, pos)
        entries = []
        for _ in range(min(entries_count, len(buf))):
            name, index = "", 0
            for kind, form in formats:
                value, pos = self._form(pos, form)
                if kind == _LNCT_PATH and isinstance(value, str):
                    name = value
                elif kind == _LNCT_DIRECTORY_INDEX and isinstance(value, int):
                    index = value
            entries.append((name, index))
        return entries, pos

    def _form(self, pos: int, form: int) -> tuple[str | int | bytes, int]:
        buf, dwarf = self.buf, self.unit.dwarf
        if form == _FORM_STRING:
            raw, pos = cstring(buf, pos)
            return raw.decode("utf-8", "replace"), pos
        if form in (_FORM_LINE_STRP, _FORM_STRP):
            value = unsigned(buf, pos, self.offset_size)
            return dwarf.form_string(self.unit, form, value) or "", pos + self.offset_size
        if form in _STRX:
            size = _STRX[form]
            index, pos = uleb(buf, pos) if size == 0 else (unsigned(buf, pos, size), pos + size)
            return dwarf.form_string(self.unit, 0x1A, index) or "", pos
        if form == _FORM_UDATA:
            return uleb(buf, pos)
        if form in _FIXED_DATA:
            size = _FIXED_DATA[form]
            return (unsigned(buf, pos, size) if size <= 8 else b""), pos + size
        if form in _BLOCK_FORMS:
            length, pos = uleb(buf, pos)
            return b"", pos + length
        raise DwarfError(f"{dwarf.path}: unsupported form {form:#x} in a line table header")

    def file_path(self, index: int) -> str | None:
        """Path of file ``index`` as addr2line prints it (directory and comp_dir joined)."""
        if not 0 <= index < len(self.files):
            return None
        name, dir_index = self.files[index]
        if name.startswith("/"):
            return name
        directory = self.dirs[dir_index] if 0 <= dir_index < len(self.dirs) else ""
        if directory and not directory.startswith("/") and self.comp_dir:
            directory = f"{self.comp_dir}/{directory}"
        return f"{directory}/{name}" if directory else name

    def find(self, address: int) -> Row | None:
        """The row covering ``address``: the last row at or below it in its sequence.

        The first lookup decodes the program only up to the answer; a second lookup in
        the same table decodes it all once into sorted arrays and bisects from then on.
        """
        try:
            if self._index is None and self._lookups:
                self._index = self._build_index()
            self._lookups += 1
            if self._index is not None:
                return self._find_indexed(address)
            return self._scan(address)
        except IndexError as exc:
            raise self.unit.dwarf.error("truncated line program") from exc

    _index: tuple[list[int], list[int], list[Row]] | None = None
    _lookups = 0

    def _scan(self, target: int) -> Row | None:
        prev: Row | None = None
        prev_addr = -1
        for addr, row in self._rows():
            if prev is not None and prev_addr <= target < addr:
                return prev
            prev, prev_addr = row, addr
        return None

    def _build_index(self) -> tuple[list[int], list[int], list[Row]]:
        entries: list[tuple[int, int, Row]] = []
        prev: Row | None = None
        prev_addr = 0
        for addr, row in self._rows():
            if prev is not None:
                entries.append((prev_addr, addr, prev))
            prev, prev_addr = row, addr
        entries.sort(key=lambda e: e[0])
        return [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]

    def _find_indexed(self, target: int) -> Row | None:
        starts, ends, rows = self._index  # type: ignore[misc]
        pos = bisect.bisect_right(starts, target) - 1
        return rows[pos] if pos >= 0 and ends[pos] > target else None

    def _rows(self) -> Iterator[tuple[int, Row | None]]:  # noqa: C901  # one state machine, kept whole
        """Yield ``(address, row)`` for every row; ``row`` is None at an end of sequence."""
        buf, end = self.buf, len(self.buf)
        opcode_base, std_lengths = self.opcode_base, self.std_lengths
        min_inst = self.min_inst
        addr_step = [(op - opcode_base) // self.line_range * min_inst for op in range(256)]
        line_step = [self.line_base + (op - opcode_base) % self.line_range for op in range(256)]
        const_add = addr_step[255]
        pos = self.program_start
        addr, file, line, column, disc = 0, 1, 1, 0, 0
        while pos < end:
            op = buf[pos]
            pos += 1
            if op >= opcode_base:
                addr += addr_step[op]
                line += line_step[op]
                yield addr, (file, line, column, disc)
                disc = 0
            elif op == 0:
                length, pos = uleb(buf, pos)
                sub = buf[pos]
                if sub == 1:  # end_sequence
                    yield addr, None
                    addr, file, line, column, disc = 0, 1, 1, 0, 0
                elif sub == 2:  # set_address
                    addr = unsigned(buf, pos + 1, length - 1)
                elif sub == 4:  # set_discriminator
                    disc, _ = uleb(buf, pos + 1)
                pos += length
            elif op == 1:  # copy
                yield addr, (file, line, column, disc)
                disc = 0
            elif op == 2:  # advance_pc
                delta, pos = uleb(buf, pos)
                addr += delta * min_inst
            elif op == 3:  # advance_line
                delta, pos = sleb(buf, pos)
                line += delta
            elif op == 4:  # set_file
                file, pos = uleb(buf, pos)
            elif op == 5:  # set_column
                column = buf[pos]
                if column < 0x80:
                    pos += 1
                else:
                    column, pos = uleb(buf, pos)
            elif op == 8:  # const_add_pc
                addr += const_add
            elif op == 9:  # fixed_advance_pc
                addr += unsigned(buf, pos, 2)
                pos += 2
            elif op in (6, 7, 10, 11):  # negate_stmt, basic_block, prologue_end, epilogue_begin
                pass
            else:  # set_isa and unknown standard opcodes: skip their ULEB operands
                for _ in range(std_lengths[op - 1]):
                    _, pos = uleb(buf, pos)
