"""Build a test initramfs without root: a gzip'd ``newc`` cpio written in pure Python.

Public API (stable, used by the bisect driver)::

    build_initramfs(out_path, *, reproducer=None, modules=(), busybox=None,
                    extra_files={}) -> Path

The archive holds Debian's static busybox as ``/bin/busybox``, the modules under
``/lib/modules/crashsig/``, the reproducer as ``/repro`` and an ``/init`` script that

1. installs busybox's applet links and mounts proc, sysfs, devtmpfs and debugfs;
2. prints :data:`BOOTED_LINE`;
3. loads each module with ``insmod`` in the order given; on failure it prints
   :data:`ERROR_PREFIX` plus the reason and powers off;
4. runs the reproducer (a static ELF binary directly, anything else with ``sh``);
5. prints :data:`END_PREFIX` plus the reproducer's exit status and runs ``poweroff -f``.

The marker lines go through ``/dev/kmsg``, so they reach the serial console synchronously and
in order with the kernel's own messages, with a timestamp; ``crashsig.bisect.qemu`` reads
them to tell boot, test and clean shutdown apart.
"""

from __future__ import annotations

import gzip
import io
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile

from crashsig.errors import InputError

__all__ = ["BOOTED_LINE", "END_PREFIX", "ERROR_PREFIX", "build_initramfs", "write_cpio"]

BOOTED_LINE = "crashsig-init: booted"
"""Printed by ``/init`` once the pseudo file systems are mounted."""
ERROR_PREFIX = "crashsig-init: error: "
"""Printed by ``/init`` before it gives up (a module that does not load)."""
END_PREFIX = "crashsig-init: done, reproducer exit status "
"""Printed by ``/init`` after the reproducer returned, right before ``poweroff -f``."""

_MODULE_DIR = "lib/modules/crashsig"
_DIRS = ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules", _MODULE_DIR)
_CONSOLE_DEV = (
    5,
    1,
)  # /dev/console: the kernel opens it for /init before devtmpfs is mounted

_INIT_HEAD = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mark() {{ echo "$*" > /dev/kmsg; }}
mark "{BOOTED_LINE}"
"""
_INIT_INSMOD = 'insmod "/{path}" || {{ mark "{error}insmod {name} failed with status $?"; poweroff -f; }}\n'
_INIT_TAIL = f"""{{run}}
mark "{END_PREFIX}$?"
poweroff -f
"""


def build_initramfs(
    out_path: Path,
    *,
    reproducer: Path | None = None,
    modules: Sequence[Path] = (),
    busybox: Path | None = None,
    extra_files: Mapping[str, Path | bytes] | None = None,
) -> Path:
    """Write a gzip'd newc initramfs to ``out_path`` and return ``out_path``.

    :param reproducer: a shell script or a *static* ELF binary run as ``/repro``; None runs
        nothing (a boot smoke test).
    :param modules: ``.ko`` files, loaded with ``insmod`` in this order.
    :param busybox: a static busybox binary; default: ``busybox`` from ``PATH`` (Debian's
        ``busybox-static`` package).
    :param extra_files: guest path (``etc/foo``) to a host file or to the bytes to store.
    :raises InputError: a file is missing or unreadable, or a binary is not static.
    """
    busybox_data = _read_static_binary(busybox or _find_busybox(), "busybox")
    entries: list[tuple[str, int, bytes]] = [(d, stat.S_IFDIR | 0o755, b"") for d in _DIRS]
    entries.append(("bin/busybox", stat.S_IFREG | 0o755, busybox_data))
    init = [_INIT_HEAD]
    for module in modules:
        path = f"{_MODULE_DIR}/{module.name}"
        entries.append((path, stat.S_IFREG | 0o644, _read(module, "module")))
        init.append(_INIT_INSMOD.format(path=path, error=ERROR_PREFIX, name=module.name))
    run = ":"
    if reproducer is not None:
        data = _read(reproducer, "reproducer")
        if data.startswith(b"\x7fELF"):
            _check_static(data, reproducer, "reproducer")
            run = "/repro"
        else:
            run = "sh /repro"
        entries.append(("repro", stat.S_IFREG | 0o755, data))
    init.append(_INIT_TAIL.format(run=run))
    entries.append(("init", stat.S_IFREG | 0o755, "".join(init).encode()))
    for guest_path, source in (extra_files or {}).items():
        data = source if isinstance(source, bytes) else _read(source, "extra file")
        entries.extend(_parents(guest_path.strip("/"), {e[0] for e in entries}))
        entries.append((guest_path.strip("/"), stat.S_IFREG | 0o755, data))
    raw = write_cpio(entries, devices={"dev/console": _CONSOLE_DEV})
    try:
        out_path.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
    except OSError as exc:
        raise InputError(f"{out_path}: cannot write initramfs: {exc.strerror}") from exc
    return out_path


def write_cpio(
    entries: Iterable[tuple[str, int, bytes]],
    *,
    devices: Mapping[str, tuple[int, int]] | None = None,
) -> bytes:
    """Return an uncompressed ``newc`` cpio archive (the format the kernel unpacks).

    :param entries: ``(path, st_mode, data)`` with relative paths; a symlink's data is its
        target. Every field is deterministic (uid 0, mtime 0, inodes numbered in order).
    :param devices: character device nodes to add, path to ``(major, minor)``.
    """
    out = io.BytesIO()
    all_entries = list(entries)
    all_entries += [(p, stat.S_IFCHR | 0o600, b"") for p in (devices or {})]
    for ino, (path, mode, data) in enumerate(all_entries, start=1):
        rdev = (devices or {}).get(path, (0, 0)) if stat.S_ISCHR(mode) else (0, 0)
        _write_entry(out, path, mode, data, ino=ino, rdev=rdev)
    _write_entry(out, "TRAILER!!!", 0, b"", ino=0, rdev=(0, 0))
    return out.getvalue()


def _write_entry(
    out: io.BytesIO,
    path: str,
    mode: int,
    data: bytes,
    *,
    ino: int,
    rdev: tuple[int, int],
) -> None:
    name = path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        len(data),
        0,
        0,
        rdev[0],
        rdev[1],
        len(name),
        0,
    )
    out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + name)
    out.write(b"\0" * (-out.tell() % 4))
    out.write(data)
    out.write(b"\0" * (-out.tell() % 4))


def _parents(path: str, existing: set[str]) -> list[tuple[str, int, bytes]]:
    """Directory entries for the missing parents of ``path``, outermost first."""
    parts = path.split("/")[:-1]
    dirs = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return [(d, stat.S_IFDIR | 0o755, b"") for d in dirs if d not in existing]


def _find_busybox() -> Path:
    found = shutil.which("busybox")
    if found is None:
        raise InputError("busybox not found in PATH: install Debian's busybox-static")
    return Path(found)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from exc


def _read_static_binary(path: Path, what: str) -> bytes:
    data = _read(path, what)
    _check_static(data, path, what)
    return data


def _check_static(data: bytes, path: Path, what: str) -> None:
    """Raise InputError unless ``data`` is an ELF executable without a program interpreter."""
    try:
        segments = ELFFile(io.BytesIO(data)).iter_segments()
        dynamic = any(seg["p_type"] == "PT_INTERP" for seg in segments)
    except _PyElfError as exc:
        raise InputError(f"{path}: {what} is not a valid ELF file: {exc}") from exc
    if dynamic:
        raise InputError(
            f"{path}: {what} is dynamically linked; the initramfs has no libraries "
            "(link it with -static, or use busybox-static)"
        )
