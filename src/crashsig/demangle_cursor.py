"""Shared scanning state for the demanglers in demangle_itanium and demangle_rust.

Every parser works on one string, fails with DemangleError on anything it does not
understand, and keeps two safety limits: a recursion depth cap and a work budget that
is linear in the input length (back-references and substitutions can otherwise make
the output grow exponentially).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, NoReturn, ParamSpec, TypeVar

MAX_DEPTH = 100
"""Deepest nesting of grammar productions accepted before giving up."""

WORK_PER_CHAR = 64
"""Output characters (plus re-parsed characters) allowed per input character."""

WORK_BASE = 16384
"""Work allowance independent of the input length, for short but generic symbols."""


class DemangleError(Exception):
    """The input is not a mangled name this module can read; never escapes demangle()."""


class Cursor:
    """A position in a mangled string plus the depth and work limits."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)  # parsing never reads at or past this offset
        self.depth = 0
        self.budget = WORK_PER_CHAR * len(text) + WORK_BASE

    def fail(self, why: str) -> NoReturn:
        """Abandon the parse."""
        raise DemangleError(f"{why} at offset {self.pos}")

    def peek(self, ahead: int = 0) -> str:
        """The character `ahead` places after the cursor, or "" past the end."""
        i = self.pos + ahead
        return self.text[i] if i < self.end else ""

    def take(self, n: int) -> str:
        """Consume and return the next n characters."""
        if self.pos + n > self.end:
            self.fail("unexpected end")
        out = self.text[self.pos : self.pos + n]
        self.pos += n
        return out

    def expect(self, char: str) -> None:
        """Consume `char` or fail."""
        if self.peek() != char:
            self.fail(f"expected {char!r}")
        self.pos += 1

    def skip_if(self, char: str) -> bool:
        """Consume `char` if it comes next; report whether it did."""
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def spend(self, amount: int) -> None:
        """Charge work against the linear budget."""
        self.budget -= amount
        if self.budget < 0:
            self.fail("work budget exhausted")


C = TypeVar("C", bound=Cursor)
P = ParamSpec("P")
R = TypeVar("R")


def recursive(method: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
    """Count the nesting depth of a grammar production and fail past MAX_DEPTH."""

    @functools.wraps(method)
    def wrapper(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.depth >= MAX_DEPTH:
            self.fail("nesting too deep")
        self.depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self.depth -= 1

    return wrapper
