"""ELF file and section headers, and the GNU build-id, decoded with ``struct``.

Reading 82 section headers of a vmlinux this way takes microseconds and imports
nothing; :func:`read_build_id` is how a process finds its on-disk index before it
decides whether to look at the DWARF at all.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Literal

_TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_MACHINES = {3: "EM_386", 40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV"}
_SHN_XINDEX = 0xFFFF
_MAX_SECTIONS = 1 << 20


class HeaderError(ValueError):
    """The ELF headers are malformed or truncated (the message says how)."""


class Section:
    """One section header, its name looked up in the section name table.

    Plain classes, not named tuples: creating a ``NamedTuple`` class (and importing
    ``typing``) would cost a process answering from the index more than its lookups.
    """

    __slots__ = ("addr", "flags", "index", "info", "link", "name", "offset", "size", "type")

    def __init__(
        self, index: int, name: str, type: int, flags: int, addr: int, offset: int, size: int, link: int, info: int
    ) -> None:
        self.index = index
        """The section header index."""
        self.name = name
        self.type = type
        self.flags = flags
        self.addr = addr
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info


class Headers:
    """What the ELF header and the section header table say."""

    __slots__ = ("elfclass", "little_endian", "machine", "sections", "type")

    def __init__(self, type: str, machine: str, little_endian: bool, elfclass: int, sections: list[Section]) -> None:
        self.type = type
        """``ET_REL``, ``ET_EXEC``...; ``ET_<n>`` for values without a name."""
        self.machine = machine
        """``EM_X86_64``...; ``EM_<n>`` for values without a name."""
        self.little_endian = little_endian
        self.elfclass = elfclass
        """32 or 64."""
        self.sections = sections
        """Every section, in index order."""


def parse_headers(read: Callable[[int, int], bytes], file_size: int) -> Headers:
    """Decode the headers of an ELF file; ``read(offset, size)`` returns file bytes."""
    head = read(0, 64)
    if head[:4] != b"\x7fELF":
        raise HeaderError("not an ELF file (bad magic)")
    if len(head) < 52:
        raise HeaderError("truncated ELF header")
    if head[4] not in (1, 2) or head[5] not in (1, 2):
        raise HeaderError(f"unknown ELF class {head[4]} or data encoding {head[5]}")
    order = "<" if head[5] == 1 else ">"
    is64 = head[4] == 2
    if len(head) < (64 if is64 else 52):
        raise HeaderError("truncated ELF header")
    kind, machine = struct.unpack_from(order + "HH", head, 16)
    if is64:
        (shoff,) = struct.unpack_from(order + "Q", head, 0x28)
        entsize, count, names_index = struct.unpack_from(order + "HHH", head, 0x3A)
    else:
        (shoff,) = struct.unpack_from(order + "I", head, 0x20)
        entsize, count, names_index = struct.unpack_from(order + "HHH", head, 0x2E)
    row = struct.Struct(order + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII"))
    rows: list[tuple[int, ...]] = []  # name offset, type, flags, addr, offset, size, link, info
    if shoff:
        if entsize < row.size:
            raise HeaderError(f"section header size {entsize} is too small")
        first = row.unpack(_exact(read, shoff, row.size, file_size, "section header table"))
        count = count or first[5]  # extended numbering: section 0's size and link hold the real values
        names_index = first[6] if names_index == _SHN_XINDEX else names_index
        if count > _MAX_SECTIONS:
            raise HeaderError(f"{count} section headers")
        table = _exact(read, shoff, entsize * count, file_size, "section header table")
        rows = [row.unpack_from(table, i * entsize)[:8] for i in range(count)]
    names = b""
    if rows and names_index < len(rows):
        _, _, _, _, names_offset, names_size, _, _ = rows[names_index]
        names = _exact(read, names_offset, names_size, file_size, "section name table")
    sections = [Section(index, _name(names, name), *rest) for index, (name, *rest) in enumerate(rows)]
    return Headers(
        _TYPES.get(kind, f"ET_{kind}"),
        _MACHINES.get(machine, f"EM_{machine}"),
        order == "<",
        64 if is64 else 32,
        sections,
    )


def _exact(read: Callable[[int, int], bytes], offset: int, size: int, file_size: int, what: str) -> bytes:
    if offset < 0 or size < 0 or offset + size > file_size:
        raise HeaderError(f"truncated {what}: {offset:#x} (+{size:#x}) runs past the end of the file")
    return read(offset, size)


def _name(names: bytes, offset: int) -> str:
    end = names.find(b"\0", offset)
    return names[offset : end if end >= 0 else len(names)].decode("utf-8", "replace") if offset < len(names) else ""


def read_build_id(path: str | os.PathLike[str]) -> str | None:
    """The GNU build-id of an ELF file from its headers and notes alone, or None.

    Any problem gives None (opening the file for real then reports it).
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        headers = parse_headers(lambda offset, length: os.pread(fd, length, offset), size)
        for sec in headers.sections:
            if sec.type == 7 and 16 <= sec.size <= 4096 and sec.offset + sec.size <= size:  # SHT_NOTE
                found = find_build_id(os.pread(fd, sec.size, sec.offset), headers.little_endian)
                if found:
                    return found
        return None
    except (OSError, HeaderError, struct.error):
        return None
    finally:
        os.close(fd)


def find_build_id(data: bytes, little: bool) -> str | None:
    """The GNU build-id in the contents of a note section, or None."""
    order: Literal["little", "big"] = "little" if little else "big"
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, kind = (int.from_bytes(data[pos + i : pos + i + 4], order) for i in (0, 4, 8))
        name_end = pos + 12 + ((namesz + 3) & ~3)
        desc_end = name_end + ((descsz + 3) & ~3)
        if kind == 3 and data[pos + 12 : pos + 12 + namesz].rstrip(b"\0") == b"GNU":
            return data[name_end : name_end + descsz].hex()
        if desc_end <= pos:
            break
        pos = desc_end
    return None
