"""DWARF constants we use, abbreviation tables and per-abbreviation skip plans."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from crashsig.symbolize.reader import sleb, uleb

# keep-sorted start
AT_ABSTRACT_ORIGIN = 0x31
AT_ADDR_BASE = 0x73
AT_CALL_COLUMN = 0x57
AT_CALL_FILE = 0x58
AT_CALL_LINE = 0x59
AT_COMP_DIR = 0x1B
AT_GNU_ADDR_BASE = 0x2133
AT_GNU_RANGES_BASE = 0x2132
AT_HIGH_PC = 0x12
AT_LINKAGE_NAME = 0x6E
AT_LOW_PC = 0x11
AT_MIPS_LINKAGE_NAME = 0x2007
AT_NAME = 0x03
AT_RANGES = 0x55
AT_RNGLISTS_BASE = 0x74
AT_SIBLING = 0x01
AT_SPECIFICATION = 0x47
AT_STMT_LIST = 0x10
AT_STR_OFFSETS_BASE = 0x72
# keep-sorted end

TAG_COMPILE_UNIT = 0x11
TAG_INLINED_SUBROUTINE = 0x1D
TAG_PARTIAL_UNIT = 0x3C
TAG_SKELETON_UNIT = 0x4A
TAG_SUBPROGRAM = 0x2E
# Tags whose children may hold subprograms or inlined subroutines covering code.
SCOPE_TAGS = frozenset({0x0B, 0x02, 0x13, 0x17, 0x39, 0x32, 0x25, TAG_SUBPROGRAM, TAG_INLINED_SUBROUTINE})

FORM_ADDR = 0x01
FORM_ADDRX = 0x1B
FORM_DATA16 = 0x1E
FORM_IMPLICIT_CONST = 0x21
FORM_INDIRECT = 0x16
FORM_REF_ADDR = 0x10
FORM_STRING = 0x08
ADDRX_FORMS = frozenset({0x1B, 0x29, 0x2A, 0x2B, 0x2C, 0x1F01})
STRX_FORMS = frozenset({0x1A, 0x25, 0x26, 0x27, 0x28, 0x1F02})
STRP_FORMS = frozenset({0x0E})
LINE_STRP_FORMS = frozenset({0x1F})
UNIT_REF_FORMS = frozenset({0x11, 0x12, 0x13, 0x14, 0x15})
BLOCK_FORMS = frozenset({0x03, 0x04, 0x09, 0x0A, 0x18})
RNGLISTX_FORM = 0x23
ADDRESS_CLASS_FORMS = ADDRX_FORMS | {FORM_ADDR}

# Skip codes for variable-size forms (fixed sizes are >= 0).
VARINT, CSTRING, BLOCK1, BLOCK2, BLOCK4, BLOCK_ULEB, INDIRECT = -1, -2, -3, -4, -5, -6, -7
_FIXED = {
    0x0B: 1,
    0x11: 1,
    0x0C: 1,
    0x25: 1,
    0x29: 1,
    0x05: 2,
    0x12: 2,
    0x26: 2,
    0x2A: 2,
    0x27: 3,
    0x2B: 3,
    0x06: 4,
    0x13: 4,
    0x1C: 4,
    0x28: 4,
    0x2C: 4,
    0x07: 8,
    0x14: 8,
    0x20: 8,
    0x24: 8,
    0x1E: 16,
    0x19: 0,
    FORM_IMPLICIT_CONST: 0,
}
_OFFSET_SIZED = frozenset({0x0E, 0x17, 0x1F, 0x1D, 0x1F20, 0x1F21})
_VARIABLE = {
    0x0D: VARINT,
    0x0F: VARINT,
    0x15: VARINT,
    0x1A: VARINT,
    0x1B: VARINT,
    0x22: VARINT,
    0x23: VARINT,
    0x1F01: VARINT,
    0x1F02: VARINT,
    FORM_STRING: CSTRING,
    0x0A: BLOCK1,
    0x03: BLOCK2,
    0x04: BLOCK4,
    0x09: BLOCK_ULEB,
    0x18: BLOCK_ULEB,
    FORM_INDIRECT: INDIRECT,
}


def form_size(form: int, addr_size: int, offset_size: int, version: int) -> int | None:
    """Fixed byte size of a form (>= 0), a negative skip code, or None if unknown."""
    if form in _FIXED:
        return _FIXED[form]
    if form == FORM_ADDR:
        return addr_size
    if form in _OFFSET_SIZED:
        return offset_size
    if form == FORM_REF_ADDR:
        return offset_size if version >= 3 else addr_size
    return _VARIABLE.get(form)


class Abbrev:
    """One abbreviation: a DIE's tag, whether it has children, its (attribute, form) list.

    A slotted class rather than an attrs class or a named tuple: a kernel unit decodes
    hundreds of these, and a symbolize process should not pay for importing ``typing``.
    Equal abbreviations of different tables are one object (see :class:`AbbrevTable`),
    so what is derived from one (``shapes``, by unit layout) is derived once.
    """

    __slots__ = ("attrs", "has_children", "shapes", "tag")

    def __init__(self, tag: int, has_children: bool, attrs: tuple[tuple[int, int, int], ...]) -> None:
        self.tag = tag
        self.has_children = has_children
        self.attrs = attrs
        """``(attribute, form, implicit_const value)`` triples in encoding order."""
        self.shapes: dict[tuple[int, int, int], object] = {}
        """What :meth:`crashsig.symbolize.unit.Unit.shape` derived, by (address size, offset size, version)."""


@functools.cache
def _entry_pattern() -> re.Pattern[bytes]:
    """Where an abbreviation's encoding (after its code) ends, for the usual encodings;
    what it finds is checked against the exact decoder before it is trusted. Compiled on
    first use: lookups in an on-disk index decode no abbreviations."""
    return re.compile(
        rb"[\x80-\xff]*[\x00-\x7f][\x00-\xff]"  # tag, has-children byte
        rb"(?:(?!\x00\x00)[\x80-\xff]*[\x00-\x7f](?:\x21[\x80-\xff]*[\x00-\x7f]|[\x80-\xff]*[\x00-\x7f]))*"  # specs
        rb"\x00\x00"
    )


_INTERNED: dict[bytes, Abbrev] = {}
_MAX_INTERNED = 1 << 16


class AbbrevTable:
    """One abbreviation table, decoded only as far as the codes asked for.

    A unit whose top DIE is all we need (building the unit index) then decodes one
    entry instead of hundreds. Kernel units each have their own table, but tables
    repeat the same few hundred abbreviations: an entry whose bytes were decoded before
    (by any table) is found by those bytes instead of decoded again.
    """

    def __init__(self, fetch: Callable[[int], bytes], window: int = 1024) -> None:
        self._fetch = fetch
        self._data = fetch(window)
        self._window = window
        self._pos = 0
        self._table: dict[int, Abbrev] = {}
        self._done = False
        self._entry = _entry_pattern()

    def get(self, code: int) -> Abbrev | None:
        """The abbreviation for ``code``, or None if the table has none."""
        found = self._table.get(code)
        while found is None and not self._done:
            self._next()
            found = self._table.get(code)
        return found

    def _next(self) -> None:
        while True:
            try:
                return self._decode()
            except IndexError:
                if len(self._data) < self._window:  # the section ended: truly truncated
                    raise
                self._window *= 4
                self._data = self._fetch(self._window)

    def _decode(self) -> None:
        data = self._data
        code, pos = uleb(data, self._pos)
        if code == 0:
            self._done = True
            return
        match = self._entry.match(data, pos)
        found = _INTERNED.get(data[pos : match.end()]) if match else None
        if found is None:
            found, end = _decode_entry(data, pos)
            if match and end == match.end():
                if len(_INTERNED) >= _MAX_INTERNED:
                    _INTERNED.clear()
                _INTERNED[data[pos:end]] = found
        else:
            end = match.end()  # type: ignore[union-attr]
        self._pos = end
        self._table[code] = found


def _decode_entry(data: bytes, pos: int) -> tuple[Abbrev, int]:
    """The abbreviation encoded at ``pos`` (after its code) and the position after it."""
    tag, pos = uleb(data, pos)
    children = data[pos] != 0
    pos += 1
    specs = []
    while True:
        name = data[pos]
        form = data[pos + 1]
        if name < 0x80 and form < 0x80:  # the common case: both fit one byte
            pos += 2
        else:
            name, pos = uleb(data, pos)
            form, pos = uleb(data, pos)
        if name == 0 and form == 0:
            break
        implicit = 0
        if form == FORM_IMPLICIT_CONST:
            implicit, pos = sleb(data, pos)
        specs.append((name, form, implicit))
    return Abbrev(tag, children, tuple(specs)), pos


def skip_plan(abbrev: Abbrev, addr_size: int, offset_size: int, version: int) -> tuple[int, ...] | None:
    """Steps to skip a DIE's attributes: merged fixed sizes and variable-size codes.

    None when a form is unknown (the caller reports corrupt DWARF).
    """
    plan: list[int] = []
    for _, form, _ in abbrev.attrs:
        size = form_size(form, addr_size, offset_size, version)
        if size is None:
            return None
        if size >= 0 and plan and plan[-1] >= 0:
            plan[-1] += size
        elif size != 0 or not plan:
            plan.append(size)
    return tuple(p for p in plan if p != 0)
