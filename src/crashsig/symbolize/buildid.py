"""GNU build-ids of ELF files, read with a few ``pread`` calls and no ELF library."""

from __future__ import annotations

import os
import struct


def read_build_id(path: str | os.PathLike[str]) -> str | None:
    """The GNU build-id of an ELF file from its section headers alone, or None.

    A few ``pread`` calls and no pyelftools: this is how a process finds its on-disk
    index before it decides to parse anything. Any problem gives None (the full
    :func:`load_elf` then reports it).
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = os.pread(fd, 64, 0)
        if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
            return None
        order = "<" if head[5] == 1 else ">"
        is64 = head[4] == 2
        shoff, entsize, count = (struct.unpack_from(order + "Q", head, 0x28)[0], *struct.unpack_from(order + "HH", head, 0x3A)) \
            if is64 else (struct.unpack_from(order + "I", head, 0x20)[0], *struct.unpack_from(order + "HH", head, 0x2E))
        row = struct.Struct(order + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII"))
        if entsize < row.size or not 0 < count <= 4096:
            return None
        table = os.pread(fd, entsize * count, shoff)
        for index in range(len(table) // entsize):
            _, kind, _, _, offset, size, *_ = row.unpack_from(table, index * entsize)
            if kind == 7 and 16 <= size <= 4096:  # SHT_NOTE
                found = find_build_id(os.pread(fd, size, offset), order == "<")
                if found:
                    return found
        return None
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)


def find_build_id(data: bytes, little: bool) -> str | None:
    """The GNU build-id in the contents of a note section, or None."""
    order = "little" if little else "big"
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
