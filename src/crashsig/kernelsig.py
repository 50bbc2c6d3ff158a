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

Only the ELF header and the section header table are parsed (by the symbolizer's
``elfheaders``); section bytes are streamed in 1 MiB reads, so memory stays flat on a
590 MB vmlinux.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import attrs

from crashsig.errors import ElfError
from crashsig.symbolize.elfheaders import HeaderError, Section, parse_headers

__all__ = ["SectionDigest", "iter_section_digests", "kernel_signature"]

SHF_ALLOC = 0x2
SHT_NOTE = 7
SHT_NOBITS = 8
_CHUNK = 1 << 20


@attrs.frozen
class SectionDigest:
    """The sha256 of one hashed section, in the order the signature consumes them."""

    index: int
    """Section header index."""
    name: str
    """Section name from ``.shstrtab`` (``[N]`` for a section without a name)."""
    size: int
    """Number of bytes hashed (``sh_size``)."""
    digest: bytes
    """Raw 32-byte sha256 of the section's file bytes."""


def _hashed(section: Section) -> bool:
    return bool(section.flags & SHF_ALLOC) and section.type not in (SHT_NOBITS, SHT_NOTE)


def _digest(fd: int, section: Section, path: str) -> bytes:
    hasher = hashlib.sha256()
    offset, end = section.offset, section.offset + section.size
    while offset < end:
        chunk = os.pread(fd, min(end - offset, _CHUNK), offset)
        if not chunk:  # the file shrank while we read it
            raise ElfError(f"{path}: truncated at offset {offset:#x}")
        hasher.update(chunk)
        offset += len(chunk)
    return hasher.digest()


def iter_section_digests(path: str | os.PathLike[str]) -> Iterator[SectionDigest]:
    """Yield the digest of every section the kernel signature covers, in order.

    Raises ``ElfError`` when the file is not ELF, is truncated or cannot be read.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ElfError(f"{name}: {exc.strerror or exc}") from exc
    try:
        file_size = os.fstat(fd).st_size
        try:
            headers = parse_headers(lambda offset, size: os.pread(fd, size, offset), file_size)
        except HeaderError as exc:
            raise ElfError(f"{name}: {exc}") from exc
        for section in filter(_hashed, headers.sections):
            if section.offset + section.size > file_size:
                raise ElfError(
                    f"{name}: truncated: section {section.index} ends at "
                    f"{section.offset + section.size:#x}, the file at {file_size:#x}"
                )
            label = section.name or f"[{section.index}]"
            yield SectionDigest(section.index, label, section.size, _digest(fd, section, name))
    except OSError as exc:
        raise ElfError(f"{name}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


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
