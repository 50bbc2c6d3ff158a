"""The pure-Python initramfs writer, checked with busybox's own cpio and sh (no QEMU)."""

from __future__ import annotations

import gzip
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from crashsig.bisect.initramfs import (
    BOOTED_LINE,
    END_PREFIX,
    build_initramfs,
    write_cpio,
)
from crashsig.errors import InputError

BUSYBOX = shutil.which("busybox")


def _busybox(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> str:
    assert BUSYBOX, "busybox-static is in .ci/apt-packages.txt"
    proc = subprocess.run(
        [BUSYBOX, *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return proc.stdout.decode()


def _listing(archive: bytes) -> dict[str, str]:
    """``busybox cpio -tv`` of an uncompressed archive: path -> mode string."""
    rows = _busybox("cpio", "-t", "-v", stdin=archive).splitlines()
    return {
        row.split()[-1] if "->" not in row else row.split()[-3]: row.split()[0]
        for row in rows
    }


def test_write_cpio_is_read_back_by_busybox_cpio(tmp_path: Path) -> None:
    archive = write_cpio(
        [
            ("bin", stat.S_IFDIR | 0o755, b""),
            ("bin/hello", stat.S_IFREG | 0o755, b"#!/bin/sh\necho hi\n"),
            ("bin/odd", stat.S_IFREG | 0o644, b"x" * 5),
            ("bin/link", stat.S_IFLNK | 0o777, b"hello"),
        ],
        devices={"console": (5, 1)},
    )
    listing = _listing(archive)
    assert listing == {
        "bin": "drwxr-xr-x",
        "bin/hello": "-rwxr-xr-x",
        "bin/odd": "-rw-r--r--",
        "bin/link": "lrwxrwxrwx",
        "console": "crw-------",
    }
    _busybox(
        "cpio",
        "-i",
        "-d",
        "bin/hello",
        "bin/odd",
        "bin/link",
        stdin=archive,
        cwd=tmp_path,
    )
    assert (tmp_path / "bin/hello").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (tmp_path / "bin/odd").read_bytes() == b"xxxxx"
    assert (tmp_path / "bin/link").readlink() == Path("hello")


def test_write_cpio_is_deterministic() -> None:
    entries = [("a", stat.S_IFREG | 0o644, b"data")]
    assert write_cpio(entries) == write_cpio(entries)
    archive = write_cpio(entries)
    assert archive.rstrip(b"\0").endswith(b"TRAILER!!!")
    assert (
        len(archive) % 4 == 0
    )  # newc pads every header+name and every data block to 4


def test_initramfs_layout_and_init_script(tmp_path: Path) -> None:
    repro = tmp_path / "repro.sh"
    repro.write_text("echo test\n")
    module = tmp_path / "fake.ko"
    module.write_bytes(b"\x7fELF not really")
    out = build_initramfs(
        tmp_path / "initramfs.gz",
        reproducer=repro,
        modules=[module],
        extra_files={"etc/motd": b"hi\n"},
    )
    archive = gzip.decompress(out.read_bytes())
    listing = _listing(archive)
    assert listing["init"] == "-rwxr-xr-x"
    assert listing["repro"] == "-rwxr-xr-x"
    assert listing["bin/busybox"] == "-rwxr-xr-x"
    assert listing["dev/console"] == "crw-------"
    assert listing["etc"] == "drwxr-xr-x"
    assert "lib/modules/crashsig/fake.ko" in listing
    _busybox("cpio", "-i", "-d", "init", "etc/motd", stdin=archive, cwd=tmp_path)
    init = (tmp_path / "init").read_text()
    assert init.startswith("#!/bin/busybox sh\n")
    assert "mount -t debugfs debugfs /sys/kernel/debug" in init
    assert 'insmod "/lib/modules/crashsig/fake.ko"' in init
    assert "\nsh /repro\n" in init  # a script runs through sh
    assert BOOTED_LINE in init and END_PREFIX in init
    assert init.rstrip().endswith("poweroff -f")
    assert (tmp_path / "etc/motd").read_bytes() == b"hi\n"
    _busybox("sh", "-n", str(tmp_path / "init"))  # syntax check


def test_static_binary_reproducer_runs_directly(tmp_path: Path) -> None:
    assert BUSYBOX
    out = build_initramfs(tmp_path / "i.gz", reproducer=Path(BUSYBOX))
    _busybox(
        "cpio", "-i", "init", stdin=gzip.decompress(out.read_bytes()), cwd=tmp_path
    )
    assert "\n/repro\n" in (tmp_path / "init").read_text()


def test_no_reproducer_boots_and_powers_off(tmp_path: Path) -> None:
    out = build_initramfs(tmp_path / "i.gz")
    listing = _listing(gzip.decompress(out.read_bytes()))
    assert "repro" not in listing


@pytest.mark.parametrize("what", ["reproducer", "busybox"])
def test_dynamic_binaries_are_refused(tmp_path: Path, what: str) -> None:
    dynamic = Path("/bin/ls")  # dynamically linked on Debian
    kwargs = {"reproducer": dynamic} if what == "reproducer" else {"busybox": dynamic}
    with pytest.raises(InputError, match="dynamically linked"):
        build_initramfs(tmp_path / "i.gz", **kwargs)  # type: ignore[arg-type]


def test_missing_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read reproducer"):
        build_initramfs(tmp_path / "i.gz", reproducer=tmp_path / "missing.sh")
    with pytest.raises(InputError, match="cannot read module"):
        build_initramfs(tmp_path / "i.gz", modules=[tmp_path / "missing.ko"])
    with pytest.raises(InputError, match="not a valid ELF"):
        build_initramfs(tmp_path / "i.gz", busybox=Path(__file__))
