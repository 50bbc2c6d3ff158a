"""Shared fixtures: where the external syzkaller corpus and the seed log live."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SYZKALLER_CORPUS = SHARED / "corpus" / "syzkaller"
SEED_LOG = SHARED / "corpus" / "seed" / "syzbot-kvm-bisection.log"
OWN_CORPUS = REPO / "tests" / "corpus"


@pytest.fixture(scope="session")
def seed_log() -> bytes:
    """The real syzbot bisection log bundled with the project (tests/corpus copy)."""
    return (OWN_CORPUS / "seed" / "syzbot-kvm-bisection.log").read_bytes()
