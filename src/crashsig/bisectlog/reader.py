"""Reading syzbot-format bisection logs into ``BisectLog`` records.

The line formats are those syzkaller's ``pkg/bisect`` and ``pkg/vcs`` print (2019 to
now); the reader never raises on odd input: what it cannot place becomes a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs

from crashsig.bisectlog.records import BAD, CRASHED, GOOD, OK, SKIP, Revision, Run

_MAX_WARNED_LINES = 5


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@attrs.frozen
class _LineRule:
    """A line format: the handler that consumes it and the regex that recognizes it."""

    name: str
    pattern: re.Pattern[str] = attrs.field(converter=_compile)


# Order matters only where formats could overlap; each row is one syzkaller log call.
_RULES = (
    _LineRule("start", r"^bisecting (cause|fixing) commit (?:starting from|since) (\S+)$"),
    _LineRule("syzkaller", r"^building syzkaller on (\S+)$"),
    _LineRule("release", r"^testing release (\S+)$"),
    _LineRule("head", r"^testing current HEAD (\S+)$"),
    # "with gcc (GCC) 8.1.0" until 2021; later "testing commit X gcc" + "compiler: ...".
    _LineRule("testing", r"^testing commit ([0-9a-f]{7,40})(?: with (.+)| (.+))?$"),
    _LineRule("compiler", r"^compiler: (.+)$"),
    _LineRule("signature", r"^kernel signature: ([0-9a-f]+)$"),
    _LineRule("all_runs", r"^all runs: (.+)$"),
    _LineRule("run", r"^run #([0-9]+): (.+)$"),
    _LineRule("bisect_start", r"^# git bisect start((?: [0-9a-zA-Z._/-]+)+)$"),
    _LineRule("verdict", r"^# git bisect (good|bad|skip) ([0-9a-f]{7,40})$"),
    _LineRule("bisecting", r"^Bisecting: ([0-9]+) revisions? left to test after this \(roughly ([0-9]+) steps?\)$"),
    _LineRule("subject", r"^\[([0-9a-f]{40})\] (.*)$"),
    _LineRule("first_git", r"^([0-9a-f]{40}) is the first (?:bad|good) commit$"),
    _LineRule("culprit_signature", r"^culprit signature: (\S*)$"),
    _LineRule("parent_signature", r"^parent\s+signature: (\S*)$"),
    _LineRule("untested_parent", r"^parent commit ([0-9a-f]+) wasn't tested$"),
    _LineRule(
        "totals",
        r"^revisions tested: ([0-9]+), total time: (\S+) \(build: (\S+), test: (\S+)\)$",
    ),
    _LineRule("first", r"^first (?:bad|good) commit: ([0-9a-f]{7,40}) ?(.*)$"),
    _LineRule("inconclusive", r"^bisection is inconclusive, the first (?:bad|good) commit could be any of:$"),
    _LineRule("cc", r"^(?:cc|recipients \((?:to|cc)\)): \[(.*)\]$"),
    _LineRule("crash", r"^crash: (.*)$"),
    _LineRule("error", r"^error: (.*)$"),
    _LineRule(
        "result_note",
        r"^(?:the crash already happened on the oldest tested release|the crash still happens on HEAD"
        r"|commit msg: .*|crash reproduces with baseline config.*)$",
    ),
)
# Lines that end git's culprit block (``commit X / Author / ... / diffstat``).
_AFTER_CULPRIT = frozenset(
    {"culprit_signature", "parent_signature", "untested_parent", "testing", "totals", "first", "cc", "crash"}
)
_HASH = re.compile(r"^[0-9a-f]{40}$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _same_commit(a: str, b: str) -> bool:
    """Equal hashes, allowing either to be abbreviated."""
    return a.startswith(b) or b.startswith(a)


def _match(line: str) -> tuple[str, re.Match[str]] | None:
    for rule in _RULES:
        found = rule.pattern.match(line)
        if found:
            return rule.name, found
    return None


def parse_run(text: str) -> Run:
    """Parse one run outcome (``OK``, ``crashed: TITLE``, ``boot failed: ...``)."""
    if text == OK:
        return Run(OK)
    outcome, sep, detail = text.partition(": ")
    return Run(outcome, detail) if sep else Run(text)


def infer_verdict(runs: tuple[Run, ...], *, fix: bool) -> str:
    """The verdict syzkaller derives from run outcomes, in git bisect's terms.

    Any crash is bad; more than 2/3 infrastructure failures (or no runs at all: a build
    failure) skip; otherwise good. Fix bisections swap good and bad.
    """
    crashed = any(run.crashed for run in runs)
    failed = sum(run.outcome not in (OK, CRASHED) for run in runs)
    if not crashed and (not runs or failed * 3 > len(runs) * 2):
        return SKIP
    return (GOOD if crashed else BAD) if fix else (BAD if crashed else GOOD)


class _Reader:
    """One pass over the lines; fields accumulate into a ``BisectLog``."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.revisions: list[Revision] = []
        self.current: dict[str, Any] | None = None
        self.pending: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.foreign: list[int] = []
        self.mode = "timeline"
        self.block: list[str] = []
        self.handlers: dict[str, Callable[[re.Match[str], int], None]] = {
            rule.name: getattr(self, "_on_" + rule.name) for rule in _RULES
        }

    # Revision bookkeeping.
    def _close(self, verdict: str = "") -> None:
        if self.current is None:
            return
        cur, self.current = self.current, None
        runs = tuple(cur.pop("runs"))
        # Outside git bisect steps (start commit, releases, HEAD) the runs imply the
        # verdict; a bisect step without its "# git bisect" line was cut short.
        inferred = not verdict and bool(runs or cur["notes"]) and cur.get("left") is None
        if not verdict and not inferred and runs:
            self.warnings.append(f"revision {cur['commit'][:12]} has no git bisect verdict: log truncated?")
        if inferred:
            verdict = infer_verdict(runs, fix=self.fields.get("kind") == "fix")
        cur["notes"] = tuple(cur["notes"])
        self.revisions.append(Revision(**cur, runs=runs, verdict=verdict, verdict_inferred=inferred))

    def _open(self, commit: str, line: int, compiler: str) -> None:
        self._close()
        pending, self.pending = self.pending, {}
        if pending.get("subject_commit", commit) != commit:
            pending.pop("subject", None)
        pending.pop("subject_commit", None)
        self.current = {"commit": commit, "line": line, "compiler": compiler, "notes": [], "runs": []}
        self.current.update(pending)
        self.current.setdefault("all_runs", False)

    def _note(self, line: str, number: int) -> None:
        if self.current is not None:
            self.current["notes"].append(line)
        elif line.strip():
            self.foreign.append(number)

    # Handlers, one per rule.
    def _on_start(self, m: re.Match[str], n: int) -> None:
        self.fields.update(kind="cause" if m[1] == "cause" else "fix", start_commit=m[2])

    def _on_syzkaller(self, m: re.Match[str], n: int) -> None:
        self.fields["syzkaller_commit"] = m[1]

    def _on_release(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.pending["release"] = m[1]

    def _on_head(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.pending["head"] = True

    def _on_testing(self, m: re.Match[str], n: int) -> None:
        self._open(m[1], n, m[2] or m[3] or "")

    def _in_revision(self, m: re.Match[str], n: int, **fields: object) -> None:
        """Set fields of the revision being tested; a line outside one is only noted."""
        if self.current is None:
            self._note(m[0], n)
        else:
            self.current.update(fields)

    def _on_compiler(self, m: re.Match[str], n: int) -> None:
        self._in_revision(m, n, compiler=m[1])

    def _on_signature(self, m: re.Match[str], n: int) -> None:
        self._in_revision(m, n, kernel_signature=m[1])

    def _on_all_runs(self, m: re.Match[str], n: int) -> None:
        self._in_revision(m, n, all_runs=True, runs=[parse_run(m[1])])

    def _on_run(self, m: re.Match[str], n: int) -> None:
        if self.current is None:
            self._note(m[0], n)
        else:
            self.current["runs"].append(parse_run(m[2]))  # appended in place: a log may hold many runs

    def _on_bisect_start(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["bisect_start"] = tuple(m[1].split())

    def _on_verdict(self, m: re.Match[str], n: int) -> None:
        if self.current is not None and _same_commit(self.current["commit"], m[2]):
            self._close(m[1])
        else:
            self.warnings.append(f"line {n}: '# git bisect {m[1]}' names {m[2][:12]}, which was not just tested")

    def _on_bisecting(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.pending.update(left=int(m[1]), steps=int(m[2]))

    def _on_subject(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.pending.update(subject_commit=m[1], subject=m[2])

    def _on_first_git(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["culprit"] = m[1]
        self.mode, self.block = "culprit", []

    def _on_culprit_signature(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["culprit_signature"] = m[1]

    def _on_parent_signature(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["parent_signature"] = m[1]

    def _on_untested_parent(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["untested_parent"] = m[1]

    def _on_totals(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields.update(revisions_tested=int(m[1]), total_time=m[2], build_time=m[3], test_time=m[4])

    def _on_first(self, m: re.Match[str], n: int) -> None:
        self.fields.update(culprit=m[1], culprit_subject=m[2])

    def _on_inconclusive(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.mode = "candidates"
        self.fields["candidates"] = ()

    def _on_cc(self, m: re.Match[str], n: int) -> None:
        found = tuple(_QUOTED.findall(m[1]))
        self.fields["cc"] = self.fields.get("cc", ()) + found

    def _on_crash(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["crash_title"] = m[1]
        self.mode = "crash"

    def _on_error(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["error"] = m[1]

    def _on_result_note(self, m: re.Match[str], n: int) -> None:
        self._close()
        self.fields["result_notes"] = self.fields.get("result_notes", ()) + (m[0],)

    # Driver.
    def feed(self, line: str, number: int) -> None:
        found = _match(line)
        if self.mode == "culprit":
            if found is None or found[0] not in _AFTER_CULPRIT:
                self.block.append(line)
                return
            self.fields["culprit_details"] = "\n".join(self.block).strip("\n")
            self.mode = "timeline"
        elif self.mode == "candidates":
            if _HASH.match(line):
                self.fields["candidates"] += (line,)
                return
            self.mode = "timeline"
        if found is None:
            self._note(line, number)
        else:
            self.handlers[found[0]](found[1], number)

    def finish(self, lines: list[str]) -> dict[str, Any]:
        if self.mode == "culprit":
            self.fields["culprit_details"] = "\n".join(self.block).strip("\n")
        if self.current is not None and not self.current["runs"] and not self.current["notes"]:
            self.warnings.append(f"revision {self.current['commit'][:12]} has no outcome: log truncated?")
        self._close()
        self._warn_foreign(lines)
        self.fields.update(revisions=tuple(self.revisions), warnings=tuple(self.warnings))
        return self.fields

    def _warn_foreign(self, lines: list[str]) -> None:
        if not self.fields.get("kind"):
            self.warnings.append("no 'bisecting cause/fixing commit' line: not a syzbot bisection log?")
        elif not any(self.fields.get(key) for key in ("culprit", "candidates", "result_notes", "error")):
            self.warnings.append("the log ends before a bisection result: truncated?")
        for number in self.foreign[:_MAX_WARNED_LINES]:
            self.warnings.append(f"line {number}: not understood: {lines[number - 1][:100]}")
        if len(self.foreign) > _MAX_WARNED_LINES:
            self.warnings.append(f"... and {len(self.foreign) - _MAX_WARNED_LINES} more lines not understood")


def read_fields(text: str) -> dict[str, Any]:
    """Parse the timeline of a bisection log into ``BisectLog`` keyword arguments.

    The final crash report stays raw in ``crash_text``; checks are not run here.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    reader = _Reader()
    for number, line in enumerate(lines, 1):
        if reader.mode == "crash":
            reader.fields["crash_text"] = "\n".join(lines[number - 1 :])
            if not text.endswith("\n"):
                reader.warnings.append("the final crash report is cut short: log truncated?")
            break
        if number == len(lines) and line:  # no final newline: the last line may be partial
            reader.warnings.append(f"line {number} is cut short: log truncated?")
            break
        reader.feed(line, number)
    return reader.finish(lines)
