"""Byte-level readers shared by the DWARF decoders.

Buffers are ``bytes`` (or ``bytearray``) copies of one unit or one line program, never
of a whole section. Every reader returns ``(value, next_position)``; running off the
end raises ``IndexError``, which the callers turn into :class:`DwarfError`.
"""

from __future__ import annotations

import struct

U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
_UNSIGNED = {1: struct.Struct("<B"), 2: U16, 4: U32, 8: U64}


def uleb(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 number at ``pos``."""
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    result = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + 1
        shift += 7


def sleb(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a signed LEB128 number at ``pos``."""
    result = 0
    shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos


def unsigned(buf: bytes, pos: int, size: int) -> int:
    """Read a little-endian unsigned integer of ``size`` bytes (1, 2, 3, 4 or 8)."""
    if size == 3:
        return buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
    reader = _UNSIGNED.get(size)
    if reader is None:  # a corrupt address size or DW_LNE_set_address length
        raise ValueError(f"unsupported integer size {size}")
    if pos + size > len(buf):
        raise IndexError(pos)
    return int(reader.unpack_from(buf, pos)[0])


def cstring(buf: bytes, pos: int) -> tuple[bytes, int]:
    """Read a NUL-terminated string at ``pos``."""
    end = buf.index(0, pos)
    return bytes(buf[pos:end]), end + 1


def initial_length(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Read a DWARF initial length: ``(length, offset_size, next_position)``."""
    length = unsigned(buf, pos, 4)
    if length == 0xFFFFFFFF:
        return unsigned(buf, pos + 4, 8), 8, pos + 12
    return length, 4, pos + 4
