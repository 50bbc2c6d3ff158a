"""Shared fixtures: where the external syzkaller corpus and the seed log live."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SYZKALLER_CORPUS = SHARED / "corpus" / "syzkaller"
SEED_LOG = SHARED / "corpus" / "seed" / "syzbot-kvm-bisection.log"
OWN_CORPUS = REPO / "tests" / "corpus"


def load_known_failures(path: Path) -> dict[str, str]:
    """Read a known-failures list: one ``name reason...`` per line, ``#`` comments."""
    known = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            known[name] = reason.strip()
    return known


@pytest.fixture(scope="session")
def seed_log() -> bytes:
    """The real syzbot bisection log bundled with the project (tests/corpus copy)."""
    return (OWN_CORPUS / "seed" / "syzbot-kvm-bisection.log").read_bytes()
