"""Per-revision builds in a worktree of their own, with a user build command (fast: no
compiler, no VM). Module builds against Debian's headers are covered by test_bisect_e2e."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crashsig.bisect import git
from crashsig.bisect.build import CommandBuilder, error_tail
from crashsig.errors import BuildError

BUILD_SH = """#!/bin/sh
# Stands in for a kernel build: fails on request, else writes an "image" from the sources.
set -e
if grep -q BROKEN source.c; then echo "source.c:1:1: error: broken on purpose" >&2; exit 1; fi
mkdir -p arch/x86/boot
printf 'image of %s\\n' "$(cat source.c)" > arch/x86/boot/bzImage
"""


def _git(repo: Path, *args: str) -> str:
    argv = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "--quiet")
    (path / "build.sh").write_text(BUILD_SH)
    commits = []
    for text in ("one", "one", "BROKEN", "two"):
        (path / "source.c").write_text(text + "\n")
        _git(path, "add", "-A")
        _git(path, "commit", "--quiet", "--allow-empty", "-m", text)
        commits.append(_git(path, "rev-parse", "HEAD"))
    return path, commits


def test_command_builds_each_revision_away_from_the_checkout(repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, commits = repo
    (path / "untracked.txt").write_text("mine\n")
    builder = CommandBuilder(path, tmp_path / "work", command=["sh", "build.sh"], image="arch/x86/boot/bzImage")
    try:
        first, same_source, changed = (builder.build(commits[i]) for i in (0, 1, 3))
        with pytest.raises(BuildError, match="source.c:1:1: error: broken on purpose"):
            builder.build(commits[2])
        with pytest.raises(BuildError, match="broken on purpose"):  # the failure is cached too
            builder.build(commits[2])
        again = builder.build(commits[0])
    finally:
        builder.close()
    assert first.kernel is not None and first.kernel.read_text() == "image of one\n"
    assert first.signature == same_source.signature != changed.signature
    assert (again.signature, again.duration) == (first.signature, 0.0)
    # The user's checkout is untouched: still at the last commit, untracked file kept, no build output.
    assert _git(path, "rev-parse", "HEAD") == commits[3]
    assert (path / "untracked.txt").read_text() == "mine\n"
    assert not (path / "arch").exists()
    assert _git(path, "worktree", "list").count("\n") == 0


def test_command_that_leaves_no_image_is_a_build_error(repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, commits = repo
    builder = CommandBuilder(path, tmp_path / "work", command=["true"], image="arch/x86/boot/bzImage")
    with pytest.raises(BuildError, match="no kernel image at arch/x86/boot/bzImage"):
        builder.build(commits[0])
    builder.close()


def test_error_tail_starts_at_the_first_error() -> None:
    log = "\n".join([f"  CC file{i}.o" for i in range(100)] + ["a.c:3:1: error: oops", "make: *** Error 1"])
    assert error_tail(log) == "a.c:3:1: error: oops\nmake: *** Error 1"
    assert error_tail("only noise\n" * 50, lines=3) == "only noise\nonly noise\nonly noise"


def test_kept_worktree_is_reused_by_the_next_builder(
    repo: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, commits = repo
    added: list[Path] = []
    add_worktree = git.add_worktree

    def counted_add(repo: Path, slot: Path, commit: str) -> None:
        added.append(slot)
        add_worktree(repo, slot, commit)

    monkeypatch.setattr(git, "add_worktree", counted_add)
    work, slot = tmp_path / "work", tmp_path / "work" / "src"

    def build_kept(commit: str) -> str:
        builder = CommandBuilder(path, work, command=["sh", "build.sh"], image="arch/x86/boot/bzImage", keep_worktree=True)
        try:
            built = builder.build(commit)
        finally:
            builder.close()
        assert built.kernel is not None and git.is_worktree_of(path, slot)
        return built.kernel.read_text()

    assert build_kept(commits[0]) == "image of one\n"
    (slot / "stray.txt").write_text("left by hand\n")
    assert build_kept(commits[3]) == "image of two\n"
    assert added == [slot]  # the second builder checked the kept worktree out instead of adding one
    assert not (slot / "stray.txt").exists()  # and the checkout cleaned it
    # A directory that is not a worktree of the repository is replaced, not trusted.
    git.remove_worktree(path, slot)
    slot.mkdir()
    (slot / ".git").write_text("gitdir: /nowhere\n")
    assert not git.is_worktree_of(path, slot)
    assert build_kept(commits[1]) == "image of one\n"
    assert added == [slot, slot]
