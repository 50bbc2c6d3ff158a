"""One DWARF compilation unit: header, DIE decoding, strings, addresses and ranges.

Positions inside a unit are relative to the unit's first byte (``Unit.buf`` is a copy of
that unit only); section offsets are ``unit.offset + position``.
"""

from __future__ import annotations

import struct

from crashsig.symbolize import abbrev as A
from crashsig.symbolize.reader import initial_length, sleb, uleb, unsigned

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from crashsig.symbolize.dwarf_info import DwarfInfo

Attrs = dict[int, tuple[int, object]]
"""Decoded attributes of one DIE: attribute -> (form, raw value)."""
Shape = tuple[A.Abbrev, bool, int, int, tuple[int, ...], tuple[tuple[int, int, int, int], ...]]
"""How to step over or read a DIE: (abbreviation, has children, byte offset of a
``ref4`` ``DW_AT_sibling`` or -1, total attribute size when fixed or -1, skip plan,
(attribute, form, fixed size or -1, implicit value) per attribute)."""
_SIBLING_FORMS = frozenset({0x13})  # DW_FORM_ref4: what gcc emits for DW_AT_sibling
_U32 = struct.Struct("<I")

_PREFIX = 4096
_MAX_NAME_HOPS = 8


class Unit:
    """A compilation unit of ``.debug_info``. Build with :meth:`DwarfInfo.get_unit`."""

    def __init__(self, dwarf: DwarfInfo, offset: int, *, full: bool = True) -> None:
        self.dwarf = dwarf
        self.offset = offset
        info = dwarf.info
        head = info.read(offset, min(32, info.size - offset))
        try:
            self._parse_header(head)
        except IndexError as exc:
            raise dwarf.error(f"truncated unit header at .debug_info+{offset:#x}") from exc
        if self.end > info.size or self.end <= offset:
            raise dwarf.error(f"unit at .debug_info+{offset:#x} runs past the end of the section")
        self.size = self.end - offset
        self.buf = info.read(offset, self.size if full else min(self.size, _PREFIX))
        self.abbrevs = dwarf.get_abbrevs(self.abbrev_offset)
        self._shapes: list[Shape | None] = []
        self.str_offsets_base = 8 if self.version >= 5 else 0
        self.addr_base = 8 if self.version >= 5 else 0
        self.rnglists_base = 0
        self.top = self._read_top()

    def _parse_header(self, head: bytes) -> None:
        length, self.offset_size, pos = initial_length(head, 0)
        self.end = self.offset + pos + length
        self.version = unsigned(head, pos, 2)
        pos += 2
        self.unit_type = 1
        if self.version >= 5:
            self.unit_type, self.addr_size = head[pos], head[pos + 1]
            self.abbrev_offset = unsigned(head, pos + 2, self.offset_size)
            pos += 2 + self.offset_size
            if self.unit_type in (4, 5):  # skeleton, split compile: dwo_id
                pos += 8
            elif self.unit_type in (2, 6):  # type units: signature, type offset
                pos += 8 + self.offset_size
        elif 2 <= self.version <= 4:
            self.abbrev_offset = unsigned(head, pos, self.offset_size)
            self.addr_size = head[pos + self.offset_size]
            pos += self.offset_size + 1
        else:
            raise self.dwarf.error(f"unit at .debug_info+{self.offset:#x} has unsupported version {self.version}")
        if self.addr_size not in (4, 8):
            raise self.dwarf.error(f"unit at .debug_info+{self.offset:#x} has address size {self.addr_size}")
        self.die_start = pos

    def _read_top(self) -> Attrs:
        try:
            _, attrs, _ = self.read_die(self.die_start)
        except IndexError:
            if len(self.buf) == self.size:
                raise self.dwarf.error(f"truncated top DIE in unit at .debug_info+{self.offset:#x}") from None
            self.load_full()
            _, attrs, _ = self.read_die(self.die_start)
        for attr, field in (
            (A.AT_STR_OFFSETS_BASE, "str_offsets_base"),
            (A.AT_ADDR_BASE, "addr_base"),
            (A.AT_GNU_ADDR_BASE, "addr_base"),
            (A.AT_RNGLISTS_BASE, "rnglists_base"),
            (A.AT_GNU_RANGES_BASE, "rnglists_base"),
        ):
            if attr in attrs:
                setattr(self, field, int(attrs[attr][1]))  # type: ignore[call-overload]
        return attrs

    def load_full(self) -> None:
        """Make sure the whole unit is in ``buf`` (units built for indexing hold a prefix)."""
        if len(self.buf) < self.size:
            self.buf = self.dwarf.info.read(self.offset, self.size)

    @property
    def tag(self) -> int:
        """Tag of the unit's top DIE."""
        code, _ = uleb(self.buf, self.die_start)
        ab = self.abbrevs.get(code)
        return ab.tag if ab is not None else 0

    # ---- DIE decoding ------------------------------------------------------------------
    def read_die(self, pos: int) -> tuple[A.Abbrev | None, Attrs, int]:
        """Decode the DIE at ``pos``: ``(abbrev, attributes, position after it)``."""
        buf = self.buf
        code, pos = uleb(buf, pos)
        attrs: Attrs = {}
        if code == 0:
            return None, attrs, pos
        shape = self.shape(code)
        end = len(buf)
        for name, form, size, implicit in shape[5]:
            if 0 < size <= 8 and size != 3:
                if pos + size > end:
                    raise IndexError(pos)
                attrs[name] = (form, int.from_bytes(buf[pos : pos + size], "little"))
                pos += size
            elif size == 0:
                attrs[name] = (form, implicit if form == A.FORM_IMPLICIT_CONST else True)
            else:
                attrs[name], pos = self._form_value(pos, form, implicit)
        return shape[0], attrs, pos

    def fixed_fields(self, shape: Shape, wanted: frozenset[int]) -> tuple[tuple[int, int, int, int], ...] | None:
        """Where the ``wanted`` attributes of a DIE of that shape lie, for :meth:`read_fixed`.

        Each is ``(attribute, form, offset, size)``: the offset counts from the first
        attribute byte when every attribute before it has a fixed size, else (negative)
        from the end of the attributes when every one from it on has. None when one of
        them can be placed neither way or is not a plain integer of 1 to 8 bytes.
        """
        sizes = [size for _, _, size, _ in shape[5]]
        fields = []
        for i, (name, form, size, _) in enumerate(shape[5]):
            if name not in wanted:
                continue
            if not 0 < size <= 8:
                return None
            if min(sizes[:i], default=0) >= 0:
                fields.append((name, form, sum(sizes[:i]), size))
            elif min(sizes[i:]) >= 0:
                fields.append((name, form, -sum(sizes[i:]), size))
            else:
                return None
        return tuple(fields)

    def read_fixed(self, pos: int, after: int, fields: tuple[tuple[int, int, int, int], ...]) -> Attrs:
        """The attributes :meth:`fixed_fields` placed, of the DIE whose attributes span ``[pos, after)``."""
        buf = self.buf
        attrs: Attrs = {}
        for name, form, at, size in fields:
            at += pos if at >= 0 else after
            attrs[name] = (form, int.from_bytes(buf[at : at + size], "little"))
        return attrs

    def _form_value(self, pos: int, form: int, implicit: int) -> tuple[tuple[int, object], int]:
        value, pos = self._value(pos, form, implicit)
        return (form, value), pos

    def _value(self, pos: int, form: int, implicit: int) -> tuple[object, int]:
        buf = self.buf
        if form == A.FORM_INDIRECT:
            form, pos = uleb(buf, pos)
            return self._value(pos, form, implicit)
        if form == A.FORM_IMPLICIT_CONST:
            return implicit, pos
        size = A.form_size(form, self.addr_size, self.offset_size, self.version)
        if size is None:
            raise self.dwarf.error(f"unknown form {form:#x} at .debug_info+{self.offset + pos:#x}")
        if size >= 0:
            if size == 16:
                return bytes(buf[pos : pos + 16]), pos + 16
            return (unsigned(buf, pos, size) if size else True), pos + size
        if size == A.VARINT:
            return sleb(buf, pos) if form == 0x0D else uleb(buf, pos)
        if size == A.CSTRING:
            end = buf.index(0, pos)
            return bytes(buf[pos:end]), end + 1
        if size == A.BLOCK_ULEB:
            length, pos = uleb(buf, pos)
        else:
            width = {A.BLOCK1: 1, A.BLOCK2: 2, A.BLOCK4: 4}[size]
            length, pos = unsigned(buf, pos, width), pos + width
        if pos + length > len(buf):
            raise IndexError(pos)
        return bytes(buf[pos : pos + length]), pos + length

    def shape(self, code: int) -> Shape:
        """How to step over DIEs of abbreviation ``code`` (built once per code)."""
        shapes = self._shapes
        if code < len(shapes):
            shape = shapes[code]
            if shape is not None:
                return shape
        ab = self.abbrevs.get(code)
        if ab is None:
            raise self.dwarf.error(f"unknown abbreviation {code} in unit .debug_info+{self.offset:#x}")
        layout = (self.addr_size, self.offset_size, self.version)
        shape = ab.shapes.get(layout)  # type: ignore[assignment]
        if shape is None:
            shape = ab.shapes[layout] = self._new_shape(code, ab)
        if code >= len(shapes):
            shapes.extend([None] * (code + 1 - len(shapes)))
        shapes[code] = shape
        return shape

    def _new_shape(self, code: int, ab: A.Abbrev) -> Shape:
        plan = A.skip_plan(ab, self.addr_size, self.offset_size, self.version)
        if plan is None:
            raise self.dwarf.error(f"unknown form in abbreviation {code} of unit .debug_info+{self.offset:#x}")
        sibling, prefix = -1, 0
        for name, form, _ in ab.attrs:
            size = A.form_size(form, self.addr_size, self.offset_size, self.version)
            if name == A.AT_SIBLING and form in _SIBLING_FORMS:
                sibling = prefix
                break
            if size is None or size < 0:
                break
            prefix += size
        fixed = plan[0] if len(plan) == 1 and plan[0] >= 0 else (0 if not plan else -1)
        specs = tuple(
            (name, form, _size_or_minus(A.form_size(form, self.addr_size, self.offset_size, self.version)), implicit)
            for name, form, implicit in ab.attrs
        )
        return (ab, ab.has_children, sibling, fixed, plan, specs)

    def skip_attrs(self, pos: int, shape: Shape) -> int:
        """Position after the attributes (starting at ``pos``) of a DIE of that shape."""
        fixed = shape[3]
        if fixed >= 0:
            return pos + fixed
        buf = self.buf
        for step in shape[4]:
            if step >= 0:
                pos += step
            elif step == A.VARINT:
                while buf[pos] & 0x80:
                    pos += 1
                pos += 1
            elif step == A.BLOCK_ULEB:  # exprloc, block
                length, pos = uleb(buf, pos)
                pos += length
            elif step == A.CSTRING:
                pos = buf.index(0, pos) + 1
            else:
                form = {A.BLOCK1: 0x0A, A.BLOCK2: 0x03, A.BLOCK4: 0x04, A.INDIRECT: A.FORM_INDIRECT}[step]
                _, pos = self._value(pos, form, 0)
        if pos > len(buf):
            raise IndexError(pos)
        return pos

    def skip_die(self, pos: int, shape: Shape) -> int:
        """Position after a DIE (attributes at ``pos``) and its whole subtree."""
        if shape[1]:
            sibling = shape[2]
            if sibling >= 0:
                target: int = _U32.unpack_from(self.buf, pos + sibling)[0]
                if target > pos:
                    return target
            return self.skip_children(self.skip_attrs(pos, shape))
        return self.skip_attrs(pos, shape)

    def skip_children(self, pos: int) -> int:  # the hot loop, kept flat
        """Position after the children list starting at ``pos`` (bounded by the unit)."""
        buf, end, depth = self.buf, len(self.buf), 1
        shapes, shape_of, skip_attrs, sibling_at = self._shapes, self.shape, self.skip_attrs, _U32.unpack_from
        while pos < end:
            code = buf[pos]
            pos += 1
            if code >= 0x80:
                code, pos = uleb(buf, pos - 1)
            elif code == 0:
                depth -= 1
                if depth == 0:
                    return pos
                continue
            shape = shapes[code] if code < len(shapes) else None
            if shape is None:
                shape = shape_of(code)
            _, children, sibling, fixed, _, _ = shape
            if children:
                if sibling >= 0:
                    target = sibling_at(buf, pos + sibling)[0]
                    if target > pos:
                        pos = target
                        continue
                depth += 1
            pos = pos + fixed if fixed >= 0 else skip_attrs(pos, shape)
        return end

    def after_die(self, ab: A.Abbrev, attrs: Attrs, pos: int) -> int:
        """Position of the next sibling of a decoded DIE whose attributes end at ``pos``."""
        if not ab.has_children:
            return pos
        sibling = attrs.get(A.AT_SIBLING)
        if sibling is not None and sibling[0] in A.UNIT_REF_FORMS and isinstance(sibling[1], int) and sibling[1] > pos:
            return sibling[1]
        return self.skip_children(pos)

    # ---- attribute values --------------------------------------------------------------
    def string(self, attrs: Attrs, name: int) -> str | None:
        """A string attribute's value, whatever its form; None if absent."""
        field = attrs.get(name)
        if field is None:
            return None
        form, value = field
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return self.dwarf.form_string(self, form, int(value))  # type: ignore[call-overload]

    def address(self, form: int, value: int) -> int:
        """An address-class value (``DW_FORM_addr`` or ``addrx``) as an address."""
        if form in A.ADDRX_FORMS:
            return self.dwarf.indexed_address(self, value)
        return value

    def ranges(self, attrs: Attrs) -> list[tuple[int, int]]:
        """Code ranges of a DIE (``low_pc``/``high_pc`` or ``DW_AT_ranges``), maybe empty."""
        rng = attrs.get(A.AT_RANGES)
        if rng is not None:
            form, value = rng
            return self.dwarf.range_list(self, form, int(value))  # type: ignore[call-overload]
        low = attrs.get(A.AT_LOW_PC)
        high = attrs.get(A.AT_HIGH_PC)
        if low is None or high is None:
            return []
        start = self.address(low[0], int(low[1]))  # type: ignore[call-overload]
        hform, hvalue = high
        end = self.address(hform, int(hvalue)) if hform in A.ADDRESS_CLASS_FORMS else start + int(hvalue)  # type: ignore[call-overload]
        return [(start, end)] if end > start else []

    @property
    def base_address(self) -> int:
        """The unit's base address for range lists (its ``low_pc``, else 0)."""
        low = self.top.get(A.AT_LOW_PC)
        return self.address(low[0], int(low[1])) if low else 0  # type: ignore[call-overload]

    def ref_offset(self, form: int, value: int) -> int:
        """Section offset of a reference attribute."""
        return self.offset + value if form in A.UNIT_REF_FORMS else value

    def die_name(self, attrs: Attrs) -> str | None:
        """A DIE's name, following ``abstract_origin``/``specification`` when it has none."""
        unit: Unit = self
        for _ in range(_MAX_NAME_HOPS):
            name = unit.string(attrs, A.AT_NAME) or unit.string(attrs, A.AT_LINKAGE_NAME)
            if name:
                return name
            ref = attrs.get(A.AT_ABSTRACT_ORIGIN) or attrs.get(A.AT_SPECIFICATION)
            if ref is None or ref[0] == 0x20:  # DW_FORM_ref_sig8: type units, not functions
                return None
            target = unit.ref_offset(ref[0], int(ref[1]))  # type: ignore[call-overload]
            unit = self.dwarf.unit_containing(target, hint=unit)
            _, attrs, _ = unit.read_die(target - unit.offset)
        return None


def _size_or_minus(size: int | None) -> int:
    """A form's fixed size, or -1 for variable-size and indirect forms."""
    return -1 if size is None or size < 0 else size
