"""SIGINT and SIGTERM as one exception, so that every way out runs the same cleanup.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM kill the process on the
spot: no ``finally`` runs, so a git worktree or a half-written log stays behind.
:func:`interruptible` makes both signals raise :class:`Interrupted` (a
``KeyboardInterrupt``) in the main thread, once: while the cleanup that follows runs, a
second signal is only logged, so pressing Ctrl-C twice cannot cut the cleanup short.
After an interrupt, both signals are ignored once the context ends: the commands that
use it exit next, and a signal between the end of the cleanup and the exit must not turn
the exit status into a death by signal. (``SIG_IGN`` rather than a Python handler:
CPython resets Python handlers to the default action while it shuts down.)
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``status`` is the shell's exit status for it."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def status(self) -> int:
        """128 plus the signal number, as a shell reports a process killed by it."""
        return 128 + self.signum


def as_interrupted(exc: KeyboardInterrupt) -> Interrupted:
    """``exc`` itself, or an Interrupted for SIGINT when it is a plain KeyboardInterrupt."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While active (in the main thread), SIGINT and SIGTERM raise :class:`Interrupted` once.

    Once one has been raised, later signals are only logged, and ignored after the context
    ends (meant for a command that exits after an interrupt).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def _raise(signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            log.warning("%s: already stopping, cleaning up first", signal.Signals(signum).name)
            return
        raised = True
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, _raise) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if raised else handler)
