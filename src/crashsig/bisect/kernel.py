"""Debian's stock cloud kernel, fetched with ``apt-get download`` and unpacked without installing.

Public API (stable, used by the bisect driver)::

    fetch_debian_kernel(cache_dir=None, *, abi=None, headers=True) -> DebianKernel

The kernel comes from ``linux-image-<abi>-cloud-amd64`` and, for out-of-tree module builds,
the headers from ``linux-headers-<abi>-cloud-amd64`` plus the ``-common`` and
``linux-kbuild-*`` packages it depends on. Each is unpacked with ``dpkg-deb -x`` into
``<cache_dir>/<abi>/{image,headers}`` (default cache: ``~/.cache/crashsig/kernels``); a
finished directory is reused without asking apt again when ``abi`` is given or apt's lists
are unavailable. Nothing is installed and no root is needed beyond what ``apt-get download``
needs (readable package lists: run ``apt-get update`` once).

Build a module against the result with
``make -C <headers_dir> M=<module dir> modules`` (needs ``gcc-12`` and ``make``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import attrs

from crashsig.errors import InfraError

__all__ = ["DebianKernel", "default_cache_dir", "fetch_debian_kernel"]

log = logging.getLogger(__name__)

_FLAVOUR = "cloud-amd64"
_META_PACKAGE = f"linux-image-{_FLAVOUR}"
_ABI_RE = re.compile(rf"Depends: linux-image-(?P<abi>\d+\.\d+\.\d+-\d+)-{_FLAVOUR}\b")
_KBUILD_RE = re.compile(r"Depends: (?P<pkg>linux-kbuild-[\d.]+)\b")
_DOWNLOAD_TIMEOUT = 900.0
_TOOL_TIMEOUT = 300.0


@attrs.frozen
class DebianKernel:
    """An unpacked Debian cloud kernel (and optionally its build headers)."""

    abi: str
    """Debian kernel ABI, e.g. ``6.1.0-56``; packages are named ``linux-image-<abi>-cloud-amd64``."""
    bzimage: Path
    """The bootable image, ``.../boot/vmlinuz-<release>``."""
    modules_dir: Path
    """The in-tree modules of this kernel, ``.../lib/modules/<release>``."""
    headers_dir: Path | None
    """Kbuild tree for out-of-tree modules (``make -C headers_dir M=...``); None if not fetched."""

    @property
    def release(self) -> str:
        """Kernel release string as ``uname -r`` prints it, e.g. ``6.1.0-56-cloud-amd64``."""
        return f"{self.abi}-{_FLAVOUR}"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/crashsig/kernels``, by default ``~/.cache/crashsig/kernels``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "crashsig" / "kernels"


def fetch_debian_kernel(cache_dir: Path | None = None, *, abi: str | None = None, headers: bool = True) -> DebianKernel:
    """Return Debian's cloud kernel, downloading and unpacking it on first use.

    :param cache_dir: where unpacked packages live; default :func:`default_cache_dir`.
    :param abi: a specific ABI (``6.1.0-56``); default: the one ``linux-image-cloud-amd64``
        depends on in apt's lists, or the newest cached one when the lists cannot be read.
    :param headers: also fetch the headers needed to build out-of-tree modules.
    :raises InfraError: apt or dpkg-deb failed, or no kernel is known at all.
    """
    cache = cache_dir or default_cache_dir()
    abi = abi or _current_abi(cache)
    release = f"{abi}-{_FLAVOUR}"
    image_root = _ensure_unpacked(cache / abi / "image", [f"linux-image-{release}"])
    headers_dir = None
    if headers:
        headers_root = cache / abi / "headers"
        if not headers_root.is_dir():
            kbuild = _kbuild_package(f"linux-headers-{release}")
            header_pkgs = [
                f"linux-headers-{release}",
                f"linux-headers-{abi}-common",
                kbuild,
            ]
            _ensure_unpacked(headers_root, header_pkgs)
        headers_dir = headers_root / "usr/src" / f"linux-headers-{release}"
        _point_makefile_at_common(headers_dir, headers_root / "usr/src" / f"linux-headers-{abi}-common")
    bzimage = image_root / "boot" / f"vmlinuz-{release}"
    if not bzimage.is_file():
        raise InfraError(f"{bzimage}: missing from the unpacked linux-image-{release} package")
    return DebianKernel(
        abi=abi,
        bzimage=bzimage,
        modules_dir=image_root / "lib/modules" / release,
        headers_dir=headers_dir,
    )


def _current_abi(cache: Path) -> str:
    """The ABI apt would install for the meta package, else the newest one in the cache."""
    try:
        out = _run(["apt-cache", "depends", _META_PACKAGE], what="apt-cache")
    except InfraError as exc:
        out = ""
        log.debug("apt-cache failed, falling back to the cache: %s", exc)
    match = _ABI_RE.search(out)
    if match:
        return match["abi"]
    cached = sorted(
        (p.parent.name for p in cache.glob("*/image") if p.is_dir()),
        key=lambda a: [int(n) for n in re.findall(r"\d+", a)],
    )
    if cached:
        return cached[-1]
    raise InfraError(
        f"apt does not know {_META_PACKAGE} and {cache} holds no kernel: run 'apt-get update' "
        "(Debian 12 with the main component)"
    )


def _kbuild_package(headers_pkg: str) -> str:
    """``linux-kbuild-X.Y``, which holds the headers' ``scripts`` and ``tools``."""
    match = _KBUILD_RE.search(_run(["apt-cache", "depends", headers_pkg], what="apt-cache"))
    if match is None:
        raise InfraError(f"cannot tell which linux-kbuild package {headers_pkg} needs")
    return match["pkg"]


def _ensure_unpacked(target: Path, packages: list[str]) -> Path:
    """Download ``packages`` and unpack them all into ``target`` unless it already exists.

    The work happens in a sibling temporary directory that is renamed into place, so an
    interrupted fetch never leaves a half-unpacked ``target``.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        work = Path(tmp)
        debs = work / "debs"
        debs.mkdir()
        log.info("downloading %s", " ".join(packages))
        _run(
            ["apt-get", "download", *packages],
            what="apt-get download",
            cwd=debs,
            timeout=_DOWNLOAD_TIMEOUT,
        )
        root = work / "root"
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(deb), str(root)], what="dpkg-deb")
        try:
            root.rename(target)
        except OSError:
            if not target.is_dir():  # another process may have won the race: keep its copy
                raise
    return target


def _point_makefile_at_common(headers_dir: Path, common_dir: Path) -> None:
    """Rewrite the flavour Makefile's absolute ``include /usr/src/...-common/Makefile``."""
    makefile = headers_dir / "Makefile"
    wanted = f"include {common_dir}/Makefile\n"
    try:
        if makefile.read_text() != wanted:
            makefile.write_text(wanted)
    except OSError as exc:
        raise InfraError(f"{makefile}: cannot adjust the headers Makefile: {exc.strerror}") from exc


def _run(
    argv: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    timeout: float = _TOOL_TIMEOUT,
) -> str:
    """Run a tool, return its stdout; raise InfraError with its stderr tail on failure."""
    if shutil.which(argv[0]) is None:
        raise InfraError(f"{argv[0]} not found: this needs a Debian system with apt and dpkg")
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"{what} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise InfraError(f"{what} failed with status {proc.returncode}: {tail}")
    return proc.stdout
