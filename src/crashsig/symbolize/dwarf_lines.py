"""DWARF 2-5 line programs: header, file table and the row covering one address.

A lookup decodes the program only up to the row that answers it, and later lookups go on
from there; the whole program, ordered by address (:class:`LineRows`), serves the on-disk
index (less the rows that repeat the row before them) and addresses that no sequence
decoded so far covers. Both answer every address alike, malformed programs included
(``tests/test_symbolize_lines.py``).
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
        """The row covering ``address`` (see :class:`LineRows`), or None.

        The program is decoded only as far as the answer needs: up to the first row above
        the address in the first sequence that covers it (most lookups of a unit are
        answered before the end of its program). Whole programs are decoded for
        :attr:`rows` and for addresses no sequence decoded so far covers.
        """
        if "rows" not in self.__dict__:
            decoder = self._decoder
            index = None if decoder.broken else decoder.answer(address)
            if index is None and not decoder.done:
                index = len(decoder.addrs) - 2 if self._run(address) else None
            if index is not None:
                return decoder.files[index], decoder.lines[index], decoder.columns[index]
        rows = self.rows
        pos = bisect.bisect_right(rows.addrs, address) - 1
        if pos < 0 or rows.files[pos] == NO_FILE:
            return None
        return rows.files[pos], rows.lines[pos], rows.columns[pos]

    @cached_property
    def _decoder(self) -> _Decoder:
        return _Decoder(self)

    def _run(self, stop: float) -> bool:
        """:meth:`_Decoder.run`; a program found truncated fails every later lookup too."""
        decoder = self._decoder
        if not decoder.broken:
            try:
                return decoder.run(self, stop)
            except IndexError:
                decoder.broken = True
        raise self.unit.dwarf.error("truncated line program")

    @cached_property
    def rows(self) -> LineRows:
        """Every row of the program, ordered by address (decoded once)."""
        decoder = self._decoder
        self._run(_NEVER)
        del self._decoder  # lookups bisect the rows from now on
        return LineRows(decoder.addrs, decoder.files, decoder.lines, decoder.columns).sorted()


_NEVER = float("inf")
"""A stop address above every address: decode to the end."""


class _Decoder:
    """The line program's state machine, run on demand and resumed where it stopped.

    Rows are kept in program order as columns; an end of sequence is a row with file
    ``NO_FILE``. Of consecutive rows at one address (gcc's location views emit several),
    only the last is kept: a lookup answers with the row before the first row above its
    address, so the others could never answer.
    """

    def __init__(self, table: LineTable) -> None:
        self.pos = table.program_start
        opcode_base, line_range = table.opcode_base, table.line_range
        self.addr_step = [(op - opcode_base) // line_range * table.min_inst for op in range(256)]
        self.line_step = [table.line_base + (op - opcode_base) % line_range for op in range(256)]
        """Address and line advance of each special opcode (the table is not kept: no cycle)."""
        self.state = (0, 1, 1, 0, -1)
        """Registers between runs: address, file, line, column, address of the sequence's last row (-1: none)."""
        self.addrs: list[int] = []
        self.files: list[int] = []
        self.lines: list[int] = []
        self.columns: list[int] = []
        self.sequences: list[tuple[int, int]] = []
        """(first row, end row) of every ended sequence, in program order."""
        self.current = -1
        """First row of the sequence being decoded (-1: none yet)."""
        self.done = False
        self.broken = False
        """The program ended inside an opcode (the state is then not consistent)."""
        self._maxes: dict[int, list[int]] = {}
        """Running maximum of the row addresses of each sequence (by first row), as far as computed."""

    def answer(self, address: int) -> int | None:
        """The row answering ``address`` among those decoded: the row before the first row
        above it, in the first sequence (in program order) that starts at or below it and
        has such a row. None if no decoded sequence covers it."""
        addrs = self.addrs
        spans = [*self.sequences, (self.current, len(addrs) - 1)] if self.current >= 0 else self.sequences
        for first, last in spans:
            if addrs[first] > address:
                continue
            maxes = self._maxes.setdefault(first, [])  # "above" is above every row before, too
            if len(maxes) <= last - first:  # rows were added since (a row's address never changes)
                running = itertools.accumulate(
                    addrs[first + len(maxes) : last + 1], max, initial=maxes[-1] if maxes else 0
                )
                next(running)  # the initial value
                maxes.extend(running)
            above = bisect.bisect_right(maxes, address)
            if above < len(maxes):
                return first + above - 1
        return None

    def run(self, table: LineTable, stop: float) -> bool:  # one state machine, kept whole for speed
        """Decode on until the sequence being decoded, if it starts at or below ``stop``,
        reaches a row above it (then True: that row is the last decoded) or to the end of
        the program (False). Opcodes are tested in the order of their frequency in gcc's
        output (copy, set_column, special, negate_stmt, advance_line, set_file).
        """
        buf, end = table.buf, len(table.buf)
        opcode_base, std_lengths, min_inst = table.opcode_base, table.std_lengths, table.min_inst
        addr_step, line_step = self.addr_step, self.line_step
        const_add = addr_step[255]
        addrs, files, lines, columns, sequences = self.addrs, self.files, self.lines, self.columns, self.sequences
        add_addr, add_file, add_line, add_column = addrs.append, files.append, lines.append, columns.append
        pos, current = self.pos, self.current
        addr, file, line, column, last = self.state
        limit = stop if current >= 0 and addrs[current] <= stop else _NEVER
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
                if last < 0:  # the sequence's first row
                    current = len(addrs) - 1
                    limit = stop if addr <= stop else _NEVER
                elif addr > limit and file != NO_FILE:
                    self.pos, self.current, self.state = pos, current, (addr, file, line, column, addr)
                    return True
                last = addr
            if file == NO_FILE:
                sequences.append((current, len(addrs) - 1))
                addr, file, line, column, last, current = 0, 1, 1, 0, -1, -1
                if addrs[-1] > limit:  # the sequence ended above the stop: the row before its end answers
                    self.pos, self.current, self.state = pos, current, (addr, file, line, column, last)
                    return True
        self.pos, self.current, self.state = pos, current, (addr, file, line, column, last)
        self.done = True
        return False


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
        """The rows (in program order) ordered by address, answering as the program does.

        An address is answered by the first sequence in program order that starts at or
        below it and has a row above it, with the row before that row (what
        :meth:`LineTable.find` computes before the whole program is decoded). Rows that
        ascend already do that as they are (every compiler's output). Otherwise each
        sequence becomes blocks: the stretches of ``[its first row, its end)`` that no
        earlier sequence covers, with addresses raised to the running maximum (an address
        that drops does not reopen what the sequence has passed); blocks are then ordered.
        """
        addrs, files, lines, columns = self.addrs, self.files, self.lines, self.columns
        if all(map(operator.le, addrs, addrs[1:])):
            return self
        ends = list(itertools.compress(range(len(files)), map(NO_FILE.__eq__, files)))
        covered: list[tuple[float, float]] = []
        blocks: list[tuple[float, LineRows]] = []
        for first, last in zip([0, *(end + 1 for end in ends)], [*ends, len(addrs) - 1], strict=True):
            if first > last:
                continue
            maxes = list(itertools.accumulate(addrs[first : last + 1], max))
            start, stop = maxes[0], maxes[-1] if files[last] == NO_FILE else _NEVER
            for low, high in _uncovered(covered, start, stop):
                if (low, high) == (start, stop) and maxes == addrs[first : last + 1]:  # as decoded
                    block = LineRows(*(column[first : last + 1] for column in (addrs, files, lines, columns)))
                else:
                    block = self._stretch(first, maxes, int(low), high)
                blocks.append((low, block))
            _cover(covered, start, stop)
        blocks.sort(key=operator.itemgetter(0))
        return LineRows(*([value for _, block in blocks for value in column(block)] for column in _COLUMNS))

    def _stretch(self, first: int, maxes: list[int], low: int, high: float) -> LineRows:
        """Rows answering ``[low, high)`` for the sequence from row ``first`` (see :meth:`sorted`)."""
        at = bisect.bisect_right(maxes, low) - 1
        out = LineRows([low], [self.files[first + at]], [self.lines[first + at]], [self.columns[first + at]])
        for offset in range(at + 1, len(maxes)):
            address, row = maxes[offset], first + offset
            if address >= high:
                break
            if address == out.addrs[-1]:
                out.files[-1], out.lines[-1], out.columns[-1] = self.files[row], self.lines[row], self.columns[row]
            else:
                out.addrs.append(address)
                out.files.append(self.files[row])
                out.lines.append(self.lines[row])
                out.columns.append(self.columns[row])
        if high != _NEVER:
            out.addrs.append(int(high))
            out.files.append(NO_FILE)
            out.lines.append(0)
            out.columns.append(0)
        return out

    def deduplicated(self) -> LineRows:
        """The rows without those repeating the file, line and column of the row before
        them: such a row answers nothing new (what the on-disk index stores)."""
        files, lines, columns = self.files, self.lines, self.columns
        keep = [True, *map(operator.or_, map(operator.ne, files[1:], files), map(operator.ne, lines[1:], lines))]
        keep = list(map(operator.or_, keep, [True, *map(operator.ne, columns[1:], columns)]))
        if all(keep):
            return self
        return LineRows(*(list(itertools.compress(column, keep)) for column in (self.addrs, files, lines, columns)))


_COLUMNS = (
    operator.attrgetter("addrs"),
    operator.attrgetter("files"),
    operator.attrgetter("lines"),
    operator.attrgetter("columns"),
)


def _uncovered(covered: list[tuple[float, float]], start: float, stop: float) -> list[tuple[float, float]]:
    """The parts of ``[start, stop)`` outside the sorted, disjoint intervals ``covered``."""
    gaps = []
    cursor = start
    for low, high in itertools.islice(covered, max(bisect.bisect_left(covered, (start,)) - 1, 0), None):
        if low >= stop:
            break
        if low > cursor:
            gaps.append((cursor, low))
        cursor = max(cursor, high)
        if cursor >= stop:
            return gaps
    if cursor < stop:
        gaps.append((cursor, stop))
    return gaps


def _cover(covered: list[tuple[float, float]], start: float, stop: float) -> None:
    """Add ``[start, stop)`` to the sorted, disjoint intervals ``covered``."""
    if start >= stop:
        return
    at = bisect.bisect_left(covered, (start,))
    if at > 0 and covered[at - 1][1] >= start:
        at -= 1
        start = covered[at][0]
    after = at
    while after < len(covered) and covered[after][0] <= stop:
        stop = max(stop, covered[after][1])
        after += 1
    covered[at:after] = [(start, stop)]
