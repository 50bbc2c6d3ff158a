"""Resume an interrupted bisection: a journal of every run, replayed by the next attempt.

:class:`Journal` wraps a runner at the driver's seam. Each batch of runs is appended to
the journal file as soon as it is made, under the build's kernel signature. A rerun with
the same setup (the journal's file name carries the setup's key) hands out the recorded
runs of a signature, in their order, before the wrapped runner boots anything. The
driver's decisions depend only on run outcomes and git, so the rerun walks the same
steps as the interrupted one, without VMs (builds come from the builders' cache), up to
where it stopped, and carries on from there. Recorded runs are real runs of that kernel
with that reproducer, so they stay valid evidence even when other options change.

The file has one JSON object a line; a line cut short by a kill is ignored. Runs that
ended in an ``infra error`` are not recorded: they say nothing about the kernel.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import attrs

from crashsig.bisect.build import Build
from crashsig.bisect.driver import Runner
from crashsig.bisect.verdict import Run

log = logging.getLogger(__name__)


class Journal:
    """A runner that replays the runs recorded in ``path`` before making new ones."""

    def __init__(self, runner: Runner, path: Path) -> None:
        self.runner = runner
        self.path = Path(path)
        self.recorded = load_journal(self.path)
        """Runs per kernel signature, as found in the journal when it was opened."""
        self.replayed = 0
        """Recorded runs handed out so far."""
        self._next: dict[str, int] = {}

    @property
    def size(self) -> int:
        """Runs the journal holds (recorded ones and those added since)."""
        return sum(len(runs) for runs in self.recorded.values())

    def build(self, commit: str) -> Build:
        """Build with the wrapped runner."""
        return self.runner.build(commit)

    def run(self, build: Build, count: int) -> list[Run]:
        """Recorded runs of the build's signature first, then new ones (which are recorded)."""
        recorded = self.recorded.setdefault(build.signature, [])
        start = self._next.get(build.signature, 0)
        replay = recorded[start : start + count]
        new = self.runner.run(build, count - len(replay)) if count > len(replay) else []
        kept = [run for run in new if run.outcome != "infra error"]
        self._append(build, kept)
        recorded.extend(kept)  # new runs are only made once the recorded ones are used up
        self._next[build.signature] = start + len(replay) + len(kept)
        self.replayed += len(replay)
        return replay + new

    def discard(self) -> None:
        """Delete the journal (the bisection finished, or starts over)."""
        self.path.unlink(missing_ok=True)
        self.recorded.clear()
        self._next.clear()

    def _append(self, build: Build, runs: list[Run]) -> None:
        if not runs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            json.dumps({"signature": build.signature, "commit": build.commit, "run": attrs.asdict(run)}) for run in runs
        ]
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write("".join(line + "\n" for line in lines))


def load_journal(path: Path) -> dict[str, list[Run]]:
    """Runs per kernel signature from a journal file; unreadable lines are skipped."""
    runs: dict[str, list[Run]] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return runs
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            fields = entry["run"]
            run = Run(**{**fields, "alt_titles": tuple(fields.get("alt_titles", ()))})
            runs.setdefault(str(entry["signature"]), []).append(run)
        except (ValueError, KeyError, TypeError):
            log.debug("%s: skipping a damaged line", path)
    return runs
