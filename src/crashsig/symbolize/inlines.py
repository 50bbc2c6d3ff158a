"""Functions and inline chains: which DIEs cover an address inside one unit.

A unit's subprograms are indexed once (siblings are jumped over, never decoded); a
lookup then decodes only the subtree of the one subprogram that covers the address.
"""

from __future__ import annotations

from crashsig.symbolize import abbrev as A
from crashsig.symbolize.aranges import RangeIndex
from crashsig.symbolize.reader import uleb
from crashsig.symbolize.unit import Attrs, Unit

_NAMESPACE = 0x39
_BLOCK_TAGS = frozenset({0x0B, 0x32, 0x25, A.TAG_INLINED_SUBROUTINE})  # lexical, try, catch blocks


def function_ranges(unit: Unit) -> list[tuple[int, int, int]]:
    """(start, end, DIE position) for every subprogram with code in the unit."""
    unit.load_full()
    buf, abbrevs = unit.buf, unit.abbrevs
    known = abbrevs.known
    entries: list[tuple[int, int, int]] = []
    top, _, pos = unit.read_die(unit.die_start)
    depth = 1 if top is not None and top.has_children else 0
    end = len(buf)
    with_code = {ab for ab in abbrevs.values() if any(a in (A.AT_LOW_PC, A.AT_RANGES) for a, _, _ in ab.attrs)}
    while depth > 0 and pos < end:
        code, attr_pos = uleb(buf, pos)
        if code == 0:
            depth -= 1
            pos = attr_pos
            continue
        ab = known.get(code) or abbrevs.get(code)
        if ab is None:
            raise unit.dwarf.error(f"unknown abbreviation {code} at .debug_info+{unit.offset + pos:#x}")
        if ab.tag == A.TAG_SUBPROGRAM and ab in with_code:
            _, attrs, after = unit.read_die(pos)
            entries.extend((lo, hi, pos) for lo, hi in unit.ranges(attrs))
            pos = unit.after_die(ab, attrs, after)
        elif ab.tag == _NAMESPACE and ab.has_children:
            pos = unit.skip_attrs(attr_pos, code, ab)
            depth += 1
        else:
            pos = unit.skip_die(attr_pos, code, ab)
    return entries


def function_index(unit: Unit) -> RangeIndex:
    """The unit's subprogram index, built on first use and kept with the unit."""
    index = getattr(unit, "functions", None)
    if index is None:
        ranges = unit.dwarf.function_cache.get(unit.offset)
        if ranges is None:
            ranges = function_ranges(unit)
            unit.dwarf.function_cache[unit.offset] = ranges
        index = RangeIndex(ranges)
        unit.functions = index  # type: ignore[attr-defined]
    return index


def inline_chain(unit: Unit, address: int) -> list[Attrs]:
    """Attributes of the subprogram covering ``address`` and its inlined subroutines.

    Outermost first: ``[subprogram, inlined, inlined, ...]``; empty when no subprogram
    of the unit covers the address.
    """
    pos = function_index(unit).find(address)
    if pos is None:
        return []
    ab, attrs, pos = unit.read_die(pos)
    chain = [attrs]
    if ab is None or not ab.has_children:
        return chain
    buf, abbrevs, end = unit.buf, unit.abbrevs, len(unit.buf)
    known = abbrevs.known
    depth = 1
    while pos < end:
        code, attr_pos = uleb(buf, pos)
        if code == 0:
            depth -= 1
            if depth == 0:
                return chain
            pos = attr_pos
            continue
        ab = known.get(code) or abbrevs.get(code)
        if ab is None:
            raise unit.dwarf.error(f"unknown abbreviation {code} at .debug_info+{unit.offset + pos:#x}")
        if ab.tag not in _BLOCK_TAGS:
            pos = unit.skip_die(attr_pos, code, ab)
            continue
        _, attrs, after = unit.read_die(pos)
        ranges = unit.ranges(attrs)
        if any(lo <= address < hi for lo, hi in ranges):
            if ab.tag == A.TAG_INLINED_SUBROUTINE:
                chain.append(attrs)
            if not ab.has_children:
                return chain
            depth = 1  # the covering scope: nothing outside it matters any more
            pos = after
        elif not ranges and ab.tag != A.TAG_INLINED_SUBROUTINE and ab.has_children:
            depth += 1  # a block without code ranges: look inside it
            pos = after
        else:
            pos = unit.after_die(ab, attrs, after)
    return chain
