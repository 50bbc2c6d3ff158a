"""Where the mutable fields of DWARF sections are: unit headers, attribute values,
abbreviation declarations, line-program headers and opcodes, and the other debug sections.

Offsets are file offsets into a pristine seed ELF. Sections are walked with small
decoders of our own (abbreviations, line programs) or with pyelftools (DIEs), once per seed.
"""

from __future__ import annotations

import struct

import attrs
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.elf.elffile import ELFFile

SHF_COMPRESSED = 0x800


@attrs.frozen
class Field:
    """A mutable spot in a seed file."""

    offset: int
    size: int
    label: str
    leb: bool = False
    """ULEB128/SLEB128 encoded: mutate the first byte (and maybe its continuation bit)."""


def _uleb_end(data: bytes, pos: int) -> int:
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


def _abbrev_fields(base: int, data: bytes, end: int) -> list[Field]:
    """Code, tag, children flag and every attribute/form pair of ``.debug_abbrev``."""
    out, pos = [], base
    while pos < end:
        code_end = _uleb_end(data, pos)
        out.append(Field(pos, code_end - pos, "abbrev.code", True))
        if data[pos] == 0:
            pos = code_end
            continue
        tag_end = _uleb_end(data, code_end)
        out += [Field(code_end, tag_end - code_end, "abbrev.tag", True), Field(tag_end, 1, "abbrev.children")]
        pos = tag_end + 1
        while True:
            attr_end = _uleb_end(data, pos)
            form_end = _uleb_end(data, attr_end)
            out += [
                Field(pos, attr_end - pos, "abbrev.attr", True),
                Field(attr_end, form_end - attr_end, "abbrev.form", True),
            ]
            if data[pos] == 0 and data[attr_end] == 0:
                pos = form_end
                break
            if data[attr_end] == 0x21:  # DW_FORM_implicit_const carries an SLEB value
                form_end = _uleb_end(data, form_end)
            pos = form_end
    return out


def _line_fields(base: int, data: bytes, end: int) -> tuple[list[Field], list[Field]]:
    """(header fields, opcode fields) of every line program in ``.debug_line``."""
    headers: list[Field] = []
    opcodes: list[Field] = []
    pos = base
    while pos + 4 <= end:
        length = struct.unpack_from("<I", data, pos)[0]
        unit_end = pos + 4 + length
        version = struct.unpack_from("<H", data, pos + 4)[0]
        at = pos + 6 + (2 if version >= 5 else 0)
        header_length = struct.unpack_from("<I", data, at)[0]
        prog = at + 4 + header_length
        names = [
            "unit_length",
            "version",
            *(["address_size", "seg_sel_size"] if version >= 5 else []),
            "header_length",
            "min_inst_length",
            "max_ops",
            "default_is_stmt",
            "line_base",
            "line_range",
            "opcode_base",
        ]
        sizes = [4, 2, *([1, 1] if version >= 5 else []), 4, 1, 1, 1, 1, 1, 1]
        off = pos
        for name, size in zip(names, sizes):
            headers.append(Field(off, size, f"line.{name}"))
            off += size
        opcode_base = data[off - 1]
        lengths = data[off : off + opcode_base - 1]
        headers += [Field(i, 1, "line.tables") for i in range(off, prog)]
        opcodes += _line_opcodes(data, prog, min(unit_end, end), opcode_base, lengths)
        pos = unit_end
    return headers, opcodes


def _line_opcodes(data: bytes, pos: int, end: int, opcode_base: int, lengths: bytes) -> list[Field]:
    out = []
    while pos < end:
        op = data[pos]
        out.append(Field(pos, 1, "line.opcode"))
        pos += 1
        if op == 0:
            size_end = _uleb_end(data, pos)
            out.append(Field(pos, size_end - pos, "line.extended_length", True))
            length = _uleb(data, pos)
            if size_end < end:
                out.append(Field(size_end, 1, "line.extended_opcode"))
            if length > 1:
                out.append(Field(size_end + 1, min(length - 1, 8), "line.extended_operand"))
            pos = size_end + length
        elif op < opcode_base:
            for _ in range(lengths[op - 1] if op - 1 < len(lengths) else 0):
                arg_end = _uleb_end(data, pos) if op != 9 else pos + 2
                out.append(Field(pos, arg_end - pos, "line.operand", op != 9))
                pos = arg_end
    return out


def _uleb(data: bytes, pos: int) -> int:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value


def dwarf_fields(elf: ELFFile, data: bytes) -> dict[str, list[Field]]:
    """Mutable fields of every uncompressed debug section, by mutation class."""
    out: dict[str, list[Field]] = {
        "unit-header": [],
        "die-form": [],
        "abbrev": [],
        "line-header": [],
        "line-opcode": [],
        "debug-section": [],
    }
    for sec in elf.iter_sections():
        if not sec.name.startswith(".debug_") or sec["sh_flags"] & SHF_COMPRESSED:
            continue  # compressed sections are mutated by the generic classes only
        base, end = sec["sh_offset"], sec["sh_offset"] + sec["sh_size"]
        if sec.name == ".debug_abbrev":
            out["abbrev"] = _abbrev_fields(base, data, end)
        elif sec.name == ".debug_line":
            out["line-header"], out["line-opcode"] = _line_fields(base, data, end)
        elif sec.name != ".debug_info":
            out["debug-section"] += [
                Field(base + off, size, f"{sec.name}+{off:#x}")
                for size in (1, 4, 8)
                for off in range(0, sec["sh_size"] - size + 1, size)
            ]
    if elf.has_dwarf_info() and not elf.get_section_by_name(".zdebug_info"):
        info_base = elf.get_section_by_name(".debug_info")["sh_offset"]
        if not elf.get_section_by_name(".debug_info")["sh_flags"] & 0x800:
            _die_fields(elf.get_dwarf_info(relocate_dwarf_sections=False), info_base, out)
    return out


def _die_fields(dwarf: DWARFInfo, info_base: int, out: dict[str, list[Field]]) -> None:
    """Unit headers, abbreviation codes of DIEs, and every attribute value (its form's bytes)."""
    for cu in dwarf.iter_CUs():
        start = info_base + cu.cu_offset
        header = (
            ("unit_length", 4),
            ("version", 2),
            *(
                (("unit_type", 1), ("address_size", 1), ("abbrev_offset", 4))
                if cu["version"] >= 5
                else (("abbrev_offset", 4), ("address_size", 1))
            ),
        )
        off = start
        for name, size in header:
            out["unit-header"].append(Field(off, size, f"cu.{name}"))
            off += size
        for die in cu.iter_DIEs():
            out["die-form"].append(Field(info_base + die.offset, 1, "die.abbrev_code", True))
            values = sorted(v.offset for v in die.attributes.values())
            ends = values[1:] + [die.offset + die.size]
            for value, value_end in zip(values, ends):
                if value_end > value:
                    out["die-form"].append(Field(info_base + value, min(value_end - value, 8), "die.value"))
