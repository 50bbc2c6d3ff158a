"""Kernel build signatures against a reference computed with binutils in the test.

The reference lists sections with ``readelf -SW``, keeps the allocated, file-backed,
non-note ones, dumps them all with one ``objcopy --dump-section`` call and hashes the
dumps. Inputs are real ELF files: an out-of-tree kernel module built here against
Debian's cloud kernel headers, C programs built here, /bin/ls, and a Debian cloud
vmlinux when one is on this machine.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from crashsig import ElfError
from crashsig.cli import main
from crashsig.kernelsig import iter_section_digests, kernel_signature

_HEADER_DIRS = "/usr/src/linux-headers-*-cloud-amd64"
_VMLINUX_GLOBS = (
    "/usr/lib/debug/boot/vmlinux-*-cloud-amd64",
    os.path.expanduser("~/.cache/crashsig/**/vmlinux-*-cloud-amd64"),
)
_SECTION_LINE = re.compile(
    r"^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+"
)
_MODULE_SOURCE = """\
#include <linux/module.h>
#include <linux/init.h>

static int answer = 42;
module_param(answer, int, 0444);

static int __init crashsig_sig_init(void)
{
\tpr_info("crashsig_sig: answer is %d\\n", answer);
\treturn 0;
}

static void __exit crashsig_sig_exit(void)
{
}

module_init(crashsig_sig_init);
module_exit(crashsig_sig_exit);
MODULE_LICENSE("GPL");
"""
_PROGRAM_SOURCE = """\
#include <stdio.h>
static const char table[] = "crashsig kernel signature test";
int main(int argc, char **argv)
{{
{comment}\tint x = {value};
\tprintf("%d %s %s\\n", x + argc, table, argv[0]);
\treturn 0;
}}
"""


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 300) -> str:
    """Run argv in its own process group; kill the group on timeout; fail on error."""
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    assert proc.returncode == 0, f"{argv} failed:\n{out}"
    return out


def _reference_signature(path: Path, workdir: Path) -> str:
    """Recompute the signature with readelf + objcopy, independently of crashsig."""
    names = []
    for line in _run(["readelf", "-SW", str(path)]).splitlines():
        found = _SECTION_LINE.match(line)
        if found and "A" in found[5] and found[3] not in ("NOBITS", "NOTE"):
            names.append(found[2])
    assert names, f"readelf found no allocated sections in {path}"
    assert len(set(names)) == len(names), f"duplicate section names in {path}; objcopy cannot dump them"
    dumps = [workdir / f"{index}.bin" for index in range(len(names))]
    argv = ["objcopy"]
    for name, dump in zip(names, dumps):
        argv += ["--dump-section", f"{name}={dump}"]
    _run(argv + [str(path), str(workdir / "discard")])
    outer = hashlib.sha256()
    for dump in dumps:
        outer.update(hashlib.sha256(dump.read_bytes()).digest())
    return outer.hexdigest()


def _headers() -> Path:
    found = sorted(glob.glob(_HEADER_DIRS))
    assert found, f"no {_HEADER_DIRS}: install linux-headers-cloud-amd64 (.ci/apt-packages.txt)"
    return Path(found[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ELF files built for these tests: a kernel module, programs, an object file."""
    out = tmp_path_factory.mktemp("elf")
    module_dir = out / "module"
    module_dir.mkdir()
    (module_dir / "crashsig_sig.c").write_text(_MODULE_SOURCE)
    (module_dir / "Makefile").write_text("obj-m += crashsig_sig.o\n")
    _run(["make", "-C", str(_headers()), f"M={module_dir}", "modules"])
    files = {"module": module_dir / "crashsig_sig.ko"}
    variants = {"program": ("", 1), "commented": ("\t/* a comment\n\t   moving lines */\n", 1), "changed": ("", 2)}
    for name, (comment, value) in variants.items():
        source = out / f"{name}.c"
        source.write_text(_PROGRAM_SOURCE.format(comment=comment, value=value))
        files[name] = out / name
        _run(["gcc", "-O2", "-g", "-o", str(files[name]), str(source)])
    files["object"] = out / "program.o"
    _run(["gcc", "-O2", "-c", "-o", str(files["object"]), str(out / "program.c")])
    return files


def _inputs() -> list[str]:
    found = [path for pattern in _VMLINUX_GLOBS for path in glob.glob(pattern, recursive=True)]
    return ["module", "program", "object", "/bin/ls", *sorted(found)[:1]]


@pytest.mark.parametrize("name", _inputs())
def test_matches_objcopy_reference(name: str, built: dict[str, Path], tmp_path: Path) -> None:
    path = built.get(name, Path(name))
    assert kernel_signature(path) == _reference_signature(path, tmp_path)


def test_module_sections_are_the_allocated_file_backed_ones(built: dict[str, Path]) -> None:
    names = [digest.name for digest in iter_section_digests(built["module"])]
    assert ".text" in names and ".modinfo" in names and "__param" in names
    assert not {".bss", ".note.gnu.build-id", ".symtab", ".strtab"} & set(names)


def test_debug_info_and_comments_do_not_change_it(built: dict[str, Path], tmp_path: Path) -> None:
    stripped = tmp_path / "stripped"
    _run(["objcopy", "--strip-debug", str(built["program"]), str(stripped)])
    assert kernel_signature(stripped) == kernel_signature(built["program"])
    assert kernel_signature(built["commented"]) == kernel_signature(built["program"])
    assert kernel_signature(built["changed"]) != kernel_signature(built["program"])


def test_not_elf_and_truncated(built: dict[str, Path], tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("not an ELF file\n")
    with pytest.raises(ElfError, match="not an ELF file"):
        kernel_signature(text)
    data = built["module"].read_bytes()
    for size, reason in ((40, "truncated ELF header"), (len(data) - 100, "truncated section header table")):
        cut = tmp_path / f"cut{size}"
        cut.write_bytes(data[:size])
        with pytest.raises(ElfError, match=reason):
            kernel_signature(cut)
    with pytest.raises(ElfError, match="No such file"):
        kernel_signature(tmp_path / "missing")


def test_truncated_section_data(built: dict[str, Path], tmp_path: Path) -> None:
    # Keep the ELF header, the section header table and the section name table, moved to
    # the front of the file; the sections' data is cut off.
    data = bytearray(built["program"].read_bytes())
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shnum, shstrndx = int.from_bytes(data[0x3C:0x3E], "little"), int.from_bytes(data[0x3E:0x40], "little")
    table = bytearray(data[shoff : shoff + shnum * 64])
    names_entry = shstrndx * 64
    names_offset = int.from_bytes(table[names_entry + 0x18 : names_entry + 0x20], "little")
    names_size = int.from_bytes(table[names_entry + 0x20 : names_entry + 0x28], "little")
    table[names_entry + 0x18 : names_entry + 0x20] = (0x40 + len(table)).to_bytes(8, "little")
    header = data[:0x28] + (0x40).to_bytes(8, "little") + data[0x30:0x40]
    cut = tmp_path / "cut"
    cut.write_bytes(bytes(header + table + data[names_offset : names_offset + names_size]))
    with pytest.raises(ElfError, match="truncated: section"):
        kernel_signature(cut)
    cut.write_bytes(bytes(header + table))
    with pytest.raises(ElfError, match="truncated section name table"):
        kernel_signature(cut)


def test_cli(built: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = str(built["module"])
    assert main(["signature", "--kernel", module, "/bin/ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{kernel_signature(module)}  {module}", f"{kernel_signature('/bin/ls')}  /bin/ls"]
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF")
    assert main(["signature", "--kernel", str(bad), module]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"crashsig: error: {bad}: truncated ELF header"
    assert captured.out.strip() == f"{kernel_signature(module)}  {module}"
