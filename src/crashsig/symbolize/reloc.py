"""Relocation of the debug sections of ET_REL objects (kernel modules).

Only the sections a lookup actually reads are relocated, each once. Allocated sections
take their addresses from :attr:`ElfImage.section_bases`; debug sections sit at 0, so a
reference into ``.debug_str`` becomes a plain offset.
"""

from __future__ import annotations

import struct

from crashsig.errors import ElfError
from crashsig.symbolize.elf import ElfImage
from crashsig.symbolize.elfheaders import Section

SHT_RELA, SHT_REL = 4, 9
_SHN_ABS = 0xFFF1
_SHN_LORESERVE = 0xFF00

# (machine, type) -> (width in bytes, signed). Only absolute data relocations appear in
# debug sections; anything else is reported rather than guessed.
_KINDS: dict[tuple[str, int], tuple[int, bool]] = {
    ("EM_X86_64", 1): (8, False),  # R_X86_64_64
    ("EM_X86_64", 10): (4, False),  # R_X86_64_32
    ("EM_X86_64", 11): (4, True),  # R_X86_64_32S
    ("EM_AARCH64", 257): (8, False),  # R_AARCH64_ABS64
    ("EM_AARCH64", 258): (4, False),  # R_AARCH64_ABS32
    ("EM_386", 1): (4, False),  # R_386_32
    ("EM_RISCV", 1): (4, False),  # R_RISCV_32
    ("EM_RISCV", 2): (8, False),  # R_RISCV_64
}
_NONE_TYPES = {("EM_X86_64", 0), ("EM_AARCH64", 0), ("EM_AARCH64", 256), ("EM_386", 0), ("EM_RISCV", 0)}


def _symbol_values(image: ElfImage, symtab: Section) -> list[int]:
    order = "<" if image.little_endian else ">"
    data = image.blob_of(symtab).tail(0)
    bases = image.section_bases
    values = []
    if image.elfclass == 64:
        rows = ((v, x) for _, _, _, x, v, _ in struct.iter_unpack(order + "IBBHQQ", data[: len(data) - len(data) % 24]))
    else:
        rows = ((v, x) for _, v, _, _, _, x in struct.iter_unpack(order + "IIIBBH", data[: len(data) - len(data) % 16]))
    for value, shndx in rows:
        if shndx == 0 or shndx == _SHN_ABS or shndx >= _SHN_LORESERVE or shndx >= len(bases):
            values.append(value)
        else:
            values.append(bases[shndx] + value)
    return values


def relocate(image: ElfImage, target: Section) -> bytes:
    """Contents of ``target`` with every relocation that applies to it resolved."""
    data = bytearray(image.blob_of(target).tail(0))
    order = "<" if image.little_endian else ">"
    for sec in image.sections:
        if sec.type not in (SHT_RELA, SHT_REL) or sec.info != target.index:
            continue
        if not 0 < sec.link < len(image.sections):
            raise ElfError(f"{image.path}: {sec.name} has no symbol table")
        values = _symbol_values(image, image.sections[sec.link])
        rela = sec.type == SHT_RELA
        if image.elfclass == 64:
            fmt, shift, mask = order + ("QQq" if rela else "QQ"), 32, 0xFFFFFFFF
        else:
            fmt, shift, mask = order + ("IIi" if rela else "II"), 8, 0xFF
        size = struct.calcsize(fmt)
        raw = image.blob_of(sec).tail(0)
        for entry in struct.iter_unpack(fmt, raw[: len(raw) - len(raw) % size]):
            offset, info = entry[0], entry[1]
            kind = (image.machine, info & mask)
            if kind in _NONE_TYPES:
                continue
            width_signed = _KINDS.get(kind)
            if width_signed is None:
                raise ElfError(
                    f"{image.path}: unsupported relocation type {info & mask} in {sec.name} for {image.machine}"
                )
            width, signed = width_signed
            if offset + width > len(data):
                raise ElfError(f"{image.path}: relocation at {offset:#x} is outside {target.name}")
            symbol = info >> shift
            if symbol >= len(values):
                raise ElfError(
                    f"{image.path}: relocation at {offset:#x} in {sec.name} names symbol {symbol} past the table"
                )
            addend = (
                entry[2]
                if rela
                else int.from_bytes(
                    data[offset : offset + width], "little" if image.little_endian else "big", signed=signed
                )
            )
            value = (values[symbol] + addend) & ((1 << (8 * width)) - 1)
            data[offset : offset + width] = value.to_bytes(width, "little" if image.little_endian else "big")
    return bytes(data)
