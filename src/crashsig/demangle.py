"""Demangle C++ and Rust symbol names the way syzkaller reports show them.

syzkaller passes every frame name through github.com/ianlancetaylor/demangle's
`Filter(name, demangle.NoParams)`; `demangle()` reproduces that output:

* `_Z...` (Itanium C++): the name without its parameter list, `_Z8fakeNameiii` -> `fakeName`.
  NoParams implies NoClones, so GCC clone suffixes (`.isra.0`, `.cold`) are dropped too.
* `_ZN...17h<16 hex digits>E` (legacy Rust): the path without the hash.
* `_R...` (Rust v0): crate hashes and the instantiating crate are dropped, and
  `.llvm.NNN`-style suffixes are dropped.
* Anything else, including `__cfi__R...` and any name the parser cannot read, comes
  back unchanged.  The function never raises and runs in time linear in the input.
"""

from __future__ import annotations

import logging

from crashsig.demangle_cursor import DemangleError
from crashsig.demangle_itanium import demangle_itanium
from crashsig.demangle_rust import demangle_v0

__all__ = ["demangle"]

_log = logging.getLogger(__name__)

_HEX = "0123456789abcdef"
_DIGITS = "0123456789"
_LEGACY_ESCAPES = {
    "SP": "@",
    "BP": "*",
    "RF": "&",
    "LT": "<",
    "GT": ">",
    "LP": "(",
    "RP": ")",
}


def demangle(name: str) -> str:
    """Return the demangled form of `name` without parameters, or `name` unchanged."""
    try:
        return demangle_strict(name)
    except DemangleError:
        return name
    except Exception:  # noqa: BLE001 - contract: no symbol name makes this raise
        _log.debug("demangler bug on %r", name, exc_info=True)
        return name


def demangle_strict(name: str) -> str:
    """Like demangle(), but raise DemangleError for a mangled name it cannot read."""
    if name.startswith("_R"):
        return demangle_v0(name)
    if name.startswith("_ZN"):
        legacy = demangle_legacy(name)
        if legacy is not None:
            return legacy
    if name.startswith("_Z"):
        return demangle_itanium(name)
    return name


def demangle_legacy(name: str) -> str | None:
    """Demangle `_ZN...17h<16 hex>E[.suffix]`, or None if `name` is not legacy Rust."""
    cut = name.rfind("E.")
    if cut > 0:
        name = name[: cut + 1]
    if not (name.endswith("E") and len(name) > 23 and name[-20:-17] == "17h"):
        return None
    hash_digits = name[-17:-1]
    if any(c not in _HEX for c in hash_digits) or len(set(hash_digits)) < 5:
        return None
    body, pos = name[3:-20], 0
    parts: list[str] = []
    while pos < len(body):
        digits_end = pos
        while digits_end < len(body) and body[digits_end] in _DIGITS:
            digits_end += 1
        if digits_end == pos or digits_end - pos > 9:
            return None
        size, pos = int(body[pos:digits_end]), digits_end
        if body.startswith("_", pos):  # optional separator, counted in the length
            pos, size = pos + 1, size - 1
        if size < 0 or pos + size > len(body):
            return None
        if any(parts[-2:]):  # like the reference: "::" only once something was printed
            parts.append("::")
        parts.append(_legacy_unescape(body[pos : pos + size]))
        pos += size
    return "".join(parts)


def _legacy_unescape(ident: str) -> str:
    """Undo the `$LT$`, `$u7e$`, `..` escapes of legacy Rust identifiers."""
    if ident.startswith("_$"):
        ident = ident[1:]
    out: list[str] = []
    i = 0
    while i < len(ident):
        c = ident[i]
        if c == ".":
            step = 2 if ident.startswith("..", i) else 1
            out.append("::" if step == 2 else ".")
            i += step
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        end = ident.find("$", i + 1)
        code = ident[i + 1 : end] if end > 0 else ""
        if code == "C":
            out.append(",")
        elif code in _LEGACY_ESCAPES:
            out.append(_LEGACY_ESCAPES[code])
        elif len(code) == 3 and code[0] == "u" and _is_ascii_escape(code[1:]):
            out.append(chr(int(code[1:], 16)))
        else:  # not an escape: the rest of the identifier is printed verbatim
            out.append(ident[i:])
            break
        i = end + 1
    return "".join(out)


def _is_ascii_escape(hex2: str) -> bool:
    return all(c in _HEX for c in hex2) and hex2[0] <= "7" and int(hex2, 16) >= 0x20
