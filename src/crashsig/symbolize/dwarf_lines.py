"""DWARF 2-5 line programs: header, file table and the row covering one address.

A program is decoded once, whole, into sorted columns (:class:`LineRows`); a lookup is
then one bisection. The on-disk index stores the same columns, less the rows that repeat
the row before them.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import struct
from functools import cached_property

from crashsig.errors import DwarfError
from crashsig.symbolize.reader import cstring, initial_length, sleb, uleb, unsigned

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from crashsig.symbolize.unit import Unit

Row = tuple[int, int, int]
"""(file index, line, column) of a line-table row."""
Name = str | tuple[int, int]
"""A file or directory name of the header: the string, or (form, offset or index) of one
that is looked up only when a lookup needs it (a kernel unit names hundreds of files)."""

_LNCT_PATH, _LNCT_DIRECTORY_INDEX = 1, 2
_FORM_STRING, _FORM_LINE_STRP, _FORM_STRP, _FORM_UDATA = 0x08, 0x1F, 0x0E, 0x0F
_FIXED_DATA = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x1E: 16}
_BLOCK_FORMS = {0x09}
_STRX = {0x1A: 0, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4}
_NAME_CODES = {0x25: "B", 0x26: "H", 0x28: "I"}  # strx1, strx2, strx4 (line_strp, strp: offset-sized)
_NUMBER_CODES = {0x0B: "B", 0x05: "H", 0x06: "I", 0x07: "Q", _FORM_UDATA: "B"}  # ULEB128: one byte, checked
_OTHER_CODES = {0x1E: "16s"}  # data16 (MD5)


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
            self.dirs: list[Name] = [name for name, _ in dirs]
            self.files: list[tuple[Name, int]] = self._entries_v5(pos)[0]
        else:
            self.dirs, self.files = self._tables_v4(pos)

    def _tables_v4(self, pos: int) -> tuple[list[Name], list[tuple[Name, int]]]:
        buf = self.buf
        dirs: list[Name] = [self.comp_dir]
        while buf[pos]:
            name, pos = cstring(buf, pos)
            dirs.append(name.decode("utf-8", "replace"))
        pos += 1
        files: list[tuple[Name, int]] = [("", 0)]  # DWARF < 5 numbers files from 1
        while buf[pos]:
            name, pos = cstring(buf, pos)
            index, pos = uleb(buf, pos)
            _, pos = uleb(buf, pos)
            _, pos = uleb(buf, pos)
            files.append((name.decode("utf-8", "replace"), index))
        return dirs, files

    def _entries_v5(self, pos: int) -> tuple[list[tuple[Name, int]], int]:
        buf = self.buf
        count = buf[pos]
        pos += 1
        formats = []
        for _ in range(count):
            kind, pos = uleb(buf, pos)
            form, pos = uleb(buf, pos)
            formats.append((kind, form))
        entries_count, pos = uleb(buf, pos)
        fixed = self._fixed_entries(pos, formats, entries_count)
        if fixed is not None:
            return fixed
        entries = []
        for _ in range(min(entries_count, len(buf))):
            name: Name = ""
            index = 0
            for kind, form in formats:
                value, pos = self._form(pos, form)
                if kind == _LNCT_PATH and isinstance(value, str | tuple):
                    name = value
                elif kind == _LNCT_DIRECTORY_INDEX and isinstance(value, int):
                    index = value
            entries.append((name, index))
        return entries, pos

    def _fixed_entries(
        self, pos: int, formats: list[tuple[int, int]], count: int
    ) -> tuple[list[tuple[Name, int]], int] | None:
        """:meth:`_entries_v5` in one ``struct`` pass, when every field has a fixed size.

        ULEB128 fields count as one byte when no value needs more (checked on the byte
        columns); a path that is not a string offset or index, a repeated field, or any
        other form gives None, and the entries are then decoded field by field (a kernel
        unit names a few hundred files: 0.1 ms that way, 0.03 ms this way).
        """
        kinds = [kind for kind, _ in formats]
        if _LNCT_PATH not in kinds or len(set(kinds)) < len(kinds):
            return None
        offset_code = "I" if self.offset_size == 4 else "Q"
        codes = []
        for kind, form in formats:
            if kind == _LNCT_PATH:
                code = offset_code if form in (_FORM_LINE_STRP, _FORM_STRP) else _NAME_CODES.get(form)
            elif kind == _LNCT_DIRECTORY_INDEX:
                code = _NUMBER_CODES.get(form)
            else:
                code = _NUMBER_CODES.get(form) or _OTHER_CODES.get(form)
            if code is None:
                return None
            codes.append(code)
        layout = struct.Struct("<" + "".join(codes))
        stop = pos + layout.size * count
        if stop > len(self.buf):
            return None
        data = self.buf[pos:stop]
        for field, (_, form) in enumerate(formats):
            start = struct.calcsize("<" + "".join(codes[:field]))
            if form == _FORM_UDATA and max(data[start :: layout.size], default=0) >= 0x80:
                return None
        path = kinds.index(_LNCT_PATH)
        name_form = 0x1A if formats[path][1] in _NAME_CODES else formats[path][1]
        rows = layout.iter_unpack(data)
        if _LNCT_DIRECTORY_INDEX not in kinds:
            return [((name_form, row[path]), 0) for row in rows], stop
        directory = kinds.index(_LNCT_DIRECTORY_INDEX)
        return [((name_form, row[path]), row[directory]) for row in rows], stop

    def _form(self, pos: int, form: int) -> tuple[Name | int | bytes, int]:
        buf, dwarf = self.buf, self.unit.dwarf
        if form == _FORM_STRING:
            raw, pos = cstring(buf, pos)
            return raw.decode("utf-8", "replace"), pos
        if form in (_FORM_LINE_STRP, _FORM_STRP):
            return (form, unsigned(buf, pos, self.offset_size)), pos + self.offset_size
        if form in _STRX:
            size = _STRX[form]
            index, pos = uleb(buf, pos) if size == 0 else (unsigned(buf, pos, size), pos + size)
            return (0x1A, index), pos
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
        name_ref, dir_index = self.files[index]
        name = self._string(name_ref)
        if name.startswith("/"):
            return name
        directory = self._string(self.dirs[dir_index]) if 0 <= dir_index < len(self.dirs) else ""
        if directory and not directory.startswith("/") and self.comp_dir:
            directory = f"{self.comp_dir}/{directory}"
        return f"{directory}/{name}" if directory else name

    def _string(self, name: Name) -> str:
        if isinstance(name, str):
            return name
        form, value = name
        return self.unit.dwarf.form_string(self.unit, form, value) or ""

    def find(self, address: int) -> Row | None:
        """The row covering ``address``: the last row at or below it, unless that ends a sequence."""
        rows = self.rows
        pos = bisect.bisect_right(rows.addrs, address) - 1
        if pos < 0 or rows.files[pos] == NO_FILE:
            return None
        return rows.files[pos], rows.lines[pos], rows.columns[pos]

    @cached_property
    def rows(self) -> LineRows:
        """Every row of the program, sorted by address (decoded once)."""
        try:
            rows = self._decode()
        except IndexError as exc:
            raise self.unit.dwarf.error("truncated line program") from exc
        return rows.sorted()

    def _decode(self) -> LineRows:  # one state machine, kept whole for speed
        """Run the state machine; an end of sequence becomes a row with file ``NO_FILE``.

        Of consecutive rows at one address (gcc's location views emit several), only the
        last is kept: a lookup answers with the last row at or below its address, so the
        others could never answer. Opcodes are tested in the order of their frequency in
        gcc's output (copy, set_column, special, negate_stmt, advance_line, set_file).
        """
        buf, end = self.buf, len(self.buf)
        opcode_base, std_lengths, min_inst = self.opcode_base, self.std_lengths, self.min_inst
        addr_step = [(op - opcode_base) // self.line_range * min_inst for op in range(256)]
        line_step = [self.line_base + (op - opcode_base) % self.line_range for op in range(256)]
        const_add = addr_step[255]
        addrs: list[int] = []
        files: list[int] = []
        lines: list[int] = []
        columns: list[int] = []
        add_addr, add_file, add_line, add_column = addrs.append, files.append, lines.append, columns.append
        pos = self.program_start
        addr, file, line, column = 0, 1, 1, 0
        last = -1  # address of the sequence's last row so far (-1: none yet)
        while pos < end:
            op = buf[pos]
            pos += 1
            if op == 1:  # copy
                pass
            elif op == 5:  # set_column
                column = buf[pos]
                pos += 1
                if column >= 0x80:
                    column, pos = uleb(buf, pos - 1)
                continue
            elif op >= opcode_base:
                addr += addr_step[op]
                line += line_step[op]
            elif op == 6:  # negate_stmt: rows are looked up whatever their is_stmt
                continue
            elif op == 3:  # advance_line: a signed LEB128 of one or (jumps into headers) two bytes
                delta = buf[pos]
                if delta < 0x80:
                    line += delta - 0x80 if delta & 0x40 else delta
                    pos += 1
                elif buf[pos + 1] < 0x80:
                    delta = (delta & 0x7F) | buf[pos + 1] << 7
                    line += delta - 0x4000 if delta & 0x2000 else delta
                    pos += 2
                else:
                    delta, pos = sleb(buf, pos)
                    line += delta
                continue
            elif op == 4:  # set_file
                file = buf[pos]
                pos += 1
                if file >= 0x80:
                    file, pos = uleb(buf, pos - 1)
                continue
            elif op == 0:  # extended: set_discriminator (most of them), set_address, end_sequence
                length = buf[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = uleb(buf, pos - 1)
                sub = buf[pos]
                pos += length
                if sub == 2:  # set_address
                    addr = unsigned(buf, pos - length + 1, length - 1)
                if sub != 1:
                    continue
                file, line, column = NO_FILE, 0, 0  # end_sequence: a row that answers nothing, then a fresh state
            elif op == 8:  # const_add_pc
                addr += const_add
                continue
            elif op == 2:  # advance_pc
                delta, pos = uleb(buf, pos)
                addr += delta * min_inst
                continue
            elif op == 9:  # fixed_advance_pc
                addr += buf[pos] | buf[pos + 1] << 8
                pos += 2
                continue
            else:  # basic_block, set_prologue_end... and unknown opcodes: skip their operands
                for _ in range(std_lengths[op - 1]):
                    _, pos = uleb(buf, pos)
                continue
            if addr == last:
                files[-1], lines[-1], columns[-1] = file, line, column
            else:
                add_addr(addr)
                add_file(file)
                add_line(line)
                add_column(column)
                last = addr
            if file == NO_FILE:
                addr, file, line, column, last = 0, 1, 1, 0, -1
        return LineRows(addrs, files, lines, columns)


NO_FILE = 0xFFFFFFFF
"""File index of the row that ends a sequence (no source line from there on)."""


class LineRows:
    """Rows of a line program as columns; ``files[i] == NO_FILE`` marks an end of sequence."""

    def __init__(self, addrs: list[int], files: list[int], lines: list[int], columns: list[int]) -> None:
        self.addrs = addrs
        self.files = files
        self.lines = lines
        self.columns = columns

    def sorted(self) -> LineRows:
        """Rows ordered by address.

        Whole sequences are sorted by their first address; sequences that still overlap
        after that (not seen from gcc or clang) fall back to a stable sort of every row,
        ends of sequence before rows at the same address.
        """
        addrs, files, lines, columns = self.addrs, self.files, self.lines, self.columns
        if all(map(operator.le, addrs, addrs[1:])):
            return self
        ends = list(itertools.compress(range(len(files)), map(NO_FILE.__eq__, files)))
        starts = [0] + [e + 1 for e in ends]
        blocks = sorted((addrs[a], a, b) for a, b in zip(starts, [*ends, len(addrs) - 1], strict=True) if a <= b)
        order = [i for _, a, b in blocks for i in range(a, b + 1)]
        if not all(addrs[p] <= addrs[q] for (_, _, p), (_, q, _) in itertools.pairwise(blocks)):
            keys = [a * 2 + (f != NO_FILE) for a, f in zip(addrs, files, strict=True)]
            order = sorted(range(len(keys)), key=keys.__getitem__)
        return LineRows(*([column[i] for i in order] for column in (addrs, files, lines, columns)))

    def deduplicated(self) -> LineRows:
        """The rows without those repeating the file, line and column of the row before
        them: such a row answers nothing new (what the on-disk index stores)."""
        files, lines, columns = self.files, self.lines, self.columns
        keep = [True, *map(operator.or_, map(operator.ne, files[1:], files), map(operator.ne, lines[1:], lines))]
        keep = list(map(operator.or_, keep, [True, *map(operator.ne, columns[1:], columns)]))
        if all(keep):
            return self
        return LineRows(*(list(itertools.compress(column, keep)) for column in (self.addrs, files, lines, columns)))
