"""Functions and inline chains: which DIEs cover an address inside one unit.

A unit's subprograms are indexed once (siblings are jumped over, never decoded). A
direct lookup then walks down from the subprogram covering the address
(:func:`inline_chain`), decoding only the children of the scopes on its way. The index
build flattens each subprogram's whole subtree into :class:`Scopes` instead: address
intervals, each naming the innermost inlined subroutine that covers it.

Both follow one rule, so indexed and direct lookups give the same answers (the tests
compare them on every byte of code): the first child in DIE order that covers the
address wins at every level, which matters only where scopes overlap (malformed DWARF).
Lexical blocks without ranges are transparent (their children count as their parent's);
inlined subroutines without ranges are dropped with their subtree.
"""

from __future__ import annotations

from crashsig.symbolize import abbrev as A
from crashsig.symbolize.aranges import RangeIndex
from crashsig.symbolize.reader import U32, uleb
from crashsig.symbolize.unit import Attrs, Unit

_NAMESPACE = 0x39
_BLOCK_TAGS = frozenset({0x0B, 0x32, 0x25, A.TAG_INLINED_SUBROUTINE})  # lexical, try, catch blocks
_KIND_OTHER, _KIND_CODE, _KIND_DESCEND = 0, 1, 2
_CODE_ATTRS = frozenset({A.AT_LOW_PC, A.AT_HIGH_PC, A.AT_RANGES, A.AT_SIBLING})  # what function_ranges reads
Ranges = list[tuple[int, int]]


def function_ranges(unit: Unit) -> list[tuple[int, int, int]]:
    """(start, end, DIE position) for every subprogram with code in the unit."""
    unit.load_full()
    buf, end = unit.buf, len(unit.buf)
    shapes, shape_of, skip_die = unit._shapes, unit.shape, unit.skip_die  # hot loop
    sibling_at = U32.unpack_from
    kinds: dict[int, int] = {}
    code_fields: dict[int, tuple[tuple[int, int, int, int], ...] | None] = {}
    steps: list[int | None] = [None] * 0x100
    """How to step over a DIE by its first byte, learnt on the first visit of a one-byte
    code: the DIE's size with the code (fixed-size, no children; > 0) or -1 - the offset
    of its ``ref4`` sibling pointer after the code (< 0); None: not seen yet, or decoded."""
    entries: list[tuple[int, int, int]] = []
    top, _, pos = unit.read_die(unit.die_start)
    depth = 1 if top is not None and top.has_children else 0
    while depth > 0 and pos < end:
        try:
            while (step := steps[buf[pos]]) is not None:  # the hot loop: most top-level DIEs are types
                if step > 0:
                    pos += step
                elif (target := sibling_at(buf, pos - step)[0]) > pos + 1:
                    pos = target
                else:
                    break
        except IndexError:  # stepped to the end of the unit
            break
        start = pos
        code = buf[pos]
        pos += 1
        if code >= 0x80:
            code, pos = uleb(buf, pos - 1)
        elif code == 0:
            depth -= 1
            continue
        shape = shapes[code] if code < len(shapes) else None
        if shape is None:
            shape = shape_of(code)
        kind = kinds.get(code)
        if kind is None:
            kind = kinds[code] = _kind(shape[0])
        if kind == _KIND_OTHER:  # skip_die's two fast paths first: a sibling pointer, fixed-size attributes
            _, children, sibling, fixed, _, _ = shape
            if code < 0x80 and (sibling >= 0 if children else fixed >= 0):
                steps[code] = -1 - sibling if children else fixed + 1
            if children and sibling >= 0 and (target := sibling_at(buf, pos + sibling)[0]) > pos:
                pos = target
            elif not children and fixed >= 0:
                pos += fixed
            else:
                pos = skip_die(pos, shape)
        elif kind == _KIND_CODE:  # read only the attributes needed, where their offsets are known
            fields = code_fields.get(code, ())
            if fields == ():
                fields = code_fields[code] = unit.fixed_fields(shape, _CODE_ATTRS)
            after = -1 if fields is None else pos + shape[3] if shape[3] >= 0 else unit.skip_attrs(pos, shape)
            if 0 <= after <= end:
                attrs = unit.read_fixed(pos, after, fields)  # type: ignore[arg-type]
            else:
                _, attrs, after = unit.read_die(start)
            entries.extend((lo, hi, start) for lo, hi in unit.ranges(attrs))
            pos = unit.after_die(shape[0], attrs, after)
        else:
            pos = unit.skip_attrs(pos, shape)
            depth += 1
    return entries


def _kind(ab: A.Abbrev) -> int:
    if ab.tag == A.TAG_SUBPROGRAM and any(a in (A.AT_LOW_PC, A.AT_RANGES) for a, _, _ in ab.attrs):
        return _KIND_CODE
    return _KIND_DESCEND if ab.tag == _NAMESPACE and ab.has_children else _KIND_OTHER


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


class Scopes:
    """One subprogram flattened: sorted address intervals -> innermost inline node.

    ``nodes[0]`` is the subprogram; every other node is an inlined subroutine whose
    parent (the function it was inlined into) comes earlier in ``nodes``.
    """

    def __init__(self, starts: list[int], ends: list[int], node_of: list[int], nodes: list[tuple[int, Attrs]]) -> None:
        self.starts = starts
        self.ends = ends
        self.node_of = node_of
        self.nodes = nodes
        """``(parent node or -1, DIE attributes)`` per node."""


class _Tree:
    __slots__ = ("attrs", "children", "inlined", "ranges")

    def __init__(self, attrs: Attrs, ranges: Ranges, inlined: bool) -> None:
        self.attrs = attrs
        self.ranges = ranges
        self.inlined = inlined
        self.children: list[_Tree] = []


def subprogram_scopes(unit: Unit, pos: int) -> Scopes:
    """Flatten the subprogram DIE at ``pos`` (see :class:`Scopes`)."""
    root = _scope_tree(unit, pos)
    nodes: list[tuple[int, Attrs]] = [(-1, root.attrs)]
    out: list[tuple[int, int, int]] = []
    work = [(root, _normalize(root.ranges), 0)]
    while work:
        tree, region, node = work.pop()
        for child in tree.children:
            cover = _intersect(region, child.ranges)
            if not cover:
                continue
            region = _subtract(region, cover)
            child_node = node
            if child.inlined:
                nodes.append((node, child.attrs))
                child_node = len(nodes) - 1
            work.append((child, cover, child_node))
            if not region:
                break
        out.extend((lo, hi, node) for lo, hi in region)
    out.sort()
    return Scopes([e[0] for e in out], [e[1] for e in out], [e[2] for e in out], nodes)


def _scope_tree(unit: Unit, pos: int) -> _Tree:
    """The lexical blocks and inlined subroutines under a subprogram, with their ranges.

    Blocks without ranges are transparent (their children join the parent's list);
    inlined subroutines without ranges are dropped with their subtree.
    """
    ab, attrs, pos = unit.read_die(pos)
    root = _Tree(attrs, unit.ranges(attrs), False)
    if ab is None or not ab.has_children:
        return root
    stack = [root]
    while stack:
        pos, scope, attrs, ranges = _next_scope(unit, pos)
        if scope is None:
            stack.pop()
            continue
        inlined = scope.tag == A.TAG_INLINED_SUBROUTINE
        if not ranges:
            if inlined or not scope.has_children:
                pos = unit.after_die(scope, attrs, pos)
            else:
                stack.append(stack[-1])
            continue
        child = _Tree(attrs, ranges, inlined)
        stack[-1].children.append(child)
        if scope.has_children:
            stack.append(child)
    return root


def _next_scope(unit: Unit, pos: int) -> tuple[int, A.Abbrev | None, Attrs, Ranges]:
    """The next lexical block or inlined subroutine among the siblings from ``pos`` on
    (other DIEs are jumped over with their subtrees): (position after its attributes,
    abbreviation, attributes, ranges). The abbreviation is None at the null entry that
    ends the siblings (the position is then after it) and at the end of the unit.
    """
    buf, end = unit.buf, len(unit.buf)
    while pos < end:
        start = pos
        code, pos = uleb(buf, pos)
        if code == 0:
            return pos, None, {}, []
        shape = unit.shape(code)
        if shape[0].tag not in _BLOCK_TAGS:
            pos = unit.skip_die(pos, shape)
            continue
        ab, attrs, after = unit.read_die(start)
        return after, ab, attrs, unit.ranges(attrs)
    return end, None, {}, []


def _normalize(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        elif hi > lo:
            out.append((lo, hi))
    return out


def _intersect(region: Ranges, ranges: Ranges) -> Ranges:
    out = []
    for lo, hi in ranges:
        for rlo, rhi in region:
            start, stop = max(lo, rlo), min(hi, rhi)
            if start < stop:
                out.append((start, stop))
    return _normalize(out)


def _subtract(region: Ranges, cut: Ranges) -> Ranges:
    out = []
    for lo, hi in region:
        for clo, chi in cut:
            if chi <= lo or clo >= hi:
                continue
            if clo > lo:
                out.append((lo, clo))
            lo = max(lo, chi)
            if lo >= hi:
                break
        if lo < hi:
            out.append((lo, hi))
    return out


def inline_chain(unit: Unit, address: int) -> list[Attrs]:
    """Attributes of the subprogram covering ``address`` and of the subroutines inlined
    there, outermost first; empty when no subprogram covers it."""
    pos = function_index(unit).find(address)
    if pos is None:
        return []
    ab, attrs, pos = unit.read_die(pos)
    chain = [attrs]
    if ab is None or not ab.has_children:
        return chain
    transparent = 0  # rangeless blocks open at this level: their children are the level's
    while True:
        pos, scope, attrs, ranges = _next_scope(unit, pos)
        if scope is None:
            if not transparent or pos >= len(unit.buf):
                return chain  # no child covers the address: the innermost scope so far answers
            transparent -= 1
        elif not ranges and scope.tag != A.TAG_INLINED_SUBROUTINE and scope.has_children:
            transparent += 1
        elif not any(lo <= address < hi for lo, hi in ranges):
            pos = unit.after_die(scope, attrs, pos)
        else:  # the first child covering the address: descend into it
            if scope.tag == A.TAG_INLINED_SUBROUTINE:
                chain.append(attrs)
            if not scope.has_children:
                return chain
            transparent = 0
