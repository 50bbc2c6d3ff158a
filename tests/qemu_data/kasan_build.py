"""Build crashsig's small KASAN test kernel from Debian's ``linux-source-6.1``.

Steps (a cold build is about 6 min of CPU time: 18 min wall measured on 2 cores shared
with other jobs, 7.5 min after a config change with a warm ccache; about 20 s when nothing
changed):

1. unpack ``/usr/src/linux-source-6.1.tar.xz`` (``apt-get install linux-source-6.1``) into
   the cache directory, once;
2. copy ``kasan/memsafety/`` into ``drivers/misc/memsafety/`` and add
   ``obj-y += memsafety/`` to ``drivers/misc/Makefile`` (built in: tinyconfig has no modules);
3. ``make tinyconfig``, merge ``tiny/boot.config`` and ``kasan/kasan.config`` with
   ``scripts/kconfig/merge_config.sh``, ``make olddefconfig``, and check that every option
   of the fragments stuck;
4. ``make -j$(nproc) bzImage`` with ``CC="ccache gcc"`` when ccache is installed.

Used by ``scripts/capture_kasan_corpus.py``; not part of the test suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent / "kasan"
FRAGMENTS = (HERE.parent / "tiny" / "boot.config", HERE / "kasan.config")
MODULE_SOURCE = HERE / "memsafety"
SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
DEFAULT_CACHE = Path.home() / ".cache" / "crashsig" / "kasan"
_MAKEFILE_LINE = "obj-y += memsafety/\n"
_BUILD_TIMEOUT = 3600


@attrs.frozen
class KasanKernel:
    """A built KASAN kernel."""

    bzimage: Path
    release: str
    """``make kernelrelease``, e.g. ``6.1.192``."""


def build_kasan_kernel(cache_dir: Path = DEFAULT_CACHE) -> KasanKernel:
    """Unpack, configure and build the KASAN test kernel under ``cache_dir``; return it."""
    tree = unpack_source(cache_dir)
    _install_module(tree)
    make_config(tree, FRAGMENTS)
    _make(tree, f"-j{os.cpu_count() or 1}", "bzImage")
    release = _make(tree, "-s", "kernelrelease").strip()
    return KasanKernel(tree / "arch/x86/boot/bzImage", release)


def unpack_source(cache_dir: Path) -> Path:
    """Return ``cache_dir/linux-source-6.1``, unpacking Debian's tarball there first if needed."""
    tree = cache_dir / "linux-source-6.1"
    if (tree / "Makefile").is_file():
        return tree
    if not SOURCE_TARBALL.is_file():
        raise SystemExit(f"{SOURCE_TARBALL} missing: apt-get install linux-source-6.1")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / "partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    _run(["tar", "-xJf", str(SOURCE_TARBALL), "-C", str(partial)], cache_dir)
    (partial / "linux-source-6.1").rename(tree)
    partial.rmdir()
    return tree


def make_config(tree: Path, fragments: Sequence[Path], objdir: Path | None = None) -> Path:
    """Write ``.config`` (in ``objdir``, else in ``tree``): tinyconfig plus ``fragments``.

    Raises SystemExit when an option of a fragment did not stick.

    Kconfig rewrites its generated headers only when they change, so an unchanged result
    does not make the next build recompile anything.
    """
    out = objdir or tree
    where = [f"O={objdir}"] if objdir else []
    _make(tree, *where, "tinyconfig")
    _run(["scripts/kconfig/merge_config.sh", "-m", "-O", str(out), str(out / ".config"), *map(str, fragments)], tree)
    _make(tree, *where, "olddefconfig")
    config = (out / ".config").read_text()
    for fragment in fragments:
        wanted = re.findall(r"^(CONFIG_\w+=\S+)$", fragment.read_text(), re.MULTILINE)
        missing = [line for line in wanted if f"\n{line}\n" not in f"\n{config}"]
        if missing:
            raise SystemExit(f"kconfig dropped options of {fragment.name}: {', '.join(missing)}")
    return out / ".config"


def _install_module(tree: Path) -> None:
    shutil.copytree(MODULE_SOURCE, tree / "drivers/misc/memsafety", dirs_exist_ok=True)
    makefile = tree / "drivers/misc/Makefile"
    text = makefile.read_text()
    if _MAKEFILE_LINE not in text:
        makefile.write_text(text + _MAKEFILE_LINE)


def _make(tree: Path, *targets: str) -> str:
    cc = "ccache gcc" if shutil.which("ccache") else "gcc"
    return _run(["make", f"CC={cc}", "HOSTCC=gcc", *targets], tree)


def _run(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=_BUILD_TIMEOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise SystemExit(f"{' '.join(argv[:3])} ... failed ({proc.returncode}):\n{tail}")
    return proc.stdout
