"""Lines that carry an oops header but never start a report.

These are crashsig's own additions (syzkaller leaves them to user configuration):
syzbot bisection logs quote crash titles in their run summaries, and those quotes must
not be mistaken for the console output that follows them.
"""

from __future__ import annotations

LINE_IGNORES: tuple[str, ...] = (
    r"^(?:all runs|run #[0-9]+): crashed: ",  # per-revision outcomes in bisection logs
    r"^crash: ",  # the culprit's crash title in bisection logs
)
