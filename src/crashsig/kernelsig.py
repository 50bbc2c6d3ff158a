"""Kernel build signatures: syzbot's ``kernel signature:`` of a vmlinux (or any ELF file).

The signature answers "could these two builds behave differently?". It hashes what is
loaded at run time and nothing else: every section that has ``SHF_ALLOC``, has file data
(not ``SHT_NOBITS``, i.e. not ``.bss``) and is not ``SHT_NOTE`` (build ids and other
notes change with every build). Each section is hashed with sha256 on its own, in
section-header order; the signature is the lowercase hex sha256 of the concatenated raw
32-byte digests. This is the scheme of syzkaller's ``elfBinarySignature``
(``pkg/build/linux.go``) since 2022; syzbot's 2020 logs used the same section filter
but one sha256 over the concatenated section bytes, so their values cannot be
recomputed with this function.

Only the ELF header and the section header table are parsed; section bytes are streamed
through a fixed buffer, so memory stays flat on a 590 MB vmlinux.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from io import BufferedReader

import attrs

from crashsig.errors import ElfError

__all__ = ["SectionDigest", "iter_section_digests", "kernel_signature"]

SHF_ALLOC = 0x2
SHT_NOTE = 7
SHT_NOBITS = 8
_SHN_XINDEX = 0xFFFF
_CHUNK = 1 << 20
_MAX_NAMES = 1 << 24  # bound on .shstrtab bytes read, against corrupt headers

# Per ELF class: (header struct after e_ident, section header struct, section header size).
# Header fields: type machine version entry phoff shoff flags ehsize phentsize phnum
# shentsize shnum shstrndx.  Section fields: name type flags addr offset size link info
# addralign entsize.
_LAYOUTS = {
    1: ("HHIIIIIHHHHHH", "IIIIIIIIII", 40),
    2: ("HHIQQQIHHHHHH", "IIQQQQIIQQ", 64),
}
_BYTE_ORDERS = {1: "<", 2: ">"}


@attrs.frozen
class SectionDigest:
    """The sha256 of one hashed section, in the order the signature consumes them."""

    index: int
    """Section header index."""
    name: str
    """Section name from ``.shstrtab`` (``[N]`` when the name table is unreadable)."""
    size: int
    """Number of bytes hashed (``sh_size``)."""
    digest: bytes
    """Raw 32-byte sha256 of the section's file bytes."""


@attrs.frozen
class _Section:
    index: int
    name_offset: int
    type: int
    flags: int
    offset: int
    size: int
    link: int


def _unpack(fmt: str, data: bytes, what: str, path: str, offset: int) -> tuple[int, ...]:
    if len(data) < struct.calcsize(fmt):
        raise ElfError(f"{path}: truncated {what} at offset {offset:#x}")
    return struct.unpack_from(fmt, data)


def _read_at(stream: BufferedReader, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes at ``offset``; short (maybe empty) past the end of the file."""
    try:
        stream.seek(offset)
    except (ValueError, OverflowError):  # an offset no file can reach (corrupt header)
        return b""
    return stream.read(size)


def _hashed(section: _Section) -> bool:
    return bool(section.flags & SHF_ALLOC) and section.type not in (SHT_NOBITS, SHT_NOTE)


def _section_headers(stream: BufferedReader, path: str) -> tuple[list[_Section], int]:
    """Parse the ELF header and section header table; return sections and shstrndx."""
    ident = stream.read(16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        raise ElfError(f"{path}: not an ELF file")
    if ident[4] not in _LAYOUTS or ident[5] not in _BYTE_ORDERS:
        raise ElfError(f"{path}: unsupported ELF class {ident[4]} or data encoding {ident[5]}")
    head_fmt, sect_fmt, sect_size = _LAYOUTS[ident[4]]
    order = _BYTE_ORDERS[ident[5]]
    head = _unpack(order + head_fmt, stream.read(struct.calcsize(order + head_fmt)), "ELF header", path, 16)
    shoff, shentsize, shnum, shstrndx = head[5], head[10], head[11], head[12]
    if shoff == 0:
        raise ElfError(f"{path}: ELF file has no section header table")
    file_size = os.fstat(stream.fileno()).st_size
    if shentsize != sect_size:
        raise ElfError(f"{path}: section header size {shentsize}, expected {sect_size}")
    fields = order + sect_fmt

    def entry(index: int, raw: bytes) -> _Section:
        offset = shoff + index * sect_size
        name, type_, flags, _, off, size, link, *_ = _unpack(fields, raw, "section header", path, offset)
        return _Section(index, name, type_, flags, off, size, link)

    first = entry(0, _read_at(stream, shoff, sect_size))
    if shnum == 0:  # extended numbering: the real count lives in section 0
        shnum = first.size
    if shstrndx == _SHN_XINDEX:
        shstrndx = first.link
    if shoff + shnum * sect_size > file_size:
        raise ElfError(f"{path}: truncated section header table at offset {shoff:#x}")
    table = _read_at(stream, shoff, shnum * sect_size)
    sections = [entry(i, table[i * sect_size : (i + 1) * sect_size]) for i in range(shnum)]
    for section in filter(_hashed, sections):
        if section.offset + section.size > file_size:
            raise ElfError(
                f"{path}: truncated: section {section.index} ends at "
                f"{section.offset + section.size:#x}, the file at {file_size:#x}"
            )
    return sections, shstrndx


def _names(stream: BufferedReader, sections: list[_Section], shstrndx: int) -> dict[int, str]:
    """Map section index to name; best effort, the signature does not depend on it."""
    if not 0 < shstrndx < len(sections) or sections[shstrndx].type == SHT_NOBITS:
        return {}
    strtab = _read_at(stream, sections[shstrndx].offset, min(sections[shstrndx].size, _MAX_NAMES))
    names = {}
    for section in sections:
        end = strtab.find(b"\0", section.name_offset)
        if 0 <= section.name_offset < len(strtab) and end >= 0:
            names[section.index] = strtab[section.name_offset : end].decode("utf-8", "replace")
    return names


def _digest(stream: BufferedReader, section: _Section, buffer: bytearray, path: str) -> bytes:
    hasher = hashlib.sha256()
    view = memoryview(buffer)
    stream.seek(section.offset)
    left = section.size
    while left:
        got = stream.readinto(view[: min(left, len(buffer))])
        if not got:  # the file shrank while we read it
            raise ElfError(f"{path}: truncated at offset {section.offset + section.size - left:#x}")
        hasher.update(view[:got])
        left -= got
    return hasher.digest()


def iter_section_digests(path: str | os.PathLike[str]) -> Iterator[SectionDigest]:
    """Yield the digest of every section the kernel signature covers, in order.

    Raises ``ElfError`` when the file is not ELF, is truncated or cannot be read.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            sections, shstrndx = _section_headers(stream, name)
            names = _names(stream, sections, shstrndx)
            buffer = bytearray(_CHUNK)
            for section in filter(_hashed, sections):
                digest = _digest(stream, section, buffer, name)
                label = names.get(section.index, f"[{section.index}]")
                yield SectionDigest(section.index, label, section.size, digest)
    except OSError as exc:
        raise ElfError(f"{name}: {exc.strerror or exc}") from exc


def kernel_signature(path: str | os.PathLike[str]) -> str:
    """Return syzbot's kernel build signature of an ELF file, as lowercase hex.

    sha256 over the raw sha256 digests of the allocated, file-backed, non-note sections
    in section-header order. Raises ``ElfError`` for a missing, non-ELF or truncated file,
    or one with no such section.
    """
    outer = hashlib.sha256()
    count = 0
    for count, section in enumerate(iter_section_digests(path), 1):
        outer.update(section.digest)
    if not count:
        raise ElfError(f"{os.fspath(path)}: no allocated sections with file data to sign")
    return outer.hexdigest()
