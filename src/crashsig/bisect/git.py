"""The few git operations a bisection needs, as argv lists with timeouts.

Everything happens in worktrees that this module adds and removes: the user's checkout
(its files, HEAD, index and bisect state) is never touched. ``git bisect`` keeps its refs
per worktree, so a bisection here does not disturb one the user runs in the checkout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from crashsig.errors import InfraError, InputError

GIT_TIMEOUT = 300.0
"""Seconds for one git command: a worktree checkout of a kernel tree takes tens of seconds."""

_ENV = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
"""git's messages are parsed below, so they must not be translated."""

_BISECTING = re.compile(r"\(roughly (?P<steps>\d+) steps?\)")
_FIRST_BAD = re.compile(r"^(?P<sha>[0-9a-f]{40}) is the first bad commit$", re.MULTILINE)
_SHA_LINE = re.compile(r"^[0-9a-f]{40}$", re.MULTILINE)


def git(repo: Path | str, *args: str, timeout: float = GIT_TIMEOUT, check: bool = True) -> str:
    """Run ``git -C repo ARGS`` and return its stdout; raise InfraError when it fails."""
    proc = _run(repo, args, timeout)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InfraError(f"git {' '.join(args)} in {repo} failed: {' / '.join(tail)}")
    return proc.stdout


def _run(repo: Path | str, args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
    argv = ["git", "-C", str(repo), *args]
    try:
        return subprocess.run(
            argv, check=False, capture_output=True, text=True, errors="replace", timeout=timeout, env=_ENV
        )
    except FileNotFoundError as exc:
        raise InfraError("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"git {' '.join(args)} in {repo} timed out after {timeout:.0f} s") from exc


def rev_parse(repo: Path | str, rev: str) -> str:
    """The full commit id of ``rev``; InputError when it names no commit."""
    proc = _run(repo, ("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"), GIT_TIMEOUT)
    if proc.returncode != 0:
        raise InputError(f"{rev!r} is not a commit in {repo}")
    return proc.stdout.strip()


def subject(repo: Path | str, commit: str) -> str:
    """The first line of the commit message."""
    return git(repo, "log", "-1", "--format=%s", commit).strip()


def parents(repo: Path | str, commit: str) -> list[str]:
    """The commit's parents, first parent first."""
    return git(repo, "log", "-1", "--format=%P", commit).split()


def is_ancestor(repo: Path | str, ancestor: str, commit: str) -> bool:
    """True when ``ancestor`` is reachable from ``commit`` (or equal to it)."""
    return _run(repo, ("merge-base", "--is-ancestor", ancestor, commit), GIT_TIMEOUT).returncode == 0


def describe_commit(repo: Path | str, commit: str) -> str:
    """``git show --stat`` of the commit, as bisection logs print the culprit."""
    return git(repo, "show", "--stat", "--format=medium", "--no-color", commit).rstrip("\n")


@contextlib.contextmanager
def worktree(repo: Path | str, path: Path, commit: str, *, checkout: bool = True) -> Iterator[Path]:
    """A detached worktree of ``repo`` at ``path``, removed again on exit.

    A worktree left at ``path`` by an earlier process that was killed is removed first.
    """
    try:  # an interrupt during the add still removes what the add left
        add_worktree(repo, path, commit, checkout=checkout)
        yield path
    finally:
        remove_worktree(repo, path)


def add_worktree(repo: Path | str, path: Path, commit: str, *, checkout: bool = True) -> None:
    """Add a detached worktree at ``path``, replacing whatever is there."""
    if path.exists():
        remove_worktree(repo, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["worktree", "add", "--detach", "--force"]
    if not checkout:
        args.append("--no-checkout")
    git(repo, *args, str(path), commit)


def is_worktree_of(repo: Path | str, path: Path) -> bool:
    """True when ``path`` is the top of a linked worktree of ``repo`` that git still knows."""
    if not (path / ".git").is_file():  # a linked worktree has a .git file, not a directory
        return False
    absolute = ("rev-parse", "--path-format=absolute")
    mine = _run(path, (*absolute, "--show-toplevel", "--git-common-dir"), GIT_TIMEOUT)
    theirs = _run(repo, (*absolute, "--git-common-dir"), GIT_TIMEOUT)
    if mine.returncode != 0 or theirs.returncode != 0:
        return False
    top, common = mine.stdout.splitlines()[:2]
    return Path(top) == path.resolve() and Path(common) == Path(theirs.stdout.strip())


def remove_worktree(repo: Path | str, path: Path) -> None:
    """Remove the worktree at ``path`` with its git state (a bisection's refs included)."""
    _run(repo, ("worktree", "remove", "--force", "--force", str(path)), GIT_TIMEOUT)
    shutil.rmtree(path, ignore_errors=True)
    _run(repo, ("worktree", "prune"), GIT_TIMEOUT)


def checkout(tree: Path, commit: str) -> None:
    """Put a worktree at ``commit`` with no stray files (build outputs included)."""
    git(tree, "checkout", "--quiet", "--detach", "--force", commit)
    git(tree, "clean", "-ffdxq")


@attrs.frozen
class BisectState:
    """What ``git bisect`` answered after a start or a mark."""

    next: str | None
    """The revision to test next, None when the bisection ended."""
    culprit: str | None
    """The first bad commit, once git names a single one."""
    candidates: tuple[str, ...]
    """When only skipped commits remain: every commit that could be the first bad one."""
    steps_left: int
    """git's estimate of the steps still to go (0 at the end)."""
    output: str
    """git's own output, for the log."""


class GitBisect:
    """``git bisect`` in a worktree of its own, with ``--no-checkout`` (builds check out)."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree

    def start(self, bad: str, goods: Sequence[str], skips: Sequence[str] = ()) -> BisectState:
        """Start (or restart) a bisection between ``bad`` and ``goods``; replay ``skips``."""
        _run(self.tree, ("bisect", "reset"), GIT_TIMEOUT)
        state = self._bisect("start", "--no-checkout", bad, *goods)
        for commit in skips:
            if state.next is None:
                break
            state = self.mark("skip", commit)
        return state

    def mark(self, verdict: str, commit: str) -> BisectState:
        """Tell git that ``commit`` is ``good``, ``bad`` or ``skip``."""
        return self._bisect(verdict, commit)

    def reset(self) -> None:
        """End the bisection (the worktree stays)."""
        _run(self.tree, ("bisect", "reset"), GIT_TIMEOUT)

    def _bisect(self, *args: str) -> BisectState:
        proc = _run(self.tree, ("bisect", *args), GIT_TIMEOUT)
        output = (proc.stdout + proc.stderr).strip()
        if found := _FIRST_BAD.search(output):
            return BisectState(None, found["sha"], (found["sha"],), 0, output)
        if "could be any of" in output:
            return BisectState(None, None, tuple(_SHA_LINE.findall(output)), 0, output)
        if proc.returncode != 0:
            raise InputError(f"git bisect {' '.join(args)}: {output.splitlines()[-1] if output else 'failed'}")
        steps = _BISECTING.search(output)
        head = git(self.tree, "rev-parse", "BISECT_HEAD").strip()
        return BisectState(head, None, (), int(steps["steps"]) if steps else 1, output)
