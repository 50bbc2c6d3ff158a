"""DWARF sections of one image: units by offset or address, strings, addresses, ranges.

Nothing is read up front. ``.debug_aranges`` gives the unit of an address; only for an
address it does not cover are the units it leaves out found (by walking every unit
header) and their top DIEs' ranges consulted. A unit is then decoded alone.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable
from functools import cached_property

from crashsig.errors import DwarfError
from crashsig.symbolize import abbrev as A
from crashsig.symbolize.aranges import RangeIndex, parse_aranges
from crashsig.symbolize.elf import Blob, ElfImage
from crashsig.symbolize.reader import initial_length, uleb, unsigned
from crashsig.symbolize.reloc import relocate
from crashsig.symbolize.unit import Unit

_UNIT_CACHE = 8
_ABBREV_CACHE = 64
_WINDOW = 256


class DwarfInfo:
    """Lazy access to an image's DWARF. Check :func:`has_dwarf` before building one."""

    def __init__(self, image: ElfImage) -> None:
        self.image = image
        self.path = image.path
        self._blobs: dict[str, Blob | None] = {}
        info = self.section(".debug_info")
        if info is None:
            raise self.error("no .debug_info section")
        self.info = info
        self._units: collections.OrderedDict[int, Unit] = collections.OrderedDict()
        self._abbrevs: collections.OrderedDict[int, A.AbbrevTable] = collections.OrderedDict()
        self.function_cache: dict[int, list[tuple[int, int, int]]] = {}
        """Subprogram ranges by unit offset, kept when the unit itself leaves the LRU."""

    def error(self, message: str) -> DwarfError:
        """A DwarfError naming this file."""
        return DwarfError(f"{self.path}: {message}")

    def section(self, name: str) -> Blob | None:
        """A debug section, relocated first when the image is ET_REL; None if absent."""
        if name not in self._blobs:
            sec = self.image.section_by_name.get(name)
            if sec is None or not self.image.has_section(name):
                self._blobs[name] = None
            elif self.image.is_relocatable:
                data = relocate(self.image, sec)
                self._blobs[name] = Blob(data, 0, len(data), name, self.path)
            else:
                self._blobs[name] = self.image.blob_of(sec)
        return self._blobs[name]

    def _need(self, name: str) -> Blob:
        blob = self.section(name)
        if blob is None:
            raise self.error(f"needs section {name}, which is missing")
        return blob

    # ---- units -------------------------------------------------------------------------
    def get_abbrevs(self, offset: int) -> A.AbbrevTable:
        """The abbreviation table at ``offset`` of ``.debug_abbrev`` (cached, decoded lazily)."""
        table = self._abbrevs.get(offset)
        if table is not None:
            self._abbrevs.move_to_end(offset)
            return table
        blob = self._need(".debug_abbrev")
        if not 0 <= offset < blob.size:
            raise self.error(f"abbreviation offset {offset:#x} is outside .debug_abbrev")
        table = A.AbbrevTable(lambda size: blob.read(offset, min(size, blob.size - offset)))
        self._abbrevs[offset] = table
        if len(self._abbrevs) > _ABBREV_CACHE:
            self._abbrevs.popitem(last=False)
        return table

    def get_unit(self, offset: int) -> Unit:
        """The unit starting at ``offset`` of ``.debug_info`` (a small LRU keeps recent ones)."""
        unit = self._units.get(offset)
        if unit is not None:
            self._units.move_to_end(offset)
            return unit
        if not 0 <= offset < self.info.size:
            raise self.error(f"unit offset {offset:#x} is outside .debug_info")
        unit = Unit(self, offset)
        self._units[offset] = unit
        if len(self._units) > _UNIT_CACHE:
            self._units.popitem(last=False)
        return unit

    @cached_property
    def unit_offsets(self) -> list[int]:
        """Offsets of every unit header (walks headers only, bounded by the section size)."""
        out = []
        pos = 0
        while pos + 11 <= self.info.size:
            head = self.info.read(pos, 12)
            length, _, body = initial_length(head, 0)
            if length == 0:
                raise self.error(f"zero-length unit at .debug_info+{pos:#x}")
            out.append(pos)
            pos += body + length
        return out

    def unit_containing(self, offset: int, *, hint: Unit | None = None) -> Unit:
        """The unit holding the DIE at section offset ``offset``."""
        if hint is not None and hint.offset <= offset < hint.end:
            return hint
        offsets = self.unit_offsets
        index = bisect.bisect_right(offsets, offset) - 1
        if index < 0:
            raise self.error(f"reference {offset:#x} is outside every unit")
        return self.get_unit(offsets[index])

    @cached_property
    def listed_unit_ranges(self) -> list[tuple[int, int, int]]:
        """(start, end, unit offset) of every range ``.debug_aranges`` lists."""
        aranges = self.section(".debug_aranges")
        return parse_aranges(aranges.tail(0), self.path) if aranges else []

    @cached_property
    def listed_units(self) -> RangeIndex:
        """Address -> unit offset, from ``.debug_aranges``."""
        return RangeIndex(self.listed_unit_ranges)

    def unlisted_unit_ranges(self) -> list[tuple[int, int, int]]:
        """(start, end, unit offset) from the top DIE of each unit ``.debug_aranges`` leaves out."""
        listed = {e[2] for e in self.listed_unit_ranges}
        entries: list[tuple[int, int, int]] = []
        for offset in self.unit_offsets:
            if offset in listed:
                continue
            unit = Unit(self, offset, full=False)
            if unit.tag in (A.TAG_COMPILE_UNIT, A.TAG_PARTIAL_UNIT, A.TAG_SKELETON_UNIT):
                entries.extend((lo, hi, offset) for lo, hi in unit.ranges(unit.top))
        return entries

    @cached_property
    def unlisted_units(self) -> RangeIndex:
        """Address -> unit offset for the units ``.debug_aranges`` leaves out."""
        return RangeIndex(self.unlisted_unit_ranges())

    def unit_for_address(self, address: int) -> Unit | None:
        """The unit whose code covers ``address`` (``.debug_aranges`` first), or None."""
        offset = self.listed_units.find(address)
        if offset is None:
            offset = self.unlisted_units.find(address)
        return None if offset is None else self.get_unit(offset)

    # ---- indexed values ----------------------------------------------------------------
    def form_string(self, unit: Unit, form: int, value: int) -> str | None:
        """A string given by offset or index."""
        if form in A.STRP_FORMS:
            return self._need(".debug_str").cstring(value)
        if form in A.LINE_STRP_FORMS:
            return self._need(".debug_line_str").cstring(value)
        if form in A.STRX_FORMS:
            table = self._need(".debug_str_offsets")
            where = unit.str_offsets_base + value * unit.offset_size
            return self._need(".debug_str").cstring(unsigned(table.read(where, unit.offset_size), 0, unit.offset_size))
        return None  # supplementary-file forms (dwz): not supported

    def indexed_address(self, unit: Unit, index: int) -> int:
        """Entry ``index`` of the unit's ``.debug_addr`` table."""
        table = self._need(".debug_addr")
        return unsigned(table.read(unit.addr_base + index * unit.addr_size, unit.addr_size), 0, unit.addr_size)

    def range_list(self, unit: Unit, form: int, value: int) -> list[tuple[int, int]]:
        """Decode a ``DW_AT_ranges`` value: DWARF 5 rnglists or DWARF 2-4 ``.debug_ranges``."""
        if unit.version < 5:
            return self._ranges_v4(unit, value)
        rnglists = self._need(".debug_rnglists")
        if form == A.RNGLISTX_FORM:
            where = unit.rnglists_base + value * unit.offset_size
            value = unit.rnglists_base + unsigned(rnglists.read(where, unit.offset_size), 0, unit.offset_size)
        return self._windowed(rnglists, value, lambda data: _parse_rnglist(data, unit))

    def _ranges_v4(self, unit: Unit, offset: int) -> list[tuple[int, int]]:
        return self._windowed(self._need(".debug_ranges"), offset, lambda data: _parse_ranges_v4(data, unit))

    def _windowed(
        self, blob: Blob, offset: int, parse: Callable[[bytes], list[tuple[int, int]]]
    ) -> list[tuple[int, int]]:
        size = _WINDOW
        while True:
            if not 0 <= offset < blob.size:
                raise self.error(f"range list offset {offset:#x} is outside {blob.name}")
            try:
                return parse(blob.read(offset, min(size, blob.size - offset)))
            except IndexError:
                if offset + size >= blob.size:
                    raise self.error(f"truncated range list at {blob.name}+{offset:#x}") from None
                size *= 8


def _parse_ranges_v4(data: bytes, unit: Unit) -> list[tuple[int, int]]:
    size = unit.addr_size
    top = (1 << (8 * size)) - 1
    base = unit.base_address
    out: list[tuple[int, int]] = []
    pos = 0
    while True:
        start, end = unsigned(data, pos, size), unsigned(data, pos + size, size)
        pos += 2 * size
        if start == 0 and end == 0:
            return out
        if start == top:
            base = end
        elif end > start:
            out.append((base + start, base + end))


def _parse_rnglist(data: bytes, unit: Unit) -> list[tuple[int, int]]:
    size = unit.addr_size
    base = unit.base_address
    out: list[tuple[int, int]] = []
    pos = 0
    while True:
        kind = data[pos]
        pos += 1
        if kind == 0:  # DW_RLE_end_of_list
            return out
        if kind == 1:  # base_addressx
            index, pos = uleb(data, pos)
            base = unit.address(A.FORM_ADDRX, index)
            continue
        if kind == 5:  # base_address
            base = unsigned(data, pos, size)
            pos += size
            continue
        if kind in (2, 3):  # startx_endx, startx_length
            index, pos = uleb(data, pos)
            start = unit.address(A.FORM_ADDRX, index)
            other, pos = uleb(data, pos)
            end = unit.address(A.FORM_ADDRX, other) if kind == 2 else start + other
        elif kind == 4:  # offset_pair
            lo, pos = uleb(data, pos)
            hi, pos = uleb(data, pos)
            start, end = base + lo, base + hi
        elif kind in (6, 7):  # start_end, start_length
            start = unsigned(data, pos, size)
            pos += size
            if kind == 6:
                end = unsigned(data, pos, size)
                pos += size
            else:
                length, pos = uleb(data, pos)
                end = start + length
        else:
            raise DwarfError(f"{unit.dwarf.path}: unknown range list entry kind {kind}")
        if end > start:
            out.append((start, end))


def has_dwarf(image: ElfImage) -> bool:
    """True when the image carries ``.debug_info`` (cheap: looks at section headers only)."""
    return image.has_section(".debug_info")
