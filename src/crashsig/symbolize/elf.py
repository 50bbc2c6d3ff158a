"""ELF images: a mapped file, its sections, the ET_REL layout and the build-id.

:mod:`~crashsig.symbolize.elfheaders` decodes the ELF and section headers (``struct``,
no ELF library: a process start costs nothing); section contents are read straight
from the ``mmap`` so nothing is loaded that a lookup does not need.
"""

from __future__ import annotations

import mmap
import os
import struct
from functools import cached_property

from crashsig.errors import ElfError
from crashsig.symbolize.elfheaders import HeaderError, Headers, Section, find_build_id, parse_headers

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Literal

SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_COMPRESSED = 0x800
SHT_NOBITS = 8
_ELFCOMPRESS_ZLIB = 1
# Bound on a compressed section's declared size, so a corrupt or hostile ch_size cannot make
# us allocate gigabytes from a small file: DWARF compresses 2-5x (Debian's vmlinux), zlib at
# most ~1000x, so 32x the compressed size (or 16 MiB for small sections) is generous.
_INFLATE_RATIO = 32
_INFLATE_FLOOR = 16 << 20


class Blob:
    """Bounded read access to one section's bytes (a window of the mapped file)."""

    def __init__(self, buf: mmap.mmap | bytes, start: int, size: int, name: str, path: str, fd: int = -1) -> None:
        self.buf = buf
        self.start = start
        self.size = size
        self.name = name
        self.path = path
        self.fd = fd

    def read(self, offset: int, length: int) -> bytes:
        """Copy ``length`` bytes at ``offset``; ElfError if that leaves the section.

        File-backed reads use ``pread``: scattered small reads (unit headers) then cost
        no resident memory, where touching the mapping would fault in whole page runs.
        """
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ElfError(f"{self.path}: read of {length} bytes at {offset:#x} is outside {self.name}")
        if self.fd >= 0:
            data = os.pread(self.fd, length, self.start + offset)
            if len(data) != length:
                raise ElfError(f"{self.path}: short read in {self.name} (file truncated while open?)")
            return data
        return self.buf[self.start + offset : self.start + offset + length]

    def tail(self, offset: int) -> bytes:
        """Copy everything from ``offset`` to the end of the section."""
        return self.read(offset, self.size - offset)

    def cstring(self, offset: int) -> str:
        """The NUL-terminated string at ``offset`` (as UTF-8, bad bytes replaced)."""
        if not 0 <= offset < self.size:
            raise ElfError(f"{self.path}: string offset {offset:#x} is outside {self.name}")
        begin = self.start + offset
        end = self.buf.find(b"\0", begin, self.start + self.size)
        if end < 0:
            raise ElfError(f"{self.path}: unterminated string at {offset:#x} in {self.name}")
        return self.buf[begin:end].decode("utf-8", "replace")


class ElfImage:
    """A mapped ELF file. Use :func:`load_elf` to open one."""

    def __init__(self, path: str, data: mmap.mmap, fd: int) -> None:
        self.path = path
        self._map = data
        self._fd = fd
        try:
            headers = parse_headers(lambda offset, size: data[offset : offset + size], len(data))
        except (HeaderError, struct.error) as exc:
            raise ElfError(f"{path}: not a valid ELF file ({exc})") from exc
        self.type = headers.type
        self.machine = headers.machine
        self.little_endian = headers.little_endian
        self.elfclass = headers.elfclass
        self.sections = tuple(self._sections(headers))

    def _sections(self, headers: Headers) -> list[Section]:
        for section in headers.sections:
            if section.type != SHT_NOBITS and section.offset + section.size > len(self._map):
                raise ElfError(f"{self.path}: section {section.name} runs past the end of the file (truncated?)")
        return headers.sections

    @property
    def is_relocatable(self) -> bool:
        """True for ET_REL objects such as kernel modules (``.ko``)."""
        return self.type == "ET_REL"

    @cached_property
    def section_by_name(self) -> dict[str, Section]:
        """Sections by name (the first one wins on duplicates)."""
        out: dict[str, Section] = {}
        for sec in self.sections:
            out.setdefault(sec.name, sec)
        return out

    def has_section(self, name: str) -> bool:
        """True when a section of that name exists and has contents."""
        sec = self.section_by_name.get(name)
        return sec is not None and sec.type != SHT_NOBITS and sec.size > 0

    def get_blob(self, name: str) -> Blob | None:
        """Read access to a section's contents, decompressed if needed; None if absent."""
        sec = self.section_by_name.get(name)
        if sec is None or sec.type == SHT_NOBITS:
            return None
        return self.blob_of(sec)

    def blob_of(self, sec: Section) -> Blob:
        """Read access to one section's contents."""
        if sec.flags & SHF_COMPRESSED:
            data = self._decompress(sec)
            return Blob(data, 0, len(data), sec.name, self.path)
        return Blob(self._map, sec.offset, sec.size, sec.name, self.path, self._fd)

    def _decompress(self, sec: Section) -> bytes:
        raw = self._map[sec.offset : sec.offset + sec.size]
        wide = self.elfclass == 64
        order: Literal["little", "big"] = "little" if self.little_endian else "big"
        hdr_size = 24 if wide else 12
        if len(raw) < hdr_size:
            raise ElfError(f"{self.path}: {sec.name} is too short for its compression header")
        kind = int.from_bytes(raw[:4], order)
        size = int.from_bytes(raw[8:16] if wide else raw[4:8], order)  # Elf64_Chdr / Elf32_Chdr ch_size
        if kind != _ELFCOMPRESS_ZLIB:
            raise ElfError(f"{self.path}: {sec.name} uses unsupported compression type {kind}")
        if size > max(_INFLATE_FLOOR, _INFLATE_RATIO * len(raw)):
            raise ElfError(f"{self.path}: {sec.name} claims {size} bytes from {len(raw)} compressed (corrupt header?)")
        if size == 0:  # and a max_length of 0 would mean "no limit" to zlib
            return b""
        import zlib  # here: most files are not compressed, and loading zlib costs 0.3 ms

        try:
            data = zlib.decompressobj().decompress(raw[hdr_size:], size)  # never more than ch_size bytes
        except zlib.error as exc:
            raise ElfError(f"{self.path}: {sec.name} does not decompress ({exc})") from exc
        if len(data) != size:
            raise ElfError(f"{self.path}: {sec.name} decompresses to {len(data)} bytes, its header says {size}")
        return data

    @cached_property
    def section_bases(self) -> tuple[int, ...]:
        """Address of each section: ``sh_addr``, or for ET_REL a synthetic layout.

        A relocatable object has every section at address 0. We place ``.text`` at 0 (so
        addresses equal ``addr2line -j .text`` offsets) and the other allocated sections
        after it, each aligned to 4 KiB, so that every code address is unique.
        """
        if not self.is_relocatable:
            return tuple(sec.addr for sec in self.sections)
        bases = [0] * len(self.sections)
        text = self.section_by_name.get(".text")
        cursor = text.size if text else 0
        for sec in self.sections:
            if sec.flags & SHF_ALLOC and sec is not text:
                cursor = (cursor + 0xFFF) & ~0xFFF
                bases[sec.index] = cursor
                cursor += sec.size
        return tuple(bases)

    def executable_sections(self) -> list[Section]:
        """Sections that hold code."""
        return [s for s in self.sections if s.flags & SHF_EXECINSTR and s.flags & SHF_ALLOC]

    @cached_property
    def build_id(self) -> str | None:
        """The GNU build-id as lowercase hex, or None."""
        for sec in self.sections:
            if sec.type == 7 and sec.size >= 16:  # SHT_NOTE
                note = find_build_id(self.blob_of(sec).tail(0), self.little_endian)
                if note:
                    return note
        return None

    def close(self) -> None:
        """Release the mapping and the file descriptor."""
        self._map.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def load_elf(path: str | os.PathLike[str]) -> ElfImage:
    """Map an ELF file read-only; ElfError if it is missing, empty or not an ELF."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ElfError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    try:
        if os.fstat(fd).st_size < 64:
            raise ElfError(f"{name}: not an ELF file (too small)")
        try:
            data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ElfError(f"{name}: cannot map ({exc})") from exc
        if data[:4] != b"\x7fELF":
            data.close()
            raise ElfError(f"{name}: not an ELF file (bad magic)")
        return ElfImage(name, data, fd)
    except BaseException:
        os.close(fd)
        raise
