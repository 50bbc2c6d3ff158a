"""Text symbols of an ELF image: by name (``func+off/size``) and by address.

Columns of ``.symtab`` are sliced out with strided ``memoryview`` casts, and which
entries are text symbols is worked out on byte columns (``bytes.translate``, and ``&``
of byte strings read as big integers), so even a vmlinux with 120 000 symbols is
indexed without a Python-level step per entry. Sizes follow kallsyms: a symbol extends
to the next text symbol's address.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
import struct
import sys
from collections.abc import Iterator, Sequence
from functools import cached_property

from crashsig.errors import ElfError
from crashsig.symbolize.elf import SHF_ALLOC, SHF_EXECINSTR, Blob, ElfImage

_STT_NOTYPE, _STT_FUNC = 0, 2
# st_info bytes whose type (low nibble) is NOTYPE or FUNC, any binding.
_TEXT_TYPE = bytes(1 if b & 0xF in (_STT_NOTYPE, _STT_FUNC) else 0 for b in range(256))
_NONZERO = bytes([0] + [1] * 255)
_IS_ZERO = bytes([1] + [0] * 255)


_COLUMNS = frozenset({"_names", "_info", "_shndx", "_values", "_sizes", "_named", "_shndx_bytes"})
_ENTRY64 = struct.Struct("<IBBHQQ")
_NEARBY_WINDOWS = 16
"""How many 64 KiB windows of addresses :meth:`SymbolTable._nearby` searches downwards."""


_NEARBY_QUERIES = 8
"""How many lookups search near their address before the table is sorted once instead."""


def _all_of(*masks: bytes) -> bytes:
    """Byte-wise AND of equally long 0/1 masks (one big-integer ``&``, not a loop)."""
    value = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        value &= int.from_bytes(mask, "little")
    return value.to_bytes(len(masks[0]), "little")


def _any_of(*columns: bytes) -> bytes:
    """1 where any of the equally long byte columns is non-zero, else 0."""
    value = 0
    for column in columns:
        value |= int.from_bytes(column, "little")
    return value.to_bytes(len(columns[0]), "little").translate(_NONZERO)


class Symbol:
    """One text symbol (a slotted class: a symbolize process should not import ``typing``)."""

    __slots__ = ("address", "elf_size", "name")

    def __init__(self, name: str, address: int, elf_size: int) -> None:
        self.name = name
        """Symbol name as in the symbol table (``foo.isra.0`` kept)."""
        self.address = address
        """Start address in the image's address space (ET_REL: the synthetic layout)."""
        self.elf_size = elf_size
        """``st_size`` from the symbol table."""


class SymbolTable:
    """Text symbols of one image (``.symtab``, else ``.dynsym``).

    The table's columns are read on first use of one of them (:meth:`__getattr__`); the
    first lookups by address search the mapped table near the address instead
    (:meth:`_nearby`), so a process that needs one symbol for an assembly frame does not
    read a vmlinux's 120 000 entries.
    """

    _names: Sequence[int]
    _info: bytes
    _shndx: Sequence[int]
    _values: Sequence[int]
    _sizes: Sequence[int]
    _named: bytes
    """1 per entry that has a name, else 0."""
    _shndx_bytes: tuple[bytes, bytes] | None
    """Low and high bytes of each ``st_shndx``, when the fast path read them."""

    def __init__(self, image: ElfImage) -> None:
        self.image = image
        sec = image.section_by_name.get(".symtab") or image.section_by_name.get(".dynsym")
        self.present = sec is not None and sec.size > 0
        self._nearby_queries = 0
        self._blob: Blob | None = None
        if sec is None or not self.present:
            return
        if not 0 < sec.link < len(image.sections):
            raise ElfError(f"{image.path}: symbol table has no string table (sh_link {sec.link})")
        self._strtab = image.blob_of(image.sections[sec.link])
        self._blob = image.blob_of(sec)

    def __getattr__(self, name: str) -> object:
        """Read the columns when one of them is first used."""
        if name not in _COLUMNS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self._read_columns()
        return self.__dict__[name]

    def _read_columns(self) -> None:
        self._names, self._info, self._shndx, self._values, self._sizes = [], b"", [], [], []
        self._named, self._shndx_bytes = b"", None
        if self._blob is None:
            return
        data = self._blob.tail(0)
        is64 = self.image.elfclass == 64
        entsize = 24 if is64 else 16
        data = data[: len(data) - len(data) % entsize]
        if is64 and self.image.little_endian and sys.byteorder == "little":
            view = memoryview(data)
            self._names = view.cast("I")[0::6]
            self._info = data[4::24]
            self._shndx = view.cast("H")[3::12]
            self._values = view.cast("Q")[1::3]
            self._sizes = view.cast("Q")[2::3]
            self._named = _any_of(data[0::24], data[1::24], data[2::24], data[3::24])
            self._shndx_bytes = (data[6::24], data[7::24])
            return
        order = "<" if self.image.little_endian else ">"
        if is64:
            rows = [(n, i, x, v, s) for n, i, _, x, v, s in struct.iter_unpack(order + "IBBHQQ", data)]
        else:
            rows = [(n, i, x, v, s) for n, v, s, i, _, x in struct.iter_unpack(order + "IIIBBH", data)]
        self._names = [r[0] for r in rows]
        self._info = bytes(r[1] for r in rows)
        self._shndx = [r[2] for r in rows]
        self._values = [r[3] for r in rows]
        self._sizes = [r[4] for r in rows]
        self._named = bytes(map(bool, self._names))

    @cached_property
    def _text_mask(self) -> bytes:
        """1 per entry that is a named text symbol, else 0."""
        return _all_of(self._info.translate(_TEXT_TYPE), self._in_code(), self._named)

    @cached_property
    def _text(self) -> tuple[list[int], list[int]]:
        """(indices of text symbols sorted by address, their addresses)."""
        mask = self._text_mask
        indices = list(itertools.compress(range(len(self._names)), mask))
        if self.image.is_relocatable:
            bases = self.image.section_bases
            addrs = [bases[self._shndx[i]] + self._values[i] for i in indices]
        else:
            addrs = list(itertools.compress(self._values, mask))
        order = sorted(range(len(indices)), key=addrs.__getitem__)
        if len(order) > 1:  # itemgetter picks in C; it returns a bare item for one index
            pick = operator.itemgetter(*order)
            indices, addrs = list(pick(indices)), list(pick(addrs))
        return indices, addrs

    def _in_code(self) -> bytes:
        """1 per entry whose section is allocated and executable, else 0."""
        code = self._code_sections
        if self._shndx_bytes is not None and len(self.image.sections) <= 256:
            low, high = self._shndx_bytes
            return _all_of(low.translate(code[:256]), high.translate(_IS_ZERO))
        return bytes(map(code.__getitem__, self._shndx))

    @cached_property
    def _code_sections(self) -> bytes:
        """1 per section index (of 65536) whose section is allocated and executable."""
        code = bytearray(65536)
        for sec in self.image.sections:
            if sec.flags & SHF_EXECINSTR and sec.flags & SHF_ALLOC:
                code[sec.index] = 1
        return bytes(code)

    def _address(self, index: int) -> int:
        return (
            self.image.section_bases[self._shndx[index]] + self._values[index]
            if self.image.is_relocatable
            else self._values[index]
        )

    def _symbol(self, index: int) -> Symbol:
        return Symbol(self._strtab.cstring(self._names[index]), self._address(index), self._sizes[index])

    def kallsyms_size(self, sym: Symbol) -> int:
        """Size as kallsyms prints it: distance to the next text symbol (``st_size`` for the last)."""
        addrs = self._text[1]
        pos = bisect.bisect_right(addrs, sym.address)  # the first text symbol at a higher address
        return addrs[pos] - sym.address if pos < len(addrs) else max(sym.elf_size, 1)

    def find_by_name(self, name: str) -> list[Symbol]:
        """Every text symbol called ``name``, in address order (empty when none)."""
        if not self.present or not name:
            return []
        needle = name.encode() + b"\0"
        blob = self._strtab
        end = blob.start + blob.size
        offsets = []
        pos = blob.buf.find(needle, blob.start, end)
        while pos >= 0:  # suffix-merged string tables may point into the middle of a string
            offsets.append(pos - blob.start)
            pos = blob.buf.find(needle, pos + 1, end)
        wanted = self._name_set.intersection(offsets)
        found = []
        names = self._name_list
        for off in wanted:
            index = names.index(off)
            while True:
                if self._text_mask[index]:
                    found.append(self._symbol(index))
                try:
                    index = names.index(off, index + 1)
                except ValueError:
                    break
        return sorted(found, key=lambda s: s.address)

    @cached_property
    def _name_list(self) -> list[int]:
        return list(self._names)

    @cached_property
    def _name_set(self) -> set[int]:
        return set(self._name_list)

    def find_by_address(self, address: int) -> Symbol | None:
        """The text symbol covering ``address`` (kallsyms rules), or None.

        The first few lookups (:data:`_NEARBY_QUERIES`) look at the symbols near
        ``address`` first (:meth:`_nearby`, about 0.5 ms): sorting a vmlinux's 46 000
        text symbols by address, as later ones do, costs 15 ms.
        """
        if not self.present:
            return None
        if "_text" not in self.__dict__ and self._nearby_queries < _NEARBY_QUERIES:
            self._nearby_queries += 1
            settled, sym = self._nearby(address)
            if settled:
                return sym
        pos = bisect.bisect_right(self._text[1], address) - 1
        if pos < 0:
            return None
        sym = self._best_at(pos)
        if address >= sym.address + max(self.kallsyms_size(sym), sym.elf_size):
            return None
        return sym

    def _nearby(self, address: int) -> tuple[bool, Symbol | None]:
        """:meth:`find_by_address` from the text symbols in the 64 KiB windows of addresses
        at and below ``address`` (at most :data:`_NEARBY_WINDOWS`), found by a byte search
        of the mapped table; ``(False, None)`` when they do not settle it.
        """
        if self._window_search is None or not 0 <= address < 1 << 64:
            return False, None
        at: list[tuple[int, int, int, int]] = []  # (index, info, name, size) of the text symbols at `start`
        start, above = -1, False
        first = address >> 16
        for window in range(first, max(first - _NEARBY_WINDOWS, -1), -1):
            for index, name, info, value, size in self._text_in_window(window):
                if value > address:
                    above = True
                elif value > start:
                    start, at = value, [(index, info, name, size)]
                elif value == start:
                    at.append((index, info, name, size))
            if at:
                break
        if not at:
            return False, None
        _, _, name, size = max(at, key=lambda entry: _rank(entry[1], entry[0]))
        sym = Symbol(self._strtab.cstring(name), start, size)
        if not above and address >= sym.address + max(sym.elf_size, 1) and not self._text_above(first):
            return True, None  # past the end of the last text symbol
        return True, sym

    @cached_property
    def _window_search(self) -> Blob | None:
        """The table to search for :meth:`_nearby`: ELF64 little-endian, not relocatable."""
        if self._blob is None or self.image.is_relocatable or self.image.elfclass != 64 or not self.image.little_endian:
            return None
        return self._blob

    def _text_in_window(self, window: int) -> Iterator[tuple[int, int, int, int, int]]:
        """(index, st_name, st_info, st_value, st_size) of the text symbols whose
        ``st_value`` has bits 16-63 equal to ``window``."""
        blob = self._window_search
        assert blob is not None
        code = self._code_sections
        end = blob.start + blob.size - blob.size % 24
        for match in re.compile(re.escape(window.to_bytes(6, "little"))).finditer(blob.buf, blob.start, end):
            offset = match.start() - 10  # st_value is at byte 8 of a 24-byte entry
            if (offset - blob.start) % 24 == 0 and offset + 24 <= end:
                name, info, _, shndx, value, size = _ENTRY64.unpack_from(blob.buf, offset)
                if name and _TEXT_TYPE[info] and code[shndx]:
                    yield (offset - blob.start) // 24, name, info, value, size

    def _text_above(self, window: int) -> bool:
        """Whether a text symbol lies in a 64 KiB window above ``window`` (the nearest
        :data:`_NEARBY_WINDOWS` are searched first)."""
        for above in range(window + 1, min(window + 1 + _NEARBY_WINDOWS, 1 << 48)):
            if any(True for _ in self._text_in_window(above)):
                return True
        return max(itertools.compress(self._values, self._text_mask), default=-1) >> 16 > window

    def _best_at(self, pos: int) -> Symbol:
        """The symbol :meth:`find_by_address` names for the address of sorted entry ``pos``."""
        indices, addrs = self._text
        first = bisect.bisect_left(addrs, addrs[pos])
        best = max(range(first, pos + 1), key=lambda k: _rank(self._info[indices[k]], indices[k]))
        return self._symbol(indices[best])

    def iter_by_address(self) -> Iterator[tuple[Symbol, int]]:
        """Per unique text address: the symbol :meth:`find_by_address` picks, its kallsyms size."""
        if not self.present:
            return
        addrs = self._text[1]
        for start in dict.fromkeys(addrs):
            sym = self._best_at(bisect.bisect_right(addrs, start) - 1)
            yield sym, self.kallsyms_size(sym)

    def iter_text(self) -> Iterator[Symbol]:
        """Every named text symbol, in address order."""
        if self.present:
            yield from map(self._symbol, self._text[0])


def _rank(info: int, index: int) -> tuple[bool, int]:
    """Aliases at one address: a FUNC beats a NOTYPE label, then the first in the symbol
    table wins (what addr2line's elf_find_function does)."""
    return info & 0xF == _STT_FUNC, -index
