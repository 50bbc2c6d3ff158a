"""src/ stays clean under the project's static checks: ``ruff check``, ``ruff format
--check`` and ``mypy --strict`` (versions pinned in pyproject.toml's ``test`` extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "src"],
        ["ruff", "format", "--check", "src"],
        ["mypy", "--strict", "src/crashsig"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_src_is_clean(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
