"""Build tests/qemu_data/crashmod/ against a kernel's headers (shared by tests and scripts).

Exact command: ``make -C <headers_dir> M=<copy of crashmod/> modules`` with gcc-12 and make.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent / "crashmod"


def build_crashmod(headers_dir: Path, work_dir: Path) -> Path:
    """Copy the module source into ``work_dir/crashmod``, build it, return the ``.ko``."""
    build_dir = work_dir / "crashmod"
    shutil.copytree(SOURCE_DIR, build_dir, dirs_exist_ok=True)
    subprocess.run(
        ["make", "-C", str(headers_dir), f"M={build_dir}", "modules"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return build_dir / "crashmod.ko"
