"""ELF inputs for the fuzzer: tiny programs built with gcc and clang (DWARF 4 and 5), and
structure-aware mutations of their headers, symbols, relocations and DWARF.

The seed sources are ``tests/fuzz_data/prog_*.c``. ``build_seeds`` compiles them; ``Seed``
maps every field worth mutating (offset, size, label) once, from the pristine file, so
each mutation is a cheap overwrite. The DWARF fields are mapped by ``fuzz_dwarf``.
"""

from __future__ import annotations

import functools
import random
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import attrs
from elftools.elf.elffile import ELFFile
from fuzz_dwarf import SHF_COMPRESSED, Field, dwarf_fields

SOURCES = Path(__file__).resolve().parent.parent / "tests" / "fuzz_data"
MODULE = "fzmod"
# (name, compiler, extra flags, relocatable): every DWARF version and producer the symbolizer
# supports, a relocatable object (the .ko path: relocations applied to DWARF) and zlib-compressed
# debug sections.
VARIANTS = (
    ("gcc-dwarf4", "gcc", ("-gdwarf-4",), False),
    ("gcc-dwarf5", "gcc", ("-gdwarf-5",), False),
    ("clang-dwarf4", "clang", ("-gdwarf-4",), False),
    ("clang-dwarf5", "clang", ("-gdwarf-5",), False),
    ("gcc-dwarf5-gz", "gcc", ("-gdwarf-5", "-gz=zlib"), False),
    ("gcc-dwarf5-O0", "gcc", ("-gdwarf-5", "-O0"), False),
    ("gcc-dwarf4-rel", "gcc", ("-gdwarf-4",), True),
    ("gcc-dwarf5-rel", "gcc", ("-gdwarf-5",), True),
    ("clang-dwarf5-rel", "clang", ("-gdwarf-5",), True),
)
_EHDR64 = (
    ("e_type", 16, 2),
    ("e_machine", 18, 2),
    ("e_version", 20, 4),
    ("e_entry", 24, 8),
    ("e_phoff", 32, 8),
    ("e_shoff", 40, 8),
    ("e_flags", 48, 4),
    ("e_ehsize", 52, 2),
    ("e_phentsize", 54, 2),
    ("e_phnum", 56, 2),
    ("e_shentsize", 58, 2),
    ("e_shnum", 60, 2),
    ("e_shstrndx", 62, 2),
    *((f"e_ident[{i}]", i, 1) for i in range(4, 16)),
)
_SHDR64 = (
    ("sh_name", 0, 4),
    ("sh_type", 4, 4),
    ("sh_flags", 8, 8),
    ("sh_addr", 16, 8),
    ("sh_offset", 24, 8),
    ("sh_size", 32, 8),
    ("sh_link", 40, 4),
    ("sh_info", 44, 4),
    ("sh_addralign", 48, 8),
    ("sh_entsize", 56, 8),
)
_SYM64 = (
    ("st_name", 0, 4),
    ("st_info", 4, 1),
    ("st_other", 5, 1),
    ("st_shndx", 6, 2),
    ("st_value", 8, 8),
    ("st_size", 16, 8),
)
_RELA64 = (("r_offset", 0, 8), ("r_info", 8, 8), ("r_addend", 16, 8))


@attrs.frozen
class Function:
    """A function of the pristine seed: name, start address and size."""

    name: str
    address: int
    size: int


@attrs.define
class Seed:
    """A compiled seed ELF with its mutable fields grouped by mutation class."""

    name: str
    path: Path
    data: bytes
    relocatable: bool
    functions: list[Function]
    fields: dict[str, list[Field]]

    @classmethod
    def load(cls, name: str, path: Path, relocatable: bool) -> Seed:
        """Map every mutable field of the file at ``path``."""
        data = path.read_bytes()
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            fields = _header_fields(elf)
            fields.update(dwarf_fields(elf, data))
            symtab = elf.get_section_by_name(".symtab")
            functions = [
                Function(s.name, s["st_value"], s["st_size"])
                for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] and s["st_shndx"] != "SHN_UNDEF"
            ]
        return cls(name, path, data, relocatable, functions, fields)


def build_seeds(out: Path) -> list[Seed]:
    """Compile every variant of the seed program into ``out`` (once) and map them."""
    out.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name, cc, flags, rel in VARIANTS:
        target = out / (name + (".o" if rel else ""))
        if not target.exists():
            srcs = [str(SOURCES / "prog_lib.c")] if rel else [str(SOURCES / "prog_main.c"), str(SOURCES / "prog_lib.c")]
            argv = [cc, "-O2", "-g", *flags, *(["-c"] if rel else []), "-o", str(target), *srcs]
            subprocess.run(argv, check=True, timeout=120, capture_output=True)
        seeds.append(Seed.load(name, target, rel))
    return seeds


def _table(base: int, count: int, entsize: int, layout: tuple[tuple[str, int, int], ...], what: str) -> list[Field]:
    return [
        Field(base + i * entsize + off, size, f"{what}[{i}].{name}") for i in range(count) for name, off, size in layout
    ]


def _header_fields(elf: ELFFile) -> dict[str, list[Field]]:
    hdr = elf.header
    out = {
        "elf-header": [Field(off, size, name) for name, off, size in _EHDR64],
        "section-header": _table(hdr["e_shoff"], hdr["e_shnum"], hdr["e_shentsize"], _SHDR64, "shdr"),
        "symtab": [],
        "reloc": [],
    }
    out["zlib-bomb"] = [
        Field(hdr["e_shoff"] + i * hdr["e_shentsize"], hdr["e_shentsize"], sec.name)
        for i, sec in enumerate(elf.iter_sections())
        if sec["sh_flags"] & SHF_COMPRESSED
    ]
    for sec in elf.iter_sections():
        if sec["sh_type"] == "SHT_SYMTAB":
            out["symtab"] += _table(sec["sh_offset"], sec.num_symbols(), sec["sh_entsize"], _SYM64, sec.name)
        elif sec["sh_type"] == "SHT_RELA" and sec.name.startswith(".rela.debug"):
            out["reloc"] += _table(sec["sh_offset"], sec.num_relocations(), sec["sh_entsize"], _RELA64, sec.name)
    return out


def _interesting(rng: random.Random, size: int, old: int, file_size: int) -> int:
    top = (1 << (8 * size)) - 1
    return (
        rng.choice(
            (
                0,
                1,
                2,
                0x7F,
                0x80,
                0xFF,
                top,
                top >> 1,
                (top >> 1) + 1,
                old + 1,
                old - 1,
                old * 2,
                old ^ (1 << rng.randrange(8 * size)),
                file_size,
                file_size + 1,
                rng.randrange(top + 1),
            )
        )
        & top
    )


def _overwrite_field(seed: Seed, buf: bytearray, rng: random.Random, kind: str) -> str:
    field = rng.choice(seed.fields[kind])
    if field.leb:
        value = rng.randrange(256) if rng.random() < 0.7 else rng.choice((0, 0x7F, 0x80, 0xFF))
        buf[field.offset] = value
        return f"{field.label}@{field.offset:#x}={value:#x}"
    old = int.from_bytes(buf[field.offset : field.offset + field.size], "little")
    value = _interesting(rng, field.size, old, len(buf))
    buf[field.offset : field.offset + field.size] = value.to_bytes(field.size, "little")
    return f"{field.label}@{field.offset:#x}:{old:#x}->{value:#x}"


def _flip(seed: Seed, buf: bytearray, rng: random.Random) -> str:
    spots = [rng.randrange(len(buf)) for _ in range(rng.choice((1, 4, 32)))]
    for pos in spots:
        buf[pos] ^= 1 << rng.randrange(8)
    return f"flip@{spots[0]:#x}x{len(spots)}"


def _zero_range(seed: Seed, buf: bytearray, rng: random.Random) -> str:
    pos = rng.randrange(len(buf))
    length = rng.choice((4, 16, 256, 4096))
    buf[pos : pos + length] = bytes(len(buf[pos : pos + length]))
    return f"zero@{pos:#x}+{length}"


def _truncate(seed: Seed, buf: bytearray, rng: random.Random) -> str:
    cut = rng.randrange(len(buf))
    del buf[cut:]
    return f"truncate@{cut:#x}"


_GENERIC: dict[str, Callable[[Seed, bytearray, random.Random], str]] = {
    "flip": _flip,
    "zero-range": _zero_range,
    "truncate": _truncate,
}
# Class name -> weight. Structured classes are preferred: a random flip mostly hits code bytes.
ELF_CLASSES: dict[str, float] = {
    "elf-header": 2,
    "section-header": 4,
    "symtab": 2,
    "reloc": 2,
    "unit-header": 3,
    "abbrev": 5,
    "die-form": 8,
    "line-header": 4,
    "line-opcode": 6,
    "debug-section": 4,
    "flip": 3,
    "zero-range": 1,
    "truncate": 1,
    "zlib-bomb": 1,
}


@functools.cache
def _deflated_zeros(size: int) -> bytes:
    deflate = zlib.compressobj(9)
    chunk = bytes(min(size, 1 << 24))
    return b"".join(deflate.compress(chunk) for _ in range(size // len(chunk))) + deflate.flush()


def zlib_bomb(buf: bytearray, field: Field, size: int, claimed: int | None = None) -> str:
    """Point a compressed section at ``size`` deflated zero bytes appended to the file.

    The ELF64 compression header says ``claimed`` bytes (default: the truth).
    """
    body = _deflated_zeros(size)
    offset = len(buf)
    buf += struct.pack("<IIQQ", 1, 0, size if claimed is None else claimed, 1) + body  # Elf64_Chdr, ELFCOMPRESS_ZLIB
    struct.pack_into("<QQ", buf, field.offset + 24, offset, 24 + len(body))  # sh_offset, sh_size
    return f"zlib bomb in {field.label}: {size} bytes from {len(body)}, header says {claimed or size}"


def mutate_elf(seed: Seed, rng: random.Random, skip: frozenset[str] = frozenset()) -> tuple[str, bytes]:
    """One mutated copy of ``seed`` with 1-3 stacked mutations; returns (description, bytes)."""
    names = [n for n in ELF_CLASSES if n not in skip and (n in _GENERIC or seed.fields.get(n))]
    buf = bytearray(seed.data)
    applied = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind = rng.choices(names, [ELF_CLASSES[n] for n in names])[0]
        if kind in _GENERIC:
            applied.append(_GENERIC[kind](seed, buf, rng))
        elif len(buf) < len(seed.data):
            continue  # field offsets are only meaningful on the full-length file
        elif kind == "zlib-bomb":
            claimed = rng.choice((None, None, 0, 1 << 40, len(buf)))
            applied.append(zlib_bomb(buf, rng.choice(seed.fields[kind]), rng.choice((1, 64)) << 20, claimed))
        else:
            applied.append(_overwrite_field(seed, buf, rng, kind))
    return f"{seed.name} [{', '.join(applied)}]", bytes(buf)


def mutate_index(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """A corrupted copy of a symbolizer index file (header, directory or tables)."""
    buf = bytearray(data)
    where = int.from_bytes(buf[8:16], "little")
    kind = rng.choice(("header", "directory", "table", "truncate", "flip"))
    if kind == "header":
        pos = rng.choice((8, 16))
        value = _interesting(rng, 8, int.from_bytes(buf[pos : pos + 8], "little"), len(buf))
        buf[pos : pos + 8] = value.to_bytes(8, "little")
        return f"index header@{pos}={value:#x}", bytes(buf)
    if kind == "directory" and where < len(buf):
        pos = rng.randrange(where, len(buf))
        size = min(rng.choice((1, 2, 8)), len(buf) - pos)
        value = _interesting(rng, size, int.from_bytes(buf[pos : pos + size], "little"), len(buf))
        buf[pos : pos + size] = value.to_bytes(size, "little")
        return f"index directory@{pos:#x}={value:#x}", bytes(buf)
    if kind == "table" and where > 24:
        pos = rng.randrange(24, where - 3) & ~3
        size = rng.choice((4, 8)) if pos + 8 <= where else 4
        value = _interesting(rng, size, int.from_bytes(buf[pos : pos + size], "little"), len(buf))
        buf[pos : pos + size] = value.to_bytes(size, "little")
        return f"index table@{pos:#x}={value:#x}", bytes(buf)
    if kind == "truncate":
        cut = rng.randrange(len(buf))
        return f"index truncated@{cut:#x}", bytes(buf[:cut])
    pos = rng.randrange(len(buf))
    buf[pos] ^= 1 << rng.randrange(8)
    return f"index flip@{pos:#x}", bytes(buf)


def oops_log(seed: Seed) -> bytes:
    """A kernel-format oops whose frames name the seed's functions (for ``annotate``)."""
    mod = f" [{MODULE}]" if seed.relocatable else ""
    funcs = seed.functions or [Function("main", 0x1000, 0x40)]
    first = funcs[0]
    lines = [
        f"BUG: KASAN: use-after-free in {first.name}+0x{first.size // 2:x}/0x{first.size:x}{mod}",
        "Read of size 8 at addr ffff888012345678 by task syz-executor.0/1234",
        "",
        "CPU: 0 PID: 1234 Comm: syz-executor.0 Not tainted 6.1.0 #1",
        f"RIP: 0010:{first.name}+0x{first.size // 3:x}/0x{first.size:x}{mod}",
        "Call Trace:",
        " <TASK>",
    ]
    lines += [f" {f.name}+0x{off:x}/0x{f.size:x}{mod}" for f in funcs for off in (1, f.size // 2, f.size - 1)]
    lines += [f" [<{f.address:016x}>] {f.name}+0x0/0x{f.size:x}" for f in funcs[:3]]
    lines += [" </TASK>", "Kernel Offset: 0x0 from 0xffffffff81000000 (relocation range: 0x0-0x1)", ""]
    return "\n".join(lines).encode()
